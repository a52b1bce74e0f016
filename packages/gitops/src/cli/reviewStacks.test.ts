import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { SqliteStore } from "../store/sqlite/store.js";
import { parseConfig } from "./config.js";
import { statusCommand } from "./inspect.js";
import { reviewStacksCommand } from "./reviewStacks.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function io() {
  const out = new PassThrough();
  const err = new PassThrough();
  let text = "";
  out.on("data", (c) => {
    text += c;
  });
  return { io: { out, err }, text: () => text };
}

async function seeded() {
  const dir = mkdtempSync(join(tmpdir(), "driftless-cli-review-"));
  dirs.push(dir);
  const config = parseConfig(
    `dataDir: ./data\ntargets:\n  - name: shop\n    repo: https://git.example.com/acme/shop.git\n    stack: prod\n    reviewStacks: { stack: "pr-{number}" }\n`,
    join(dir, "driftless.yaml"),
  );
  const store = new SqliteStore(join(dir, "data", "driftless.db"));
  const at = new Date(Date.now() - 2 * 3_600_000).toISOString();
  const record = {
    branch: "feature",
    headSha: "c".repeat(40),
    createdAt: at,
    updatedAt: at,
    lastPushAt: at,
    attempts: 0,
  };
  await store.reviewStacks.putReviewStack({
    ...record,
    target: "shop",
    number: 3,
    stack: "pr-3",
    state: "applied",
  });
  await store.reviewStacks.putReviewStack({
    ...record,
    target: "shop",
    number: 4,
    stack: "pr-4",
    state: "stalled",
    error: "destroy failed: namespace stuck",
    attempts: 2,
  });
  await store.close();
  return config;
}

describe("driftless review-stacks and status", () => {
  it("lists review stacks with their age and state, Stalled ones with the error", async () => {
    const config = await seeded();
    const { io: cli, text } = io();
    expect(await reviewStacksCommand(config, {}, cli)).toBe(0);
    const lines = text().trimEnd().split("\n");
    expect(lines[0]).toMatch(/^TARGET\s+PR\s+STACK\s+STATE\s+HEAD\s+AGE\s+LAST PUSH\s+ERROR$/);
    expect(lines[1]).toMatch(/^shop\s+#3\s+pr-3\s+applied\s+cccccccccccc\s+2h ago/);
    expect(lines[2]).toMatch(/^shop\s+#4\s+pr-4\s+Stalled\s+.*destroy failed: namespace stuck$/);
  });

  it("shows review stacks in status as their targets, after their target", async () => {
    const config = await seeded();
    const { io: cli, text } = io();
    expect(await statusCommand(config, undefined, { json: false }, cli)).toBe(0);
    const names = text()
      .trimEnd()
      .split("\n")
      .slice(1)
      .map((l) => l.split(/\s+/).slice(0, 3).join(" "));
    expect(names).toEqual(["shop unknown NeverRun", "shop-pr-3 false NeverRun", "shop-pr-4 false Stalled"]);
  });
});
