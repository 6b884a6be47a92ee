/** @type {import('jest').Config} */
module.exports = {
  preset: "ts-jest",
  testEnvironment: "node",
  roots: ["<rootDir>"],
  testMatch: ["**/*.test.ts"],
  testPathIgnorePatterns: ["/node_modules/", "/.lab/", "/.cache/"],
  transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
  // The lab tests build namespaces and run real daemons; they need time, not retries.
  testTimeout: 30000,
};
