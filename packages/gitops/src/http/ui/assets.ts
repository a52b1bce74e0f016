// The dashboard's script and stylesheet, served as files, and the headers every dashboard response carries.
import { readFileSync } from "node:fs";

/** The strict policy of every dashboard response: scripts and styles from files of this origin only. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** Headers of every dashboard response. */
export const SECURITY_HEADERS = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

// The same relative path from src/http/ui and dist/http/ui; the package ships src/.
const ASSETS = new URL("../../../src/http/ui/assets/", import.meta.url);
const assetCache = new Map<string, string>();
/** An asset file's text, read once. */
export const asset = (file: string): string => {
  let text = assetCache.get(file);
  if (text === undefined) {
    text = readFileSync(new URL(file, ASSETS), "utf8");
    assetCache.set(file, text);
  }
  return text;
};
