export { EXIT } from "./output.js";
export { main } from "./program.js";
