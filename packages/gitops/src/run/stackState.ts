/**
 * The stack's state as a run reads it: one read serves every use until the
 * run writes the state (a refresh, an `up`, a recovery): the digest a plan is
 * pinned to, the digest an approval holds, and the inventory after the run.
 * A check that the state did not move since (before an `up`) reads it afresh.
 */
import type { Engine, StackRequest, StackState, StateResource } from "../engine/types.js";

/** What of a run's context these read and keep (a `RunContext` is one). */
interface RunState {
  readonly rt: { readonly options: { readonly engine: Engine } };
  readonly request?: StackRequest;
  stateRead?: StackState;
}

/** Whether the engine can tell its state's digest (plans can be pinned to it). */
export function tellsStateVersion(engine: Engine): boolean {
  return engine.state !== undefined || engine.stateVersion !== undefined;
}

/**
 * The state's digest; `undefined` for an engine that cannot tell it.
 * @param fresh - read the state again even when the run read it since it last wrote it
 */
export async function stateVersion(ctx: RunState, fresh: boolean): Promise<string | undefined> {
  const { engine } = ctx.rt.options;
  const { state } = engine;
  if (!state) return engine.stateVersion?.(ctx.request!);
  return (!fresh && ctx.stateRead ? ctx.stateRead : await read(ctx, state.bind(engine))).version;
}

/** The state's resources, from the run's last read when nothing wrote the state since; `undefined` for an engine that keeps no inventory. */
export async function stateResources(ctx: RunState): Promise<readonly StateResource[] | undefined> {
  const { engine } = ctx.rt.options;
  const { state } = engine;
  if (!state) return engine.resources?.(ctx.request!);
  return (ctx.stateRead ?? (await read(ctx, state.bind(engine)))).resources;
}

/** Forgets the run's read: called before the run does anything that may write the state. */
export function stateWritten(ctx: RunState): void {
  ctx.stateRead = undefined;
}

async function read(ctx: RunState, state: NonNullable<Engine["state"]>): Promise<StackState> {
  ctx.stateRead = await state(ctx.request!);
  return ctx.stateRead;
}
