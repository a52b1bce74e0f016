// The default CloudWatch alarms of a Database: CPU, free storage and free
// memory of the primary instance.
import type * as pulumi from "@pulumi/pulumi";
import type { AlarmSpec } from "./alarms.js";

/** The alarms of instance `identifier`; the storage alarm fires below 10 % of `allocatedStorage` GiB. */
export function databaseAlarms(
  name: string,
  identifier: pulumi.Input<string>,
  allocatedStorage: number,
): AlarmSpec[] {
  const dimensions = { DBInstanceIdentifier: identifier };
  return [
    {
      id: "cpu",
      description: `PostgreSQL ${name}: CPU above 80 % for 15 minutes`,
      namespace: "AWS/RDS",
      metricName: "CPUUtilization",
      dimensions,
      statistic: "Average",
      comparisonOperator: "GreaterThanThreshold",
      threshold: 80,
    },
    {
      id: "free-storage",
      description: `PostgreSQL ${name}: less than 10 % of the storage free`,
      namespace: "AWS/RDS",
      metricName: "FreeStorageSpace",
      dimensions,
      statistic: "Minimum",
      comparisonOperator: "LessThanThreshold",
      threshold: allocatedStorage * 1024 ** 3 * 0.1,
    },
    {
      id: "free-memory",
      description: `PostgreSQL ${name}: less than 64 MiB of memory free`,
      namespace: "AWS/RDS",
      metricName: "FreeableMemory",
      dimensions,
      statistic: "Minimum",
      comparisonOperator: "LessThanThreshold",
      threshold: 64 * 1024 ** 2,
    },
  ];
}
