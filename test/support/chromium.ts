// The system Chromium, headless, as the dashboard's tests and benchmarks start it.
import { type Browser, chromium } from "playwright-core";

/** Flags for a headless Chromium that reaches nothing but the pages it is sent to. */
export const CHROMIUM_FLAGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** The Debian package's Chromium (the bootstrap installs it). */
export const CHROMIUM_PATH = "/usr/bin/chromium";

/** Launches Chromium headless; playwright gives it a fresh temporary profile and removes it on close. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: [...CHROMIUM_FLAGS] });
}
