import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { declare, settle } from "../../test/harness.js";
import { Job } from "./job.js";
import { WebService } from "./webService.js";

describe("Job", () => {
  it("runs once with the secure pod defaults, no retries and a deadline", async () => {
    const { one, result } = await declare(() => {
      const migrate = new Job("migrate", {
        image: "acme/api:1.2.3",
        command: ["./migrate", "up"],
        namespace: "shop",
      });
      new WebService("api", { image: "acme/api:1.2.3" }, { dependsOn: [migrate] });
      return migrate;
    });
    const job = one("kubernetes:batch/v1:Job").inputs;
    expect(job.metadata).toMatchObject({ name: "migrate", namespace: "shop" });
    expect(job.spec).toMatchObject({ backoffLimit: 0, activeDeadlineSeconds: 600 });
    const pod = job.spec.template.spec;
    expect(pod.restartPolicy).toBe("Never");
    expect(pod.containers[0].command).toEqual(["./migrate", "up"]);
    expect(pod.containers[0].securityContext.runAsNonRoot).toBe(true);
    expect(job.metadata.labels["app.kubernetes.io/component"]).toBe("job");
    expect(await settle(result.jobName)).toBe("migrate");
  });

  it("takes retries, a deadline and a restart policy, and rejects bad ones", async () => {
    const { one } = await declare(
      () =>
        new Job("seed", {
          image: "a:1",
          backoffLimit: 3,
          activeDeadlineSeconds: 60,
          restartPolicy: "OnFailure",
        }),
    );
    expect(one("kubernetes:batch/v1:Job").inputs.spec).toMatchObject({
      backoffLimit: 3,
      activeDeadlineSeconds: 60,
    });
    await expect(
      declare(() => new Job("seed", { image: "a:1", backoffLimit: -1, activeDeadlineSeconds: 0 })),
    ).rejects.toThrow("Job `seed`: 2 problems:");
  });

  it("replaces the Job on any change, old one first (its template is immutable)", async () => {
    let options: pulumi.CustomResourceOptions | undefined;
    await declare(() => {
      pulumi.runtime.registerStackTransformation(({ type, opts }) => {
        if (type === "kubernetes:batch/v1:Job") options = opts;
        return undefined;
      });
      new Job("migrate", { image: "a:1" });
    });
    expect(options).toMatchObject({ replaceOnChanges: ["spec"], deleteBeforeReplace: true });
  });
});
