import { describe, expect, it } from "vitest";
import { safeEqual, signBody, verifyGenericSignature, verifyGithubSignature } from "./signatures.js";

const body = JSON.stringify({ ref: "refs/heads/main" });

describe("webhook signatures", () => {
  it("accepts GitHub's sha256 HMAC of the exact body", async () => {
    const signature = signBody("s3cret", body);
    expect(signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(await verifyGithubSignature("s3cret", body, signature)).toBe(true);
    expect(await verifyGenericSignature("s3cret", body, signature)).toBe(true);
  });

  it("refuses a signature made with another secret or over another body", async () => {
    expect(await verifyGithubSignature("s3cret", body, signBody("other", body))).toBe(false);
    expect(await verifyGithubSignature("s3cret", `${body} `, signBody("s3cret", body))).toBe(false);
  });

  it("treats a missing, empty or malformed signature as a mismatch, not an error", async () => {
    expect(await verifyGithubSignature("s3cret", body, undefined)).toBe(false);
    expect(await verifyGithubSignature("s3cret", body, "")).toBe(false);
    expect(await verifyGithubSignature("s3cret", body, "sha1=abc")).toBe(false);
    expect(await verifyGithubSignature("s3cret", "", signBody("s3cret", "x"))).toBe(false);
  });

  it("compares tokens of any length in constant time", () => {
    expect(safeEqual("token-1", "token-1")).toBe(true);
    expect(safeEqual("token-1", "token-2")).toBe(false);
    expect(safeEqual("token-1", "token-1-longer")).toBe(false);
    expect(safeEqual("token-1", undefined)).toBe(false);
    expect(safeEqual("", "")).toBe(false);
  });
});
