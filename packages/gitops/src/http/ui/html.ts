/**
 * HTML built only through the `html` tag: every interpolated value is escaped
 * unless it is already {@link Html} made by this module, so a target name,
 * commit subject or output holding `<script>` renders as text.
 */
import { Redactor } from "../../spec/secrets.js";

/** A fragment of HTML that is safe to embed as is. */
export class Html {
  readonly #text: string;
  constructor(text: string) {
    this.#text = text;
  }
  toString(): string {
    return this.#text;
  }
}

const ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Escapes text for an element's content or a quoted attribute value. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);
}

/** A value allowed inside the `html` tag: text is escaped, {@link Html} kept, lists joined, nothing dropped. */
export type HtmlValue = Html | string | number | boolean | null | undefined | readonly HtmlValue[];

function render(value: HtmlValue): string {
  if (value instanceof Html) return value.toString();
  if (Array.isArray(value)) return value.map(render).join("");
  if (value === null || value === undefined || value === false) return "";
  return escapeHtml(String(value));
}

/** The template tag that escapes every value it is given. */
export function html(strings: TemplateStringsArray, ...values: readonly HtmlValue[]): Html {
  let out = strings[0] ?? "";
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? "");
  });
  return new Html(out);
}

/** The last redactor made, by the secrets it knows: pages reuse it until a secret changes. */
let lastRedactor: { readonly key: string; readonly redact: (text: string) => string } | undefined;

/** Replaces secret values, as they are and as HTML-escaped, with `[redacted]` in a rendered page. */
export function htmlRedactor(values: readonly (string | undefined)[]): (text: string) => string {
  const known = values.filter((v): v is string => v !== undefined);
  const key = known.join("\0");
  if (lastRedactor?.key === key) return lastRedactor.redact;
  const redactor = new Redactor().add(...known, ...known.map(escapeHtml));
  const redact = (text: string) => redactor.redact(text);
  lastRedactor = { key, redact };
  return redact;
}

/** Joins fragments. */
export function join(parts: readonly HtmlValue[], separator = ""): Html {
  return new Html(parts.map(render).join(separator));
}
