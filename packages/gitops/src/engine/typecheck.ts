import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { yamlPackage } from "../util.js";

/**
 * Whether and how a preview type-checks its program. Pulumi's Node runtime
 * compiles a TypeScript program with ts-node, which type-checks it with the
 * program's own tsconfig unless `PULUMI_NODEJS_TRANSPILE_ONLY=true`; a preview
 * runs it that way, so a type error fails the preview with the compiler's
 * message, exactly as `pulumi preview` would.
 */
export interface TypeCheck {
  /** Whether the preview type-checked the program. */
  readonly checked: boolean;
  /** What was checked and how, or why nothing was: one sentence for a report. */
  readonly detail: string;
}

/** Environment that makes Pulumi's Node runtime type-check a TypeScript program. */
export const TYPE_CHECK_ENV = { PULUMI_NODEJS_TRANSPILE_ONLY: "false" } as const;

interface ProjectFile {
  readonly main?: string;
  readonly runtime?: string | { readonly name?: string; readonly options?: Record<string, unknown> };
}

/**
 * What a preview of the project in `projectDir` type-checks: a Node project
 * whose entry point is TypeScript, unless its runtime options turn TypeScript
 * off. `inline` is true for a target whose program is a function.
 */
export function typeCheckFor(projectDir: string, inline: boolean): TypeCheck {
  if (inline) return { checked: false, detail: "inline program: compiled with the service that runs it" };
  const file = ["Pulumi.yaml", "Pulumi.yml"].map((f) => join(projectDir, f)).find((f) => existsSync(f));
  const project = (file ? yamlPackage().parse(readFileSync(file, "utf8")) : {}) as ProjectFile | null;
  const runtime = project?.runtime;
  const name = typeof runtime === "string" ? runtime : runtime?.name;
  if (name !== "nodejs")
    return { checked: false, detail: `runtime ${name ?? "unknown"}: no TypeScript check` };
  const options = typeof runtime === "object" ? (runtime.options ?? {}) : {};
  if (options.typescript === false) {
    return { checked: false, detail: "JavaScript program (runtime option `typescript: false`)" };
  }
  const entry = entryPoint(projectDir, project?.main);
  if (!entry?.endsWith(".ts")) {
    return { checked: false, detail: `JavaScript program (${entry ?? "no entry point found"})` };
  }
  const tsconfig = typeof options.tsconfig === "string" ? options.tsconfig : "tsconfig.json";
  const withConfig = existsSync(join(projectDir, tsconfig)) ? `with ${tsconfig}` : "with Pulumi's defaults";
  return {
    checked: true,
    detail: `${entry} type-checked by ts-node ${withConfig}, as \`pulumi preview\` does`,
  };
}

/** The program's entry file relative to the project, as Pulumi's Node runtime finds it. */
function entryPoint(projectDir: string, main: string | undefined): string | undefined {
  const base = main ?? ".";
  const dir = join(projectDir, base);
  if (/\.[cm]?[jt]s$/.test(base)) return base;
  let packageMain: string | undefined;
  try {
    packageMain = (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { main?: string }).main;
  } catch {
    // no package.json: Node's default entry
  }
  if (packageMain) return join(base, packageMain).replace(/^\.\//, "");
  for (const candidate of ["index.ts", "index.js"]) {
    if (existsSync(join(dir, candidate))) return join(base, candidate).replace(/^\.\//, "");
  }
  return undefined;
}

/**
 * A hint for compiler errors that only transpile-only runs report. Pulumi's
 * runtime defaults `moduleResolution` to `nodenext` under whatever `module` the
 * tsconfig sets; with `module: commonjs` the pair is invalid (TS5110). ts-node
 * reports option errors only when it transpiles without type-checking, so the
 * same program passes `pulumi up` (which type-checks) and fails a Driftless run.
 */
export function compilerHint(message: string): string | undefined {
  if (!/\bTS5110\b/.test(message)) return undefined;
  return (
    "Driftless runs TypeScript programs transpile-only (PULUMI_NODEJS_TRANSPILE_ONLY=true), where ts-node " +
    "reports tsconfig option errors that a type-checking `pulumi up` does not: Pulumi sets " +
    '`moduleResolution: "nodenext"` unless tsconfig.json sets it, which `module: "commonjs"` does not allow. ' +
    'Set `"moduleResolution": "node10"` (or `"module"` and `"moduleResolution"` both to `"nodenext"`) in ' +
    "tsconfig.json, or set PULUMI_NODEJS_TRANSPILE_ONLY=false in the target's `env`."
  );
}
