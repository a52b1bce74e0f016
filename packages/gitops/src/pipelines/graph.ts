// The ordering graph of targets: validation (unknown names, cycles) and dependents-first order.
import { combineSpecErrors, SpecError } from "../errors.js";

/** Dependencies by target name: `name → names it depends on`. */
export type DependencyGraph = ReadonlyMap<string, readonly string[]>;

/**
 * Checks that every `dependsOn` entry names a known target and that the graph
 * has no cycle.
 * @throws SpecError naming the unknown target, or the cycle as
 *   `dependsOn cycle: network → database → app → network`.
 */
export function validateGraph(graph: DependencyGraph): void {
  const [first, ...more] = graphErrors(graph);
  if (first) throw combineSpecErrors([first, ...more]);
}

/**
 * Every problem of the graph, one error per target with unknown names; a
 * cycle only when every name is known.
 * @param names - names of targets that exist but are left out of `graph`
 *   (their specs are invalid): naming them is not an unknown name
 */
export function graphErrors(graph: DependencyGraph, names: readonly string[] = []): SpecError[] {
  const exists = (name: string) => graph.has(name) || names.includes(name);
  const errors: SpecError[] = [];
  for (const [name, deps] of graph) {
    const unknown = deps.flatMap((dep, i) => (exists(dep) ? [] : [{ dep, i }]));
    if (unknown.length > 0) {
      const known = [...new Set([...graph.keys(), ...names])].sort().join(", ");
      errors.push(
        new SpecError(
          `target "${name}"`,
          unknown.map(({ dep, i }) => ({
            path: `dependsOn[${i}]`,
            message: `names an unknown target (known: ${known}), got ${JSON.stringify(dep)}`,
          })),
        ),
      );
    }
  }
  if (errors.length > 0 || names.length > 0) return errors;
  const cycle = findCycle(graph);
  return cycle
    ? [
        new SpecError(`target "${cycle[0]}"`, [
          { path: "", message: `dependsOn cycle: ${cycle.join(" → ")}` },
        ]),
      ]
    : [];
}

/**
 * The first cycle found, as a path that starts and ends with the same name and
 * follows dependency order (`a → b` means `b` must run before `a`, reported the
 * other way round so it reads as "network feeds database feeds app").
 */
function findCycle(graph: DependencyGraph): string[] | undefined {
  const done = new Set<string>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const visit = (name: string): string[] | undefined => {
    if (onStack.has(name)) {
      const path = [...stack.slice(stack.indexOf(name)), name];
      // `stack` follows "depends on" edges; reverse so it reads as data flow.
      return path.reverse();
    }
    if (done.has(name)) return undefined;
    stack.push(name);
    onStack.add(name);
    for (const dep of graph.get(name) ?? []) {
      const found = visit(dep);
      if (found) return found;
    }
    stack.pop();
    onStack.delete(name);
    done.add(name);
    return undefined;
  };
  for (const name of [...graph.keys()].sort()) {
    const found = visit(name);
    if (found) return found;
  }
  return undefined;
}

/** Targets that name `name` in their `dependsOn`, sorted. */
export function dependentsOf(graph: DependencyGraph, name: string): string[] {
  return [...graph].flatMap(([n, deps]) => (deps.includes(name) ? [n] : [])).sort();
}

/**
 * `names` ordered so every target comes before the targets it depends on
 * (dependents first): the order to destroy them in. The graph must be acyclic.
 */
export function dependentsFirst(graph: DependencyGraph, names: readonly string[]): string[] {
  const wanted = new Set(names);
  const order: string[] = [];
  const seen = new Set<string>();
  // Post-order over "depends on" edges gives dependencies first; reversed, dependents first.
  const visit = (name: string): void => {
    if (seen.has(name)) return;
    seen.add(name);
    for (const dep of graph.get(name) ?? []) if (wanted.has(dep)) visit(dep);
    order.push(name);
  };
  for (const name of [...names].sort()) visit(name);
  return order.reverse();
}
