/** @tier unit */
/**
 * The layering rules in .dependency-cruiser.cjs hold on the real tree, and they bite: a
 * planted upward import and a planted cycle each fail the check that `npm run lint` runs.
 */
import { spawnSync } from "child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { dirname, join } from "path";

const root = join(__dirname, "..");
const depcruise = join(root, "node_modules", ".bin", "depcruise");
const PRODUCT_PATHS = ["index.ts", "addressing", "config", "planning", "cloud-init", "rendering", "components"];

function cruise(cwd: string, paths: string[]): { status: number | null; output: string } {
  const r = spawnSync(depcruise, ["--config", ".dependency-cruiser.cjs", ...paths], { cwd, encoding: "utf8" });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** A throw-away tree with the real config and the given files. */
function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "wg-s2s-layers-"));
  cpSync(join(root, ".dependency-cruiser.cjs"), join(dir, ".dependency-cruiser.cjs"));
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: { module: "commonjs" } }));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

describe("layering (dependency-cruiser)", () => {
  jest.setTimeout(60_000);

  it("the product tree has no upward import and no cycle", () => {
    const r = cruise(root, PRODUCT_PATHS);
    expect(r.output).toContain("no dependency violations found");
    expect(r.status).toBe(0);
  });

  const cases: [string, Record<string, string>, string][] = [
    [
      "an upward import (addressing -> components)",
      {
        "addressing/ipv4.ts": 'import { x } from "../components/site";\nexport const y = x;\n',
        "components/site.ts": "export const x = 1;\n",
      },
      "no-upward-from-addressing",
    ],
    [
      "a user-data renderer importing the layer above it (cloud-init -> rendering)",
      {
        "cloud-init/gateway.ts": 'import { b } from "../rendering/bundle";\nexport const g = b;\n',
        "rendering/bundle.ts": "export const b = 1;\n",
      },
      "no-upward-from-cloud-init",
    ],
    [
      "a cycle inside one layer",
      {
        "config/parse.ts": 'import { v } from "./validation";\nexport const p = () => v;\n',
        "config/validation.ts": 'import { p } from "./parse";\nexport const v = () => p;\n',
      },
      "no-circular",
    ],
    [
      "product code importing a test kit",
      {
        "components/site.ts": 'import { k } from "../testkit/kit";\nexport const s = k;\n',
        "testkit/kit.ts": "export const k = 1;\n",
      },
      "product-never-imports-test-code",
    ],
  ];

  it.each(cases)("fails on %s", (_what, files, rule) => {
    const dir = tree(files);
    try {
      const r = cruise(
        dir,
        ["addressing", "config", "cloud-init", "rendering", "components"].filter((d) =>
          Object.keys(files).some((f) => f.startsWith(`${d}/`)),
        ),
      );
      expect(r.output).toContain(rule);
      expect(r.status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
