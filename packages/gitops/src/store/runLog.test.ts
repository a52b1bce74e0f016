import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { followRunLog, MAX_LOG_CHARS, RunLogWriter } from "./runLog.js";
import { SqliteStore } from "./sqlite/store.js";

const silent = pino({ level: "silent" });
const started = {
  target: "site",
  trigger: "manual",
  startedAt: "2025-01-01T00:00:00.000Z",
  drift: false,
  log: "",
} as const;

describe("RunLogWriter", () => {
  const stores: SqliteStore[] = [];
  const open = () => {
    const store = new SqliteStore(":memory:");
    stores.push(store);
    return store;
  };
  afterEach(() => {
    for (const store of stores.splice(0)) store.close();
  });

  it("stores nothing until the run is recorded, then the lines held so far in one append", async () => {
    const store = await open();
    const writer = new RunLogWriter(store, "r1", silent);
    writer.write("[resolve] main is at abc");
    await writer.flush();
    expect((await store.readLog("r1")).text).toBe("");
    writer.write("[preview] preview");
    writer.open();
    await writer.flush();
    expect((await store.readLog("r1")).text).toBe("[resolve] main is at abc\n[preview] preview\n");
  });

  it("appends the rest on close and drops lines written after it", async () => {
    const store = await open();
    const writer = new RunLogWriter(store, "r1", silent, 60_000);
    writer.open();
    writer.write("[apply] up");
    expect((await store.readLog("r1")).text).toBe("");
    await writer.close();
    writer.write("late");
    await writer.flush();
    expect((await store.readLog("r1")).text).toBe("[apply] up\n");
  });

  it("appends on its own while lines come", async () => {
    const store = await open();
    const writer = new RunLogWriter(store, "r1", silent, 10);
    writer.open();
    writer.write("[apply] up");
    for (let i = 0; i < 200 && (await store.readLog("r1")).text === ""; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect((await store.readLog("r1")).text).toBe("[apply] up\n");
    await writer.close();
  });

  it("stops storing at the size limit with one notice, on a line boundary", async () => {
    const store = await open();
    const writer = new RunLogWriter(store, "r1", silent);
    writer.open();
    const line = "x".repeat(1023);
    for (let i = 0; i < MAX_LOG_CHARS / 1024 + 10; i++) writer.write(line);
    await writer.flush();
    writer.write("after the limit");
    await writer.close();
    const text = (await store.readLog("r1")).text;
    expect(text.length).toBeLessThanOrEqual(MAX_LOG_CHARS + 100);
    expect(text).toMatch(/\nx+\n\[log\] the log reached \d+ characters; later lines are not stored\n$/);
    expect(text).not.toContain("after the limit");
  });

  it("keeps a failing store from failing the run", async () => {
    const store = await open();
    const writer = new RunLogWriter(store, "r1", silent);
    writer.open();
    await store.close();
    writer.write("[apply] up");
    await expect(writer.close()).resolves.toBeUndefined();
  });
});

describe("followRunLog", () => {
  it("yields the log as it grows and returns once the run finished", async () => {
    const store = new SqliteStore(":memory:");
    try {
      await store.startRun({ id: "r1", ...started });
      await store.appendLog("r1", "one\n");
      const seen: string[] = [];
      for await (const chunk of followRunLog(store, "r1", { pollMs: 5 })) {
        seen.push(chunk.text);
        if (seen.length === 1) await store.appendLog("r1", "two\n");
        if (seen.length === 2) {
          await store.appendLog("r1", "three\n");
          await store.finishRun({ id: "r1", ...started, result: "applied" });
        }
      }
      expect(seen).toEqual(["one\n", "two\n", "three\n"]);
    } finally {
      await store.close();
    }
  });

  it("starts from an offset and stops when its signal aborts", async () => {
    const store = new SqliteStore(":memory:");
    try {
      await store.startRun({ id: "r1", ...started });
      await store.appendLog("r1", "one\ntwo\n");
      const stop = new AbortController();
      const seen: string[] = [];
      for await (const chunk of followRunLog(store, "r1", { from: 4, signal: stop.signal, pollMs: 5 })) {
        seen.push(chunk.text);
        stop.abort();
      }
      expect(seen).toEqual(["two\n"]);
    } finally {
      await store.close();
    }
  });
});
