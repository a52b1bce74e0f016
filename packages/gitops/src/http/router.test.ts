import { describe, expect, it } from "vitest";
import { DriftlessError, StoreUnavailableError } from "../errors.js";
import { errorReply } from "./router.js";

describe("errorReply", () => {
  it("refuses a command the store could not take with 503, so the caller retries it", () => {
    const reply = errorReply(new StoreUnavailableError("PostgreSQL is unavailable: connect ECONNREFUSED"));
    expect(reply?.status).toBe(503);
    expect(reply?.body).toEqual({ error: "PostgreSQL is unavailable: connect ECONNREFUSED" });
    expect(errorReply(new DriftlessError("a conflict"))?.status).toBe(409);
  });
});
