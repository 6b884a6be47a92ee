/**
 * Builds the systemctl stand-in into a self-contained script (esbuild, a dependency of tsx)
 * so each call inside a host costs one plain `node` start instead of a TypeScript compile.
 */
import * as fs from "fs";
import * as path from "path";

/**
 * The node binary as the lab's hosts can reach it. Each host has a private /tmp and /run,
 * so a node under /tmp or /run (the Node.js 22 that scripts/ensure-setup.js puts into
 * .tools/ of a clone under /tmp, as CI's may be) is hidden there: it is hard-linked (or,
 * across mounts, copied) next to the stand-in, inside the lab's own directory, which the
 * hosts do see (lab/host.ts).
 */
function nodeSeenByHosts(outDir: string): string {
  if (!/^\/(tmp|run)\//.test(process.execPath)) return process.execPath;
  const copy = path.join(outDir, "node");
  if (!fs.existsSync(copy)) {
    try {
      fs.linkSync(process.execPath, copy);
    } catch {
      fs.copyFileSync(process.execPath, copy);
      fs.chmodSync(copy, 0o755);
    }
  }
  return copy;
}

/** Writes <outDir>/systemctl (a sh wrapper) and <outDir>/systemctl.js; returns the wrapper's path. */
export function buildSystemctlShim(outDir: string): string {
  return buildShim(outDir, "systemctl", "systemd's systemctl");
}

/** Writes <outDir>/networkctl (+ .js): the networkd stand-in (see standins/networkctl.ts). */
export function buildNetworkctlShim(outDir: string): string {
  return buildShim(outDir, "networkctl", "systemd-networkd's networkctl");
}

function buildShim(outDir: string, name: "systemctl" | "networkctl", replaces: string): string {
  fs.mkdirSync(outDir, { recursive: true });
  const js = path.join(outDir, `${name}.js`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const esbuild = require("esbuild") as typeof import("esbuild");
  esbuild.buildSync({
    entryPoints: [path.join(__dirname, `${name}.ts`)],
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node18",
    outfile: js,
    logLevel: "error",
  });
  const wrapper = path.join(outDir, name);
  fs.writeFileSync(
    wrapper,
    `#!/bin/sh\n# lab stand-in for ${replaces} (see lab/standins/${name}.ts)\nexec ${nodeSeenByHosts(outDir)} ${js} "$@"\n`,
    { mode: 0o755 },
  );
  return wrapper;
}
