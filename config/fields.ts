/**
 * The field types the config schema (schema.ts) is declared with: zod types that read the
 * values Pulumi hands over (strings from `config.get`, parsed JSON from `config.getObject`:
 * "52435" and 52435, "true" and true, '["a"]' and ["a"]), and the checks every value of a
 * kind gets, whatever its key. An issue raised here names no key: its fix speaks of
 * `THIS_KEY`, which becomes the key's path once parse.ts knows where the value sat.
 */
import { z } from "zod";
import { TEMPLATE as p, THIS_KEY, type ConfigIssue } from "./errors";

/** What a field's own check reports; parse.ts adds the key. */
export type FieldProblem = Omit<ConfigIssue, "key">;

/** Longest string accepted for any key but sshPublicKeys (addresses, names, zones, images are far shorter). */
export const MAX_STRING_LENGTH = 255;
/** Most entries of any list key (adminCidrs, sshPublicKeys, dnsServers, fixedHosts, remoteSites). */
export const MAX_LIST_LENGTH = 64;

/**
 * The examples' placeholders (`<your public IPv4>/32`): no value of any key holds angle
 * brackets, so a copied example that was not filled in is named as such.
 */
export const PLACEHOLDER = /<[^<>]*>/;

/**
 * Characters that must never reach a host's configuration: C0 and C1 controls (line breaks,
 * NUL, escape), DEL, Unicode line/paragraph separators (YAML and JS treat them as breaks),
 * and invisible formatting/bidi controls that make a value read differently than it is.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
export const UNSAFE_CHARACTER = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/;

/** Why a config string cannot reach a host as is, or undefined. Never includes the value. */
export function textProblem(value: string, maxLength = MAX_STRING_LENGTH): string | undefined {
  const at = value.search(UNSAFE_CHARACTER);
  if (at >= 0) {
    const code = value.charCodeAt(at);
    const what =
      code === 0x0a || code === 0x0d || code === 0x2028 || code === 0x2029 || code === 0x85
        ? "a line break"
        : code >= 0x200b
          ? `an invisible formatting character (U+${code.toString(16).toUpperCase().padStart(4, "0")})`
          : `a control character (U+${code.toString(16).toUpperCase().padStart(4, "0")})`;
    return `contains ${what} at position ${at + 1}; values are written into host configuration, where that could add lines the stack never meant.`;
  }
  if (value.length > maxLength) return `is ${value.length} characters long; at most ${maxLength} are accepted here.`;
  return undefined;
}

/**
 * Every string here ends up on a host (cloud-config, wg0.conf, nft rules, dnsmasq.conf,
 * shell scripts) or in a resource name, so one rule for all of them: a single line of
 * printable text of bounded size. The value is not echoed: it may be half a secret.
 */
function textIssue(value: string): FieldProblem | undefined {
  const placeholder = PLACEHOLDER.exec(value);
  if (placeholder) {
    return {
      problem: `still holds the placeholder ${placeholder[0]} from an example.`,
      fix: `put the real value in its place: ${p.run(THIS_KEY, "<value>")}`,
    };
  }
  const problem = textProblem(value);
  if (!problem) return undefined;
  const firstLine = value.split(UNSAFE_CHARACTER)[0].trim().slice(0, MAX_STRING_LENGTH);
  const example = firstLine && /^[A-Za-z0-9./:_-]+$/.test(firstLine) ? firstLine : undefined;
  return {
    problem,
    fix: `retype it as one plain line${example ? `, e.g. ${p.run(THIS_KEY, example)}` : `: ${p.run(THIS_KEY, "<value>")}`}`,
  };
}

/** Raises a field's own problem as a zod issue that parse.ts turns back into a ConfigIssue. */
export function raise(ctx: z.core.$RefinementCtx, found: FieldProblem, path: string[] = []): void {
  const params: FieldProblem = { problem: found.problem, fix: found.fix };
  ctx.addIssue({ code: "custom", message: found.problem, params, path, continue: true });
}

/** A string, held to the one-line rule. */
export function text() {
  return z.string().superRefine(textCheck);
}

function textCheck(value: string, ctx: z.core.$RefinementCtx): void {
  const found = textIssue(value);
  if (found) raise(ctx, found);
}

/** One of a set of strings (a const object, the enum shape Pulumi's schema inference accepts), held to the one-line rule too. */
export function choice<const T extends Readonly<Record<string, string>>>(values: T) {
  return z.enum(values).superRefine((value, ctx) => textCheck(value, ctx), {
    when: (payload) => typeof payload.value === "string",
  });
}

/** A string that may be left "" for "not set": `pulumi config set` cannot store a true absence inside an object. */
export function optionalText() {
  return text()
    .transform((value) => (value.trim() === "" ? undefined : value))
    .optional();
}

/** A required string, where "" counts as missing (what an unset shell variable leaves). */
export function requiredText() {
  return z.preprocess((value: unknown) => (value === "" ? undefined : value), text());
}

/** A key whose presence switches the deploy's shape, for `shapeSwitch`. */
export interface ShapeSwitch {
  /** What the deploy does without the key, as a verb phrase after "would". */
  whenEmpty: string;
  example: string;
}

/**
 * An optional string whose presence switches the deploy's shape (join a network instead of
 * creating one; a fixed far end instead of a dynamic one). Empty is refused rather than read
 * as unset: it is what `pulumi config set ... "$VAR"` stores when VAR is not set.
 */
export function shapeSwitch(shape: ShapeSwitch) {
  return text()
    .superRefine((value, ctx) => {
      if (value.trim() !== "") return;
      raise(ctx, {
        problem: `is empty (set from an unset shell variable?); left empty it would ${shape.whenEmpty}.`,
        fix: `${p.run(THIS_KEY, shape.example)}, or ${p.remove(THIS_KEY)} if that is what you meant`,
      });
    })
    .optional();
}

/** A number, or a string that spells one ("52435", "1.5"); whether it is an integer in range is the rules' job. */
export function number() {
  return z.preprocess(
    (value: unknown) =>
      typeof value === "string" && /^-?\d+(\.\d+)?$/.test(value.trim()) ? Number(value.trim()) : value,
    z.number(),
  );
}

export function flag() {
  return z.preprocess((value: unknown) => (value === "true" ? true : value === "false" ? false : value), z.boolean());
}

/** Parsed JSON text, or the text itself when it is not JSON (the type check then names the text). */
export function fromJsonText(value: unknown): unknown {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/** A list, given as an array or as its JSON text, of at most MAX_LIST_LENGTH items. */
export function list<T extends z.ZodType>(
  item: T,
  tooLong: (count: number) => FieldProblem = (count) => ({
    problem: `lists ${count} entries; at most ${MAX_LIST_LENGTH} are accepted (each becomes host configuration or a firewall rule).`,
    fix: `keep the ones you need: ${p.remove(`${THIS_KEY}[${MAX_LIST_LENGTH}]`)} (and the entries after it)`,
  }),
) {
  return z.preprocess(
    (value: unknown) => {
      const given = fromJsonText(value);
      return Array.isArray(given) ? given : value;
    },
    z.array(item).superRefine(
      (items, ctx) => {
        if (items.length > MAX_LIST_LENGTH) raise(ctx, tooLong(items.length));
      },
      { when: (payload) => Array.isArray(payload.value) },
    ),
  );
}

/**
 * An object with exactly these fields, given as an object or as its JSON text; a known field
 * set to null counts as absent (an unknown one is named, whatever its value). `across` checks
 * fields against each other; it sees them read but before defaults, and runs even when some
 * failed (a failed field holds the value as given), so its issues come with theirs.
 */
export function record<S extends z.ZodRawShape>(
  shape: S,
  across?: (fields: Record<string, unknown>) => (FieldProblem & { field: string })[],
) {
  const object = z.preprocess((value: unknown) => {
    const given = fromJsonText(value);
    if (typeof given !== "object" || given === null || Array.isArray(given)) return value;
    return Object.fromEntries(
      Object.entries(given).filter(([k, v]) => !(k in shape) || (v !== null && v !== undefined)),
    );
  }, z.strictObject(shape));
  if (!across) return object;
  return object.superRefine(
    (fields, ctx) => {
      for (const found of across(fields)) raise(ctx, found, [found.field]);
    },
    { when: (payload) => typeof payload.value === "object" && payload.value !== null && !Array.isArray(payload.value) },
  );
}

/** `T` with every field that may be undefined made optional instead. */
export type Compact<T> = {
  [K in keyof T as undefined extends T[K] ? never : K]: T[K];
} & {
  [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined>;
} extends infer U
  ? { [K in keyof U]: U[K] }
  : never;

/** The object without its undefined-valued fields: optional fields stay absent, so objects compare and print cleanly. */
export function compact<T extends object>(value: T): Compact<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Compact<T>;
}

/** The schema under defaults, optionals and pipes: the object, array or value type that reads the value. */
export function valueType(schema: z.ZodType | undefined): z.ZodType | undefined {
  let at = schema;
  for (let i = 0; i < 16 && at; i++) {
    if (at instanceof z.ZodDefault || at instanceof z.ZodPrefault || at instanceof z.ZodOptional)
      at = at.def.innerType as z.ZodType;
    else if (at instanceof z.ZodPipe) at = (at.def.out instanceof z.ZodTransform ? at.def.in : at.def.out) as z.ZodType;
    else return at;
  }
  return at;
}
