/**
 * The two documents that restate the config schema, derived from config/schema.ts: the
 * `config:` block of `Pulumi.yaml` (typed scalars; Pulumi's project schema has no object
 * type) and the configuration reference, docs/configuration.md. `npm run docs:config` writes both;
 * config/schema.test.ts fails when either drifts from the schema.
 */
import { Document, parseDocument } from "yaml";
import { z } from "zod";
import { valueType } from "./fields";
import { KEY_DOCS, STACK_CONFIG } from "./schema";

/** The document that holds the reference, from the repository root. */
export const REFERENCE_DOC = "docs/configuration.md";

export const REFERENCE_MARKERS = {
  start: "<!-- config-reference:start (generated from config/schema.ts by `npm run docs:config`) -->",
  end: "<!-- config-reference:end -->",
} as const;

/** One key as the documents show it. */
export interface KeySpec {
  key: string;
  /** Type names as docs/configuration.md shows them. */
  type: string;
  /** The plain default, when the key has one. */
  default?: unknown;
  defaultText: string;
  description: string;
  /** The fields of an object, or of a list's objects. */
  fields?: KeySpec[];
}

/** The keys of an object schema, in declaration order, as the documents show them. */
export function keySpecs(schema: z.ZodType = STACK_CONFIG): KeySpec[] {
  const object = valueType(schema);
  if (!(object instanceof z.ZodObject)) throw new Error("the config schema is not an object");
  return Object.entries(object.shape as Record<string, z.ZodType>).map(([key, field]) => {
    const doc = KEY_DOCS.get(field);
    if (!doc) throw new Error(`config key ${key} has no description (declare it with key(...) in config/schema.ts)`);
    const value = valueType(field);
    const element = value instanceof z.ZodArray ? (value.element as z.ZodType) : undefined;
    const item = valueType(element);
    const fields =
      value instanceof z.ZodObject
        ? keySpecs(field)
        : element && item instanceof z.ZodObject
          ? keySpecs(element)
          : undefined;
    const type = doc.docType ?? typeName(value, item);
    const plain = field instanceof z.ZodDefault ? (field.def.defaultValue as unknown) : undefined;
    const required = !(
      field instanceof z.ZodDefault ||
      field instanceof z.ZodPrefault ||
      field.safeParse(undefined).success
    );
    const text = typeof doc.defaultText === "function" ? doc.defaultText() : doc.defaultText;
    const defaultText =
      text ??
      (plain !== undefined
        ? `\`${JSON.stringify(plain)}\``.replace(/`"(.*)"`/, "`$1`")
        : required
          ? "**required**"
          : "unset");
    return {
      key,
      type,
      ...(plain !== undefined ? { default: plain } : {}),
      defaultText,
      description: doc.description,
      fields,
    };
  });
}

function typeName(value: z.ZodType | undefined, item: z.ZodType | undefined): string {
  if (value instanceof z.ZodArray) return item instanceof z.ZodObject ? "object[]" : `${typeName(item, undefined)}[]`;
  if (value instanceof z.ZodObject) return "object";
  if (value instanceof z.ZodNumber) return "integer";
  if (value instanceof z.ZodBoolean) return "boolean";
  return "string";
}

/** A key's entry in Pulumi.yaml's `config:` block, or undefined for the structured keys. */
export function pulumiYamlEntry(spec: KeySpec): Record<string, unknown> | undefined {
  const types: Partial<Record<string, Record<string, unknown>>> = {
    string: { type: "string" },
    CIDR: { type: "string" },
    boolean: { type: "boolean" },
    integer: { type: "integer" },
    "string[]": { type: "array", items: { type: "string" } },
  };
  const type = types[spec.type];
  if (!type) return undefined;
  const entry: Record<string, unknown> = { ...type, description: spec.description };
  if (spec.default !== undefined) entry.default = spec.default;
  return entry;
}

function table(rows: readonly KeySpec[], keyOf: (k: KeySpec) => string): string {
  const lines = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"];
  for (const row of rows) lines.push(`| ${keyOf(row)} | ${row.type} | ${row.defaultText} | ${row.description} |`);
  return lines.join("\n");
}

/** The configuration reference (between the `config-reference` markers of docs/configuration.md), before prettier: the top-level keys, then each object's fields. */
export function renderConfigReference(): string {
  const keys = keySpecs();
  const sections = [table(keys, (k) => `\`${k.key}\``)];
  for (const parent of keys.filter((k) => k.fields)) {
    const path = parent.type === "object[]" ? `${parent.key}[i]` : parent.key;
    sections.push(
      `\`${path}\` fields:`,
      table(parent.fields!, (k) => `\`${path}.${k.key}\``),
    );
  }
  return sections.join("\n\n");
}

/** Pulumi.yaml with its `config:` block replaced by the schema's, comments elsewhere kept. */
export function withSchemaConfigBlock(pulumiYaml: string): string {
  const doc = parseDocument(pulumiYaml);
  const block: Record<string, unknown> = {};
  for (const spec of keySpecs()) {
    const entry = pulumiYamlEntry(spec);
    if (entry) block[spec.key] = entry;
  }
  const node = new Document(block).contents;
  const existing = doc.get("config", true) as { commentBefore?: string | null } | undefined;
  if (node && existing?.commentBefore)
    (node as { commentBefore?: string | null }).commentBefore = existing.commentBefore;
  doc.set("config", node);
  return doc.toString({ lineWidth: 0 });
}

/** The reference document with the generated tables between the markers (unformatted; prettier formats tables). */
export function withConfigReference(doc: string): string {
  const start = doc.indexOf(REFERENCE_MARKERS.start);
  const end = doc.indexOf(REFERENCE_MARKERS.end);
  if (start < 0 || end < start) throw new Error(`${REFERENCE_DOC} lacks the config-reference markers`);
  return `${doc.slice(0, start + REFERENCE_MARKERS.start.length)}\n\n${renderConfigReference()}\n\n${doc.slice(end)}`;
}
