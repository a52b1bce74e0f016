import { randomBytes } from "node:crypto";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { cidrProblem } from "../internal/cidr.js";
import { isKnown } from "../internal/inputs.js";
import { Validator } from "../internal/validator.js";
import { type AlarmArgs, createAlarms } from "./alarms.js";
import { databaseAlarms } from "./databaseAlarms.js";
import { resolvePassword, validatePassword } from "./databasePassword.js";
import type { Network } from "./network.js";
import { createParameterGroup, validateParameters } from "./parameterGroup.js";

/**
 * Who may connect to the database: security groups and/or IPv4 blocks.
 * Nothing else is admitted.
 */
export interface DatabaseSources {
  /**
   * Security groups whose members may connect.
   * @default []
   */
  readonly securityGroupIds?: readonly pulumi.Input<string>[];
  /**
   * IPv4 blocks that may connect.
   * @default []
   */
  readonly cidrBlocks?: readonly string[];
}

/** Inputs of {@link Database}. */
export interface DatabaseArgs {
  /**
   * Network whose private subnets hold the database. Give this or `subnetIds` + `vpcId`.
   * @default - none; then `subnetIds` and `vpcId` are required
   */
  readonly network?: Network;
  /**
   * Subnets (in at least two zones) for the subnet group.
   * @default - the network's isolated subnets when it has them, else its private ones
   * @see https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_VPC.WorkingWithRDSInstanceinaVPC.html
   */
  readonly subnetIds?: pulumi.Input<readonly pulumi.Input<string>[]>;
  /**
   * VPC of the security group.
   * @default - the network's VPC
   */
  readonly vpcId?: pulumi.Input<string>;
  /** Who may connect (named like `Namespace`'s `allowIngressFrom`). */
  readonly allowIngressFrom: DatabaseSources;
  /**
   * RDS instance identifier (the physical name, unique per account and region).
   * @default - the component name plus a random suffix (Pulumi auto-naming), so
   * two stacks in one account and region do not collide
   * @see https://www.pulumi.com/docs/iac/concepts/resources/names/#autonaming
   */
  readonly identifier?: string;
  /**
   * PostgreSQL major (or major.minor) version.
   * @default "16"
   * @see https://docs.aws.amazon.com/AmazonRDS/latest/PostgreSQLReleaseNotes/postgresql-versions.html
   */
  readonly engineVersion?: string;
  /**
   * Instance class.
   * @default "db.t4g.micro"
   * @see https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.DBInstanceClass.html
   */
  readonly instanceClass?: string;
  /**
   * Storage in GiB.
   * @default 20
   */
  readonly allocatedStorage?: number;
  /**
   * Upper bound for storage autoscaling in GiB.
   * @default - no autoscaling
   */
  readonly maxAllocatedStorage?: number;
  /**
   * Name of the initial database.
   * @default - the component name with `-` replaced by `_`
   */
  readonly databaseName?: string;
  /**
   * Master user name.
   * @default "app"
   */
  readonly username?: string;
  /**
   * Master password; held as a Pulumi secret.
   * @default - derived from `passwordSeed` (see {@link DatabaseArgs.passwordSeed})
   */
  readonly password?: pulumi.Input<string>;
  /**
   * Secret seed the password is derived from when `password` is not given:
   * HMAC-SHA256 of project, stack, component name and `passwordVersion` keyed
   * with the seed. The same inputs always give the same password, so `up` twice
   * changes nothing, and the password never needs storing anywhere but the
   * (encrypted) RDS input. Without `password` and seed, the config secret
   * `driftless:passwordSeed` is used; without that, RDS manages the password in
   * Secrets Manager (`manageMasterUserPassword`).
   * @default - config secret `driftless:passwordSeed`
   */
  readonly passwordSeed?: pulumi.Input<string>;
  /**
   * Bump to rotate a derived password.
   * @default 1
   */
  readonly passwordVersion?: number;
  /**
   * Port.
   * @default 5432
   */
  readonly port?: number;
  /**
   * Refuse deletion of the instance.
   * @default true
   */
  readonly deletionProtection?: boolean;
  /**
   * Days automated backups are kept (1-35).
   * @default 7
   * @see https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_WorkingWithAutomatedBackups.html
   */
  readonly backupRetentionDays?: number;
  /**
   * Standby in a second zone.
   * @default false
   */
  readonly multiAz?: boolean;
  /**
   * ARN of the KMS key for storage encryption (named like `Bucket`'s `kmsKeyArn`).
   * @default - the AWS-managed `aws/rds` key
   */
  readonly kmsKeyArn?: pulumi.Input<string>;
  /**
   * Refuse unencrypted connections (`rds.force_ssl`) in the parameter group.
   * @default true
   * @see https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/PostgreSQL.Concepts.General.SSL.html
   */
  readonly forceSsl?: boolean;
  /**
   * More parameters of the parameter group (family `postgres<major>`), e.g.
   * `{ log_min_duration_statement: "500" }`.
   * @default {}
   * @see https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Appendix.PostgreSQL.CommonDBATasks.Parameters.html
   */
  readonly parameters?: Readonly<Record<string, string>>;
  /**
   * Performance Insights, with the days its data is kept (7 is free; or a multiple of 31 up to 731).
   * @default false
   * @see https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PerfInsights.html
   */
  readonly performanceInsights?: boolean | { readonly retentionDays?: number };
  /**
   * Logs exported to CloudWatch Logs.
   * @default []
   * @see https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_LogAccess.Concepts.PostgreSQL.html
   */
  readonly logExports?: readonly ("postgresql" | "upgrade" | "iam-db-auth-error")[];
  /**
   * Let IAM identities connect with an auth token instead of a password.
   * @default false
   * @see https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.html
   */
  readonly iamAuthentication?: boolean;
  /**
   * Read replicas of the instance (same class, encryption and security group).
   * @default 0
   * @see https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReadRepl.html
   */
  readonly readReplicas?: number;
  /**
   * CloudWatch alarms on CPU (> 80 %), free storage (< 10 % of `allocatedStorage`)
   * and freeable memory (< 64 MiB), notifying an SNS topic; `false` for none.
   * @default {} (alarms on, a new topic)
   */
  readonly alarms?: AlarmArgs | false;
  /**
   * Tags on every resource.
   * @default {}
   */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * PostgreSQL on RDS in private subnets: a subnet group, a security group that
 * admits only the given sources, encrypted storage, deletion protection and
 * backups on, and a password that exists only as a Pulumi secret.
 */
export class Database extends pulumi.ComponentResource {
  readonly instance: aws.rds.Instance;
  readonly securityGroup: aws.ec2.SecurityGroup;
  readonly subnetGroup: aws.rds.SubnetGroup;
  readonly address: pulumi.Output<string>;
  readonly endpoint: pulumi.Output<string>;
  readonly port: pulumi.Output<number>;
  readonly username: string;
  /** The master password, always a secret; `undefined` when RDS manages it. */
  readonly password: pulumi.Output<string | undefined>;
  /** How the password was obtained. */
  readonly passwordSource: "given" | "derived" | "rdsManaged";
  /** The parameter group (`rds.force_ssl` and `parameters`). */
  readonly parameterGroup: aws.rds.ParameterGroup;
  /** The read replicas, in order. */
  readonly replicas: readonly aws.rds.Instance[];
  /** Addresses of the read replicas. */
  readonly replicaAddresses: pulumi.Output<string[]>;
  /** ARN of the SNS topic the alarms notify, `undefined` with `alarms: false`. */
  readonly alarmTopicArn: pulumi.Output<string | undefined>;

  constructor(name: string, args: DatabaseArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("driftless:aws:Database", name, {}, opts);
    const port = args.port ?? 5432;
    const username = args.username ?? "app";
    const databaseName = args.databaseName ?? name.replace(/-/g, "_");
    const subnetIds =
      args.subnetIds ??
      (args.network && args.network.isolatedSubnets.length > 0
        ? args.network.isolatedSubnetIds
        : args.network?.privateSubnetIds);
    const vpcId = args.vpcId ?? args.network?.vpcId;
    const seed = args.passwordSeed ?? new pulumi.Config("driftless").getSecret("passwordSeed");
    const passwordVersion = args.passwordVersion ?? 1;
    const allocatedStorage = args.allocatedStorage ?? 20;
    const engineVersion = args.engineVersion ?? "16";
    const instanceClass = args.instanceClass ?? "db.t4g.micro";
    const performanceInsights =
      args.performanceInsights === true ? {} : args.performanceInsights || undefined;
    const readReplicas = args.readReplicas ?? 0;
    const alarms = args.alarms === false ? undefined : (args.alarms ?? {});
    const cidrBlocks = args.allowIngressFrom.cidrBlocks ?? [];
    const securityGroupIds = args.allowIngressFrom.securityGroupIds ?? [];

    const v = new Validator("Database", name);
    // Auto-naming appends `-` and 7 characters, so the name may hold at most 55.
    const identifierOk = (id: string, max: number) =>
      new RegExp(`^[a-z][a-z0-9-]{0,${max - 1}}$`).test(id) && !id.endsWith("-") && !id.includes("--");
    if (args.identifier === undefined) {
      v.check(
        identifierOk(name, 55),
        "name",
        "must be an RDS identifier prefix (lower-case letters, digits, single `-`, at most 55 characters)",
        name,
      );
    } else {
      v.check(
        identifierOk(args.identifier, 63),
        "identifier",
        "must be an RDS identifier (lower-case letters, digits, single `-`, at most 63 characters)",
        args.identifier,
      );
    }
    v.check(subnetIds !== undefined, "subnetIds", "is required when no `network` is given", undefined);
    v.check(vpcId !== undefined, "vpcId", "is required when no `network` is given", undefined);
    if (args.network) {
      v.check(
        args.network.zoneCount >= 2,
        "network",
        "must span at least two availability zones for an RDS subnet group",
        args.network.zoneCount,
      );
    }
    if (args.subnetIds !== undefined && isKnown(args.subnetIds)) {
      v.check(
        args.subnetIds.length >= 2,
        "subnetIds",
        "must list at least two subnets (in different zones)",
        args.subnetIds,
      );
    }
    v.check(
      /^[a-zA-Z][a-zA-Z0-9_]{0,62}$/.test(databaseName),
      "databaseName",
      "must start with a letter and hold only letters, digits and `_`",
      databaseName,
    );
    v.check(
      /^[a-zA-Z][a-zA-Z0-9_]{0,15}$/.test(username) && !["postgres", "admin", "rdsadmin"].includes(username),
      "username",
      "must be 1-16 letters, digits or `_`, start with a letter, and not be reserved",
      username,
    );
    validatePassword(v, args.password);
    v.integer("passwordVersion", args.passwordVersion, 1);
    v.port("port", args.port);
    v.integer("allocatedStorage", args.allocatedStorage, 20, 65536);
    v.integer("maxAllocatedStorage", args.maxAllocatedStorage, allocatedStorage + 1, 65536);
    v.integer("backupRetentionDays", args.backupRetentionDays, 1, 35);
    v.check(
      /^\d+(\.\d+)?$/.test(args.engineVersion ?? "16"),
      "engineVersion",
      "must be a version like `16` or `16.4`",
      args.engineVersion,
    );
    v.check(
      /^db\.[a-z0-9]+\.[a-z0-9]+$/.test(args.instanceClass ?? "db.t4g.micro"),
      "instanceClass",
      "must be an instance class like `db.t4g.micro`",
      args.instanceClass,
    );
    if (performanceInsights?.retentionDays !== undefined) {
      const days = performanceInsights.retentionDays;
      v.check(
        days === 7 || (Number.isInteger(days) && days % 31 === 0 && days >= 31 && days <= 731),
        "performanceInsights.retentionDays",
        "must be 7, or a multiple of 31 up to 731",
        days,
      );
    }
    for (const [i, log] of (args.logExports ?? []).entries())
      v.oneOf(`logExports[${i}]`, log, ["postgresql", "upgrade", "iam-db-auth-error"]);
    v.integer("readReplicas", args.readReplicas, 0, 5);
    validateParameters(v, args.parameters);
    cidrBlocks.forEach((block, i) => {
      const problem = cidrProblem(block);
      if (problem !== undefined) v.fail(`allowIngressFrom.cidrBlocks[${i}]`, problem, block);
    });

    v.done();

    const parent = { parent: this };
    const tags = { Name: name, ...args.tags };
    this.subnetGroup = new aws.rds.SubnetGroup(
      name,
      { subnetIds: subnetIds as pulumi.Input<pulumi.Input<string>[]>, tags },
      parent,
    );
    // Ingress only from the given sources, and no egress: a database answers, it does not call out.
    this.securityGroup = new aws.ec2.SecurityGroup(
      name,
      {
        vpcId: vpcId as pulumi.Input<string>,
        description: `PostgreSQL ${name}: clients only`,
        ingress: [
          ...(securityGroupIds.length > 0
            ? [{ protocol: "tcp", fromPort: port, toPort: port, securityGroups: [...securityGroupIds] }]
            : []),
          ...(cidrBlocks.length > 0
            ? [{ protocol: "tcp", fromPort: port, toPort: port, cidrBlocks: [...cidrBlocks] }]
            : []),
        ],
        egress: [],
        tags,
      },
      parent,
    );

    const { source: passwordSource, password } = resolvePassword(name, args.password, seed, passwordVersion);
    this.passwordSource = passwordSource;

    this.parameterGroup = createParameterGroup(
      this,
      name,
      engineVersion,
      args.forceSsl ?? true,
      args.parameters,
      tags,
    );
    const monitoring = {
      ...(performanceInsights
        ? {
            performanceInsightsEnabled: true,
            performanceInsightsRetentionPeriod: performanceInsights.retentionDays ?? 7,
          }
        : {}),
      ...(args.kmsKeyArn === undefined ? {} : { kmsKeyId: args.kmsKeyArn }),
    };

    this.instance = new aws.rds.Instance(
      name,
      {
        ...(args.identifier === undefined ? {} : { identifier: args.identifier }),
        engine: "postgres",
        engineVersion,
        instanceClass,
        allocatedStorage,
        ...(args.maxAllocatedStorage === undefined ? {} : { maxAllocatedStorage: args.maxAllocatedStorage }),
        storageType: "gp3",
        storageEncrypted: true,
        ...monitoring,
        parameterGroupName: this.parameterGroup.name,
        ...(args.logExports?.length ? { enabledCloudwatchLogsExports: [...args.logExports] } : {}),
        iamDatabaseAuthenticationEnabled: args.iamAuthentication ?? false,
        dbName: databaseName,
        username,
        ...(password === undefined ? { manageMasterUserPassword: true } : { password }),
        port,
        dbSubnetGroupName: this.subnetGroup.name,
        vpcSecurityGroupIds: [this.securityGroup.id],
        publiclyAccessible: false,
        multiAz: args.multiAz ?? false,
        deletionProtection: args.deletionProtection ?? true,
        backupRetentionPeriod: args.backupRetentionDays ?? 7,
        copyTagsToSnapshot: true,
        autoMinorVersionUpgrade: true,
        skipFinalSnapshot: false,
        // A fresh suffix per instance: a re-created instance (after a destroy, in
        // another stack) never collides with an earlier final snapshot. Kept
        // out of diffs, so the value chosen at creation is the one used on delete.
        finalSnapshotIdentifier: `${(args.identifier ?? name).slice(0, 45)}-final-${randomBytes(4).toString("hex")}`,
        tags,
      },
      { parent: this, additionalSecretOutputs: ["password"], ignoreChanges: ["finalSnapshotIdentifier"] },
    );

    this.replicas = Array.from(
      { length: readReplicas },
      (_, i) =>
        new aws.rds.Instance(
          `${name}-replica-${i}`,
          {
            replicateSourceDb: this.instance.identifier,
            instanceClass,
            storageEncrypted: true,
            ...monitoring,
            parameterGroupName: this.parameterGroup.name,
            vpcSecurityGroupIds: [this.securityGroup.id],
            publiclyAccessible: false,
            deletionProtection: args.deletionProtection ?? true,
            autoMinorVersionUpgrade: true,
            // A replica holds no data of its own worth a snapshot.
            skipFinalSnapshot: true,
            tags: { ...tags, Name: `${tags.Name}-replica-${i}` },
          },
          parent,
        ),
    );
    this.replicaAddresses = pulumi.all(this.replicas.map((r) => r.address));
    if (alarms) {
      const created = createAlarms(
        this,
        name,
        alarms,
        databaseAlarms(name, this.instance.identifier, allocatedStorage),
        tags,
      );
      this.alarmTopicArn = created.topicArn;
    } else this.alarmTopicArn = pulumi.output(undefined);

    this.username = username;
    this.address = this.instance.address;
    this.endpoint = this.instance.endpoint;
    this.port = this.instance.port;
    this.password = password ?? pulumi.output(undefined);
    this.registerOutputs({
      address: this.address,
      endpoint: this.endpoint,
      port: this.port,
      password: this.password,
    });
  }
}
