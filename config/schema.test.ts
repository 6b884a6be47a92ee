/** @tier unit */
/**
 * The schema is the one definition of the config keys: parsing uses its defaults, and
 * Pulumi.yaml and docs/configuration.md restate it. These tests fail when either document drifts.
 */
import { readFileSync } from "fs";
import { join } from "path";
import { spawnSync } from "child_process";
import { parse as parseYaml } from "yaml";
import { parseStackConfig } from "./parse";
import { PROVIDER_DEFAULT_ZONE, STACK_CONFIG_DEFAULTS } from "./schema";
import {
  REFERENCE_DOC,
  REFERENCE_MARKERS,
  keySpecs,
  pulumiYamlEntry,
  renderConfigReference,
  withConfigReference,
  withSchemaConfigBlock,
} from "./schemaDocs";

const root = join(__dirname, "..");
const read = (file: string) => readFileSync(join(root, file), "utf8");
/** Prettier as `npm run lint` runs it (its CLI: prettier 3's API needs ESM loading, which jest lacks). */
const formatMarkdown = (text: string) =>
  spawnSync(join(root, "node_modules", ".bin", "prettier"), ["--stdin-filepath", REFERENCE_DOC], {
    cwd: root,
    input: text,
    encoding: "utf8",
  }).stdout;

describe("Pulumi.yaml against the schema", () => {
  const declared = (parseYaml(read("Pulumi.yaml")) as { config: Record<string, unknown> }).config;

  it("declares every scalar key with the schema's type, default and description, and nothing else", () => {
    const expected = Object.fromEntries(
      keySpecs().flatMap((spec) => {
        const entry = pulumiYamlEntry(spec);
        return entry ? [[spec.key, entry]] : [];
      }),
    );
    expect(declared).toEqual(expected);
  });

  it("is what `npm run docs:config` would write (a drifted copy is caught)", () => {
    expect(withSchemaConfigBlock(read("Pulumi.yaml"))).toBe(read("Pulumi.yaml"));
    const drifted = read("Pulumi.yaml").replace("default: 52435", "default: 51820");
    expect(drifted).not.toBe(read("Pulumi.yaml"));
    expect(withSchemaConfigBlock(drifted)).toBe(read("Pulumi.yaml"));
  });
});

describe("the configuration reference (docs/configuration.md) against the schema", () => {
  it("is the generated table, byte for byte after formatting", () => {
    const reference = read(REFERENCE_DOC);
    expect(reference).toContain(REFERENCE_MARKERS.start);
    expect(formatMarkdown(withConfigReference(reference))).toBe(reference);
    const drifted = reference.replace("| `listenPort`", "| `listenPorts`");
    expect(drifted).not.toBe(reference);
    expect(formatMarkdown(withConfigReference(drifted))).not.toBe(drifted);
  });

  it("names every key and field of the schema", () => {
    const reference = renderConfigReference();
    const [hub, remote] = ["scalewaySite", "remoteSites"].map(
      (k) => keySpecs().find((spec) => spec.key === k)!.fields!,
    );
    for (const spec of keySpecs()) expect(reference).toContain(`\`${spec.key}\``);
    for (const spec of hub) expect(reference).toContain(`\`scalewaySite.${spec.key}\``);
    for (const spec of remote) expect(reference).toContain(`\`remoteSites[i].${spec.key}\``);
  });
});

describe("parsing takes its defaults from the schema", () => {
  const parsed = parseStackConfig({ adminCidrs: ["203.0.113.7/32"] });

  it("every top-level default is what the parser applies", () => {
    expect(parsed.zone).toBe(PROVIDER_DEFAULT_ZONE);
    const documented = Object.fromEntries(
      keySpecs().flatMap((spec) => ("default" in spec ? [[spec.key, spec.default]] : [])),
    );
    const applied = Object.fromEntries(Object.keys(documented).map((key) => [key, parsed[key as keyof typeof parsed]]));
    expect(applied).toEqual(documented);
    expect(documented).toEqual({ ...STACK_CONFIG_DEFAULTS });
  });

  it("every site field default with a plain value is what the parser applies", () => {
    const [hubFields, remoteFields] = ["scalewaySite", "remoteSites"].map(
      (k) => keySpecs().find((spec) => spec.key === k)!.fields!,
    );
    const hub = parsed.scalewaySite as Record<string, unknown>;
    for (const spec of hubFields) if (spec.default !== undefined) expect(hub[spec.key]).toEqual(spec.default);
    const bare = parseStackConfig({
      adminCidrs: ["203.0.113.7/32"],
      remoteSites: [
        { name: "x", subnet: "192.168.5.0/24", gatewayAddress: "192.168.5.2", tunnelAddress: "172.16.0.5" },
      ],
    }).remoteSites[0] as Record<string, unknown>;
    for (const spec of remoteFields) if (spec.default !== undefined) expect(bare[spec.key]).toEqual(spec.default);
  });
});
