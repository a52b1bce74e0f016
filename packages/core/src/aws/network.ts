import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DriftlessError } from "../errors.js";
import { CidrError, planSubnets, type SubnetPlan } from "../internal/cidr.js";
import { Validator } from "../internal/validator.js";
import { type AlarmArgs, createAlarms } from "./alarms.js";
import { createFlowLog, type FlowLogArgs, validateFlowLogs } from "./flowLogs.js";
import { createEndpoints, validateEndpoints } from "./vpcEndpoints.js";

/** How private subnets reach the internet. */
export type NatMode = "none" | "single" | "perAz";

/** Inputs of {@link Network}. */
export interface NetworkArgs {
  /**
   * Zones to spread over, e.g. `["eu-west-1a", "eu-west-1b"]`; one public and one private subnet each.
   * @default - the first `zoneCount` zones of the region that need no opt-in, discovered at deploy time
   * @see https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-regions-availability-zones.html
   */
  readonly availabilityZones?: readonly string[];
  /**
   * How many zones to discover when `availabilityZones` is not given.
   * @default 3
   */
  readonly zoneCount?: number;
  /**
   * The VPC's IPv4 block, `/16` to `/28`.
   * @default "10.0.0.0/16"
   * @see https://docs.aws.amazon.com/vpc/latest/userguide/vpc-cidr-blocks.html
   */
  readonly cidrBlock?: string;
  /**
   * Prefix length of each private subnet.
   * @default - half the VPC, split evenly across zones
   */
  readonly privateSubnetPrefix?: number;
  /**
   * Prefix length of each public subnet.
   * @default - a quarter of a private subnet
   */
  readonly publicSubnetPrefix?: number;
  /**
   * Explicit subnet blocks, one per zone; validated instead of computed.
   * @default - computed from the prefixes
   */
  readonly subnets?: {
    readonly public: readonly string[];
    readonly private: readonly string[];
    readonly isolated?: readonly string[];
  };
  /**
   * Also create an isolated subnet per zone: no route to the internet, not
   * even through NAT (for databases; a `Database` on this network uses them).
   * @default false
   */
  readonly isolatedSubnets?: boolean;
  /**
   * Prefix length of each isolated subnet.
   * @default - the public subnet size
   */
  readonly isolatedSubnetPrefix?: number;
  /**
   * Extra tags per subnet tier, e.g. `{ public: { "kubernetes.io/role/elb": "1" },
   * private: { "kubernetes.io/role/internal-elb": "1" } }` for EKS load balancers.
   * @default {}
   * @see https://docs.aws.amazon.com/eks/latest/userguide/network-load-balancing.html
   */
  readonly subnetTags?: {
    readonly public?: Readonly<Record<string, string>>;
    readonly private?: Readonly<Record<string, string>>;
    readonly isolated?: Readonly<Record<string, string>>;
  };
  /**
   * VPC endpoints, so private traffic to AWS services stays inside the VPC:
   * the S3 gateway endpoint (free) on the private and isolated route tables,
   * and interface endpoints (e.g. `ecr.api`, `ecr.dkr`, `sts`, `logs`) in the
   * private subnets, reachable on 443 from the VPC.
   * @default - none
   * @see https://docs.aws.amazon.com/vpc/latest/privatelink/aws-services-privatelink-support.html
   */
  readonly endpoints?: { readonly s3?: boolean; readonly interfaces?: readonly string[] };
  /**
   * Allocation ids of existing Elastic IPs for the NAT gateways, one per
   * gateway (e.g. addresses partners allow-list); Driftless then allocates none.
   * @default - new Elastic IPs
   */
  readonly natEipAllocationIds?: readonly pulumi.Input<string>[];
  /**
   * A CloudWatch alarm per NAT gateway on port allocation errors (connections
   * dropped for lack of source ports), notifying an SNS topic; `false` for none.
   * Only with NAT gateways.
   * @default {} (alarms on, a new topic)
   */
  readonly alarms?: AlarmArgs | false;
  /**
   * NAT gateways: none (private subnets stay offline), one shared (cheaper, but
   * one zone's outage cuts every private subnet off), or one per zone (survives
   * a zone outage; the safe default, as in awsx). Choose `single` knowingly for
   * development networks.
   * @default "perAz"
   * @see https://docs.aws.amazon.com/vpc/latest/userguide/vpc-nat-gateway.html
   */
  readonly nat?: NatMode;
  /**
   * Record VPC flow logs; `true` uses the {@link FlowLogArgs} defaults.
   * @default false
   */
  readonly flowLogs?: boolean | FlowLogArgs;
  /**
   * Tags on every resource.
   * @default {}
   */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * A VPC with a public and a private subnet in each zone, an internet gateway,
 * NAT per {@link NatMode}, route tables, and optional flow logs. The CIDR plan
 * is computed and checked before anything is created.
 */
export class Network extends pulumi.ComponentResource {
  readonly vpc: aws.ec2.Vpc;
  readonly vpcId: pulumi.Output<string>;
  readonly publicSubnets: readonly aws.ec2.Subnet[];
  readonly privateSubnets: readonly aws.ec2.Subnet[];
  readonly publicSubnetIds: pulumi.Output<string[]>;
  readonly privateSubnetIds: pulumi.Output<string[]>;
  /** Isolated subnets (empty without `isolatedSubnets`). */
  readonly isolatedSubnets: readonly aws.ec2.Subnet[];
  readonly isolatedSubnetIds: pulumi.Output<string[]>;
  /** The VPC endpoints, S3 first. */
  readonly endpoints: readonly aws.ec2.VpcEndpoint[];
  readonly natGateways: readonly aws.ec2.NatGateway[];
  readonly flowLog?: aws.ec2.FlowLog;
  /** Number of zones (given or to be discovered). */
  readonly zoneCount: number;
  /** Names of the zones, in subnet order (known at deploy time when discovered). */
  readonly zoneNames: pulumi.Output<string[]>;
  /** The subnet plan, known at declaration time. */
  readonly plan: SubnetPlan;
  /** The zones given in `availabilityZones`; empty when they are discovered (see `zoneNames`). */
  readonly availabilityZones: readonly string[];

  constructor(name: string, args: NetworkArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("driftless:aws:Network", name, {}, opts);
    const given = args.availabilityZones === undefined ? undefined : [...args.availabilityZones];
    const zoneCount = given?.length ?? args.zoneCount ?? 3;
    const nat = args.nat ?? "perAz";
    const flowLogs = args.flowLogs === true ? {} : args.flowLogs || undefined;
    const retentionInDays = flowLogs?.retentionInDays ?? 30;
    const isolated = args.isolatedSubnets ?? false;
    const natCount = nat === "none" ? 0 : nat === "single" ? 1 : zoneCount;
    const interfaceEndpoints = args.endpoints?.interfaces ?? [];
    const alarms = args.alarms === false || natCount === 0 ? undefined : (args.alarms ?? {});

    const v = new Validator("Network", name);
    v.check(
      given === undefined || args.zoneCount === undefined,
      "zoneCount",
      "must not be set together with `availabilityZones`",
      args.zoneCount,
    );
    v.integer("zoneCount", args.zoneCount, 1, 6);
    const zones = given ?? [];
    v.check(
      given === undefined || zones.length > 0,
      "availabilityZones",
      "must name at least one zone",
      zones,
    );
    v.check(new Set(zones).size === zones.length, "availabilityZones", "must not repeat a zone", zones);
    for (const [i, z] of zones.entries()) {
      v.check(
        /^[a-z]{2}(-[a-z]+)+-\d[a-z]$/.test(z),
        `availabilityZones[${i}]`,
        "must be a zone name like `eu-west-1a`",
        z,
      );
    }
    v.oneOf("nat", args.nat, ["none", "single", "perAz"]);
    if (args.natEipAllocationIds !== undefined) {
      v.check(
        args.natEipAllocationIds.length === natCount,
        "natEipAllocationIds",
        `must list one allocation per NAT gateway (${natCount} with \`nat: "${nat}"\`)`,
        args.natEipAllocationIds.length,
      );
    }
    validateEndpoints(v, interfaceEndpoints);
    for (const tier of ["public", "private", "isolated"] as const) {
      for (const key of Object.keys(args.subnetTags?.[tier] ?? {}))
        v.check(key !== "Name", `subnetTags.${tier}.Name`, "is set by the Network", key);
    }
    if (args.subnetTags?.isolated !== undefined)
      v.check(isolated, "subnetTags.isolated", "needs `isolatedSubnets`", args.subnetTags.isolated);
    if (flowLogs) validateFlowLogs(v, flowLogs, retentionInDays);
    let plan: SubnetPlan | undefined;
    // Without zones there is nothing to plan (already reported above).
    if (zoneCount > 0 && Number.isInteger(zoneCount)) {
      try {
        plan = planSubnets({
          vpcCidr: args.cidrBlock ?? "10.0.0.0/16",
          zones: zoneCount,
          ...(args.privateSubnetPrefix === undefined ? {} : { privatePrefix: args.privateSubnetPrefix }),
          ...(args.publicSubnetPrefix === undefined ? {} : { publicPrefix: args.publicSubnetPrefix }),
          ...(args.subnets === undefined ? {} : { subnets: args.subnets }),
          ...(isolated ? { isolated: true } : {}),
          ...(args.isolatedSubnetPrefix === undefined ? {} : { isolatedPrefix: args.isolatedSubnetPrefix }),
        });
      } catch (err) {
        if (!(err instanceof CidrError)) throw err;
        v.fail(err.field, err.reason, err.value);
      }
    }
    v.done();
    this.plan = plan as SubnetPlan;
    this.availabilityZones = zones;
    this.zoneCount = zoneCount;

    const parent = { parent: this };
    // Every resource is named `<Name tag or component name><suffix>`; the caller's tags win otherwise.
    const baseName = args.tags?.Name ?? name;
    const tags = (suffix: pulumi.Input<string>, extra: Record<string, string> = {}) => ({
      ...args.tags,
      Name: typeof suffix === "string" ? `${baseName}${suffix}` : pulumi.interpolate`${baseName}${suffix}`,
      ...extra,
    });
    // Discovered zones are known at deploy time only; a region with too few fails the deployment, naming them.
    const available =
      given === undefined
        ? aws.getAvailabilityZonesOutput(
            { state: "available", filters: [{ name: "opt-in-status", values: ["opt-in-not-required"] }] },
            { parent: this },
          ).names
        : undefined;
    const zoneNames: pulumi.Input<string>[] =
      given ??
      Array.from({ length: zoneCount }, (_, i) =>
        (available as pulumi.Output<string[]>).apply((names) => {
          const zone = names[i];
          if (zone === undefined) {
            throw new DriftlessError(
              `Network \`${name}\`: \`zoneCount\` asks for ${zoneCount} zones, the region has ${names.length} (${names.join(", ")})`,
            );
          }
          return zone;
        }),
      );
    this.zoneNames = pulumi.output(zoneNames);
    const zoneSuffix = (tier: string, zone: pulumi.Input<string>): pulumi.Input<string> =>
      typeof zone === "string" ? `-${tier}-${zone}` : pulumi.interpolate`-${tier}-${zone}`;

    this.vpc = new aws.ec2.Vpc(
      name,
      { cidrBlock: this.plan.vpc, enableDnsHostnames: true, enableDnsSupport: true, tags: tags("") },
      parent,
    );
    this.vpcId = this.vpc.id;
    const igw = new aws.ec2.InternetGateway(name, { vpcId: this.vpc.id, tags: tags("") }, parent);

    this.publicSubnets = zoneNames.map(
      (zone, i) =>
        new aws.ec2.Subnet(
          `${name}-public-${i}`,
          {
            vpcId: this.vpc.id,
            cidrBlock: this.plan.public[i] as string,
            availabilityZone: zone,
            // Instances get a public address only when asked for one.
            mapPublicIpOnLaunch: false,
            tags: tags(zoneSuffix("public", zone), {
              ...args.subnetTags?.public,
              "driftless:subnet-tier": "public",
            }),
          },
          parent,
        ),
    );
    this.privateSubnets = zoneNames.map(
      (zone, i) =>
        new aws.ec2.Subnet(
          `${name}-private-${i}`,
          {
            vpcId: this.vpc.id,
            cidrBlock: this.plan.private[i] as string,
            availabilityZone: zone,
            mapPublicIpOnLaunch: false,
            tags: tags(zoneSuffix("private", zone), {
              ...args.subnetTags?.private,
              "driftless:subnet-tier": "private",
            }),
          },
          parent,
        ),
    );

    const publicRoutes = new aws.ec2.RouteTable(
      `${name}-public`,
      { vpcId: this.vpc.id, routes: [{ cidrBlock: "0.0.0.0/0", gatewayId: igw.id }], tags: tags("-public") },
      parent,
    );
    for (const [i, subnet] of this.publicSubnets.entries()) {
      new aws.ec2.RouteTableAssociation(
        `${name}-public-${i}`,
        { subnetId: subnet.id, routeTableId: publicRoutes.id },
        parent,
      );
    }

    this.natGateways = Array.from({ length: natCount }, (_, i) => {
      const allocationId =
        args.natEipAllocationIds?.[i] ??
        new aws.ec2.Eip(`${name}-nat-${i}`, { domain: "vpc", tags: tags(`-nat-${i}`) }, parent).id;
      return new aws.ec2.NatGateway(
        `${name}-nat-${i}`,
        {
          allocationId,
          subnetId: (this.publicSubnets[i] as aws.ec2.Subnet).id,
          tags: tags(`-nat-${i}`),
        },
        { parent: this, dependsOn: [igw] },
      );
    });
    const privateTables = this.privateSubnets.map((subnet, i) => {
      const natGateway = this.natGateways[nat === "perAz" ? i : 0];
      const table = new aws.ec2.RouteTable(
        `${name}-private-${i}`,
        {
          vpcId: this.vpc.id,
          routes: natGateway ? [{ cidrBlock: "0.0.0.0/0", natGatewayId: natGateway.id }] : [],
          tags: tags(zoneSuffix("private", zoneNames[i] as pulumi.Input<string>)),
        },
        parent,
      );
      new aws.ec2.RouteTableAssociation(
        `${name}-private-${i}`,
        { subnetId: subnet.id, routeTableId: table.id },
        parent,
      );
      return table;
    });

    const isolatedCidrs = this.plan.isolated ?? [];
    this.isolatedSubnets = isolatedCidrs.map(
      (cidrBlock, i) =>
        new aws.ec2.Subnet(
          `${name}-isolated-${i}`,
          {
            vpcId: this.vpc.id,
            cidrBlock,
            availabilityZone: zoneNames[i] as pulumi.Input<string>,
            mapPublicIpOnLaunch: false,
            tags: tags(zoneSuffix("isolated", zoneNames[i] as pulumi.Input<string>), {
              ...args.subnetTags?.isolated,
              "driftless:subnet-tier": "isolated",
            }),
          },
          parent,
        ),
    );
    // One table without any default route: the VPC's local route only.
    const isolatedTable =
      this.isolatedSubnets.length === 0
        ? undefined
        : new aws.ec2.RouteTable(
            `${name}-isolated`,
            { vpcId: this.vpc.id, routes: [], tags: tags("-isolated") },
            parent,
          );
    for (const [i, subnet] of this.isolatedSubnets.entries()) {
      new aws.ec2.RouteTableAssociation(
        `${name}-isolated-${i}`,
        { subnetId: subnet.id, routeTableId: (isolatedTable as aws.ec2.RouteTable).id },
        parent,
      );
    }

    this.endpoints = createEndpoints(
      this,
      name,
      args.endpoints?.s3 ?? false,
      interfaceEndpoints,
      {
        vpcId: this.vpc.id,
        vpcCidr: this.plan.vpc,
        routeTables: [...privateTables, ...(isolatedTable ? [isolatedTable] : [])],
        privateSubnets: this.privateSubnets,
      },
      tags,
    );

    if (alarms) {
      createAlarms(
        this,
        name,
        alarms,
        this.natGateways.map((gateway, i) => ({
          id: `nat-${i}-port-allocation`,
          description: `NAT gateway ${i} of ${name}: connections dropped for lack of source ports`,
          namespace: "AWS/NATGateway",
          metricName: "ErrorPortAllocation",
          dimensions: { NatGatewayId: gateway.id },
          statistic: "Sum",
          comparisonOperator: "GreaterThanThreshold",
          threshold: 0,
        })),
        tags("-alarms"),
      );
    }

    if (flowLogs) {
      this.flowLog = createFlowLog(this, name, this.vpc.id, flowLogs, retentionInDays, tags);
    }

    this.publicSubnetIds = pulumi.all(this.publicSubnets.map((s) => s.id));
    this.privateSubnetIds = pulumi.all(this.privateSubnets.map((s) => s.id));
    this.isolatedSubnetIds = pulumi.all(this.isolatedSubnets.map((s) => s.id));
    this.registerOutputs({
      vpcId: this.vpcId,
      publicSubnetIds: this.publicSubnetIds,
      privateSubnetIds: this.privateSubnetIds,
      isolatedSubnetIds: this.isolatedSubnetIds,
    });
  }
}
