// Pure IPv4 CIDR arithmetic for planning VPC subnets. No Pulumi, no AWS: every
// function here is deterministic and unit-tested on its own.
import { DriftlessError } from "../errors.js";

/** An IPv4 block: the network address as an unsigned 32-bit integer and the prefix length. */
export interface Cidr {
  readonly base: number;
  readonly prefix: number;
}

/** A CIDR plan problem, with the field it concerns and the offending value. */
export class CidrError extends DriftlessError {
  override name = "CidrError";
  readonly field: string;
  readonly value: unknown;
  readonly reason: string;

  constructor(field: string, reason: string, value: unknown) {
    super(`\`${field}\` ${reason}, got ${JSON.stringify(value)}`);
    this.field = field;
    this.reason = reason;
    this.value = value;
  }
}

/** AWS reserves the first four and the last address of every subnet. */
export const AWS_RESERVED_ADDRESSES = 5;
/** Smallest VPC and subnet AWS allows. */
export const MIN_PREFIX = 28;
/** Largest VPC AWS allows. */
export const MAX_VPC_PREFIX = 16;

/** Why `text` is not a canonical IPv4 CIDR, or `undefined` when it is. */
export function cidrProblem(text: string): string | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text);
  if (match === null) return "must be an IPv4 CIDR like `10.0.0.0/16`";
  const octets = match.slice(1, 5);
  if (octets.some((o) => Number(o) > 255 || (o.length > 1 && o.startsWith("0")))) {
    return "has an octet outside 0-255 or with a leading zero";
  }
  const prefix = Number(match[5]);
  if (prefix > 32) return "has a prefix longer than 32";
  const base = octets.reduce((acc, o) => acc * 256 + Number(o), 0);
  const aligned = alignDown(base, prefix);
  if (aligned !== base) return `has host bits set (the block is ${formatCidr({ base: aligned, prefix })})`;
  return undefined;
}

/** Parses a canonical IPv4 CIDR; throws {@link CidrError} naming `field` otherwise. */
export function parseCidr(text: string, field = "cidr"): Cidr {
  const problem = cidrProblem(text);
  if (problem !== undefined) throw new CidrError(field, problem, text);
  const [address = "", prefix = ""] = text.split("/");
  const base = address.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
  return { base, prefix: Number(prefix) };
}

export function formatCidr(c: Cidr): string {
  const octets = [24, 16, 8, 0].map((shift) => Math.floor(c.base / 2 ** shift) % 256);
  return `${octets.join(".")}/${c.prefix}`;
}

/** Number of addresses in a block. */
export function blockSize(prefix: number): number {
  return 2 ** (32 - prefix);
}

/** Addresses AWS lets you assign in a subnet of this prefix. */
export function usableAddresses(prefix: number): number {
  return Math.max(0, blockSize(prefix) - AWS_RESERVED_ADDRESSES);
}

function alignDown(address: number, prefix: number): number {
  const size = blockSize(prefix);
  return Math.floor(address / size) * size;
}

/** Whether `inner` lies entirely inside `outer`. */
export function contains(outer: Cidr, inner: Cidr): boolean {
  return inner.prefix >= outer.prefix && alignDown(inner.base, outer.prefix) === outer.base;
}

/** Whether two blocks share an address (for CIDR blocks: one contains the other). */
export function overlaps(a: Cidr, b: Cidr): boolean {
  return contains(a, b) || contains(b, a);
}

/** Indexes of the first two overlapping blocks, or `undefined`. */
export function findOverlap(blocks: readonly Cidr[]): [number, number] | undefined {
  for (let i = 0; i < blocks.length; i++) {
    for (let j = i + 1; j < blocks.length; j++) {
      if (overlaps(blocks[i] as Cidr, blocks[j] as Cidr)) return [i, j];
    }
  }
  return undefined;
}

/**
 * Carves blocks of the given prefix lengths out of `parent`, largest first so
 * every block stays aligned without gaps, and returns them in the order asked.
 * Throws {@link CidrError} when they do not fit.
 */
export function allocate(parent: Cidr, prefixes: readonly number[], field = "cidrBlock"): Cidr[] {
  const order = prefixes
    .map((prefix, index) => ({ prefix, index }))
    .sort((a, b) => a.prefix - b.prefix || a.index - b.index);
  const result: Cidr[] = new Array(prefixes.length);
  let next = parent.base;
  const end = parent.base + blockSize(parent.prefix);
  for (const { prefix, index } of order) {
    if (prefix < parent.prefix) {
      throw new CidrError(
        field,
        `cannot hold a /${prefix} subnet (larger than the block itself)`,
        formatCidr(parent),
      );
    }
    const size = blockSize(prefix);
    const base = Math.ceil(next / size) * size;
    if (base + size > end) {
      const needed = prefixes.reduce((sum, p) => sum + blockSize(p), 0);
      throw new CidrError(
        field,
        `is too small for the subnets: they need ${needed} addresses, the block has ${blockSize(parent.prefix)}`,
        formatCidr(parent),
      );
    }
    result[index] = { base, prefix };
    next = base + size;
  }
  return result;
}

/** Inputs of {@link planSubnets}. */
export interface SubnetPlanOptions {
  /** The VPC's block, `/16` to `/28`. */
  readonly vpcCidr: string;
  /** Number of availability zones: one public and one private subnet in each. */
  readonly zones: number;
  /**
   * Prefix length of each private subnet.
   * @default - half of the VPC split evenly across the zones
   */
  readonly privatePrefix?: number;
  /**
   * Prefix length of each public subnet.
   * @default - a quarter of the private subnet size
   */
  readonly publicPrefix?: number;
  /**
   * Also plan an isolated subnet per zone (no route to the internet), e.g. for databases.
   * @default false
   */
  readonly isolated?: boolean;
  /**
   * Prefix length of each isolated subnet.
   * @default - the public subnet size
   */
  readonly isolatedPrefix?: number;
  /** Explicit subnets instead of computed ones; they are only validated. */
  readonly subnets?: {
    readonly public: readonly string[];
    readonly private: readonly string[];
    readonly isolated?: readonly string[];
  };
}

/** One public and one private (and, when asked for, one isolated) subnet per zone, in zone order. */
export interface SubnetPlan {
  readonly vpc: string;
  readonly public: readonly string[];
  readonly private: readonly string[];
  /** Present only when isolated subnets were asked for. */
  readonly isolated?: readonly string[];
}

/**
 * Computes (or, with `subnets`, checks) the subnet plan of a VPC: every subnet
 * inside the VPC, none overlapping, each between the VPC size and `/28` so it
 * has at least 11 usable addresses. Throws {@link CidrError} naming the field.
 */
export function planSubnets(o: SubnetPlanOptions): SubnetPlan {
  const vpc = parseCidr(o.vpcCidr, "cidrBlock");
  if (vpc.prefix < MAX_VPC_PREFIX || vpc.prefix > MIN_PREFIX) {
    throw new CidrError("cidrBlock", `must be between /${MAX_VPC_PREFIX} and /${MIN_PREFIX}`, o.vpcCidr);
  }
  if (!Number.isInteger(o.zones) || o.zones < 1)
    throw new CidrError("availabilityZones", "must name at least one zone", o.zones);

  if (o.subnets !== undefined) {
    if (o.isolated && o.subnets.isolated === undefined)
      throw new CidrError(
        "subnets.isolated",
        "must list the isolated subnets when `subnets` is given",
        undefined,
      );
    return checkExplicit(vpc, o.zones, o.subnets);
  }

  const privatePrefix = o.privatePrefix ?? vpc.prefix + Math.ceil(Math.log2(o.zones)) + 1;
  const publicPrefix = o.publicPrefix ?? privatePrefix + 2;
  const isolatedPrefix = o.isolatedPrefix ?? publicPrefix;
  for (const [field, prefix] of [
    ["privateSubnetPrefix", privatePrefix],
    ["publicSubnetPrefix", publicPrefix],
    ...(o.isolated ? ([["isolatedSubnetPrefix", isolatedPrefix]] as const) : []),
  ] as const) {
    if (!Number.isInteger(prefix) || prefix > MIN_PREFIX) {
      throw new CidrError(
        field,
        `must be at most /${MIN_PREFIX} (${usableAddresses(MIN_PREFIX)} usable addresses); widen \`cidrBlock\` or use fewer zones`,
        prefix,
      );
    }
    if (prefix <= vpc.prefix)
      throw new CidrError(field, `must be longer than the VPC prefix /${vpc.prefix}`, prefix);
  }
  // Isolated subnets come last, so asking for them never moves the others.
  const blocks = allocate(vpc, [
    ...Array.from({ length: o.zones }, () => privatePrefix),
    ...Array.from({ length: o.zones }, () => publicPrefix),
    ...(o.isolated ? Array.from({ length: o.zones }, () => isolatedPrefix) : []),
  ]);
  return {
    vpc: formatCidr(vpc),
    private: blocks.slice(0, o.zones).map(formatCidr),
    public: blocks.slice(o.zones, 2 * o.zones).map(formatCidr),
    ...(o.isolated ? { isolated: blocks.slice(2 * o.zones).map(formatCidr) } : {}),
  };
}

function checkExplicit(
  vpc: Cidr,
  zones: number,
  subnets: NonNullable<SubnetPlanOptions["subnets"]>,
): SubnetPlan {
  const all: { field: string; text: string; block: Cidr }[] = [];
  const kinds =
    subnets.isolated === undefined
      ? (["public", "private"] as const)
      : (["public", "private", "isolated"] as const);
  for (const kind of kinds) {
    const list = subnets[kind] ?? [];
    if (list.length !== zones) {
      throw new CidrError(`subnets.${kind}`, `must list one subnet per zone (${zones})`, list);
    }
    list.forEach((text, i) => {
      const field = `subnets.${kind}[${i}]`;
      const block = parseCidr(text, field);
      if (!contains(vpc, block)) throw new CidrError(field, `lies outside the VPC ${formatCidr(vpc)}`, text);
      if (block.prefix > MIN_PREFIX) throw new CidrError(field, `must be at most /${MIN_PREFIX}`, text);
      all.push({ field, text, block });
    });
  }
  const clash = findOverlap(all.map((s) => s.block));
  if (clash !== undefined) {
    const [a, b] = clash.map((i) => all[i]) as [(typeof all)[number], (typeof all)[number]];
    throw new CidrError(b.field, `overlaps \`${a.field}\` (${a.text})`, b.text);
  }
  return {
    vpc: formatCidr(vpc),
    public: [...subnets.public],
    private: [...subnets.private],
    ...(subnets.isolated === undefined ? {} : { isolated: [...subnets.isolated] }),
  };
}
