// A static site as infrastructure: every page listed in site.json becomes a
// file rendered from a template. Commit a change to site.json and Driftless
// renders it; edit a rendered file by hand and Driftless puts it back.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { RenderedFile } from "./renderedFile";

interface Site {
  title: string;
  pages: Record<string, { template: string; heading: string; body: string }>;
}

const config = new pulumi.Config();
const outDir = resolve(config.get("outDir") ?? "./public");
const site = JSON.parse(readFileSync(join(__dirname, "site.json"), "utf8")) as Site;

const pages = Object.entries(site.pages).map(
  ([file, page]) =>
    new RenderedFile(file, {
      path: join(outDir, file),
      template: readFileSync(join(__dirname, "templates", page.template), "utf8"),
      values: { title: site.title, heading: page.heading, body: page.body },
    }),
);

export const folder = outDir;
export const files = pages.map((p) => p.path);
export const revision = process.env.DRIFTLESS_GIT_COMMIT ?? "unknown";
