import { describe, expect, it } from "vitest";
import { declare, rejected, settle } from "../../test/harness.js";
import type { ValidationError } from "../errors.js";
import { Database } from "./database.js";
import { Network, type NetworkArgs } from "./network.js";

const zones = ["eu-west-1a", "eu-west-1b"];

describe("Network", () => {
  it("creates a VPC, subnets per zone, an internet gateway, one shared NAT and route tables", async () => {
    const { all, one, result } = await declare(
      () => new Network("main", { availabilityZones: zones, nat: "single", tags: { team: "infra" } }),
    );
    const vpc = one("aws:ec2/vpc:Vpc").inputs;
    expect(vpc).toMatchObject({
      cidrBlock: "10.0.0.0/16",
      enableDnsHostnames: true,
      tags: { team: "infra", Name: "main" },
    });
    const subnets = all("aws:ec2/subnet:Subnet").map((s) => [
      s.name,
      s.inputs.cidrBlock,
      s.inputs.availabilityZone,
    ]);
    expect(subnets).toEqual([
      ["main-public-0", "10.0.128.0/20", "eu-west-1a"],
      ["main-public-1", "10.0.144.0/20", "eu-west-1b"],
      ["main-private-0", "10.0.0.0/18", "eu-west-1a"],
      ["main-private-1", "10.0.64.0/18", "eu-west-1b"],
    ]);
    expect(result.plan).toEqual({
      vpc: "10.0.0.0/16",
      private: ["10.0.0.0/18", "10.0.64.0/18"],
      public: ["10.0.128.0/20", "10.0.144.0/20"],
    });
    expect(all("aws:ec2/subnet:Subnet").every((s) => s.inputs.mapPublicIpOnLaunch === false)).toBe(true);
    expect(all("aws:ec2/internetGateway:InternetGateway")).toHaveLength(1);
    expect(all("aws:ec2/natGateway:NatGateway")).toHaveLength(1);
    expect(all("aws:ec2/eip:Eip")).toHaveLength(1);
    const publicRoutes = one("aws:ec2/routeTable:RouteTable", "main-public").inputs;
    expect(publicRoutes.routes).toEqual([{ cidrBlock: "0.0.0.0/0", gatewayId: "main-id" }]);
    for (const i of [0, 1]) {
      expect(one("aws:ec2/routeTable:RouteTable", `main-private-${i}`).inputs.routes).toEqual([
        { cidrBlock: "0.0.0.0/0", natGatewayId: "main-nat-0-id" },
      ]);
    }
    expect(all("aws:ec2/routeTableAssociation:RouteTableAssociation")).toHaveLength(4);
    expect(all("aws:ec2/flowLog:FlowLog")).toHaveLength(0);
    expect(await settle(result.privateSubnetIds)).toEqual(["main-private-0-id", "main-private-1-id"]);
    expect(await settle(result.publicSubnetIds)).toEqual(["main-public-0-id", "main-public-1-id"]);
  });

  it("creates one NAT per zone by default (no single zone of failure), and none with none", async () => {
    const perAz = await declare(() => new Network("main", { availabilityZones: zones }));
    expect(perAz.all("aws:ec2/natGateway:NatGateway")).toHaveLength(2);
    expect(perAz.one("aws:ec2/routeTable:RouteTable", "main-private-1").inputs.routes[0].natGatewayId).toBe(
      "main-nat-1-id",
    );
    expect(perAz.all("aws:ec2/eip:Eip")).toHaveLength(2);
    const none = await declare(() => new Network("main", { availabilityZones: zones, nat: "none" }));
    expect(none.all("aws:ec2/natGateway:NatGateway")).toHaveLength(0);
    expect(none.one("aws:ec2/routeTable:RouteTable", "main-private-0").inputs.routes).toEqual([]);
  });

  it("records flow logs to CloudWatch through a scoped role", async () => {
    const { one } = await declare(
      () =>
        new Network("main", {
          availabilityZones: zones,
          flowLogs: { retentionInDays: 90, trafficType: "REJECT" },
        }),
    );
    expect(one("aws:cloudwatch/logGroup:LogGroup").inputs.retentionInDays).toBe(90);
    expect(one("aws:ec2/flowLog:FlowLog").inputs).toMatchObject({
      trafficType: "REJECT",
      logDestinationType: "cloud-watch-logs",
      vpcId: "main-id",
    });
    const trust = JSON.parse(one("aws:iam/role:Role").inputs.assumeRolePolicy);
    expect(trust.Statement[0].Principal).toEqual({ Service: "vpc-flow-logs.amazonaws.com" });
    const policy = JSON.parse(one("aws:iam/rolePolicy:RolePolicy").inputs.policy);
    expect(policy.Statement[0].Resource).toBe("arn:aws:mock:::main-flow-logs:*");
  });

  it("uses flow log defaults with `true` and explicit subnets", async () => {
    const { one, all } = await declare(
      () =>
        new Network("main", {
          availabilityZones: ["us-east-1a"],
          cidrBlock: "192.168.0.0/24",
          subnets: { public: ["192.168.0.0/28"], private: ["192.168.0.128/25"] },
          flowLogs: true,
        }),
    );
    expect(one("aws:cloudwatch/logGroup:LogGroup").inputs.retentionInDays).toBe(30);
    expect(one("aws:ec2/flowLog:FlowLog").inputs.trafficType).toBe("ALL");
    expect(all("aws:ec2/subnet:Subnet").map((s) => s.inputs.cidrBlock)).toEqual([
      "192.168.0.0/28",
      "192.168.0.128/25",
    ]);
  });

  it.each([
    [{ availabilityZones: [] }, "Network `main`: `availabilityZones` must name at least one zone, got []"],
    [{ availabilityZones: ["eu-west-1a", "eu-west-1a"] }, "`availabilityZones` must not repeat a zone"],
    [
      { availabilityZones: ["west"] },
      '`availabilityZones[0]` must be a zone name like `eu-west-1a`, got "west"',
    ],
    [
      { availabilityZones: zones, nat: "double" as "single" },
      '`nat` must be one of "none", "single", "perAz", got "double"',
    ],
    [
      { availabilityZones: zones, cidrBlock: "10.0.0.0/8" },
      '`cidrBlock` must be between /16 and /28, got "10.0.0.0/8"',
    ],
    [{ availabilityZones: zones, cidrBlock: "10.0.0.1/16" }, "`cidrBlock` has host bits set"],
    [
      { availabilityZones: zones, flowLogs: { retentionInDays: 2 } },
      "`flowLogs.retentionInDays` must be a CloudWatch retention period",
    ],
    [
      {
        availabilityZones: zones,
        subnets: { public: ["10.0.0.0/24", "10.0.1.0/24"], private: ["10.0.1.0/24", "10.0.2.0/24"] },
      },
      '`subnets.private[0]` overlaps `subnets.public[1]` (10.0.1.0/24), got "10.0.1.0/24"',
    ],
  ] as [NetworkArgs, string][])("rejects %j", async (args, message) => {
    await expect(declare(() => new Network("main", args))).rejects.toThrow(message);
  });

  it("names resources after the caller's `Name` tag instead of overriding it", async () => {
    const { one } = await declare(
      () => new Network("main", { availabilityZones: zones, nat: "none", tags: { Name: "shop-vpc" } }),
    );
    expect(one("aws:ec2/vpc:Vpc").inputs.tags.Name).toBe("shop-vpc");
    expect(one("aws:ec2/subnet:Subnet", "main-private-0").inputs.tags.Name).toBe(
      "shop-vpc-private-eu-west-1a",
    );
  });

  it("reports every problem at once", async () => {
    const error = await rejected<Error & { problems: { field: string }[] }>(
      declare(
        () =>
          new Network("main", {
            availabilityZones: ["x", "x"],
            nat: "double" as "single",
            cidrBlock: "10.0.0.0/33",
          }),
      ),
    );
    expect(error.problems.map((p) => p.field)).toEqual([
      "availabilityZones",
      "availabilityZones[0]",
      "availabilityZones[1]",
      "nat",
      "cidrBlock",
    ]);
  });

  it("adds isolated subnets, tier tags, VPC endpoints, existing Elastic IPs and NAT alarms", async () => {
    const { all, one, result } = await declare(
      () =>
        new Network("main", {
          availabilityZones: zones,
          isolatedSubnets: true,
          subnetTags: { public: { "kubernetes.io/role/elb": "1" }, isolated: { tier: "data" } },
          endpoints: { s3: true, interfaces: ["ecr.api", "sts"] },
          natEipAllocationIds: ["eipalloc-1", "eipalloc-2"],
        }),
    );
    expect(result.plan.isolated).toEqual(["10.0.160.0/20", "10.0.176.0/20"]);
    const isolated = one("aws:ec2/subnet:Subnet", "main-isolated-1").inputs;
    expect(isolated).toMatchObject({
      cidrBlock: "10.0.176.0/20",
      availabilityZone: "eu-west-1b",
      tags: { tier: "data", "driftless:subnet-tier": "isolated", Name: "main-isolated-eu-west-1b" },
    });
    expect(one("aws:ec2/routeTable:RouteTable", "main-isolated").inputs.routes).toEqual([]);
    expect(one("aws:ec2/subnet:Subnet", "main-public-0").inputs.tags["kubernetes.io/role/elb"]).toBe("1");
    expect(all("aws:ec2/eip:Eip")).toHaveLength(0);
    expect(all("aws:ec2/natGateway:NatGateway").map((n) => n.inputs.allocationId)).toEqual([
      "eipalloc-1",
      "eipalloc-2",
    ]);
    const s3 = one("aws:ec2/vpcEndpoint:VpcEndpoint", "main-s3").inputs;
    expect(s3).toMatchObject({ serviceName: "com.amazonaws.eu-west-1.s3", vpcEndpointType: "Gateway" });
    expect(s3.routeTableIds).toEqual(["main-private-0-id", "main-private-1-id", "main-isolated-id"]);
    const sts = one("aws:ec2/vpcEndpoint:VpcEndpoint", "main-sts").inputs;
    expect(sts).toMatchObject({
      serviceName: "com.amazonaws.eu-west-1.sts",
      vpcEndpointType: "Interface",
      privateDnsEnabled: true,
      subnetIds: ["main-private-0-id", "main-private-1-id"],
    });
    expect(one("aws:ec2/securityGroup:SecurityGroup", "main-endpoints").inputs.ingress).toEqual([
      { protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: ["10.0.0.0/16"] },
    ]);
    expect(result.endpoints).toHaveLength(3);
    const alarms = all("aws:cloudwatch/metricAlarm:MetricAlarm");
    expect(alarms.map((a) => [a.name, a.inputs.metricName, a.inputs.dimensions])).toEqual([
      ["main-nat-0-port-allocation", "ErrorPortAllocation", { NatGatewayId: "main-nat-0-id" }],
      ["main-nat-1-port-allocation", "ErrorPortAllocation", { NatGatewayId: "main-nat-1-id" }],
    ]);
    expect(await settle(result.isolatedSubnetIds)).toEqual(["main-isolated-0-id", "main-isolated-1-id"]);
  });

  it("puts a Database into the isolated subnets, and skips alarms without NAT or when off", async () => {
    const { one, all } = await declare(() => {
      const network = new Network("main", { availabilityZones: zones, isolatedSubnets: true, nat: "none" });
      new Network("other", {
        availabilityZones: zones,
        nat: "single",
        alarms: false,
        cidrBlock: "10.1.0.0/16",
      });
      return new Database("orders", { network, allowIngressFrom: {}, passwordSeed: "s", alarms: false });
    });
    expect(one("aws:rds/subnetGroup:SubnetGroup").inputs.subnetIds).toEqual([
      "main-isolated-0-id",
      "main-isolated-1-id",
    ]);
    expect(all("aws:cloudwatch/metricAlarm:MetricAlarm")).toHaveLength(0);
  });

  it("rejects a wrong number of Elastic IPs, bad endpoint services and misplaced tier tags", async () => {
    const error = await rejected<ValidationError>(
      declare(
        () =>
          new Network("main", {
            availabilityZones: zones,
            natEipAllocationIds: ["eipalloc-1"],
            endpoints: { interfaces: ["s3", "Bad Name"] },
            subnetTags: { private: { Name: "x" }, isolated: {} },
          }),
      ),
    );
    expect(error.problems.map((p) => p.field)).toEqual([
      "natEipAllocationIds",
      "endpoints.interfaces[0]",
      "endpoints.interfaces[1]",
      "subnetTags.private.Name",
      "subnetTags.isolated",
    ]);
    expect(error.message).toContain(
      'must list one allocation per NAT gateway (2 with `nat: "perAz"`), got 1',
    );
  });

  it("discovers the region's zones when none are named", async () => {
    const { all, one, result } = await declare(() => new Network("main", { nat: "single" }));
    expect(result.zoneCount).toBe(3);
    expect(await settle(result.zoneNames)).toEqual(["eu-west-1a", "eu-west-1b", "eu-west-1c"]);
    expect(all("aws:ec2/subnet:Subnet")).toHaveLength(6);
    expect(one("aws:ec2/subnet:Subnet", "main-private-2").inputs).toMatchObject({
      availabilityZone: "eu-west-1c",
      tags: { Name: "main-private-eu-west-1c" },
    });
    const two = await declare(() => new Network("main", { zoneCount: 2, nat: "none" }));
    expect(two.all("aws:ec2/subnet:Subnet")).toHaveLength(4);
    await expect(
      declare(() => new Network("main", { availabilityZones: zones, zoneCount: 2 })),
    ).rejects.toThrow("`zoneCount` must not be set together with `availabilityZones`");
  });
});
