/**
 * setupFilesAfterEnv of a tier that cannot run in this process (jest.config.js sets
 * globalThis.__TIER_SKIP_REASON__ for it, e.g. the root tiers when not root): every
 * describe/it/test in the suite is declared skipped, its title prefixed with
 * "SKIPPED (<reason>): ", so jest counts each test as skipped, runs none of them (nor, with
 * no enabled test, any beforeAll/afterAll hook), and scripts/tier-reporter.js names the
 * reason. Never a pass.
 */
"use strict";
const reason = globalThis.__TIER_SKIP_REASON__;

if (reason) {
  const label = (name) => `SKIPPED (${reason}): ${typeof name === "function" ? name.name : String(name)}`;
  const skipping = (original) => {
    const skipped = (name, ...rest) => original.skip(label(name), ...rest);
    skipped.each =
      (...table) =>
      (name, ...rest) =>
        original.skip.each(...table)(label(name), ...rest);
    skipped.skip = skipped;
    skipped.only = skipped;
    if (original.concurrent) skipped.concurrent = skipped;
    if (original.failing) skipped.failing = skipped;
    if (original.todo) skipped.todo = original.todo;
    return skipped;
  };
  globalThis.describe = skipping(globalThis.describe);
  globalThis.fdescribe = globalThis.xdescribe = globalThis.describe;
  globalThis.it = skipping(globalThis.it);
  globalThis.test = skipping(globalThis.test);
  globalThis.fit = globalThis.xit = globalThis.xtest = globalThis.it;
}
