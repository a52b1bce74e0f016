import { readFileSync } from "node:fs";
import { userInfo } from "node:os";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { parseDuration } from "../spec/duration.js";
import { auditCommand, auditHeadCommand, auditVerifyCommand, sinceArg } from "./audit.js";
import { ConfigError, loadConfig } from "./config.js";
import { historyCommand, promotionsCommand, resourcesCommand, statusCommand } from "./inspect.js";
import { logsCommand } from "./logs.js";
import { type CliIO, EXIT } from "./output.js";
import { type RemoteOptions, remoteCommand, TOKEN_ENV } from "./remote.js";
import { reviewStacksCommand } from "./reviewStacks.js";
import { moveCommand, previewCommand, reconcileCommand, suspendCommand } from "./run.js";
import { serveCommand } from "./serve.js";

const DEFAULT_CONFIG = "driftless.yaml";

/** This package's version, read from its package.json (two levels above `dist/cli/`). */
function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return manifest.version;
}

function durationArg(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined)
    throw new InvalidArgumentError(`must be a duration such as "30s" or "2m", got "${value}"`);
  return ms;
}

function listenArg(value: string): { host: string; port: number } {
  const match = /^(?:([\w.-]+|\[[0-9a-f:.]+\]):)?(\d{1,5})$/i.exec(value);
  if (!match || Number(match[2]) > 65535)
    throw new InvalidArgumentError(`must be "host:port" or a port, got "${value}"`);
  return { host: (match[1] ?? "127.0.0.1").replace(/^\[(.*)\]$/, "$1"), port: Number(match[2]) };
}

function limitArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000)
    throw new InvalidArgumentError(`must be a whole number from 1 to 1000, got "${value}"`);
  return n;
}

/**
 * Runs the `driftless` command line and resolves its exit code (see {@link EXIT}).
 * Results go to `io.out`, progress and errors to `io.err`.
 */
export async function main(
  argv: readonly string[],
  io: CliIO = { out: process.stdout, err: process.stderr },
): Promise<number> {
  let code: number = EXIT.ok;
  const configOption = () =>
    new Option("-c, --config <file>", "service configuration (YAML)")
      .default(DEFAULT_CONFIG)
      .env("DRIFTLESS_CONFIG");
  const program = new Command("driftless")
    .description("Continuous reconciliation of Pulumi stacks from Git.")
    .version(packageVersion(), "-V, --version", "print the version of @driftless/gitops")
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out.write(s), writeErr: (s) => io.err.write(s) })
    .showHelpAfterError();
  program.addHelpText(
    "after",
    `
Exit codes:
  0   success (run succeeded, no changes to preview, clean shutdown)
  1   failure (run failed or stalled, bad config, unknown target)
  2   changes (drift found by a detect-mode reconcile, changes found by preview)
  3   cancelled (interrupted run, or runs cancelled at shutdown)
  64  usage error

Change counts (the CHANGES column of \`history\`):
  +N create  ~N update  ±N replace  -N delete
  e.g. "+0 ~1 ±0 -2": one resource updated in place, two deleted

A relative --config path is read from the current directory.`,
  );

  program
    .command("serve")
    .description("run the reconciler with its HTTP API (webhooks, control, status, metrics) until SIGTERM")
    .addOption(configOption())
    .option("--listen <host:port>", "address to listen on (overrides the config)", listenArg)
    .option(
      "--grace <duration>",
      "time runs in progress get to finish at shutdown (default: config or 30s)",
      durationArg,
    )
    .action(async (opts: { config: string; listen?: { host: string; port: number }; grace?: number }) => {
      code = await serveCommand(
        loadConfig(opts.config),
        {
          ...(opts.listen ? { listen: opts.listen } : {}),
          ...(opts.grace !== undefined ? { graceMs: opts.grace } : {}),
        },
        io,
      );
    });

  program
    .command("reconcile")
    .description("reconcile one target now; exit 0 ok, 1 failed, 2 drift found in detect mode")
    .argument("<target>", "target name")
    .option(
      "--server <url>",
      `queue it on a running server instead (token in $${TOKEN_ENV}); returns once queued`,
    )
    .addOption(configOption())
    .option("--json", "print the run record as JSON on stdout")
    .action(async (target: string, opts: { config: string; json?: boolean; server?: string }) => {
      if (opts.server) {
        code = await remoteCommand(
          target,
          "reconcile",
          { server: opts.server, json: opts.json ?? false },
          io,
        );
        return;
      }
      code = await reconcileCommand(loadConfig(opts.config), target, { json: opts.json ?? false }, io);
    });

  program
    .command("preview")
    .description("plan a ref (branch, tag, pull request head) against a target's stack without applying it")
    .argument("<target>", "target name")
    .requiredOption("--ref <ref>", "branch, tag or commit to preview, e.g. feature or refs/pull/7/head")
    .addOption(configOption())
    .option("--out <file>", "write the report to a file instead of stdout")
    .option("--json", "JSON report instead of Markdown")
    .option("--server <url>", `plan it on a running server instead (token in $${TOKEN_ENV})`)
    .action(
      async (
        target: string,
        opts: { config: string; ref: string; out?: string; json?: boolean; server?: string },
      ) => {
        if (opts.server) {
          code = await remoteCommand(
            target,
            "preview",
            {
              server: opts.server,
              ref: opts.ref,
              json: opts.json ?? false,
              ...(opts.out ? { out: opts.out } : {}),
            },
            io,
          );
          return;
        }
        code = await previewCommand(
          loadConfig(opts.config),
          target,
          { ref: opts.ref, json: opts.json ?? false, ...(opts.out ? { out: opts.out } : {}) },
          io,
        );
      },
    );

  program
    .command("status")
    .description("show the status of every target, or one")
    .argument("[target]", "target name")
    .addOption(configOption())
    .option("--json", "JSON on stdout")
    .action(async (target: string | undefined, opts: { config: string; json?: boolean }) => {
      code = await statusCommand(loadConfig(opts.config), target, { json: opts.json ?? false }, io);
    });

  program
    .command("review-stacks")
    .description("list the review stacks of pull requests with age and state")
    .addOption(configOption())
    .option(
      "--prune",
      "first destroy those whose pull request is closed (asks the Git host; stop `serve` first)",
    )
    .option("--json", "JSON on stdout")
    .action(async (opts: { config: string; prune?: boolean; json?: boolean }) => {
      code = await reviewStacksCommand(
        loadConfig(opts.config),
        { prune: opts.prune ?? false, json: opts.json ?? false },
        io,
      );
    });

  program
    .command("history")
    .description("show a target's recent runs, newest first")
    .argument("<target>", "target name")
    .addOption(configOption())
    .option("-n, --limit <n>", "how many runs", limitArg, 20)
    .option("--json", "JSON on stdout")
    .action(async (target: string, opts: { config: string; limit: number; json?: boolean }) => {
      code = await historyCommand(
        loadConfig(opts.config),
        target,
        { limit: opts.limit, json: opts.json ?? false },
        io,
      );
    });

  program
    .command("resources")
    .description(
      "show what a target's stack manages: sync state, health, the run that last changed each resource",
    )
    .argument("<target>", "target name")
    .addOption(configOption())
    .option("--tree", "children indented under their parents (with --json: nested in `children`)")
    .option("--json", "JSON on stdout")
    .option("--history <urn>", "the runs that created, updated, replaced or found drifted one resource")
    .action(
      async (target: string, opts: { config: string; tree?: boolean; json?: boolean; history?: string }) => {
        code = await resourcesCommand(
          loadConfig(opts.config),
          target,
          {
            tree: opts.tree ?? false,
            json: opts.json ?? false,
            ...(opts.history !== undefined ? { history: opts.history } : {}),
          },
          io,
        );
      },
    );

  program
    .command("logs")
    .description("print a run's log as stored so far; --follow prints new lines until the run ends")
    .argument("<run>", "run id (or its prefix, as `history` prints it), or a target name for its newest run")
    .addOption(configOption())
    .option("-f, --follow", "keep printing lines as the run writes them, until it ends")
    .action(async (run: string, opts: { config: string; follow?: boolean }) => {
      code = await logsCommand(loadConfig(opts.config), run, { follow: opts.follow ?? false }, io);
    });

  const serverHelp = `send it to a running server's API (token in $${TOKEN_ENV}) instead of the data directory; who acts is the token's identity, --by only for an admin acting for someone`;
  const remoteOptions = (opts: {
    server?: string;
    reason: string;
    revision?: string;
    by?: string;
    json?: boolean;
  }): RemoteOptions => ({
    server: opts.server as string,
    reason: opts.reason,
    json: opts.json ?? false,
    ...(opts.revision ? { revision: opts.revision } : {}),
    ...(opts.by ? { by: opts.by } : {}),
  });
  const requester = (): string => {
    try {
      return userInfo().username;
    } catch {
      return "unknown";
    }
  };
  for (const [action, description] of [
    ["promote", "promote a revision the upstream applied (default: its latest) now, skipping the soak time"],
    ["rollback", "move a promoted target back to a revision it applied before (default: the previous one)"],
  ] as const) {
    program
      .command(action)
      .description(`${description}; waits for the run`)
      .argument("<target>", "target name (one with `promote` in the config)")
      .requiredOption("--reason <text>", "why; recorded with the promotion")
      .option("--by <name>", "who asks; recorded (default: the OS user)")
      .option("--revision <sha>", "commit SHA or unique prefix")
      .option("--server <url>", serverHelp)
      .addOption(configOption())
      .option("--json", "print the run record as JSON on stdout")
      .action(
        async (
          target: string,
          opts: {
            config: string;
            reason: string;
            by?: string;
            revision?: string;
            json?: boolean;
            server?: string;
          },
        ) => {
          if (opts.server) {
            code = await remoteCommand(target, action, remoteOptions(opts), io);
            return;
          }
          code = await moveCommand(
            loadConfig(opts.config),
            target,
            action,
            {
              by: opts.by ?? requester(),
              reason: opts.reason,
              json: opts.json ?? false,
              ...(opts.revision ? { revision: opts.revision } : {}),
            },
            io,
          );
        },
      );
  }

  program
    .command("approve")
    .description("apply the plan a target holds for approval (or a refused revision); waits for the run")
    .argument("<target>", "target name")
    .option("--revision <sha>", "the revision to approve (default: the one waiting)")
    .requiredOption("--reason <text>", "why; recorded with the approval (required, as over HTTP)")
    .option("--by <name>", "who approves; recorded (default: the OS user)")
    .option("--server <url>", serverHelp)
    .addOption(configOption())
    .option("--json", "print the run record as JSON on stdout")
    .action(
      async (
        target: string,
        opts: {
          config: string;
          revision?: string;
          reason: string;
          by?: string;
          json?: boolean;
          server?: string;
        },
      ) => {
        if (opts.server) {
          code = await remoteCommand(target, "approve", remoteOptions(opts), io);
          return;
        }
        code = await moveCommand(
          loadConfig(opts.config),
          target,
          "approve",
          {
            by: opts.by ?? requester(),
            reason: opts.reason,
            json: opts.json ?? false,
            ...(opts.revision ? { revision: opts.revision } : {}),
          },
          io,
        );
      },
    );

  for (const [action, description] of [
    ["suspend", "stop a target's scheduled runs (webhooks skip it; manual runs still work)"],
    ["resume", "restart a suspended target's scheduled runs"],
  ] as const) {
    program
      .command(action)
      .description(`${description}; who and why are recorded in its status`)
      .argument("<target>", "target name")
      .requiredOption("--reason <text>", "why; recorded in the target's status")
      .option("--by <name>", "who; recorded (default: the OS user)")
      .option("--server <url>", serverHelp)
      .addOption(configOption())
      .option("--json", "print the target's status as JSON on stdout")
      .action(
        async (
          target: string,
          opts: { config: string; reason: string; by?: string; json?: boolean; server?: string },
        ) => {
          if (opts.server) {
            code = await remoteCommand(target, action, remoteOptions(opts), io);
            return;
          }
          code = await suspendCommand(
            loadConfig(opts.config),
            target,
            action,
            { by: opts.by ?? requester(), reason: opts.reason, json: opts.json ?? false },
            io,
          );
        },
      );
  }

  program
    .command("promotions")
    .description("show a target's promotions and rollbacks, newest first")
    .argument("<target>", "target name")
    .addOption(configOption())
    .option("-n, --limit <n>", "how many", limitArg, 20)
    .option("--json", "JSON on stdout")
    .action(async (target: string, opts: { config: string; limit: number; json?: boolean }) => {
      code = await promotionsCommand(
        loadConfig(opts.config),
        target,
        { limit: opts.limit, json: opts.json ?? false },
        io,
      );
    });

  const audit = program
    .command("audit")
    .description(
      "show the audit log's newest entries (who did what, when, with what outcome); --follow prints new ones",
    )
    .addOption(configOption())
    .option("--target <name>", "only entries about this target")
    .option("--actor <name>", "only entries of this actor (its name or identity id)")
    .option("--since <time>", "only entries at or after this time (ISO 8601)", (v: string) => {
      const since = sinceArg(v);
      if (since instanceof Error) throw new InvalidArgumentError(since.message.replace(/^--since /, ""));
      return since;
    })
    .option("-n, --limit <n>", "how many of the newest entries", limitArg, 50)
    .option("-f, --follow", "keep printing entries as they are appended, until Ctrl-C")
    .option("--json", "one JSON entry a line on stdout")
    .action(
      async (opts: {
        config: string;
        target?: string;
        actor?: string;
        since?: string;
        limit: number;
        follow?: boolean;
        json?: boolean;
      }) => {
        code = await auditCommand(
          loadConfig(opts.config),
          {
            limit: opts.limit,
            follow: opts.follow ?? false,
            json: opts.json ?? false,
            ...(opts.target ? { target: opts.target } : {}),
            ...(opts.actor ? { actor: opts.actor } : {}),
            ...(opts.since ? { since: opts.since } : {}),
          },
          io,
        );
      },
    );
  // `-c` and `--json` belong to `audit` and reach these through optsWithGlobals,
  // so they work before or after the subcommand's name.
  audit
    .command("verify")
    .description("check the audit log's hash chain; exit 1 naming the first edited or deleted entry")
    .option(
      "--head <hash>",
      "a hash printed earlier by `audit head`: also fail when it is no longer in the log",
    )
    .action(async (_opts: unknown, command: Command) => {
      const opts = command.optsWithGlobals<{ config: string; head?: string; json?: boolean }>();
      code = await auditVerifyCommand(
        loadConfig(opts.config),
        { json: opts.json ?? false, ...(opts.head ? { head: opts.head } : {}) },
        io,
      );
    });
  audit
    .command("head")
    .description("print the newest entry's hash, to keep elsewhere for `audit verify --head`")
    .action(async (_opts: unknown, command: Command) => {
      code = await auditHeadCommand(loadConfig(command.optsWithGlobals<{ config: string }>().config), io);
    });

  try {
    await program.parseAsync(argv as string[]);
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (error instanceof ConfigError) {
      io.err.write(`${error.message}\n`);
      return EXIT.failed;
    }
    io.err.write(`driftless: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT.failed;
  }
}
