/**
 * `npm run docs:config`: rewrite Pulumi.yaml's `config:` block and the configuration reference
 * (docs/configuration.md) from config/schema.ts, the one place keys, defaults and descriptions are defined.
 */
import { readFileSync, writeFileSync } from "fs";
import { join } from "path";
import { spawnSync } from "child_process";
import { REFERENCE_DOC, withConfigReference, withSchemaConfigBlock } from "../config/schemaDocs";

function main(): void {
  const root = join(__dirname, "..");
  const pulumiYaml = join(root, "Pulumi.yaml");
  writeFileSync(pulumiYaml, withSchemaConfigBlock(readFileSync(pulumiYaml, "utf8")));
  const reference = join(root, REFERENCE_DOC);
  writeFileSync(reference, withConfigReference(readFileSync(reference, "utf8")));
  const r = spawnSync(join(root, "node_modules", ".bin", "prettier"), ["--write", REFERENCE_DOC], {
    cwd: root,
    stdio: "inherit",
  });
  process.exit(r.status ?? 1);
}

main();
