/**
 * Jest reporter: jest's own default and summary reporters (run from here, so that this
 * summary comes after theirs), then a summary per tier (scripts/test-tiers.js) with
 * counts and time, the suites that were skipped and why, and a plain closing line
 * `N passed, N failed, N skipped` alone on the last line.
 *
 * A suite is SKIPPED when it ran no test and skipped some: its reason comes from the
 * tier's own reason (not root) or from its tests' titles ("SKIPPED (<reason>): ...", see
 * scripts/tier-skip.ts). Under CI (CI=true) a skipped suite fails the run, since a green CI
 * must mean the suite ran, unless TEST_SKIP_OK accepts it: "1" for every tier, or a comma
 * list of tiers ("lab,vm"); LAB_SKIP_OK=1 and VM_LAB_SKIP_OK=1 still mean lab and vm.
 *
 * Time per tier: "suites" is the sum of its suites' run times; "span" from the first of
 * its suites starting to the last one ending (suites of different tiers may overlap when
 * jest runs more than one worker).
 */
"use strict";
const path = require("path");
const { DefaultReporter, SummaryReporter, VerboseReporter } = require("@jest/reporters");

const HOOKS = ["onRunStart", "onTestCaseStart", "onTestCaseResult"];

const SKIPPED_TITLE = /^SKIPPED \((.+?)\): /;

const seconds = (ms) =>
  ms >= 60_000
    ? `${Math.floor(ms / 60_000)} min ${((ms % 60_000) / 1000).toFixed(0)} s`
    : `${(ms / 1000).toFixed(1)} s`;

function acceptedSkips(env = process.env) {
  const accepted = new Set(
    (env.TEST_SKIP_OK ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  );
  if (env.LAB_SKIP_OK === "1") accepted.add("lab");
  if (env.VM_LAB_SKIP_OK === "1") accepted.add("vm");
  return (tier) => accepted.has("1") || accepted.has(tier);
}

class TierReporter {
  constructor(globalConfig, options = {}) {
    this.rootDir = globalConfig.rootDir;
    this.tiers = options.tiers ?? [];
    this.tierReasons = options.tierReasons ?? {};
    this.suites = [];
    this.lastError = undefined;
    this.started = Date.now();
    this.write = options.write ?? ((text) => process.stdout.write(text));
    // options.jestReporters === false (the reporter's own tests): jest's reporters wrap
    // process.stdout and stderr as soon as they are constructed, so none are made then.
    this.jestReporters =
      options.jestReporters === false
        ? []
        : [
            globalConfig.verbose ? new VerboseReporter(globalConfig) : new DefaultReporter(globalConfig),
            new SummaryReporter(globalConfig, options.summary ?? {}),
          ];
    for (const hook of HOOKS) {
      this[hook] = (...args) => {
        if (hook === "onRunStart") this.started = Date.now();
        return Promise.all(this.jestReporters.map((r) => r[hook]?.(...args)));
      };
    }
  }

  // As jest's own dispatcher does: the newer hook where a reporter has it, else the older one.
  async onTestFileStart(test) {
    for (const r of this.jestReporters) await (r.onTestFileStart ? r.onTestFileStart(test) : r.onTestStart?.(test));
  }

  async onTestFileResult(test, result, aggregated) {
    for (const r of this.jestReporters)
      await (r.onTestFileResult
        ? r.onTestFileResult(test, result, aggregated)
        : r.onTestResult?.(test, result, aggregated));
    const tier = test.context.config.displayName?.name ?? "(no tier)";
    const file = path.relative(this.rootDir, result.testFilePath);
    const tests = result.testResults;
    const reasons = new Set();
    for (const t of tests) {
      for (const title of [...t.ancestorTitles, t.title]) {
        const m = SKIPPED_TITLE.exec(title);
        if (m) reasons.add(m[1]);
      }
    }
    const passed = result.numPassingTests;
    // A suite that could not run at all (syntax error, failing import) is one failure.
    const failed = result.numFailingTests + (result.testExecError && result.numFailingTests === 0 ? 1 : 0);
    const skipped = result.numPendingTests + result.numTodoTests;
    const suiteSkipped = passed === 0 && failed === 0 && skipped > 0;
    if (suiteSkipped && reasons.size === 0 && this.tierReasons[tier]) reasons.add(this.tierReasons[tier]);
    this.suites.push({
      tier,
      file,
      passed,
      failed,
      skipped,
      suiteSkipped,
      reasons: [...reasons],
      start: result.perfStats.start,
      end: result.perfStats.end,
    });
  }

  async onRunComplete(contexts, results) {
    for (const r of this.jestReporters) await r.onRunComplete?.(contexts, results);
    const out = [];
    const total = { passed: 0, failed: 0, skipped: 0 };
    const width = Math.max(...this.tiers.map((t) => t.name.length), 7);
    out.push("", "Tiers:");
    for (const t of this.tiers) {
      const suites = this.suites.filter((s) => s.tier === t.name);
      const label = `  ${t.name.padEnd(width)}`;
      if (suites.length === 0) {
        out.push(`${label}  not run (not selected, or no suites)  [${t.what}]`);
        continue;
      }
      const sum = (k) => suites.reduce((a, s) => a + s[k], 0);
      const [passed, failed, skipped] = [sum("passed"), sum("failed"), sum("skipped")];
      total.passed += passed;
      total.failed += failed;
      total.skipped += skipped;
      const runMs = suites.reduce((a, s) => a + Math.max(0, s.end - s.start), 0);
      const spanMs = Math.max(...suites.map((s) => s.end)) - Math.min(...suites.map((s) => s.start));
      const skippedSuites = suites.filter((s) => s.suiteSkipped).length;
      const state =
        failed > 0
          ? "FAILED"
          : skippedSuites === suites.length
            ? "SKIPPED"
            : skippedSuites > 0
              ? "PARTLY SKIPPED"
              : "passed";
      out.push(
        `${label}  ${state.padEnd(14)} ${String(suites.length).padStart(3)} suites  ${String(passed).padStart(4)} passed  ` +
          `${String(failed).padStart(3)} failed  ${String(skipped).padStart(3)} skipped  ` +
          `suites ${seconds(runMs)}, span ${seconds(spanMs)}  [${t.what}]`,
      );
    }
    // Suites of no known tier cannot happen through jest.config.js; count them anyway.
    for (const s of this.suites.filter((x) => !this.tiers.some((t) => t.name === x.tier))) {
      total.passed += s.passed;
      total.failed += s.failed;
      total.skipped += s.skipped;
    }
    const skippedSuites = this.suites.filter((s) => s.suiteSkipped);
    if (skippedSuites.length > 0) {
      out.push("", "SKIPPED suites (did not run; not passed):");
      for (const s of [...skippedSuites].sort((a, b) => a.file.localeCompare(b.file)))
        out.push(`  ${s.file} [${s.tier}]: ${s.reasons.join("; ") || "every test is skipped"}`);
    }
    const partly = this.suites.filter((s) => !s.suiteSkipped && s.skipped > 0);
    for (const s of partly) out.push(`  (${s.skipped} skipped test(s) in ${s.file} [${s.tier}])`);

    const accepted = acceptedSkips();
    const refused = skippedSuites.filter((s) => !accepted(s.tier));
    if (process.env.CI === "true" && refused.length > 0) {
      const tiers = [...new Set(refused.map((s) => s.tier))].join(",");
      const msg =
        `under CI a skipped suite fails the run (${refused.map((s) => s.file).join(", ")}); ` +
        `make it runnable here, or accept it with TEST_SKIP_OK=${tiers}`;
      out.push("", `FAILED: ${msg}`);
      this.lastError = new Error(msg);
    }
    out.push("", `wall time ${seconds(Date.now() - this.started)}`);
    out.push(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
    this.write(`${out.join("\n")}\n`);
  }

  getLastError() {
    return this.jestReporters.map((r) => r.getLastError?.()).find(Boolean) ?? this.lastError;
  }
}

module.exports = TierReporter;
module.exports.acceptedSkips = acceptedSkips;
