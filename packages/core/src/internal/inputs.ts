import * as pulumi from "@pulumi/pulumi";

/** An Output or a Promise: a value not known at declaration time. */
export function isDeferred(value: unknown): boolean {
  return pulumi.Output.isInstance(value) || value instanceof Promise;
}

/**
 * True when `value` is known at declaration time, i.e. neither an Output nor a
 * Promise. Validation only judges known values; the provider checks the rest.
 */
export function isKnown<T>(value: pulumi.Input<T> | undefined): value is T {
  return !isDeferred(value);
}

/** A plain object (not an array, null, Output or Promise). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !isDeferred(value);
}
