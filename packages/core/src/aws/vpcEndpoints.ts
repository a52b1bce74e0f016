// VPC endpoints of a Network: the S3 gateway endpoint and the interface
// endpoints with their security group, so traffic to AWS services stays private.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { Validator } from "../internal/validator.js";

/** Checks the interface endpoint service names; S3 has its own switch. */
export function validateEndpoints(v: Validator, interfaces: readonly string[]): void {
  for (const [i, service] of interfaces.entries()) {
    v.check(
      /^[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(service) && service !== "s3",
      `endpoints.interfaces[${i}]`,
      "must be a service name like `ecr.api` or `sts` (S3 is `endpoints.s3`)",
      service,
    );
  }
}

/** Where the endpoints go: the VPC, the tables the S3 gateway joins, the subnets interfaces sit in. */
export interface EndpointPlacement {
  readonly vpcId: pulumi.Input<string>;
  readonly vpcCidr: string;
  readonly routeTables: readonly aws.ec2.RouteTable[];
  readonly privateSubnets: readonly aws.ec2.Subnet[];
}

/** Creates the endpoints, S3 first; none when neither is asked for. */
export function createEndpoints(
  parent: pulumi.Resource,
  name: string,
  s3: boolean,
  interfaces: readonly string[],
  { vpcId, vpcCidr, routeTables, privateSubnets }: EndpointPlacement,
  tags: (suffix: string) => Readonly<Record<string, pulumi.Input<string>>>,
): aws.ec2.VpcEndpoint[] {
  const region = s3 || interfaces.length > 0 ? aws.getRegionOutput({}, { parent }).region : undefined;
  const endpoints: aws.ec2.VpcEndpoint[] = [];
  if (s3) {
    endpoints.push(
      new aws.ec2.VpcEndpoint(
        `${name}-s3`,
        {
          vpcId,
          serviceName: pulumi.interpolate`com.amazonaws.${region}.s3`,
          vpcEndpointType: "Gateway",
          routeTableIds: routeTables.map((t) => t.id),
          tags: tags("-s3"),
        },
        { parent },
      ),
    );
  }
  if (interfaces.length > 0) {
    const endpointSg = new aws.ec2.SecurityGroup(
      `${name}-endpoints`,
      {
        vpcId,
        description: `VPC endpoints of ${name}: HTTPS from the VPC`,
        ingress: [{ protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: [vpcCidr] }],
        egress: [],
        tags: tags("-endpoints"),
      },
      { parent },
    );
    for (const service of interfaces) {
      endpoints.push(
        new aws.ec2.VpcEndpoint(
          `${name}-${service.replace(/\./g, "-")}`,
          {
            vpcId,
            serviceName: pulumi.interpolate`com.amazonaws.${region}.${service}`,
            vpcEndpointType: "Interface",
            privateDnsEnabled: true,
            subnetIds: privateSubnets.map((sub) => sub.id),
            securityGroupIds: [endpointSg.id],
            tags: tags(`-${service}`),
          },
          { parent },
        ),
      );
    }
  }
  return endpoints;
}
