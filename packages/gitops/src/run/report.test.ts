import { describe, expect, it } from "vitest";
import type { RefPreview } from "../options.js";
import {
  previewFailureMarkdown,
  previewMarkdown,
  previewMarker,
  previewReport,
  resourceName,
} from "./report.js";

const preview: RefPreview = {
  target: "site",
  ref: "feature",
  revision: "0123456789abcdef0123456789abcdef01234567",
  plan: {
    changes: true,
    counts: { create: 1, update: 1, replace: 0, delete: 1, same: 3 },
    steps: [
      {
        op: "update",
        urn: "urn:pulumi:dev::site::pulumi-nodejs:dynamic:Resource::index.html",
        type: "pulumi-nodejs:dynamic:Resource",
        keys: ["content"],
        diffs: [
          { path: "content", kind: "update", replace: false, old: "<h1>v1</h1>", new: "<h1>v2</h1>" },
          { path: "apiKey", kind: "update", replace: false, old: "[secret]", new: "[secret]" },
          { path: "path", kind: "update", replace: true, old: "/a", new: "/b" },
        ],
      },
      {
        op: "create",
        urn: "urn:pulumi:dev::site::pulumi-nodejs:dynamic:Resource::new|`odd`.html",
        type: "pulumi-nodejs:dynamic:Resource",
      },
      {
        op: "delete",
        urn: "urn:pulumi:dev::site::pulumi-nodejs:dynamic:Resource::about.html",
        type: "pulumi-nodejs:dynamic:Resource",
      },
    ],
  },
  typeCheck: { checked: true, detail: "index.ts type-checked by ts-node with tsconfig.json" },
  verdict: { needsApproval: false },
};

describe("preview reports", () => {
  it("renders a counts table and the resources per change for a pull-request comment", () => {
    const md = previewMarkdown(preview);
    expect(md).toContain("<!-- driftless-preview:site -->");
    expect(md).toContain("| 1 | 1 | 0 | 1 | 3 |");
    expect(md).toMatch(/\*\*To create\*\* \(1\)\n\n- `` new\\\|`odd`.html `` /);
    expect(md).toMatch(
      /\*\*To update\*\* \(1\)\n\n- `index.html` `pulumi-nodejs:dynamic:Resource` — changed: `content`/,
    );
    expect(md.indexOf("To create")).toBeLessThan(md.indexOf("To update"));
    expect(md).toContain("`0123456789ab`");
    expect(md).toContain("Type check: passed (index.ts type-checked by ts-node with tsconfig.json).");
  });

  it("lists the resources of each change in URN order, whatever order the engine reported them in", () => {
    const step = (name: string) => ({
      op: "update" as const,
      urn: `urn:pulumi:dev::site::pulumi-nodejs:dynamic:Resource::${name}`,
      type: "pulumi-nodejs:dynamic:Resource",
    });
    const lines = (names: string[]) =>
      previewMarkdown({ ...preview, plan: { ...preview.plan, steps: names.map(step) } })
        .split("\n")
        .filter((l) => l.startsWith("- "));
    expect(lines(["index.html", "about.html", "b.html"])).toEqual(
      lines(["b.html", "index.html", "about.html"]),
    );
    expect(lines(["index.html", "about.html"])[0]).toContain("`about.html`");
  });

  it("shows each changed property with its old and new value, secrets masked", () => {
    const md = previewMarkdown(preview);
    expect(md).toContain('  - `content`: `"<h1>v1</h1>"` → `"<h1>v2</h1>"`');
    expect(md).toContain('  - `apiKey`: `"[secret]"` → `"[secret]"`');
    expect(md).toContain('  - `path`: `"/a"` → `"/b"` (forces replacement)');
    expect(previewReport(preview).steps[0]?.diffs).toHaveLength(3);
  });

  it("states the safety gates' verdict: pass, approval, or refusal with the reason", () => {
    expect(previewMarkdown(preview)).toContain("Safety gates: pass.");
    expect(previewMarkdown({ ...preview, verdict: { needsApproval: true } })).toContain(
      "would wait for approval",
    );
    const refused = {
      ...preview,
      verdict: {
        needsApproval: false,
        refusal: { gate: "destructive-share" as const, message: "the plan deletes 3 of 4 resources" },
      },
    };
    expect(previewMarkdown(refused)).toContain(
      "Safety gates: **would refuse** this plan (`destructive-share`): the plan deletes 3 of 4 resources",
    );
    expect(previewReport(refused).verdict.refusal?.gate).toBe("destructive-share");
  });

  it("renders a failed preview with its error in a fence that cannot be closed early", () => {
    const md = previewFailureMarkdown("site", "refs/pull/3/head", preview.revision, "boom\n```\nnot code");
    expect(md.startsWith(previewMarker("site"))).toBe(true);
    expect(md).toContain("The preview **failed**");
    expect(md.match(/```/g)).toHaveLength(2);
  });

  it("says so when nothing changes", () => {
    const md = previewMarkdown({
      ...preview,
      plan: { changes: false, counts: { create: 0, update: 0, replace: 0, delete: 0, same: 2 }, steps: [] },
    });
    expect(md).toContain("No changes");
    expect(md).not.toContain("**To");
  });

  it("gives scripts resource names, ops and counts", () => {
    const report = previewReport(preview);
    expect(report.changes).toBe(true);
    expect(report.steps.map((s) => `${s.op} ${s.name}`)).toEqual([
      "update index.html",
      "create new|`odd`.html",
      "delete about.html",
    ]);
    expect(resourceName("plain")).toBe("plain");
    expect(report.typeCheck).toEqual({ checked: true, detail: expect.stringContaining("ts-node") });
  });
});
