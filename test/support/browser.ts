// A headless Chromium for the dashboard's end-to-end tests, and what they
// check in a page: accessibility (axe-core), sideways scrolling, and that a
// page was updated in place rather than reloaded.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BrowserContext, chromium, type Locator, type Page } from "playwright-core";
import { expect } from "vitest";
import { CHROMIUM_FLAGS, CHROMIUM_PATH } from "./chromium.js";

// The README's screenshots are refreshed on request (`DRIFTLESS_SCREENSHOTS=1`);
// an ordinary run writes them into its sandbox, leaving the checkout untouched.
const DOCS_DIR = fileURLToPath(new URL("../../docs/", import.meta.url));
/** Where screenshots go: the docs with `DRIFTLESS_SCREENSHOTS` set, else the test's sandbox. */
export const screenshotDir = (sandboxDir: string) =>
  process.env.DRIFTLESS_SCREENSHOTS ? DOCS_DIR : sandboxDir;

/** A running Chromium with one page. */
export interface TestBrowser {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Closes the browser and removes its profile. */
  close(): Promise<void>;
}

/** Launches the system Chromium headless, with a fresh profile per run (removed by `close`). */
export async function launchChromium(viewport = { width: 1280, height: 900 }): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), "driftless-ui-chromium-"));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: [...CHROMIUM_FLAGS],
      viewport,
    });
  } catch (error) {
    rmSync(profile, { recursive: true, force: true });
    throw error;
  }
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** The serious and critical accessibility violations axe-core finds in the page as it is. */
export async function seriousViolations(page: Page): Promise<{ id: string; impact: string }[]> {
  const axe = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
  // Evaluated through the DevTools protocol, which the page's CSP does not govern.
  await page.evaluate(axe);
  return page.evaluate(async () => {
    const result = await (
      globalThis as unknown as {
        axe: { run: () => Promise<{ violations: { id: string; impact: string }[] }> };
      }
    ).axe.run();
    return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  });
}

/** How many pixels the page is wider than the viewport (0 or less: no sideways scrolling). */
export function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(() => {
    const root = (
      globalThis as unknown as {
        document: { documentElement: { scrollWidth: number; clientWidth: number } };
      }
    ).document.documentElement;
    return root.scrollWidth - root.clientWidth;
  });
}

/** Marks the page's document, so {@link sameDocument} tells whether it was reloaded since. */
export async function markDocument(page: Page): Promise<void> {
  await page.evaluate(() => {
    (globalThis as unknown as { __sameDocument: boolean }).__sameDocument = true;
  });
}

/** Whether the document {@link markDocument} marked is still the one shown (`undefined` after a reload). */
export function sameDocument(page: Page): Promise<boolean | undefined> {
  return page.evaluate(() => (globalThis as unknown as { __sameDocument?: boolean }).__sameDocument);
}

/** The dashboard of a running server in a browser page: pages opened with their HTML kept, rows, actions confirmed. */
export class Dashboard {
  /** The HTML of every page opened with {@link visit} (and what a test adds), for the secrets check. */
  readonly html: string[] = [];

  constructor(
    readonly page: Page,
    /** The server's URL, e.g. `http://127.0.0.1:1234`. */
    readonly serverUrl: string,
  ) {}

  /** The URL of a dashboard path (`/`, `/targets/site`, …). */
  url(path = ""): string {
    return `${this.serverUrl}/ui${path}`;
  }

  /** Opens a dashboard page, expects it answered 200, and keeps its HTML. */
  async visit(path: string) {
    const response = await this.page.goto(this.url(path));
    expect(response?.status()).toBe(200);
    this.html.push(await this.page.content());
    return response;
  }

  /** A target's row in the overview. */
  row(name: string): Locator {
    return this.page.locator(`#row-${name}`);
  }

  /** Fills in why on an action's confirmation page and confirms it (who is the logged-in identity). */
  async confirm(action: string, reason: string): Promise<void> {
    await this.page.fill("#reason", reason);
    await this.page.click(`button:has-text('Confirm ${action}')`);
    await this.page.waitForURL(/\/ui\/targets\/[^/?]+(\?queued=.*)?$/);
  }
}
