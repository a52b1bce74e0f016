// A setup file of the e2e project: Node's compile cache, kept between runs in
// .toolchain, for the worker and every Node process a test starts with this
// process's environment (the CLI, replicas, services; the engine's own get it
// from the sandbox, see engine.ts). Each of them loads the same large
// dependencies again (@driftless/gitops, @pulumi/pulumi, @kubernetes/client-node),
// and compiling them is about a third of the CPU that takes. The unit
// projects go without it: V8's coverage is less precise in code from the cache.
import { enableCompileCache, flushCompileCache } from "node:module";
import { afterAll } from "vitest";
import { NODE_COMPILE_CACHE } from "./engine.js";

process.env.NODE_COMPILE_CACHE = NODE_COMPILE_CACHE;
enableCompileCache(NODE_COMPILE_CACHE);
// vitest ends its workers without the exit that would write the cache.
afterAll(() => flushCompileCache());
