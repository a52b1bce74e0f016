// Masking of hostile request data: every reply and page goes through the
// Redactor, and a path or query can be 64 KB of text that looks like the start
// of a URL scheme at every character (`a.a.a.…`). Ours must stay linear; the
// baseline is the URL-credential pattern used before (an unbounded scheme),
// run alternately on the same text.
import { Redactor } from "@driftless/gitops";
import { type Figure, interleaved, progress, stats } from "./lib.js";

/** The goal: masking 64 KB of hostile text takes at most this long. */
const GOAL_MS = 20;

/** The pattern before the fix: `[\w+.-]*` before `://` rescans the rest of a word from each character. */
const QUADRATIC = /(\b[a-z][\w+.-]*:\/\/)[^\s/@]+@/gi;

/** 64 KB that holds a URL (so the URL pattern runs) and a long word of would-be schemes. */
export function hostileText(): string {
  return `GET https://example.com/ "${"a.".repeat(32 * 1024)}"`;
}

/** The same size of ordinary log text, for scale. */
function ordinaryText(): string {
  return "updating resource https://example.com/api (1 of 3)\n".repeat(Math.ceil((64 * 1024) / 52));
}

function timed(fn: () => unknown): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

export async function maskingBenchmark(runs: number): Promise<Figure[]> {
  progress("masking: 64 KB of hostile text, ours against the previous URL pattern");
  const redactor = new Redactor().add("a-registered-secret", "another-secret-value");
  const hostile = hostileText();
  const { a, b } = await interleaved(
    runs,
    async () => timed(() => redactor.redact(hostile)),
    async () => timed(() => hostile.replace(QUADRATIC, "$1[redacted]@")),
  );
  const ordinary = ordinaryText();
  const plain = stats(Array.from({ length: runs }, () => timed(() => redactor.redact(ordinary))));
  return [
    {
      id: "masking-hostile",
      name: "Masking 64 KB of hostile text (`a.a.a.…`)",
      unit: "ms",
      value: a,
      baseline: b,
      ratio: a.median / b.median,
      goal: `≤ ${GOAL_MS} ms (linear)`,
      met: a.median <= GOAL_MS,
      notes: "baseline: the unbounded-scheme URL pattern used before",
    },
    {
      id: "masking-ordinary",
      name: "Masking 64 KB of ordinary log text",
      unit: "ms",
      value: plain,
      notes: "for scale",
    },
  ];
}
