import { describe, expect, it } from "vitest";
import { declare } from "../../test/harness.js";
import { ServiceRole, type ServiceRoleArgs } from "./serviceRole.js";
import { Statement } from "./statement.js";
import { Trust } from "./trust.js";

describe("ServiceRole", () => {
  it("trusts an AWS service and attaches a least-privilege inline policy", async () => {
    const { one, all } = await declare(
      () =>
        new ServiceRole("uploader", {
          trust: Trust.service("lambda.amazonaws.com"),
          statements: [
            Statement.allow(["s3:PutObject"], ["arn:aws:s3:::uploads/*"]),
            Statement.allow(["ec2:DescribeInstances"], ["*"]),
            Statement.deny(["s3:*"], ["*"], { Bool: { "aws:SecureTransport": "false" } }),
          ],
          managedPolicyArns: ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
          tags: { team: "media" },
        }),
    );
    const role = one("aws:iam/role:Role").inputs;
    expect(JSON.parse(role.assumeRolePolicy)).toEqual({
      Version: "2012-10-17",
      Statement: [
        { Effect: "Allow", Principal: { Service: ["lambda.amazonaws.com"] }, Action: "sts:AssumeRole" },
      ],
    });
    expect(role).toMatchObject({
      maxSessionDuration: 3600,
      description: "Driftless service role uploader",
      tags: { team: "media" },
    });
    expect(JSON.parse(one("aws:iam/rolePolicy:RolePolicy").inputs.policy).Statement).toEqual([
      { Effect: "Allow", Action: ["s3:PutObject"], Resource: ["arn:aws:s3:::uploads/*"] },
      { Effect: "Allow", Action: ["ec2:DescribeInstances"], Resource: ["*"] },
      {
        Effect: "Deny",
        Action: ["s3:*"],
        Resource: ["*"],
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      },
    ]);
    expect(all("aws:iam/rolePolicyAttachment:RolePolicyAttachment").map((a) => a.inputs.policyArn)).toEqual([
      "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    ]);
  });

  it("trusts an EKS service account through OIDC", async () => {
    const { one, all } = await declare(
      () =>
        new ServiceRole("api-irsa", {
          trust: Trust.eksServiceAccount({
            providerArn: "arn:aws:iam::1:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC",
            issuer: "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC",
            namespace: "shop",
            serviceAccount: "api",
          }),
          maxSessionDuration: 7200,
          permissionsBoundary: "arn:aws:iam::1:policy/boundary",
        }),
    );
    const role = one("aws:iam/role:Role").inputs;
    expect(JSON.parse(role.assumeRolePolicy).Statement[0]).toEqual({
      Effect: "Allow",
      Principal: { Federated: "arn:aws:iam::1:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC" },
      Action: "sts:AssumeRoleWithWebIdentity",
      Condition: {
        StringEquals: {
          "oidc.eks.eu-west-1.amazonaws.com/id/ABC:aud": "sts.amazonaws.com",
          "oidc.eks.eu-west-1.amazonaws.com/id/ABC:sub": ["system:serviceaccount:shop:api"],
        },
      },
    });
    expect(role.maxSessionDuration).toBe(7200);
    expect(role.permissionsBoundary).toBe("arn:aws:iam::1:policy/boundary");
    expect(all("aws:iam/rolePolicy:RolePolicy")).toHaveLength(0);
  });

  it("matches wildcard OIDC subjects with StringLike", async () => {
    const { one } = await declare(
      () =>
        new ServiceRole("ci", {
          trust: Trust.oidc({
            providerArn: "arn:aws:iam::1:oidc-provider/token.actions.githubusercontent.com",
            issuer: "token.actions.githubusercontent.com",
            subjects: ["repo:acme/infra:*"],
          }),
        }),
    );
    const condition = JSON.parse(one("aws:iam/role:Role").inputs.assumeRolePolicy).Statement[0].Condition;
    expect(condition).toEqual({
      StringEquals: { "token.actions.githubusercontent.com:aud": "sts.amazonaws.com" },
      StringLike: { "token.actions.githubusercontent.com:sub": ["repo:acme/infra:*"] },
    });
  });

  const trust = Trust.service("ecs-tasks.amazonaws.com");
  it.each([
    [
      { trust, statements: [Statement.allow(["*"], ["*"])] },
      'ServiceRole `r`: `statements[0].actions` grants a wildcard action on every resource (`*`); name the actions or the resources, got "*"',
    ],
    [
      { trust, statements: [Statement.allow(["s3:GetObject", "s3:*"], ["arn:aws:s3:::a", "*"])] },
      '`statements[0].actions` grants a wildcard action on every resource (`*`); name the actions or the resources, got "s3:*"',
    ],
    [
      { trust, statements: [Statement.allow([], ["*"])] },
      "`statements[0].actions` must list at least one action, got []",
    ],
    [
      { trust, statements: [Statement.allow(["s3:GetObject"], [])] },
      "`statements[0].resources` must list at least one resource, got []",
    ],
    [
      { trust, statements: [Statement.allow(["GetObject"], ["*"])] },
      '`statements[0].actions[0]` must look like `service:Action`, got "GetObject"',
    ],
    [{ trust: Trust.service() }, "`trust` must name at least one service, got []"],
    [
      { trust: Trust.service("lambda") },
      '`trust` must name services like `lambda.amazonaws.com`, got "lambda"',
    ],
    [
      { trust: Trust.oidc({ providerArn: "p", issuer: "i", subjects: ["*"] }) },
      '`trust.subjects` must not be `*` (any identity of the provider), got "*"',
    ],
    [
      { trust: Trust.oidc({ providerArn: "p", issuer: "i", subjects: [] }) },
      "`trust.subjects` must list at least one subject, got []",
    ],
    [
      { trust, managedPolicyArns: ["arn:aws:iam::aws:policy/AdministratorAccess"] },
      "`managedPolicyArns[0]` must not grant AdministratorAccess",
    ],
    [{ trust, maxSessionDuration: 60 }, "`maxSessionDuration` must be at least 3600, got 60"],
  ] as [ServiceRoleArgs, string][])("rejects %#", async (args, message) => {
    await expect(declare(() => new ServiceRole("r", args))).rejects.toThrow(message);
  });

  it("rejects an invalid role name", async () => {
    await expect(declare(() => new ServiceRole("bad name", { trust }))).rejects.toThrow(
      "`name` must be an IAM role name",
    );
  });

  it("leaves the role auto-named unless `roleName` is given, and validates what is used", async () => {
    const auto = await declare(() => new ServiceRole("a".repeat(56), { trust }));
    expect(auto.one("aws:iam/role:Role").inputs).not.toHaveProperty("name");
    await expect(declare(() => new ServiceRole("a".repeat(57), { trust }))).rejects.toThrow(
      "`name` must be an IAM role name prefix",
    );
    const named = await declare(
      () => new ServiceRole("app", { trust, roleName: "acme-app", tags: { team: "x" } }),
    );
    expect(named.one("aws:iam/role:Role").inputs).toMatchObject({
      name: "acme-app",
      tags: { Name: "acme-app", team: "x" },
    });
    await expect(declare(() => new ServiceRole("app", { trust, roleName: "bad name" }))).rejects.toThrow(
      '`roleName` must be an IAM role name (1-64 of letters, digits, `+=,.@_-`), got "bad name"',
    );
  });
});
