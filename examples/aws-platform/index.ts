// A small AWS platform: a VPC across three zones, a private PostgreSQL
// database that only the application's security group may reach, an asset
// bucket, and a role the application assumes with exactly the access it needs.
import { enableGuardrails, enableProvenance } from "@driftless/core";
import { Bucket, Database, Network, ServiceRole, Trust } from "@driftless/core/aws";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

enableProvenance();
enableGuardrails();

const config = new pulumi.Config();
const zones = config.getObject<string[]>("zones") ?? ["eu-west-1a", "eu-west-1b", "eu-west-1c"];

// One NAT gateway per zone (the default), so a zone outage leaves the others online;
// the database gets subnets with no route out at all, and S3 traffic stays in the VPC.
const network = new Network("platform", {
  availabilityZones: zones,
  cidrBlock: "10.20.0.0/16",
  isolatedSubnets: true,
  endpoints: { s3: true },
});

const app = new aws.ec2.SecurityGroup("app", {
  vpcId: network.vpcId,
  description: "Application tasks",
  egress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }],
});

const database = new Database("orders", { network, allowIngressFrom: { securityGroupIds: [app.id] } });

const assets = new Bucket("assets", {
  lifecycleRules: [{ id: "expire-tmp", prefix: "tmp/", expirationDays: 7 }],
});

const role = new ServiceRole("app", {
  trust: Trust.service("ecs-tasks.amazonaws.com"),
  statements: assets.grantReadWrite(),
});

export const vpcId = network.vpcId;
export const databaseEndpoint = database.endpoint;
export const bucketName = assets.bucketName;
export const roleArn = role.arn;
