import { describe, expect, it } from "vitest";
import {
  allocate,
  blockSize,
  CidrError,
  cidrProblem,
  contains,
  findOverlap,
  formatCidr,
  overlaps,
  parseCidr,
  planSubnets,
  usableAddresses,
} from "./cidr.js";

describe("parseCidr / formatCidr", () => {
  it.each(["10.0.0.0/16", "0.0.0.0/0", "192.168.1.128/25", "255.255.255.255/32", "172.16.0.0/12"])(
    "round-trips %s",
    (text) => {
      expect(formatCidr(parseCidr(text))).toBe(text);
    },
  );

  it("parses to an unsigned base address", () => {
    expect(parseCidr("255.0.0.0/8")).toEqual({ base: 255 * 2 ** 24, prefix: 8 });
  });

  it.each([
    ["10.0.0.0", "must be an IPv4 CIDR"],
    ["10.0.0/16", "must be an IPv4 CIDR"],
    ["256.0.0.0/8", "outside 0-255"],
    ["10.01.0.0/16", "leading zero"],
    ["10.0.0.0/33", "prefix longer than 32"],
    ["10.0.0.1/16", "has host bits set (the block is 10.0.0.0/16)"],
  ])("rejects %s", (text, reason) => {
    expect(cidrProblem(text)).toContain(reason);
    expect(() => parseCidr(text, "field")).toThrow(CidrError);
  });

  it("names the field and value in the error", () => {
    const error = (() => {
      try {
        parseCidr("x", "cidrBlock");
      } catch (e) {
        return e as CidrError;
      }
    })();
    expect(error?.field).toBe("cidrBlock");
    expect(error?.value).toBe("x");
    expect(error?.message).toBe('`cidrBlock` must be an IPv4 CIDR like `10.0.0.0/16`, got "x"');
  });
});

describe("block arithmetic", () => {
  it("sizes blocks and subtracts the AWS-reserved addresses", () => {
    expect(blockSize(16)).toBe(65536);
    expect(blockSize(32)).toBe(1);
    expect(usableAddresses(28)).toBe(11);
    expect(usableAddresses(24)).toBe(251);
    expect(usableAddresses(31)).toBe(0);
  });

  it("tells containment and overlap", () => {
    const vpc = parseCidr("10.0.0.0/16");
    expect(contains(vpc, parseCidr("10.0.5.0/24"))).toBe(true);
    expect(contains(vpc, parseCidr("10.1.0.0/24"))).toBe(false);
    expect(contains(parseCidr("10.0.5.0/24"), vpc)).toBe(false);
    expect(overlaps(parseCidr("10.0.5.0/24"), vpc)).toBe(true);
    expect(overlaps(parseCidr("10.0.0.0/24"), parseCidr("10.0.1.0/24"))).toBe(false);
  });

  it("finds the first overlapping pair", () => {
    const blocks = ["10.0.0.0/24", "10.0.1.0/24", "10.0.1.128/25"].map((c) => parseCidr(c));
    expect(findOverlap(blocks)).toEqual([1, 2]);
    expect(findOverlap(blocks.slice(0, 2))).toBeUndefined();
  });

  it("allocates aligned blocks largest first and returns them in the order asked", () => {
    const blocks = allocate(parseCidr("10.0.0.0/24"), [28, 26, 28, 25]).map(formatCidr);
    expect(blocks).toEqual(["10.0.0.192/28", "10.0.0.128/26", "10.0.0.208/28", "10.0.0.0/25"]);
    expect(findOverlap(blocks.map((b) => parseCidr(b)))).toBeUndefined();
  });

  it("refuses blocks that do not fit or are larger than the parent", () => {
    expect(() => allocate(parseCidr("10.0.0.0/24"), [25, 25, 28])).toThrow(
      "is too small for the subnets: they need 272 addresses, the block has 256",
    );
    expect(() => allocate(parseCidr("10.0.0.0/24"), [23])).toThrow("cannot hold a /23 subnet");
  });
});

describe("planSubnets", () => {
  it("splits a /16 over three zones: private /19s, public /21s, no overlap", () => {
    const plan = planSubnets({ vpcCidr: "10.0.0.0/16", zones: 3 });
    expect(plan).toEqual({
      vpc: "10.0.0.0/16",
      private: ["10.0.0.0/19", "10.0.32.0/19", "10.0.64.0/19"],
      public: ["10.0.96.0/21", "10.0.104.0/21", "10.0.112.0/21"],
    });
  });

  it("handles one zone and explicit prefixes", () => {
    expect(planSubnets({ vpcCidr: "10.0.0.0/24", zones: 1 })).toEqual({
      vpc: "10.0.0.0/24",
      private: ["10.0.0.0/25"],
      public: ["10.0.0.128/27"],
    });
    expect(
      planSubnets({ vpcCidr: "10.0.0.0/16", zones: 2, privatePrefix: 20, publicPrefix: 24 }).public,
    ).toEqual(["10.0.32.0/24", "10.0.33.0/24"]);
  });

  it.each([
    [{ vpcCidr: "10.0.0.0/8", zones: 2 }, "cidrBlock", "must be between /16 and /28"],
    [{ vpcCidr: "10.0.0.0/29", zones: 1 }, "cidrBlock", "must be between /16 and /28"],
    [{ vpcCidr: "10.0.0.0/16", zones: 0 }, "availabilityZones", "must name at least one zone"],
    [{ vpcCidr: "10.0.0.0/26", zones: 4 }, "privateSubnetPrefix", "must be at most /28"],
    [
      { vpcCidr: "10.0.0.0/16", zones: 2, publicPrefix: 16 },
      "publicSubnetPrefix",
      "must be longer than the VPC prefix /16",
    ],
    [{ vpcCidr: "10.0.0.0/16", zones: 3, privatePrefix: 17 }, "cidrBlock", "is too small for the subnets"],
  ])("rejects %j naming `%s`", (options, field, reason) => {
    try {
      planSubnets(options);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(CidrError);
      expect((e as CidrError).field).toBe(field);
      expect((e as CidrError).reason).toContain(reason);
    }
  });

  it("validates explicit subnets: count, containment, size, overlap", () => {
    const ok = { public: ["10.0.0.0/24", "10.0.1.0/24"], private: ["10.0.16.0/20", "10.0.32.0/20"] };
    expect(planSubnets({ vpcCidr: "10.0.0.0/16", zones: 2, subnets: ok }).private).toEqual(ok.private);
    const bad = (subnets: typeof ok) => () => planSubnets({ vpcCidr: "10.0.0.0/16", zones: 2, subnets });
    expect(bad({ ...ok, public: ["10.0.0.0/24"] })).toThrow(
      "`subnets.public` must list one subnet per zone (2)",
    );
    expect(bad({ ...ok, public: ["10.0.0.0/24", "10.1.0.0/24"] })).toThrow(
      "`subnets.public[1]` lies outside the VPC 10.0.0.0/16",
    );
    expect(bad({ ...ok, public: ["10.0.0.0/24", "10.0.1.0/29"] })).toThrow(
      "`subnets.public[1]` must be at most /28",
    );
    expect(bad({ ...ok, private: ["10.0.0.0/20", "10.0.32.0/20"] })).toThrow(
      '`subnets.private[0]` overlaps `subnets.public[0]` (10.0.0.0/24), got "10.0.0.0/20"',
    );
  });
});

describe("planSubnets with an isolated tier", () => {
  it("adds isolated subnets after the others, leaving public and private where they were", () => {
    const without = planSubnets({ vpcCidr: "10.0.0.0/16", zones: 3 });
    const withIsolated = planSubnets({
      vpcCidr: "10.0.0.0/16",
      zones: 3,
      isolated: true,
      isolatedPrefix: 24,
    });
    expect(withIsolated.private).toEqual(without.private);
    expect(withIsolated.public).toEqual(without.public);
    expect(withIsolated.isolated).toEqual(["10.0.120.0/24", "10.0.121.0/24", "10.0.122.0/24"]);
    expect(without.isolated).toBeUndefined();
  });

  it("checks explicit isolated subnets, and asks for them when the tier is on", () => {
    const plan = planSubnets({
      vpcCidr: "10.0.0.0/16",
      zones: 1,
      isolated: true,
      subnets: { public: ["10.0.0.0/24"], private: ["10.0.1.0/24"], isolated: ["10.0.2.0/24"] },
    });
    expect(plan.isolated).toEqual(["10.0.2.0/24"]);
    expect(() =>
      planSubnets({
        vpcCidr: "10.0.0.0/16",
        zones: 1,
        isolated: true,
        subnets: { public: ["10.0.0.0/24"], private: ["10.0.1.0/24"] },
      }),
    ).toThrow("`subnets.isolated` must list the isolated subnets when `subnets` is given");
    expect(() =>
      planSubnets({
        vpcCidr: "10.0.0.0/16",
        zones: 1,
        subnets: { public: ["10.0.0.0/24"], private: ["10.0.1.0/24"], isolated: ["10.0.1.0/25"] },
      }),
    ).toThrow("`subnets.isolated[0]` overlaps `subnets.private[0]`");
    expect(() =>
      planSubnets({ vpcCidr: "10.0.0.0/16", zones: 1, isolated: true, isolatedPrefix: 29 }),
    ).toThrow("`isolatedSubnetPrefix` must be at most /28");
  });
});
