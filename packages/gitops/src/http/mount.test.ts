import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { frameworkMount, mountOf, rememberMount } from "./mount.js";

const request = (fields: Record<string, string>) => fields as unknown as IncomingMessage;

describe("the path a framework mounted the handler under", () => {
  it("reads express's baseUrl, connect's originalUrl, and adds the handler's prefix", () => {
    expect(frameworkMount(request({ url: "/ui/login", baseUrl: "/driftless" }))).toBe("/driftless");
    expect(frameworkMount(request({ url: "/ui?x=1", originalUrl: "/ops/driftless/ui?x=1" }))).toBe(
      "/ops/driftless",
    );
    // connect leaves "/" for the mount point itself.
    expect(frameworkMount(request({ url: "/", originalUrl: "/driftless" }))).toBe("/driftless");
    expect(frameworkMount(request({ url: "/ui" }))).toBe("");
    const req = request({ url: "/driftless/ui", baseUrl: "/apps" });
    rememberMount(req, "/driftless");
    expect(mountOf(req, "/driftless")).toBe("/apps/driftless");
    expect(mountOf(request({ url: "/ui" }), "/fallback")).toBe("/fallback");
  });
});
