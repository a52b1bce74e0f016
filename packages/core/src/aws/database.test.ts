import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { declare, rejected, SECRET_SIG, SECRET_SIG_KEY, settle } from "../../test/harness.js";
import type { ValidationError } from "../errors.js";
import { Database, type DatabaseArgs } from "./database.js";
import { derivePassword } from "./databasePassword.js";
import { Network } from "./network.js";

const standalone: DatabaseArgs = {
  subnetIds: ["subnet-a", "subnet-b"],
  vpcId: "vpc-1",
  allowIngressFrom: { securityGroupIds: ["sg-app"] },
  passwordSeed: "seed-for-tests",
};

describe("Database", () => {
  it("creates a subnet group, a locked-down security group and an encrypted, protected instance", async () => {
    const { one, result } = await declare(() => new Database("orders", standalone));
    expect(one("aws:rds/subnetGroup:SubnetGroup").inputs.subnetIds).toEqual(["subnet-a", "subnet-b"]);
    const sg = one("aws:ec2/securityGroup:SecurityGroup").inputs;
    expect(sg.vpcId).toBe("vpc-1");
    expect(sg.ingress).toEqual([
      { protocol: "tcp", fromPort: 5432, toPort: 5432, securityGroups: ["sg-app"] },
    ]);
    expect(sg.egress).toEqual([]);
    const db = one("aws:rds/instance:Instance").inputs;
    expect(db).toMatchObject({
      engine: "postgres",
      engineVersion: "16",
      instanceClass: "db.t4g.micro",
      storageEncrypted: true,
      deletionProtection: true,
      backupRetentionPeriod: 7,
      publiclyAccessible: false,
      dbName: "orders",
      username: "app",
      skipFinalSnapshot: false,
      vpcSecurityGroupIds: ["orders-id"],
    });
    // Auto-named (name plus a random suffix) so two stacks in one account and region do not collide.
    expect(db).not.toHaveProperty("identifier");
    expect(db.finalSnapshotIdentifier).toMatch(/^orders-final-[0-9a-f]{8}$/);
    expect(db.tags).toEqual({ Name: "orders" });
    expect(result.passwordSource).toBe("derived");
    expect(await pulumi.isSecret(result.password)).toBe(true);
  });

  it("derives the same secret password on every run and never sends it in plain text", async () => {
    const first = await declare(() => new Database("orders", standalone));
    const second = await declare(() => new Database("orders", standalone));
    const expected = derivePassword("seed-for-tests", "proj", "dev", "orders", 1);
    expect(expected).toMatch(/^[A-Za-z0-9_-]{32}$/);
    for (const run of [first, second]) {
      expect(run.one("aws:rds/instance:Instance").inputs.password).toEqual({
        [SECRET_SIG_KEY]: SECRET_SIG,
        value: expected,
      });
      expect(await settle(run.result.password)).toBe(expected);
    }
    expect(derivePassword("seed-for-tests", "proj", "dev", "orders", 2)).not.toBe(expected);
    expect(derivePassword("other-seed", "proj", "dev", "orders", 1)).not.toBe(expected);
  });

  it("reads the seed from the `driftless:passwordSeed` config secret", async () => {
    pulumi.runtime.setConfig("driftless:passwordSeed", "config-seed");
    try {
      const { result } = await declare(
        () => new Database("orders", { ...standalone, passwordSeed: undefined }),
      );
      expect(result.passwordSource).toBe("derived");
      expect(await settle(result.password)).toBe(derivePassword("config-seed", "proj", "dev", "orders", 1));
    } finally {
      pulumi.runtime.setConfig("driftless:passwordSeed", "");
      pulumi.runtime.setAllConfig({});
    }
  });

  it("uses a given password as a secret, or lets RDS manage it when there is neither password nor seed", async () => {
    const given = await declare(
      () => new Database("orders", { ...standalone, password: "correct-horse-battery" }),
    );
    expect(given.result.passwordSource).toBe("given");
    expect(given.one("aws:rds/instance:Instance").inputs.password).toEqual({
      [SECRET_SIG_KEY]: SECRET_SIG,
      value: "correct-horse-battery",
    });
    const managed = await declare(() => new Database("orders", { ...standalone, passwordSeed: undefined }));
    expect(managed.result.passwordSource).toBe("rdsManaged");
    const inputs = managed.one("aws:rds/instance:Instance").inputs;
    expect(inputs.manageMasterUserPassword).toBe(true);
    expect(inputs.password).toBeUndefined();
  });

  it("uses a Network's private subnets and VPC and admits CIDR sources", async () => {
    const { one } = await declare(() => {
      const network = new Network("net", { availabilityZones: ["eu-west-1a", "eu-west-1b"], nat: "none" });
      return new Database("orders", {
        network,
        allowIngressFrom: { cidrBlocks: ["10.0.0.0/16"] },
        passwordSeed: "s",
        port: 6543,
        backupRetentionDays: 14,
        deletionProtection: false,
        multiAz: true,
        maxAllocatedStorage: 100,
        kmsKeyArn: "arn:aws:kms:eu-west-1:1:key/k",
      });
    });
    expect(one("aws:rds/subnetGroup:SubnetGroup").inputs.subnetIds).toEqual([
      "net-private-0-id",
      "net-private-1-id",
    ]);
    const sg = one("aws:ec2/securityGroup:SecurityGroup", "orders").inputs;
    expect(sg.vpcId).toBe("net-id");
    expect(sg.ingress).toEqual([
      { protocol: "tcp", fromPort: 6543, toPort: 6543, cidrBlocks: ["10.0.0.0/16"] },
    ]);
    expect(one("aws:rds/instance:Instance").inputs).toMatchObject({
      port: 6543,
      backupRetentionPeriod: 14,
      deletionProtection: false,
      multiAz: true,
      maxAllocatedStorage: 100,
      kmsKeyId: "arn:aws:kms:eu-west-1:1:key/k",
    });
  });

  it("rejects a single-zone network", async () => {
    await expect(
      declare(() => {
        const network = new Network("net", { availabilityZones: ["eu-west-1a"] });
        return new Database("orders", { network, allowIngressFrom: {} });
      }),
    ).rejects.toThrow("`network` must span at least two availability zones for an RDS subnet group");
  });

  it.each([
    [
      { subnetIds: undefined },
      "Database `orders`: `subnetIds` is required when no `network` is given, got undefined",
    ],
    [{ vpcId: undefined }, "`vpcId` is required when no `network` is given"],
    [
      { subnetIds: ["subnet-a"] },
      '`subnetIds` must list at least two subnets (in different zones), got ["subnet-a"]',
    ],
    [
      { databaseName: "1db" },
      '`databaseName` must start with a letter and hold only letters, digits and `_`, got "1db"',
    ],
    [
      { username: "postgres" },
      '`username` must be 1-16 letters, digits or `_`, start with a letter, and not be reserved, got "postgres"',
    ],
    [
      { password: "short" },
      '`password` must be 8-128 characters without `/`, `@`, `"` or spaces, got "<secret>"',
    ],
    [{ allocatedStorage: 10 }, "`allocatedStorage` must be at least 20, got 10"],
    [{ maxAllocatedStorage: 20 }, "`maxAllocatedStorage` must be at least 21, got 20"],
    [{ backupRetentionDays: 0 }, "`backupRetentionDays` must be at least 1, got 0"],
    [{ port: 0 }, "`port` must be at least 1, got 0"],
    [{ engineVersion: "latest" }, '`engineVersion` must be a version like `16` or `16.4`, got "latest"'],
    [
      { instanceClass: "t3.micro" },
      '`instanceClass` must be an instance class like `db.t4g.micro`, got "t3.micro"',
    ],
    [
      { allowIngressFrom: { cidrBlocks: ["10.0.0.0"] } },
      '`allowIngressFrom.cidrBlocks[0]` must be an IPv4 CIDR like `10.0.0.0/16`, got "10.0.0.0"',
    ],
    [{ passwordVersion: 0 }, "`passwordVersion` must be at least 1, got 0"],
  ] as [Partial<DatabaseArgs>, string][])("rejects %j", async (patch, message) => {
    await expect(declare(() => new Database("orders", { ...standalone, ...patch }))).rejects.toThrow(message);
  });

  it("never puts the password in an error message", async () => {
    const error = await declare(() => new Database("orders", { ...standalone, password: "has space" })).catch(
      (e: Error) => e,
    );
    expect(String(error)).not.toContain("has space");
  });

  it("rejects an invalid RDS identifier", async () => {
    await expect(declare(() => new Database("Orders_DB", standalone))).rejects.toThrow(
      "`name` must be an RDS identifier",
    );
  });

  it("gives every instance its own final snapshot name, and takes an explicit identifier", async () => {
    const first = await declare(() => new Database("orders", standalone));
    const second = await declare(() => new Database("orders", standalone));
    const snapshot = (d: typeof first) => d.one("aws:rds/instance:Instance").inputs.finalSnapshotIdentifier;
    expect(snapshot(first)).not.toBe(snapshot(second));
    const named = await declare(
      () => new Database("orders", { ...standalone, identifier: "orders-prod", tags: { Name: "Orders" } }),
    );
    const db = named.one("aws:rds/instance:Instance").inputs;
    expect(db.identifier).toBe("orders-prod");
    expect(db.finalSnapshotIdentifier).toMatch(/^orders-prod-final-[0-9a-f]{8}$/);
    expect(db.tags.Name).toBe("Orders");
    await expect(
      declare(() => new Database("orders", { ...standalone, identifier: "Orders" })),
    ).rejects.toThrow(
      '`identifier` must be an RDS identifier (lower-case letters, digits, single `-`, at most 63 characters), got "Orders"',
    );
  });

  it("forces TLS in a parameter group and alarms on CPU, storage and memory by default", async () => {
    const { all, one, result } = await declare(() => new Database("orders", standalone));
    const group = one("aws:rds/parameterGroup:ParameterGroup").inputs;
    expect(group.family).toBe("postgres16");
    expect(group.parameters).toEqual([{ name: "rds.force_ssl", value: "1" }]);
    const db = one("aws:rds/instance:Instance").inputs;
    expect(db.parameterGroupName).toBe("orders");
    expect(db.iamDatabaseAuthenticationEnabled).toBe(false);
    expect(db).not.toHaveProperty("performanceInsightsEnabled");
    const alarms = all("aws:cloudwatch/metricAlarm:MetricAlarm");
    expect(alarms.map((a) => [a.name, a.inputs.metricName, a.inputs.threshold])).toEqual([
      ["orders-cpu", "CPUUtilization", 80],
      ["orders-free-storage", "FreeStorageSpace", 20 * 1024 ** 3 * 0.1],
      ["orders-free-memory", "FreeableMemory", 64 * 1024 ** 2],
    ]);
    expect(alarms[0]?.inputs.alarmActions).toEqual(["arn:aws:mock:::orders-alarms"]);
    expect(await settle(result.alarmTopicArn)).toBe("arn:aws:mock:::orders-alarms");
  });

  it("takes Performance Insights, log exports, IAM auth, parameters, replicas and an existing topic", async () => {
    const { all, one, result } = await declare(
      () =>
        new Database("orders", {
          ...standalone,
          engineVersion: "15.5",
          forceSsl: false,
          parameters: { log_min_duration_statement: "500" },
          performanceInsights: { retentionDays: 31 },
          logExports: ["postgresql", "upgrade"],
          iamAuthentication: true,
          readReplicas: 2,
          kmsKeyArn: "arn:aws:kms:eu-west-1:1:key/k",
          alarms: { topicArn: "arn:aws:sns:eu-west-1:1:pager" },
        }),
    );
    expect(one("aws:rds/parameterGroup:ParameterGroup").inputs).toMatchObject({
      family: "postgres15",
      parameters: [
        { name: "rds.force_ssl", value: "0" },
        { name: "log_min_duration_statement", value: "500" },
      ],
    });
    expect(one("aws:rds/instance:Instance", "orders").inputs).toMatchObject({
      performanceInsightsEnabled: true,
      performanceInsightsRetentionPeriod: 31,
      enabledCloudwatchLogsExports: ["postgresql", "upgrade"],
      iamDatabaseAuthenticationEnabled: true,
    });
    const replica = one("aws:rds/instance:Instance", "orders-replica-1").inputs;
    expect(replica).toMatchObject({
      storageEncrypted: true,
      kmsKeyId: "arn:aws:kms:eu-west-1:1:key/k",
      skipFinalSnapshot: true,
      publiclyAccessible: false,
      vpcSecurityGroupIds: ["orders-id"],
      tags: { Name: "orders-replica-1" },
    });
    expect(replica).not.toHaveProperty("password");
    expect(all("aws:sns/topic:Topic")).toHaveLength(0);
    expect(all("aws:cloudwatch/metricAlarm:MetricAlarm")[0]?.inputs.alarmActions).toEqual([
      "arn:aws:sns:eu-west-1:1:pager",
    ]);
    expect(await settle(result.replicaAddresses)).toHaveLength(2);
  });

  it("turns the alarms off with one switch and rejects bad monitoring settings", async () => {
    const { all, result } = await declare(() => new Database("orders", { ...standalone, alarms: false }));
    expect(all("aws:cloudwatch/metricAlarm:MetricAlarm")).toHaveLength(0);
    expect(all("aws:sns/topic:Topic")).toHaveLength(0);
    expect(await settle(result.alarmTopicArn)).toBeUndefined();
    const error = await rejected<ValidationError>(
      declare(
        () =>
          new Database("orders", {
            ...standalone,
            performanceInsights: { retentionDays: 30 },
            logExports: ["audit" as "postgresql"],
            readReplicas: 6,
            parameters: { "Bad Name": "1" },
          }),
      ),
    );
    expect(error.problems.map((p) => p.field)).toEqual([
      "performanceInsights.retentionDays",
      "logExports[0]",
      "readReplicas",
      "parameters.Bad Name",
    ]);
  });
});
