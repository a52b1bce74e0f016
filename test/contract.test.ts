// The reconciler and the components agree on what travels between them: the
// provenance environment variables one sets are the ones the other reads, and
// dependency outputs sit under the config prefix the other looks in. The
// packages do not depend on each other, so this test holds the two together.
import { DEPENDENCY_CONFIG_PREFIX as readDeps } from "@driftless/core";
import { PROVENANCE_ENV as read } from "@driftless/core/provenance";
import { PROVENANCE_ENV as written, DEPENDENCY_CONFIG_PREFIX as writtenDeps } from "@driftless/gitops";
import { describe, expect, it } from "vitest";

describe("the contract between @driftless/gitops and @driftless/core", () => {
  it("names the same provenance environment variables on both sides", () => {
    expect(written).toEqual(read);
  });

  it("passes dependency outputs under the config prefix the components read", () => {
    expect(writtenDeps).toBe(readDeps);
  });
});
