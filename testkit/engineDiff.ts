/**
 * A model of the engine's documented diff rules for one resource, applied to the options the
 * program really sends (captured from the mock monitor) and to provider-shaped state:
 * ignoreChanges keeps the old value at that path; replaceOnChanges makes a change at, under
 * or above the path a replacement. The real engine/provider diff needs a Scaleway account.
 */
export type Options = { replaceOnChanges: readonly string[]; ignoreChanges: readonly string[] };

/** `userData["cloud-init"]` / `userData.x` / `a[0]` -> path segments. */
function segments(propertyPath: string): string[] {
  return [...propertyPath.matchAll(/([^.[\]"]+)|\["([^"]+)"\]|\[(\d+)\]/g)].map((m) => m[2] ?? m[3] ?? m[1]);
}

/** Paths (as segment lists) where two plain-JSON values differ. */
function changedPaths(a: unknown, b: unknown, at: string[] = []): string[][] {
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  if (a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) => changedPaths((a as any)[k], (b as any)[k], [...at, k]));
  }
  return [at];
}

function setAt(obj: any, segs: string[], value: unknown): void {
  let at = obj;
  for (const s of segs.slice(0, -1)) at = at[s] ??= {};
  if (value === undefined) delete at[segs[segs.length - 1]];
  else at[segs[segs.length - 1]] = value;
}
const getAt = (obj: any, segs: string[]) => segs.reduce((o, s) => (o == null ? undefined : o[s]), obj);
const prefixOf = (a: string[], b: string[]) => a.length <= b.length && a.every((s, i) => s === b[i]);

/** The engine's decision for one resource: "same", "update" or "replace". */
export function plannedAction(oldState: Record<string, unknown>, newInputs: Record<string, unknown>, opts: Options) {
  const inputs = JSON.parse(JSON.stringify(newInputs));
  for (const p of opts.ignoreChanges) setAt(inputs, segments(p), getAt(oldState, segments(p)));
  const changed = changedPaths(oldState, inputs);
  if (changed.length === 0) return "same";
  const replaceOn = opts.replaceOnChanges.map(segments);
  return changed.some((c) => replaceOn.some((r) => prefixOf(r, c) || prefixOf(c, r))) ? "replace" : "update";
}
