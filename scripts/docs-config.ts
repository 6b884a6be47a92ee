/**
 * `npm run docs:config`: rewrite Pulumi.yaml's `config:` block and the README's configuration
 * reference from config/schema.ts, the one place keys, defaults and descriptions are defined.
 */
import { readFileSync, writeFileSync } from "fs";
import { join } from "path";
import { spawnSync } from "child_process";
import { withConfigReference, withSchemaConfigBlock } from "../config/schemaDocs";

function main(): void {
  const root = join(__dirname, "..");
  const pulumiYaml = join(root, "Pulumi.yaml");
  writeFileSync(pulumiYaml, withSchemaConfigBlock(readFileSync(pulumiYaml, "utf8")));
  const readme = join(root, "README.md");
  const text = withConfigReference(readFileSync(readme, "utf8"));
  writeFileSync(readme, text);
  const r = spawnSync(join(root, "node_modules", ".bin", "prettier"), ["--write", "README.md"], {
    cwd: root,
    stdio: "inherit",
  });
  process.exit(r.status ?? 1);
}

main();
