import { describe, expect, it } from "vitest";
import type { RefPreview } from "./reconciler.js";
import { previewMarkdown, previewReport, resourceName } from "./report.js";

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
