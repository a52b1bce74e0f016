// Nothing a run starts outlives it: the Pulumi CLI, the language host, Pulumi's
// dynamic provider and the program all exit when a run completes, is cancelled
// or times out, when `driftless serve` is stopped or killed with its whole
// process group, and when a service embedding the reconciler is stopped or
// killed. Real engine, real processes; after each scenario every process that
// belongs to the test's sandbox must be gone within 10 s. A Kubernetes program
// keeps upstream's Go provider (which checks its engine only every few
// minutes) busy for the SIGKILL of a server mid-update.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PulumiEngine, type RunRecord } from "@driftless/gitops";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { NEVER_READY_MARKER, startCluster, type TestCluster } from "./support/cluster.js";
import { clusterTarget } from "./support/clusterTarget.js";
import { type EngineSandbox, engineSandbox } from "./support/engine.js";
import { createRepo, type TestRepo } from "./support/git.js";
import { describeProcesses, findProcesses, leftoverProcesses } from "./support/processes.js";
import { TEST_NODE_PATH } from "./support/sitePrograms.js";
import { until } from "./support/wait.js";

const CLI = fileURLToPath(new URL("../packages/gitops/dist/cli/main.js", import.meta.url));
const EXAMPLE = fileURLToPath(new URL("../examples/embedded-service/src/service.ts", import.meta.url));
const FIXTURES = fileURLToPath(new URL("./fixtures/", import.meta.url));
const TOKEN = "processes-token-5d1a";
/** How long a process may outlive its run, its server or its service. */
const LINGER_MS = 10_000;

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
}

/** A child's stderr so far and its exit. */
function watch(child: ChildProcess): { stderr: () => string; exited: Promise<Exit> } {
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  child.stdout?.resume();
  const exited = new Promise<Exit>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal, stderr })),
  );
  return { stderr: () => stderr, exited };
}

// The lifelike cluster of the Go-provider scenario starts with the file, in
// the shadow of the first scenarios: it idles once up, and the last scenario
// need not wait for it.
let clusterStarting: Promise<TestCluster>;
beforeAll(() => {
  clusterStarting = startCluster();
  // Its failure is the Go-provider scenario's, reported there.
  clusterStarting.catch(() => undefined);
});
afterAll(async () => (await clusterStarting?.catch(() => undefined))?.stop());

describe("engine processes", () => {
  let sandbox: EngineSandbox;
  let repo: TestRepo;
  let configFile: string;
  let dataDir: string;
  let journal: string;
  let outDir: string;
  let round = 0;
  const started: ChildProcess[] = [];

  /** A target on the slow program; each call gives the page a new writer, so `up` has an update to make. */
  const target = (extra: Record<string, unknown> = {}, config: Record<string, string> = {}) => ({
    name: "site",
    repo: repo.fileUrl,
    ref: "main",
    stack: "dev",
    passphrase: "test-passphrase",
    config: { outDir, journal, writer: `writer-${++round}`, delayMs: "4000", ...config },
    env: { ...sandbox.env, NODE_PATH: TEST_NODE_PATH },
    interval: "1h",
    resync: "1h",
    ...extra,
  });

  const writeConfig = (
    extra: Record<string, unknown> = {},
    config: Record<string, string> = {},
    service: Record<string, unknown> = {},
  ) => {
    // A new revision too, so a server starting up has a run to make.
    repo.commit({}, `round ${round + 1}`);
    writeFileSync(
      configFile,
      JSON.stringify({
        dataDir,
        listen: "127.0.0.1:0",
        installDependencies: false,
        tokens: [{ env: "DRIFTLESS_TEST_TOKEN" }],
        targets: [target(extra, config)],
        ...service,
      }),
    );
  };

  const start = (command: string, args: readonly string[], options: { detached?: boolean } = {}) => {
    const child = spawn(command, args, {
      env: { ...process.env, DRIFTLESS_TEST_TOKEN: TOKEN, DRIFTLESS_LOG_LEVEL: "debug" },
      stdio: ["ignore", "pipe", "pipe"],
      detached: options.detached ?? false,
    });
    started.push(child);
    return child;
  };
  const driftless = (...args: string[]) => start(process.execPath, [CLI, ...args]);

  /** Resolves once the slow provider has started writing for the current round (so `up` is mid-update). */
  const midUpdate = () =>
    until(
      () =>
        existsSync(journal) &&
        readFileSync(journal, "utf8")
          .split("\n")
          .some((line) => line.includes(`"writer":"writer-${round}"`) && line.includes('"phase":"start"')),
      `the update of round ${round} to start`,
      240_000,
    );

  /** Asserts that, within 10 s, no process of the sandbox is left. */
  const expectNoneLeft = async (roots: readonly number[] = []) => {
    const left = await leftoverProcesses({ paths: [sandbox.dir], roots }, LINGER_MS);
    expect(left, `processes still running ${LINGER_MS / 1000}s later:\n${describeProcesses(left)}`).toEqual(
      [],
    );
  };

  const history = async (): Promise<RunRecord[]> => {
    const child = spawn(process.execPath, [CLI, "history", "site", "--config", configFile, "--json"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    await new Promise((resolve) => child.on("close", resolve));
    return JSON.parse(stdout) as RunRecord[];
  };

  beforeAll(() => {
    sandbox = engineSandbox("driftless-processes-");
    outDir = join(sandbox.dir, "site");
    dataDir = join(sandbox.dir, "data");
    journal = join(sandbox.dir, "journal.jsonl");
    configFile = join(sandbox.dir, "driftless.yaml");
    repo = createRepo(join(sandbox.dir, "repo"), { seed: join(FIXTURES, "slow-program") });
    repo.commit({}, "slow site");
  });

  afterEach(() => {
    // A failed assertion must not leave the scenario's processes to the next one.
    for (const child of started.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  });

  afterAll(() => sandbox?.dispose());

  it("leaves nothing running after a run that completes", async () => {
    writeConfig({}, { delayMs: "10" });
    const run = watch(driftless("reconcile", "site", "--config", configFile));
    const { code, stderr } = await run.exited;
    expect(code, stderr.slice(-2000)).toBe(0);
    await expectNoneLeft();
  });

  it("leaves nothing running after a cancelled run", async () => {
    writeConfig();
    const child = driftless("reconcile", "site", "--config", configFile);
    const run = watch(child);
    await midUpdate();
    child.kill("SIGINT");
    const { code, stderr } = await run.exited;
    expect(code, stderr.slice(-2000)).toBe(3);
    expect((await history())[0]?.result).toBe("cancelled");
    await expectNoneLeft();
  });

  it("leaves nothing running after a run that timed out, even when the engine will not stop", async () => {
    // The update outlasts the timeout and the engine's clean cancel (which
    // waits for the slow create), so the CLI is killed after its grace
    // (`cancelGrace`, 30 s by default; 2 s here, as the create never ends within it).
    // The timeout must come in the middle of the create. On a loaded machine the
    // checkout and the preview may use it all up before the create starts; such a
    // round must leave nothing behind too, but it did not test a stubborn engine,
    // so it is run again with twice the time.
    const hadCreate: boolean[] = [];
    for (let seconds = 20; seconds <= 80 && !hadCreate.includes(true); seconds *= 2) {
      writeConfig({ timeout: `${seconds}s` }, { delayMs: "240000" }, { cancelGrace: "2s" });
      const run = watch(driftless("reconcile", "site", "--config", configFile));
      const { code, stderr } = await run.exited;
      expect(code, stderr.slice(-2000)).not.toBe(0);
      expect(stderr).toContain(`exceeded its timeout of ${seconds}s`);
      const lines = existsSync(journal) ? readFileSync(journal, "utf8").split("\n") : [];
      const mine = (phase: string) =>
        lines.some(
          (line) => line.includes(`"writer":"writer-${round}"`) && line.includes(`"phase":"${phase}"`),
        );
      // Whether or not it had started, the create never ended: the engine was stopped.
      expect(mine("end")).toBe(false);
      hadCreate.push(mine("start"));
      await expectNoneLeft();
    }
    expect(hadCreate, "a timeout came in the middle of the create (20 s, then 40 s, then 80 s)").toContain(
      true,
    );
  });

  it("leaves nothing running when `driftless serve` gets SIGTERM mid-update", async () => {
    writeConfig();
    const serve = driftless("serve", "--config", configFile, "--grace", "1s");
    const run = watch(serve);
    await midUpdate();
    serve.kill("SIGTERM");
    const { code, stderr } = await run.exited;
    expect(code, stderr.slice(-2000)).toBe(3);
    expect(stderr).toContain("stopped; runs in progress were cancelled");
    await expectNoneLeft();
  });

  it("leaves nothing running when the process group of `driftless serve` gets SIGKILL mid-update", async () => {
    writeConfig({}, { delayMs: "60000" });
    const serve = start(process.execPath, [CLI, "serve", "--config", configFile], { detached: true });
    const run = watch(serve);
    await midUpdate();
    process.kill(-(serve.pid as number), "SIGKILL");
    const { signal } = await run.exited;
    expect(signal).toBe("SIGKILL");
    await expectNoneLeft();
  });

  describe("the embedded service example", () => {
    const service = (options: { detached?: boolean } = {}) => {
      repo.commit({}, `round ${round + 1}`);
      const targets = JSON.stringify([target()]);
      const child = spawn(process.execPath, [EXAMPLE], {
        env: {
          ...process.env,
          DRIFTLESS_TOKEN: TOKEN,
          DRIFTLESS_TARGETS: targets,
          DRIFTLESS_DATA_DIR: dataDir,
          PORT: "0",
        },
        stdio: ["ignore", "pipe", "pipe"],
        detached: options.detached ?? false,
      });
      started.push(child);
      return child;
    };

    it("shuts down gracefully on SIGTERM mid-update: readiness 503, the run finishes, exit 0", async () => {
      const child = service();
      const run = watch(child);
      const url = await until(
        () => /inventory service on (http:\/\/\S+),/.exec(run.stderr())?.[1],
        "the service to listen",
      );
      expect((await fetch(`${url}/driftless/readyz`)).status).toBe(200);
      await midUpdate();
      child.kill("SIGTERM");
      let readiness = 200;
      for (let i = 0; i < 200 && readiness !== 503 && child.exitCode === null; i++) {
        readiness = await fetch(`${url}/driftless/readyz`).then(
          (res) => res.status,
          () => 0,
        );
        if (readiness !== 503) await new Promise((resolve) => setTimeout(resolve, 25));
      }
      expect(readiness).toBe(503);
      const { code, signal, stderr } = await run.exited;
      expect({ code, signal }, stderr.slice(-2000)).toEqual({ code: 0, signal: null });
      expect(readFileSync(join(outDir, "page.html"), "utf8")).toBe(`<h1>writer-${round}</h1>`);
      expect((await history())[0]?.result).toBe("applied");
      await expectNoneLeft();
    });

    it("leaves nothing running when killed with SIGKILL mid-update", async () => {
      const child = service({ detached: true });
      const run = watch(child);
      await midUpdate();
      process.kill(-(child.pid as number), "SIGKILL");
      expect((await run.exited).signal).toBe("SIGKILL");
      await expectNoneLeft();
    });
  });

  it("adds no signal listener to the process that runs the engine", async () => {
    // The Automation API's runner registered signal-exit's listeners for the
    // length of every CLI call; they killed the CLI and re-raised the signal.
    const counts = () => ["SIGTERM", "SIGINT", "SIGHUP"].map((s) => process.listenerCount(s)).join(",");
    const before = counts();
    const seen = new Set<string>();
    await new PulumiEngine().up(
      {
        workDir: join(sandbox.dir, "inline"),
        stack: "signals",
        program: async () => ({ listeners: counts() }),
        projectName: "signals",
        backend: sandbox.backendUrl,
        secretsProvider: "passphrase",
        env: sandbox.env,
        config: {},
        secretConfig: {},
      },
      { onProgress: () => seen.add(counts()) },
    );
    expect(seen.size).toBeGreaterThan(0);
    expect([...seen]).toEqual([before]);
    await expectNoneLeft();
  });
});

describe("engine processes with a Go provider", () => {
  let cluster: TestCluster;
  let sandbox: EngineSandbox;
  const started: ChildProcess[] = [];

  beforeAll(async () => {
    cluster = await clusterStarting;
    sandbox = engineSandbox("driftless-processes-k8s-");
  });

  afterEach(() => {
    for (const child of started.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  });

  afterAll(async () => {
    await cluster?.stop();
    sandbox?.dispose();
  });

  it("leaves no provider running when the process group of `driftless serve` gets SIGKILL mid-update", async () => {
    // A rollout that never becomes Ready: the Kubernetes provider awaits it
    // for the whole update, so it is busy when the server dies.
    const app = {
      namespace: "reaped",
      manageNamespace: true,
      rolloutTimeoutSeconds: 600,
      services: { api: { image: `ghcr.io/acme/api:1.0.0-${NEVER_READY_MARKER}`, replicas: 1 } },
    };
    const repo = createRepo(join(sandbox.dir, "repo"), { seed: join(FIXTURES, "k8s-program") });
    repo.commit({ "app.json": `${JSON.stringify(app, null, 2)}\n` }, "a rollout that never completes");
    const configFile = join(sandbox.dir, "driftless.yaml");
    writeFileSync(
      configFile,
      JSON.stringify({
        dataDir: join(sandbox.dir, "data"),
        listen: "127.0.0.1:0",
        installDependencies: false,
        tokens: [{ env: "DRIFTLESS_TEST_TOKEN" }],
        targets: [
          // Straight to the update: the provider awaiting the rollout is what this is about.
          clusterTarget("shop", { repo, cluster, sandbox }, { refresh: false }),
        ],
      }),
    );
    const serve = spawn(process.execPath, [CLI, "serve", "--config", configFile], {
      env: { ...process.env, DRIFTLESS_TEST_TOKEN: TOKEN },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    started.push(serve);
    const run = watch(serve);

    // Mid-update: the provider has created the Deployment and awaits its rollout.
    let deployed = false;
    let asking = false;
    await until(
      () => {
        if (serve.exitCode !== null) throw new Error(`serve exited early:\n${run.stderr().slice(-2000)}`);
        if (!deployed) {
          if (!asking) {
            asking = true;
            void cluster.api("GET", `/apis/apps/v1/namespaces/${app.namespace}/deployments/api`).then(
              (res) => {
                deployed = res.status === 200;
                asking = false;
              },
              () => {
                asking = false;
              },
            );
          }
          return false;
        }
        return findProcesses({ paths: [sandbox.dir] }).some((p) =>
          p.command.includes("pulumi-resource-kubernetes"),
        );
      },
      "the Kubernetes provider to await the rollout",
      240_000,
    );

    process.kill(-(serve.pid as number), "SIGKILL");
    expect((await run.exited).signal).toBe("SIGKILL");
    const left = await leftoverProcesses({ paths: [sandbox.dir] }, LINGER_MS);
    expect(left, `processes still running ${LINGER_MS / 1000}s later:\n${describeProcesses(left)}`).toEqual(
      [],
    );
  });
});
