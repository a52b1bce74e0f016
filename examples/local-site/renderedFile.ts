import * as pulumi from "@pulumi/pulumi";

/** Inputs of a {@link RenderedFile}. */
export interface RenderedFileArgs {
  /** Absolute path of the file to write; parent folders are created. */
  path: pulumi.Input<string>;
  /** Template text with `{{name}}` placeholders. */
  template: pulumi.Input<string>;
  /** Values for the placeholders. */
  values: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

interface State {
  path: string;
  template: string;
  values: Record<string, string>;
  content: string;
}

function render(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (_, key: string) => values[key] ?? "");
}

// The provider runs in the engine's dynamic-provider process, serialized from
// these functions, so each one requires what it uses.
const provider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: Omit<State, "content">) {
    const fs = require("node:fs") as typeof import("node:fs");
    const path = require("node:path") as typeof import("node:path");
    const content = render(inputs.template, inputs.values);
    fs.mkdirSync(path.dirname(inputs.path), { recursive: true });
    fs.writeFileSync(inputs.path, content);
    return { id: inputs.path, outs: { ...inputs, content } };
  },
  // Refresh reads what is really on disk, so a hand edit shows up as drift.
  async read(id: string, props: State) {
    const fs = require("node:fs") as typeof import("node:fs");
    if (!fs.existsSync(id)) return { id: "", props: {} };
    return { id, props: { ...props, content: fs.readFileSync(id, "utf8") } };
  },
  async diff(_id: string, olds: State, news: Omit<State, "content">) {
    const wanted = render(news.template, news.values);
    return {
      changes: olds.content !== wanted || olds.path !== news.path,
      replaces: olds.path !== news.path ? ["path"] : [],
      deleteBeforeReplace: true,
    };
  },
  async update(_id: string, _olds: State, news: Omit<State, "content">) {
    const fs = require("node:fs") as typeof import("node:fs");
    const content = render(news.template, news.values);
    fs.writeFileSync(news.path, content);
    return { outs: { ...news, content } };
  },
  async delete(id: string) {
    const fs = require("node:fs") as typeof import("node:fs");
    fs.rmSync(id, { force: true });
  },
};

/** A file rendered from a template and kept in that state: drift is detected on refresh. */
export class RenderedFile extends pulumi.dynamic.Resource {
  declare readonly path: pulumi.Output<string>;
  declare readonly content: pulumi.Output<string>;

  constructor(name: string, args: RenderedFileArgs, opts?: pulumi.CustomResourceOptions) {
    super(provider, name, { ...args, content: undefined }, opts);
  }
}
