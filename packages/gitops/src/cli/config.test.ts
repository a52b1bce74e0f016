import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "./config.js";
import { unusableSecrets } from "./serve.js";

const base = `
dataDir: ./data
targets:
  - name: site
    repo: https://github.com/acme/infra.git
    stack: dev
`;

function error(text: string): ConfigError {
  try {
    parseConfig(text, "/etc/driftless/driftless.yaml");
  } catch (caught) {
    if (caught instanceof ConfigError) return caught;
    throw caught;
  }
  throw new Error("expected a ConfigError");
}

describe("the service config", () => {
  it("resolves defaults and paths relative to the file", () => {
    const config = parseConfig(
      `${base}listen: "0.0.0.0:9090"\ntokens:\n  - env: DRIFTLESS_TOKEN\n  - file: token.txt\nwebhooks:\n  github: { env: GH }\n`,
      "/etc/driftless/driftless.yaml",
    );
    expect(config.dataDir).toBe("/etc/driftless/data");
    expect(config.listen).toEqual({ host: "0.0.0.0", port: 9090 });
    expect(config.tokens).toEqual([{ env: "DRIFTLESS_TOKEN" }, { file: "/etc/driftless/token.txt" }]);
    expect(config.webhooks).toEqual({ github: { env: "GH" } });
    expect(config.targets.map((t) => t.name)).toEqual(["site"]);
    expect(config.shutdownGraceMs).toBe(30_000);
    expect(config.cancelGraceMs).toBeUndefined();
    expect(config.installDependencies).toBe(true);
  });

  it("reads a target's reviewStacks, and refuses a template that could name its own stack", () => {
    const config = parseConfig(
      `${base}    reviewStacks:\n      stack: pr-{number}\n      config: { "app:namespace": "shop-pr-{number}" }\n      ttl: 3d\n`,
      "/etc/driftless/driftless.yaml",
    );
    expect(config.targets[0]?.reviewStacks).toEqual({
      stack: "pr-{number}",
      config: { "app:namespace": "shop-pr-{number}" },
      ttl: "3d",
    });
    expect(error(`${base}    reviewStacks: { stack: "{branch}" }\n`).message).toContain(
      'targets[0].reviewStacks.stack "{branch}" must contain {number}',
    );
    expect(
      error(base.replace("stack: dev", "stack: pr-1") + '    reviewStacks: { stack: "pr-{number}" }\n')
        .message,
    ).toContain('could name the target\'s own stack "pr-1"');
  });

  it("reads single sign-on (auth.oidc), its client secret as a reference resolved against the file", () => {
    const config = parseConfig(
      `${base}auth:\n  oidc:\n    issuer: https://gitea.example.com\n    clientId: driftless\n    clientSecret: { file: oidc-secret }\n    scopes: [openid, email, groups]\n    groupsClaim: roles\n`,
      "/etc/driftless/driftless.yaml",
    );
    expect(config.auth.oidc).toEqual({
      issuer: "https://gitea.example.com",
      clientId: "driftless",
      clientSecret: { file: "/etc/driftless/oidc-secret" },
      scopes: ["openid", "email", "groups"],
      groupsClaim: "roles",
    });
    expect(parseConfig(base, "/etc/driftless/driftless.yaml").auth).toEqual({});
    // serve refuses to start without it, naming the field and the source.
    const unset = parseConfig(
      `${base}auth:\n  oidc: { issuer: "http://127.0.0.1:3000", clientId: d, clientSecret: { env: DRIFTLESS_UNSET_OIDC_SECRET } }\n`,
      "/etc/driftless/driftless.yaml",
    );
    expect(unusableSecrets(unset)).toEqual([
      "auth.oidc.clientSecret: environment variable DRIFTLESS_UNSET_OIDC_SECRET is not set",
    ]);
  });

  it("refuses an OIDC issuer without TLS, an inline client secret and an unknown field, naming each", () => {
    const message = error(
      `${base}auth:\n  oidc:\n    issuer: http://login.example.com\n    clientId: driftless\n    clientSecret: hunter2-secret\n    groupClaim: groups\n`,
    ).message;
    expect(message).toMatch(
      /auth\.oidc\.issuer must be an https:\/\/ URL \(http:\/\/ only on a loopback address\).*got "http:\/\/login\.example\.com"/,
    );
    expect(message).toMatch(/auth\.oidc\.clientSecret must be \{ env: NAME \} or \{ file: path \}/);
    expect(message).not.toContain("hunter2-secret");
    expect(message).toMatch(/auth\.oidc has unknown field\(s\) groupClaim \(did you mean `groupsClaim`\?\)/);
  });

  it("reads how long a cancelled engine gets to stop, and refuses a value that is not a duration", () => {
    expect(parseConfig(`${base}cancelGrace: 5s\n`, "/etc/driftless/driftless.yaml").cancelGraceMs).toBe(5000);
    expect(() => parseConfig(`${base}cancelGrace: soon\n`, "/etc/driftless/driftless.yaml")).toThrow(
      /cancelGrace/,
    );
  });

  it("resolves an SSH key file relative to the file, and leaves an { env } key alone", () => {
    const target = (auth: string) =>
      parseConfig(`${base}    auth: ${auth}\n`, "/etc/driftless/driftless.yaml").targets[0]?.auth;
    expect(target("{ sshKey: { file: keys/deploy } }")).toEqual({
      sshKey: { file: "/etc/driftless/keys/deploy" },
    });
    expect(target("{ sshKey: { env: DEPLOY_KEY } }")).toEqual({ sshKey: { env: "DEPLOY_KEY" } });
  });

  it("reads notify providers and the fork policy, secrets as references resolved against the file", () => {
    const config = parseConfig(
      `${base}notify:
  - provider: gitea
    url: https://gitea.example.com
    token: { file: gitea-token }
  - provider: github
    baseUrl: https://ghe.example.com/api/v3
    token: { env: GITHUB_TOKEN }
    events: [applied, failed]
  - provider: slack
    url: { env: SLACK_URL }
  - provider: webhook
    url: https://hooks.example.com/driftless
    secret: { env: HOOK_SECRET }
pullRequests:
  forks: true
`,
      "/etc/driftless/driftless.yaml",
    );
    expect(config.notify).toEqual([
      { provider: "gitea", url: "https://gitea.example.com", token: { file: "/etc/driftless/gitea-token" } },
      {
        provider: "github",
        baseUrl: "https://ghe.example.com/api/v3",
        token: { env: "GITHUB_TOKEN" },
        events: ["applied", "failed"],
      },
      { provider: "slack", url: { env: "SLACK_URL" } },
      { provider: "webhook", url: "https://hooks.example.com/driftless", secret: { env: "HOOK_SECRET" } },
    ]);
    expect(config.pullRequests).toEqual({ forks: true });
    expect(parseConfig(base, "/etc/driftless/driftless.yaml").pullRequests).toEqual({ forks: false });
  });

  it("refuses a secret written into a notify provider and an unknown event", () => {
    const message = error(
      `${base}notify:\n  - provider: slack\n    url: https://hooks.slack.com/services/T/B/secret\n    events: [exploded]\n`,
    ).message;
    expect(message).toContain("notify[0].url must be { env: NAME } or { file: path }");
    expect(message).toContain("notify[0].events[0] must be one of applied, drift.detected");
    expect(message).not.toContain("hooks.slack.com/services/T/B/secret");
  });

  it("names the file, the key path and the value of a bad target field", () => {
    const text = `${base}  - name: api\n    repo: https://github.com/acme/infra.git\n    stack: dev\n    interval: 5s\n`;
    expect(error(text).message).toBe(
      'driftless.yaml: targets[1].interval must be at least 10s (the shortest check interval), got "5s"',
    );
  });

  it("reports every problem at once, one per line", () => {
    const text = `dataDir: 3\nlisten: nowhere\ntargets:\n  - name: Bad_Name\n    repo: ftp://x\n    stack: dev\n`;
    const lines = error(text).message.split("\n");
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^driftless\.yaml: dataDir must be a directory path, got 3$/),
        expect.stringMatching(/^driftless\.yaml: listen must be "host:port".*got "nowhere"$/),
        expect.stringMatching(/^driftless\.yaml: targets\[0\]\.name must be a DNS label.*got "Bad_Name"$/),
        expect.stringMatching(/^driftless\.yaml: targets\[0\]\.repo must be an https:\/\/.*got "ftp:\/\/x"$/),
      ]),
    );
  });

  it("refuses secrets written inline in the config", () => {
    const inline = error(`${base}tokens: ["hunter2-token"]\n`).message;
    expect(inline).toMatch(/^driftless\.yaml: tokens\[0\] must be \{ env: NAME \} or \{ file: path \}/);
    expect(inline).not.toContain("hunter2");
    expect(error(`${base}webhooks:\n  github: plain\n`).message).toMatch(
      /webhooks\.github must be \{ env: NAME \}/,
    );
  });

  it("reads named tokens, roles, bindings and the default role, and the old anonymous form", () => {
    const config = parseConfig(
      `${base}tokens:
  - { name: ci-deployer, env: CI_TOKEN, roles: [deployer] }
  - { file: token.txt }
roles:
  deployer: [{ actions: [read, reconcile, promote], targets: ["staging-*"] }]
bindings:
  - { role: admin, groups: [platform] }
defaultRole: reader
`,
      "/etc/driftless/driftless.yaml",
    );
    expect(config.tokens).toEqual([
      { name: "ci-deployer", secret: { env: "CI_TOKEN" }, roles: ["deployer"] },
      { file: "/etc/driftless/token.txt" },
    ]);
    expect(config.policy).toEqual({
      roles: { deployer: [{ actions: ["read", "reconcile", "promote"], targets: ["staging-*"] }] },
      bindings: [{ role: "admin", groups: ["platform"] }],
      defaultRole: "reader",
    });
  });

  it("refuses a bad policy naming the field and value", () => {
    const issues = (yaml: string) => error(`${base}${yaml}`).message.split("\n");
    expect(issues("tokens: [{ name: ci, env: CI, roles: [deployer] }]\n")).toEqual([
      expect.stringMatching(
        /^driftless\.yaml: tokens\[0\]\.roles is not a role, got "deployer"; roles are admin, reader$/,
      ),
    ]);
    expect(
      issues(
        'roles:\n  r: [{ actions: [deploy], targets: ["prod/*"] }]\nbindings: [{ role: x, users: [a] }]\n',
      ),
    ).toEqual([
      expect.stringMatching(
        /roles\.r\[0\]\.actions has an unknown action "deploy"; actions are read, reconcile/,
      ),
      'driftless.yaml: roles.r[0].targets has a bad glob "prod/*": use target name characters with * and ?',
      expect.stringMatching(/bindings\[0\]\.role is not a role, got "x"; roles are admin, reader, r$/),
    ]);
    expect(issues("tokens: [{ name: ci, env: A }, { name: ci, env: B }]\n")).toEqual([
      'driftless.yaml: tokens[1].name is already used, got "ci"',
    ]);
  });

  it("refuses unknown keys, duplicate target names and invalid YAML", () => {
    expect(error(`${base}colour: blue\n`).message).toMatch(/has unknown field\(s\) colour/);
    expect(error(`${base}    colour: blue\n`).message).toMatch(/targets\[0\] has unknown field\(s\) colour/);
    expect(
      error(`${base}  - name: site\n    repo: https://github.com/acme/x.git\n    stack: dev\n`).message,
    ).toMatch(/targets\[1\]\.name is already used by targets\[0\], got "site"/);
    expect(error("dataDir: [unclosed\n").message).toMatch(
      /^driftless\.yaml: is not valid YAML at line \d+, column \d+: /,
    );
    expect(error("- a\n- b\n").message).toMatch(/must be a mapping/);
  });
});
