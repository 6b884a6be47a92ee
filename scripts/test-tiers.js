/**
 * Test tiers. Every *.test.ts names its tier in a `/** @tier NAME *\/` comment at
 * its top; jest.config.js makes one jest project per tier, scripts/tier-reporter.js sums
 * them up. A file without a tier (or with two) stops jest with the fix, so a new suite
 * cannot slip into no tier, or into `npm run test:fast` while it needs root.
 *
 *   unit     pure functions and tools run on text (shellcheck, cloud-init schema); no root
 *   program  the Pulumi program under the mock runtime; no root
 *   system   root: kernel, nftables, network namespaces, WireGuard
 *   lab      the namespace lab (npm run lab)
 *   vm       the VM lab (npm run lab -- --vm)
 *
 * Plain CommonJS with no dependencies: jest.config.js loads it before any transform.
 */
"use strict";
const fs = require("fs");
const path = require("path");

const TIERS = [
  { name: "unit", what: "pure, no root", root: false },
  { name: "program", what: "the program under the mock runtime", root: false },
  { name: "system", what: "root: kernel, nftables, namespaces, WireGuard", root: true },
  { name: "lab", what: "the namespace lab", root: true },
  { name: "vm", what: "the VM lab", root: true },
];
const TIER_NAMES = TIERS.map((t) => t.name);

/** Folders never searched for tests: dependencies, tools, lab state, caches. */
const IGNORED_DIRS = new Set(["node_modules", ".git", ".lab", ".cache", ".tools", "coverage", "bin"]);

const TIER_TAG = /^\s*\/\*\*\s*@tier\s+(\S+)\s*\*\//gm;

/** The tier a test file declares; throws with the fix when it declares none, two or an unknown one. */
function tierOf(file, text) {
  const tags = [...text.slice(0, 4000).matchAll(TIER_TAG)].map((m) => m[1]);
  const fix = `put one line \`/** @tier NAME */\` at its top, NAME one of: ${TIER_NAMES.join(", ")} (see scripts/test-tiers.js)`;
  if (tags.length !== 1) throw new Error(`${file}: ${tags.length === 0 ? "no" : "more than one"} @tier tag: ${fix}`);
  if (!TIER_NAMES.includes(tags[0])) throw new Error(`${file}: unknown tier "${tags[0]}": ${fix}`);
  return tags[0];
}

/** Every *.test.ts under root (relative paths, sorted), outside IGNORED_DIRS. */
function testFiles(root) {
  const found = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) {
        if (!IGNORED_DIRS.has(entry.name)) walk(path.join(dir, entry.name));
      } else if (entry.isFile() && entry.name.endsWith(".test.ts")) {
        found.push(path.relative(root, path.join(dir, entry.name)));
      }
    }
  };
  walk(root);
  return found.sort();
}

/** { tier: [files] } for every test file under root. */
function filesByTier(root) {
  const byTier = Object.fromEntries(TIER_NAMES.map((t) => [t, []]));
  for (const file of testFiles(root)) byTier[tierOf(file, fs.readFileSync(path.join(root, file), "utf8"))].push(file);
  return byTier;
}

/**
 * Why a whole tier cannot run in this process, or undefined. Only the machine-wide reason
 * (root) lives here; a suite that needs more (the labs: /dev/net/tun, qemu, ...) checks and
 * says so itself, through describeUnless() in scripts/tier-skip.ts.
 */
function tierSkipReason(tier, uid = typeof process.getuid === "function" ? process.getuid() : -1) {
  const t = TIERS.find((x) => x.name === tier);
  if (t && t.root && uid !== 0) return "needs root; run the tests as root, as .ci/run does";
  return undefined;
}

module.exports = { TIERS, TIER_NAMES, tierOf, testFiles, filesByTier, tierSkipReason };
