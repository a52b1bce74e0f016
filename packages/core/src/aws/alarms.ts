import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/**
 * Default CloudWatch alarms of a component, notifying an SNS topic.
 * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html
 */
export interface AlarmArgs {
  /**
   * SNS topic the alarms notify (subscribe people or a pager to it).
   * @default - a new topic `<name>-alarms`
   */
  readonly topicArn?: pulumi.Input<string>;
}

/** One alarm on an AWS/* metric. */
export interface AlarmSpec {
  /** Suffix of the alarm's logical name. */
  readonly id: string;
  readonly description: string;
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Record<string, pulumi.Input<string>>;
  readonly statistic: "Average" | "Minimum" | "Maximum" | "Sum";
  readonly comparisonOperator: "GreaterThanThreshold" | "LessThanThreshold";
  readonly threshold: number;
}

/**
 * Creates the topic (unless given) and the alarms; returns the topic's ARN.
 * Each alarm fires after three 5-minute periods over the threshold and
 * notifies again when it clears.
 */
export function createAlarms(
  parent: pulumi.Resource,
  name: string,
  args: AlarmArgs,
  specs: readonly AlarmSpec[],
  tags: Readonly<Record<string, pulumi.Input<string>>>,
): { readonly topicArn: pulumi.Output<string>; readonly alarms: aws.cloudwatch.MetricAlarm[] } {
  const topicArn = pulumi.output(
    args.topicArn ?? new aws.sns.Topic(`${name}-alarms`, { tags: { ...tags } }, { parent }).arn,
  );
  const alarms = specs.map(
    (s) =>
      new aws.cloudwatch.MetricAlarm(
        `${name}-${s.id}`,
        {
          alarmDescription: s.description,
          namespace: s.namespace,
          metricName: s.metricName,
          dimensions: s.dimensions,
          statistic: s.statistic,
          period: 300,
          evaluationPeriods: 3,
          comparisonOperator: s.comparisonOperator,
          threshold: s.threshold,
          treatMissingData: "notBreaching",
          alarmActions: [topicArn],
          okActions: [topicArn],
          tags: { ...tags },
        },
        { parent },
      ),
  );
  return { topicArn, alarms };
}
