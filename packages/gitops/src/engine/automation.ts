/**
 * The Automation API, loaded on first use. Importing it loads the whole
 * Pulumi SDK — about 100 MB of memory and one to two seconds — which a
 * process whose targets are all unchanged (a replica checking refs, `status`,
 * the dashboard) never needs.
 */
type Automation = typeof import("@pulumi/pulumi/automation/index.js");

let loading: Promise<Automation> | undefined;
let loaded: Automation | undefined;

/** The Automation API module, imported once. */
export function loadAutomation(): Promise<Automation> {
  loading ??= import("@pulumi/pulumi/automation/index.js").then((module) => {
    loaded = module;
    return module;
  });
  return loading;
}

/** The Automation API when something loaded it already: its errors cannot exist before. */
export function loadedAutomation(): Automation | undefined {
  return loaded;
}
