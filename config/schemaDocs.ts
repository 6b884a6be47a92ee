/**
 * The two documents that restate the config schema, derived from config/schema.ts: the
 * `config:` block of `Pulumi.yaml` (typed scalars; Pulumi's project schema has no object
 * type) and the configuration reference, docs/configuration.md. `npm run docs:config` writes both;
 * config/schema.test.ts fails when either drifts from the schema.
 */
import { Document, parseDocument } from "yaml";
import { STACK_CONFIG_SCHEMA, renderConfigReference, type KeySchema } from "./schema";

/** The document that holds the reference, from the repository root. */
export const REFERENCE_DOC = "docs/configuration.md";

export const REFERENCE_MARKERS = {
  start: "<!-- config-reference:start (generated from config/schema.ts by `npm run docs:config`) -->",
  end: "<!-- config-reference:end -->",
} as const;

/** A key's entry in Pulumi.yaml's `config:` block, or undefined for the structured keys. */
export function pulumiYamlEntry(spec: KeySchema): Record<string, unknown> | undefined {
  const types: Partial<Record<KeySchema["type"], Record<string, unknown>>> = {
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

/** Pulumi.yaml with its `config:` block replaced by the schema's, comments elsewhere kept. */
export function withSchemaConfigBlock(pulumiYaml: string): string {
  const doc = parseDocument(pulumiYaml);
  const block: Record<string, unknown> = {};
  for (const spec of STACK_CONFIG_SCHEMA) {
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
