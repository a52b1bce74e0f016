// The reconciler and the components agree on how provenance travels: the
// environment variables one sets are the ones the other reads. The packages do
// not depend on each other, so this test holds the two definitions together.
import { PROVENANCE_ENV as read } from "@driftless/core/provenance";
import { PROVENANCE_ENV as written } from "@driftless/gitops";
import { describe, expect, it } from "vitest";

describe("the provenance contract between @driftless/gitops and @driftless/core", () => {
  it("names the same environment variables on both sides", () => {
    expect(written).toEqual(read);
  });
});
