// Runs bench/scale.ts in a child process: N targets on a 1-minute interval.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { engineSandbox } from "../test/support/engine.js";
import { createRepo } from "../test/support/git.js";
import { type Figure, progress, run, stats } from "./lib.js";

const child = fileURLToPath(new URL("./scale.ts", import.meta.url));
const REPOS = 10;

export async function scaleBenchmark(targets: number, seconds: number): Promise<Figure[]> {
  const sandbox = engineSandbox("driftless-scale-");
  try {
    const repos = Array.from({ length: REPOS }, (_, i) => {
      const repo = createRepo(join(sandbox.dir, `repo-${i}`));
      return { url: repo.fileUrl, head: repo.commit({ "README.md": `repo ${i}\n` }, "init") };
    });
    progress(`scale: ${targets} targets over ${REPOS} repositories, 1-minute interval, ${seconds}s`);
    const { stdout } = await run(
      process.execPath,
      [
        "--import",
        "tsx",
        child,
        JSON.stringify({ dataDir: join(sandbox.dir, "data"), repos, targets, seconds }),
      ],
      { env: { ...process.env, ...sandbox.env, DRIFTLESS_LOG_LEVEL: "silent" }, maxBuffer: 16 * 1024 * 1024 },
    );
    const r = JSON.parse(stdout.trim().split("\n").at(-1) as string) as {
      cpuShare: number;
      peakRssMb: number;
      worstLatenessMs: number;
      decisions: number;
      engineOperations: number;
    };
    const notes = `${targets} targets, ${r.decisions} scheduled decisions in ${seconds}s, ${r.engineOperations} engine operations`;
    return [
      {
        id: "scale-cpu",
        name: `Scale: CPU share of one core, ${targets} unchanged targets`,
        unit: "%",
        value: stats([r.cpuShare * 100]),
        goal: "≤ 5% of one core",
        met: r.cpuShare <= 0.05,
        notes,
      },
      {
        id: "scale-rss",
        name: `Scale: peak RSS, ${targets} targets`,
        unit: "MB",
        value: stats([r.peakRssMb]),
        goal: "≤ 250 MB",
        met: r.peakRssMb <= 250,
      },
      {
        id: "scale-lateness",
        name: `Scale: worst lateness of a scheduled check, ${targets} targets`,
        unit: "ms",
        value: stats([r.worstLatenessMs]),
        goal: "≤ 6 s",
        met: r.worstLatenessMs <= 6000,
      },
    ];
  } finally {
    sandbox.dispose();
  }
}
