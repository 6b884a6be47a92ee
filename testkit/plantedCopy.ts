/**
 * A throwaway copy of the package's product code with one deliberate mistake in it, for
 * negative controls that must go through the real schema inference or the real provider:
 * the inference reads source files, so the mistake has to be in a file, not in a mock.
 * node_modules is linked, not copied. The caller removes the copy (`remove()`).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..");
const DIRS = ["addressing", "config", "planning", "cloud-init", "rendering", "components"];
const FILES = ["package.json", "plugin.ts", "index.ts", "testkit/programRun.ts", "testkit/providerRun.ts"];

export interface Edit {
  /** Path relative to the repository root. */
  file: string;
  from: string;
  to: string;
}

export interface PlantedCopy {
  dir: string;
  remove(): void;
}

export function plantedCopy(edits: Edit[]): PlantedCopy {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wgs2s-planted-"));
  try {
    for (const d of DIRS) fs.cpSync(path.join(ROOT, d), path.join(dir, d), { recursive: true });
    for (const f of FILES) {
      fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
      fs.copyFileSync(path.join(ROOT, f), path.join(dir, f));
    }
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"), "dir");
    // Only the product: the inference then reads what the plugin ships, and reads it faster.
    const tsconfig = JSON.parse(fs.readFileSync(path.join(ROOT, "tsconfig.json"), "utf8"));
    tsconfig.include = ["index.ts", "plugin.ts", ...DIRS.map((d) => `${d}/**/*.ts`), "testkit/*.ts"];
    tsconfig.exclude = ["node_modules", "**/*.test.ts"];
    fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify(tsconfig));
    for (const edit of edits) {
      const file = path.join(dir, edit.file);
      const text = fs.readFileSync(file, "utf8");
      if (!text.includes(edit.from)) throw new Error(`planted edit: ${edit.file} has no ${JSON.stringify(edit.from)}`);
      fs.writeFileSync(file, text.replace(edit.from, edit.to));
    }
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
