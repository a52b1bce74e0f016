// The Resources section and a resource's history page: tree order and
// indentation, badges in words, drifted paths, filters as links, the cap on
// rows of a big stack, and escaping of everything a resource's name or an
// engine error can carry.
import { describe, expect, it } from "vitest";
import type { ResourceEntry, ResourceHistoryEntry, TargetInventory } from "../../../types.js";
import { resourceHistoryPage } from "./resourceHistory.js";
import { resourcesSection, SHOWN_ROWS, treeRows } from "./resources.js";

const view = { base: "/ui", session: undefined, canAct: false };
const STACK = "urn:pulumi:dev::site::pulumi:pulumi:Stack::site-dev";
const WEB = "urn:pulumi:dev::site::driftless:k8s:WebService::web";
const DEPLOY = "urn:pulumi:dev::site::driftless:k8s:WebService$kubernetes:apps/v1:Deployment::web";
const SERVICE = "urn:pulumi:dev::site::driftless:k8s:WebService$kubernetes:core/v1:Service::web";
const NS = "urn:pulumi:dev::site::kubernetes:core/v1:Namespace::apps";

const resource = (urn: string, extra: Partial<ResourceEntry> = {}): ResourceEntry => ({
  urn,
  type: urn.split("::")[2]?.split("$").at(-1) ?? "",
  name: urn.split("::").at(-1) ?? "",
  protect: false,
  custom: true,
  sync: "synced",
  health: { status: "Healthy", reason: "" },
  ...extra,
});

// State order is not tree order: children may come before a later sibling of their parent.
const inventory = (resources: ResourceEntry[]): TargetInventory => ({
  target: "site",
  runId: "run-0123456789",
  at: "2025-01-01T00:00:00.000Z",
  resources,
});
const RESOURCES = [
  resource(STACK, { custom: false, health: { status: "Unknown", reason: "" } }),
  resource(WEB, { custom: false, parent: STACK, health: { status: "Unknown", reason: "" } }),
  resource(NS, { parent: STACK }),
  resource(DEPLOY, {
    parent: WEB,
    sync: "drifted",
    driftPaths: ["spec.template.spec.containers[0].image"],
    health: { status: "Progressing", reason: "1 of 2 replicas ready" },
    kubernetes: { apiVersion: "apps/v1", kind: "Deployment", namespace: "apps", name: "web" },
    lastChange: { runId: "run-abcdef123", op: "create", at: "2025-01-01T00:00:00.000Z" },
  }),
  resource(SERVICE, { parent: WEB, sync: "failed", error: 'Service "web" is <invalid>' }),
];

/** The rows' names in page order, with their depth class. */
const rowsOf = (page: string) =>
  [
    ...page.matchAll(
      /<tr data-sync="(\w+)" data-health="\w+" class="depth-(\d)"><th scope="row"><a [^>]*>([^<]+)</g,
    ),
  ].map((m) => `${m[2]}:${m[3]}:${m[1]}`);

describe("the Resources section", () => {
  it("lists the tree depth first, each parent before its children, siblings by name, with state and health in words", () => {
    expect(treeRows(RESOURCES).map((r) => `${r.depth}:${r.resource.name}`)).toEqual([
      "0:site-dev",
      "1:apps",
      "1:web",
      "2:web",
      "2:web",
    ]);
    const page = resourcesSection(view, "site", inventory(RESOURCES)).toString();
    expect(rowsOf(page)).toEqual([
      "0:site-dev:synced",
      "1:apps:synced",
      "1:web:synced",
      "2:web:drifted",
      "2:web:failed",
    ]);
    expect(page).toContain('<span class="badge sync-drifted">drifted</span>');
    expect(page).toContain('<span class="badge health-Progressing">Progressing</span>');
    expect(page).toContain("1 of 2 replicas ready");
    expect(page).toContain("<li><code>spec.template.spec.containers[0].image</code></li>");
    expect(page).toContain('Deployment <span class="muted">apps/v1</span><br><code>apps/web</code>');
    expect(page).toContain('create by run <a href="/ui/runs/run-abcdef123">run-abcd</a>');
    expect(page).toContain(`href="/ui/targets/site/resources/${encodeURIComponent(DEPLOY)}/history"`);
  });

  it("escapes names, types and engine errors", () => {
    const evil = "urn:pulumi:dev::site::x:y:Z::<script>alert(1)</script>";
    const page = resourcesSection(
      view,
      "site",
      inventory([resource(evil, { sync: "failed", error: "<img src=x onerror=alert(1)>" })]),
    ).toString();
    expect(page).not.toContain("<script>");
    expect(page).not.toContain("<img");
    expect(page).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(page).toContain("&lt;img src=x onerror=alert(1)&gt;");
  });

  it("filters by state with links that carry the state, flat, and says when a filter is not a state", () => {
    const page = resourcesSection(view, "site", inventory(RESOURCES), { sync: "drifted" }).toString();
    expect(rowsOf(page)).toEqual(["0:web:drifted"]);
    expect(page).toContain('<a href="/ui/targets/site?sync=drifted#h-resources" aria-current="true">');
    expect(page).toMatch(/sync-failed">failed<\/span> <span class="count">1<\/span>/);
    expect(page).toMatch(/>all <span class="count">5<\/span>/);
    const none = resourcesSection(view, "site", inventory(RESOURCES), { sync: "pending" }).toString();
    expect(none).toContain("No resource is pending.");
    const bad = resourcesSection(view, "site", inventory(RESOURCES), { sync: "<b>" }).toString();
    expect(bad).toContain('sync must be one of synced, drifted, pending, failed, got "&lt;b&gt;"');
    expect(rowsOf(bad)).toHaveLength(5);
  });

  it(`shows ${SHOWN_ROWS} rows of a big stack and links to all of them`, () => {
    const many = Array.from({ length: 2000 }, (_, i) =>
      resource(`urn:pulumi:dev::site::kubernetes:core/v1:ConfigMap::cm-${i}`, { parent: STACK }),
    );
    const big = inventory([resource(STACK, { custom: false }), ...many]);
    const page = resourcesSection(view, "site", big).toString();
    expect(rowsOf(page)).toHaveLength(SHOWN_ROWS);
    expect(page).toContain(`${SHOWN_ROWS} of 2001 shown.`);
    expect(page).toContain('href="/ui/targets/site?resources=all#h-resources"');
    expect(rowsOf(resourcesSection(view, "site", big, { all: true }).toString())).toHaveLength(2001);
  });

  it("says when no run read the stack yet", () => {
    expect(resourcesSection(view, "site", undefined).toString()).toContain(
      "No run has read the stack&#39;s resources yet.",
    );
  });
});

describe("a resource's history page", () => {
  it("lists the runs that changed the resource with their property changes, escaped", () => {
    const entries: ResourceHistoryEntry[] = [
      {
        urn: DEPLOY,
        type: "kubernetes:apps/v1:Deployment",
        runId: "run-2222222222",
        at: "2025-01-02T00:00:00.000Z",
        op: "update",
        paths: ["spec.replicas"],
        changes: [{ path: "spec.replicas", kind: "update", replace: false, old: 1, new: "<2>" }],
      },
      {
        urn: DEPLOY,
        type: "kubernetes:apps/v1:Deployment",
        runId: "run-1111111111",
        at: "2025-01-01T00:00:00.000Z",
        op: "drift",
        paths: ["spec.template.spec.containers[0].image"],
      },
    ];
    const page = resourceHistoryPage(view, { name: "site" }, DEPLOY, RESOURCES[3], entries).toString();
    expect(page).toContain("<h1>web</h1>");
    expect(page).toMatch(/run-2222<\/a><\/th><td><span class="op">updated<\/span>/);
    expect(page).toContain("<del>1</del> → <ins>&quot;&lt;2&gt;&quot;</ins>");
    expect(page).toMatch(/run-1111<\/a><\/th><td><span class="op">drifted \(changed outside Git\)<\/span>/);
    expect(page).toContain("<code>spec.template.spec.containers[0].image</code>");
    expect(page.indexOf("run-2222")).toBeLessThan(page.indexOf("run-1111"));
    const empty = resourceHistoryPage(view, { name: "site" }, NS, undefined, []).toString();
    expect(empty).toContain("No recorded run changed this resource");
    expect(empty).toContain("not in the stack's last inventory");
  });
});
