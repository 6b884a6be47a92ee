/**
 * One jest project per test tier (scripts/test-tiers.js): `npm test` runs them all, `npm
 * run test:fast` only unit and program (`--selectProjects unit program`). A tier that
 * cannot run in this process (the root tiers when not root) still loads its suites, with
 * every test declared skipped (scripts/tier-skip-setup.js), so they count as skipped, with
 * the reason, never as passed. scripts/tier-reporter.js prints the per-tier summary.
 */
const { TIERS, filesByTier, tierSkipReason } = require("./scripts/test-tiers");

const byTier = filesByTier(__dirname);
const tierReasons = Object.fromEntries(TIERS.map((t) => [t.name, tierSkipReason(t.name)]).filter(([, r]) => r));

/** @type {import('jest').Config} */
module.exports = {
  // The lab tests build namespaces and run real daemons; they need time, not retries.
  testTimeout: 30000,
  // The tier reporter runs jest's default and summary reporters itself, then its own summary last.
  reporters: [["<rootDir>/scripts/tier-reporter.js", { tiers: TIERS, tierReasons }]],
  projects: TIERS.map((t) => ({
    displayName: { name: t.name, color: "white" },
    preset: "ts-jest",
    testEnvironment: "node",
    rootDir: __dirname,
    roots: ["<rootDir>"],
    // Exactly this tier's files; an empty tier matches nothing.
    testMatch: byTier[t.name].length
      ? byTier[t.name].map((f) => `<rootDir>/${f}`)
      : ["<rootDir>/.no-tests-in-this-tier"],
    testPathIgnorePatterns: ["/node_modules/", "/.lab/", "/.cache/", "/.tools/"],
    transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
    globals: { __TIER_SKIP_REASON__: tierReasons[t.name] },
    setupFilesAfterEnv: tierReasons[t.name] ? ["<rootDir>/scripts/tier-skip-setup.js"] : [],
  })),
};
