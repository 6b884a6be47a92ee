/**
 * Builds the systemctl stand-in into a self-contained script (esbuild, a dependency of tsx)
 * so each call inside a host costs one plain `node` start instead of a TypeScript compile.
 */
import * as fs from "fs";
import * as path from "path";

/** Writes <outDir>/systemctl (a sh wrapper) and <outDir>/systemctl.js; returns the wrapper's path. */
export function buildSystemctlShim(outDir: string): string {
  fs.mkdirSync(outDir, { recursive: true });
  const js = path.join(outDir, "systemctl.js");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const esbuild = require("esbuild") as typeof import("esbuild");
  esbuild.buildSync({
    entryPoints: [path.join(__dirname, "systemctl.ts")],
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node18",
    outfile: js,
    logLevel: "error",
  });
  const wrapper = path.join(outDir, "systemctl");
  fs.writeFileSync(
    wrapper,
    `#!/bin/sh\n# lab stand-in for systemd's systemctl (see lab/standins/systemctl.ts)\nexec ${process.execPath} ${js} "$@"\n`,
    { mode: 0o755 },
  );
  return wrapper;
}
