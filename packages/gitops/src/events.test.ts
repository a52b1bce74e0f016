import { describe, expect, it } from "vitest";
import { GateRefusedError, RetryableError, SpecError, StalledError } from "./errors.js";
import { TypedEmitter } from "./events.js";

describe("TypedEmitter", () => {
  it("delivers to every listener until it unsubscribes", () => {
    const emitter = new TypedEmitter<{ ping: { n: number } }>();
    const seen: number[] = [];
    const off = emitter.on("ping", (e) => seen.push(e.n));
    emitter.on("ping", (e) => seen.push(e.n * 10));
    emitter.emit("ping", { n: 1 });
    off();
    emitter.emit("ping", { n: 2 });
    expect(seen).toEqual([1, 10, 20]);
  });

  it("keeps delivering when a listener throws", () => {
    const emitter = new TypedEmitter<{ ping: number }>();
    const seen: number[] = [];
    emitter.on("ping", () => {
      throw new Error("observer bug");
    });
    emitter.on("ping", (n) => seen.push(n));
    expect(() => emitter.emit("ping", 1)).not.toThrow();
    expect(seen).toEqual([1]);
  });
});

describe("errors", () => {
  it("name themselves and carry their policy", () => {
    const retry = new RetryableError("locked", 5000);
    expect(retry.name).toBe("RetryableError");
    expect(retry.retryAfterMs).toBe(5000);
    const gate = new GateRefusedError("protected-type", "no");
    expect(gate).toBeInstanceOf(StalledError);
    expect(gate).toMatchObject({ name: "GateRefusedError", reason: "GateRefused", gate: "protected-type" });
    const spec = new SpecError('target "x"', [
      { path: "mode", message: 'must be one of apply, detect, preview, got "yolo"' },
      { path: "", message: "has unknown field(s) intervall" },
    ]);
    expect(spec.message).toBe(
      'target "x": `mode` must be one of apply, detect, preview, got "yolo"; has unknown field(s) intervall',
    );
  });
});
