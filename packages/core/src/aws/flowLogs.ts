// VPC flow logs of a Network: their inputs and validation, and the log group,
// IAM role and flow log that deliver them to CloudWatch Logs.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { Validator } from "../internal/validator.js";

/**
 * VPC flow logs to CloudWatch Logs.
 * @see https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs.html
 */
export interface FlowLogArgs {
  /**
   * Days the log group keeps records.
   * @default 30
   */
  readonly retentionInDays?: number;
  /**
   * Which traffic to record.
   * @default "ALL"
   */
  readonly trafficType?: "ALL" | "ACCEPT" | "REJECT";
}

// The values CloudWatch Logs accepts for a log group's retention.
const RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

/** Checks the flow log settings; `retentionInDays` is resolved. */
export function validateFlowLogs(v: Validator, args: FlowLogArgs, retentionInDays: number): void {
  v.check(
    RETENTION_DAYS.includes(retentionInDays),
    "flowLogs.retentionInDays",
    "must be a CloudWatch retention period (1, 3, 5, 7, 14, 30, ...)",
    retentionInDays,
  );
  v.oneOf("flowLogs.trafficType", args.trafficType, ["ALL", "ACCEPT", "REJECT"]);
}

/** Creates the log group, the role the VPC flow logs service assumes, and the flow log of `vpcId`. */
export function createFlowLog(
  parent: pulumi.Resource,
  name: string,
  vpcId: pulumi.Input<string>,
  args: FlowLogArgs,
  retentionInDays: number,
  tags: (suffix: string) => Readonly<Record<string, pulumi.Input<string>>>,
): aws.ec2.FlowLog {
  const logGroup = new aws.cloudwatch.LogGroup(
    `${name}-flow-logs`,
    { retentionInDays, tags: tags("-flow-logs") },
    { parent },
  );
  const role = new aws.iam.Role(
    `${name}-flow-logs`,
    {
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Allow",
            Principal: { Service: "vpc-flow-logs.amazonaws.com" },
            Action: "sts:AssumeRole",
          },
        ],
      }),
      tags: tags("-flow-logs"),
    },
    { parent },
  );
  new aws.iam.RolePolicy(
    `${name}-flow-logs`,
    {
      role: role.id,
      policy: pulumi.jsonStringify({
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Allow",
            Action: ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            Resource: pulumi.interpolate`${logGroup.arn}:*`,
          },
        ],
      }),
    },
    { parent },
  );
  return new aws.ec2.FlowLog(
    name,
    {
      vpcId,
      trafficType: args.trafficType ?? "ALL",
      logDestinationType: "cloud-watch-logs",
      logDestination: logGroup.arn,
      iamRoleArn: role.arn,
      tags: tags("-flow-logs"),
    },
    { parent },
  );
}
