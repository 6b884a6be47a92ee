/**
 * Raw stack config → typed `StackConfig` with defaults, by the schema (schema.ts). Pure: no
 * Pulumi calls here, so the whole thing is testable and runs before any resource is declared.
 *
 * The schema library finds what is wrong with the shapes and types; this module words each
 * of its findings the project's way: the key as typed for `pulumi config set --path`, the
 * problem, and a fix (written as TEMPLATE markers, phrased for the stack or for a
 * component's caller when shown). The rules between values live in config/rules/.
 */
import { z } from "zod";
import { CONFIG_PHRASING, ConfigError, TEMPLATE as p, type ConfigIssue, type Phrasing } from "./errors";
import { fromJsonText, valueType, type FieldProblem } from "./fields";
import { KEY_DOCS, STACK_CONFIG, type ExampleContext, type KeyDoc, type StackConfig } from "./schema";

/** Turns raw config into a StackConfig; throws ConfigError listing every shape/type problem. */
export function parseStackConfig(raw: Record<string, unknown>, phrasing: Phrasing = CONFIG_PHRASING): StackConfig {
  const parsed = readStackConfig(raw);
  if ("issues" in parsed) throw new ConfigError(parsed.issues, phrasing);
  return parsed.config;
}

/** The config, or every issue the schema finds in it (fixes as TEMPLATE markers). */
export function readStackConfig(raw: Record<string, unknown>): { config: StackConfig } | { issues: ConfigIssue[] } {
  const result = STACK_CONFIG.safeParse(raw, { reportInput: true });
  if (result.success) return { config: result.data };
  return { issues: result.error.issues.flatMap((found) => configIssues(found, raw)) };
}

type Path = readonly PropertyKey[];

/** `remoteSites[0].subnet`, as typed for `pulumi config set --path`. */
function keyOf(path: Path): string {
  return path
    .map((part, i) => (typeof part === "number" ? `[${part}]` : i === 0 ? String(part) : `.${String(part)}`))
    .join("");
}

/** One of zod's issues as the project's issues (an unknown-keys issue names each key). */
function configIssues(found: z.core.$ZodIssue, raw: Record<string, unknown>): ConfigIssue[] {
  const key = keyOf(found.path);
  const at = new Place(found.path, raw);
  const input: unknown = "input" in found ? found.input : undefined;
  switch (found.code) {
    case "custom": {
      const { problem, fix } = found.params as FieldProblem;
      return [{ key, problem, fix }];
    }
    case "unrecognized_keys": {
      const known = Object.keys(at.objectShape() ?? {});
      return found.keys.map((name) => unknownKey(keyOf([...found.path, name]), name, known));
    }
    case "invalid_value": {
      if (typeof input !== "string") return [wrongType(key, input, "a string", JSON.stringify(plainText(input)))];
      const allowed = found.values.map(String);
      return [
        {
          key,
          problem: `${JSON.stringify(input)} is not one of ${allowed.join(", ")}.`,
          fix: p.run(key, closest(input, allowed) ?? allowed[0]),
        },
      ];
    }
    case "invalid_type": {
      if (input === undefined) {
        return [
          {
            key,
            problem: `is required ${at.requiredFor()} and is missing.`,
            fix: p.run(key, at.example() ?? "<value>"),
          },
        ];
      }
      switch (found.expected) {
        case "number":
          return [wrongType(key, input, "a number", at.example() ?? "<number>")];
        case "boolean":
          return [wrongType(key, input, "true or false", "true")];
        case "array":
          return [
            {
              key,
              problem: `must be a list, got ${describe(input)}.`,
              fix: `set list items by index, e.g. ${p.set(`${key}[0]`, at.example() ?? "...")}`,
            },
          ];
        case "object":
          return [
            {
              key,
              problem: `must be an object with named fields, got ${describe(input)}.`,
              fix: `set its fields one by one, e.g. ${p.set(`${key}.name`, "site1")}`,
            },
          ];
        default:
          // A list's items take the list's example; other strings their own value, as text.
          return [wrongType(key, input, `a ${found.expected}`, at.listExample() ?? JSON.stringify(plainText(input)))];
      }
    }
    default:
      return [{ key, problem: `${found.message}.`, fix: p.run(key, at.example() ?? "<value>") }];
  }
}

function wrongType(key: string, value: unknown, expected: string, example: string | number | boolean): ConfigIssue {
  return { key, problem: `must be ${expected}, got ${describe(value)}.`, fix: p.run(key, example) };
}

function unknownKey(fullKey: string, name: string, known: readonly string[]): ConfigIssue {
  const guess = closest(name, known);
  const parent = fullKey.slice(0, fullKey.length - name.length);
  return {
    key: fullKey,
    problem: `is not a known key${guess ? `; did you mean \`${guess}\`?` : ` (known: ${known.join(", ")}).`}`,
    fix: guess
      ? `${p.runRemove(fullKey)} and set \`${parent}${guess}\` instead`
      : `${p.runRemove(fullKey)}; the keys here are ${known.join(", ")}`,
  };
}

/** Where an issue sits: the schema's declaration there, and the config as given around it. */
class Place {
  constructor(
    readonly path: Path,
    readonly raw: Record<string, unknown>,
  ) {}

  /** The declared schema at `depth` steps down the path (all of it by default). */
  schema(depth = this.path.length): z.ZodType | undefined {
    let at: z.ZodType | undefined = STACK_CONFIG;
    for (const part of this.path.slice(0, depth)) {
      const inner = valueType(at);
      if (inner instanceof z.ZodObject) at = (inner.shape as Record<string, z.ZodType>)[String(part)];
      else if (inner instanceof z.ZodArray) at = inner.element as z.ZodType;
      else return undefined;
    }
    return at;
  }

  /** The fields of the object the issue is about. */
  objectShape(): Record<string, unknown> | undefined {
    const inner = valueType(this.schema());
    return inner instanceof z.ZodObject ? inner.shape : undefined;
  }

  doc(depth = this.path.length): KeyDoc | undefined {
    const schema = this.schema(depth);
    return schema && KEY_DOCS.get(schema);
  }

  /** "for every remote site", from the nearest list that says what its items are. */
  requiredFor(): string {
    for (let depth = this.path.length - 1; depth > 0; depth--) {
      const item = this.doc(depth)?.item;
      if (item) return `for every ${item}`;
    }
    return "here";
  }

  example(): string | number | boolean | undefined {
    const doc = this.doc();
    if (typeof doc?.example === "function") return doc.example(this.context());
    if (doc?.example !== undefined) return doc.example;
    const schema = this.schema();
    return schema instanceof z.ZodDefault ? (schema.def.defaultValue as string | number | boolean) : undefined;
  }

  /** For an item of a list, the list's example. */
  listExample(): string | number | boolean | undefined {
    if (typeof this.path[this.path.length - 1] !== "number") return undefined;
    return new Place(this.path.slice(0, -1), this.raw).example();
  }

  private context(): ExampleContext {
    const index = [...this.path].reverse().find((part): part is number => typeof part === "number") ?? 0;
    const given = this.given(this.path.length - 1);
    return { index, given: isRecord(given) ? given : {}, root: this.raw };
  }

  /** The value as given at `depth` steps down the path (JSON text read as what it spells). */
  private given(depth: number): unknown {
    let at: unknown = this.raw;
    for (const part of this.path.slice(0, depth)) {
      at = fromJsonText(at);
      at = isRecord(at) || Array.isArray(at) ? (at as Record<PropertyKey, unknown>)[part] : undefined;
    }
    return fromJsonText(at);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  const kind = Array.isArray(value) ? "list" : value === null ? "null" : typeof value;
  let text: string;
  try {
    text = JSON.stringify(value) ?? plainText(value);
  } catch {
    text = plainText(value);
  }
  return `${kind} ${text.length > 40 ? `${text.slice(0, 37)}...` : text}`;
}

/** The known name nearest to a typo, if it is close enough to be a plausible intent. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance =
      candidate.toLowerCase() === word.toLowerCase() ? 0 : editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const tolerance = Math.max(2, Math.floor(word.length / 3));
  return bestDistance <= tolerance ? best : undefined;
}

/** Levenshtein distance (insert, delete, substitute). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/** String(value), except for objects whose toString is not callable (fuzzed JSON input). */
function plainText(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
