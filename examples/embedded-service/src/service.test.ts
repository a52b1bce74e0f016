import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Service, startService } from "./service.ts";

describe("the embedded service", () => {
  let dir: string;
  let service: Service;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "driftless-embedded-"));
    process.env.EXAMPLE_DRIFTLESS_TOKEN = "example-token-1";
    service = await startService({ dataDir: dir, tokenEnv: "EXAMPLE_DRIFTLESS_TOKEN", port: 0 });
  });

  afterAll(async () => {
    await service?.stop(1000);
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps serving its own routes", async () => {
    const res = await fetch(`${service.url}/`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ service: "inventory", ok: true });
    expect((await fetch(`${service.url}/unknown`)).status).toBe(404);
  });

  it("serves the driftless API under its prefix", async () => {
    expect((await fetch(`${service.url}/driftless/healthz`)).status).toBe(200);
    expect((await fetch(`${service.url}/driftless/readyz`)).status).toBe(200);
    expect((await fetch(`${service.url}/driftless/targets`)).status).toBe(401);
    const res = await fetch(`${service.url}/driftless/targets`, {
      headers: { authorization: "Bearer example-token-1" },
    });
    expect(await res.json()).toEqual({ targets: [] });
  });
});
