import { describe, expect, it } from "vitest";
import { declare, settle } from "../../test/harness.js";
import { CronTask, type CronTaskArgs } from "./cronTask.js";

const base: CronTaskArgs = { image: "acme/report:1.0.0", schedule: "0 3 * * *" };

describe("CronTask", () => {
  it("creates a CronJob with the defaults", async () => {
    const { resources, one } = await declare(() => new CronTask("report", base));
    expect(resources.map((r) => r.type).sort()).toEqual([
      "driftless:k8s:CronTask",
      "kubernetes:batch/v1:CronJob",
    ]);
    const spec = one("kubernetes:batch/v1:CronJob").inputs.spec;
    expect(spec).toMatchObject({
      schedule: "0 3 * * *",
      concurrencyPolicy: "Forbid",
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 1,
      suspend: false,
    });
    expect(spec.timeZone).toBeUndefined();
    expect(spec.jobTemplate.spec.backoffLimit).toBe(2);
    const pod = spec.jobTemplate.spec.template.spec;
    expect(pod.restartPolicy).toBe("Never");
    expect(pod.containers[0].securityContext.readOnlyRootFilesystem).toBe(true);
    expect(pod.containers[0].resources.limits.memory).toBe("256Mi");
  });

  it("applies overrides", async () => {
    const { one } = await declare(
      () =>
        new CronTask("report", {
          ...base,
          schedule: "@daily",
          timeZone: "Europe/Berlin",
          concurrencyPolicy: "Replace",
          successfulJobsHistoryLimit: 0,
          failedJobsHistoryLimit: 5,
          backoffLimit: 0,
          activeDeadlineSeconds: 600,
          restartPolicy: "OnFailure",
          suspend: true,
          skipAwait: true,
          namespace: "batch",
        }),
    );
    const cron = one("kubernetes:batch/v1:CronJob").inputs;
    expect(cron.metadata).toMatchObject({
      namespace: "batch",
      annotations: { "pulumi.com/skipAwait": "true" },
    });
    expect(cron.spec).toMatchObject({
      schedule: "@daily",
      timeZone: "Europe/Berlin",
      concurrencyPolicy: "Replace",
      successfulJobsHistoryLimit: 0,
      failedJobsHistoryLimit: 5,
      suspend: true,
    });
    expect(cron.spec.jobTemplate.spec).toMatchObject({ backoffLimit: 0, activeDeadlineSeconds: 600 });
    expect(cron.spec.jobTemplate.spec.template.spec.restartPolicy).toBe("OnFailure");
  });

  it.each([
    [
      { schedule: "61 * * * *" },
      'CronTask `report`: `schedule` has an invalid minute field `61`: 61 is outside 0-59, got "61 * * * *"',
    ],
    [{ schedule: "daily" }, "`schedule` must have 5 fields"],
    [{ backoffLimit: -1 }, "`backoffLimit` must be at least 0, got -1"],
    [{ successfulJobsHistoryLimit: 1.5 }, "`successfulJobsHistoryLimit` must be an integer, got 1.5"],
    [{ activeDeadlineSeconds: 0 }, "`activeDeadlineSeconds` must be at least 1, got 0"],
    [
      { timeZone: "Berlin time" },
      '`timeZone` must be an IANA time zone like `Europe/Berlin`, got "Berlin time"',
    ],
    [
      { concurrencyPolicy: "Sometimes" as "Allow" },
      '`concurrencyPolicy` must be one of "Allow", "Forbid", "Replace", got "Sometimes"',
    ],
  ] as [Partial<CronTaskArgs>, string][])("rejects %j", async (patch, message) => {
    await expect(declare(() => new CronTask("report", { ...base, ...patch }))).rejects.toThrow(message);
  });

  it("rejects a name longer than 52 characters", async () => {
    await expect(declare(() => new CronTask("x".repeat(53), base))).rejects.toThrow(
      "must be at most 52 characters",
    );
  });

  it("registers the CronJob's name as an output and annotates pods", async () => {
    const { one, result } = await declare(
      () =>
        new CronTask("report", {
          image: "acme/report:1.0.0",
          schedule: "@daily",
          podAnnotations: { "acme.io/kind": "report" },
        }),
    );
    expect(await settle(result.cronJobName)).toBe("report");
    expect(
      one("kubernetes:batch/v1:CronJob").inputs.spec.jobTemplate.spec.template.metadata.annotations,
    ).toEqual({ "acme.io/kind": "report" });
  });
});
