/** @tier unit */
/**
 * The tier machinery: every test file declares one tier, the reporter's summary
 * counts per tier and names why a suite was skipped, a skipped suite is never a pass (and
 * fails the run under CI unless accepted), and the closing line is last.
 */
import * as fs from "fs";
import * as path from "path";
import * as semver from "semver";

/* eslint-disable @typescript-eslint/no-require-imports */
const tiers = require("./test-tiers.js") as {
  TIER_NAMES: string[];
  tierOf(file: string, text: string): string;
  filesByTier(root: string): Record<string, string[]>;
  tierSkipReason(tier: string, uid?: number): string | undefined;
};
const TierReporter = require("./tier-reporter.js");
const setup = require("./ensure-setup.js") as {
  NODE_MAJOR: number;
  NODE_VERSION: string;
  majorOf(v: string): number;
  nodeSupported(v: string): boolean;
};
/* eslint-enable @typescript-eslint/no-require-imports */

const ROOT = path.resolve(__dirname, "..");

describe("tiers", () => {
  test("a file declares exactly one known tier, or the error names the fix", () => {
    expect(tiers.tierOf("a.test.ts", "/** @tier unit */\nimport x from 'y';")).toBe("unit");
    expect(tiers.tierOf("a.test.ts", "/** @tier system */\n/**\n * doc\n */")).toBe("system");
    expect(() => tiers.tierOf("a.test.ts", "/** doc */")).toThrow(/a\.test\.ts: no @tier tag: put one line/);
    expect(() => tiers.tierOf("a.test.ts", "/** @tier unit */\n/** @tier lab */")).toThrow(/more than one/);
    expect(() => tiers.tierOf("a.test.ts", "/** @tier fast */")).toThrow(/unknown tier "fast"/);
  });

  test("every test file in the repository has its tier, and the labs are in theirs", () => {
    const byTier = tiers.filesByTier(ROOT);
    expect(Object.keys(byTier)).toEqual(["unit", "program", "system", "lab", "vm"]);
    expect(byTier.lab).toEqual(["tests/ha-failover.test.ts", "tests/lab.test.ts", "tests/metrics-lab.test.ts"]);
    expect(byTier.vm).toEqual(["tests/vm-lab.test.ts"]);
    expect(byTier.system).toEqual(expect.arrayContaining(["rendering/verificationScripts.test.ts"]));
    expect(byTier.unit).toContain("scripts/test-tiers.test.ts");
  });

  test("the root tiers cannot run without root; unit and program always can", () => {
    for (const t of ["system", "lab", "vm"]) {
      expect(tiers.tierSkipReason(t, 1000)).toMatch(/needs root/);
      expect(tiers.tierSkipReason(t, 0)).toBeUndefined();
    }
    for (const t of ["unit", "program"]) expect(tiers.tierSkipReason(t, 1000)).toBeUndefined();
  });
});

describe("scripts/tier-reporter.js", () => {
  const TIERS = [
    { name: "unit", what: "pure" },
    { name: "lab", what: "the namespace lab" },
    { name: "vm", what: "the VM lab" },
  ];
  const test_ = (tier: string, file: string, start: number, end: number) => ({
    context: { config: { displayName: { name: tier } } },
    path: path.join(ROOT, file),
    _end: end,
    _start: start,
  });
  const result = (
    file: string,
    counts: { passed?: number; failed?: number; pending?: number },
    titles: string[] = [],
    times = { start: 1000, end: 3000 },
  ) => ({
    testFilePath: path.join(ROOT, file),
    numPassingTests: counts.passed ?? 0,
    numFailingTests: counts.failed ?? 0,
    numPendingTests: counts.pending ?? 0,
    numTodoTests: 0,
    testResults: titles.map((t) => ({ ancestorTitles: [t], title: "a test", status: "pending" })),
    perfStats: times,
  });

  async function report(env: Record<string, string | undefined>, feed: (r: any) => Promise<void>) {
    const saved = { ...process.env };
    const out: string[] = [];
    try {
      Object.assign(process.env, env);
      for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k];
      const r = new TierReporter(
        { rootDir: ROOT, verbose: false },
        { tiers: TIERS, tierReasons: { vm: "needs root" }, write: (s: string) => out.push(s), jestReporters: false },
      );
      await feed(r);
      return { text: out.join(""), error: r.getLastError() as Error | undefined };
    } finally {
      process.env = saved;
    }
  }

  const feedAll = async (r: any) => {
    await r.onTestFileResult(test_("unit", "a.test.ts", 0, 0), result("a.test.ts", { passed: 3, failed: 1 }));
    await r.onTestFileResult(
      test_("lab", "tests/lab.test.ts", 0, 0),
      result("tests/lab.test.ts", { pending: 2 }, ["SKIPPED (no /dev/net/tun): namespace lab"]),
    );
    await r.onTestFileResult(test_("vm", "tests/vm-lab.test.ts", 0, 0), result("tests/vm-lab.test.ts", { pending: 7 }));
    await r.onRunComplete(new Set(), {});
  };

  test("sums each tier, names each skipped suite's reason, and ends with the closing line", async () => {
    const { text, error } = await report({ CI: undefined, TEST_SKIP_OK: undefined }, feedAll);
    expect(text).toMatch(/^ {2}unit +FAILED +1 suites +3 passed +1 failed +0 skipped +suites 2\.0 s, span 2\.0 s/m);
    expect(text).toMatch(/^ {2}lab +SKIPPED +1 suites +0 passed +0 failed +2 skipped/m);
    expect(text).toContain("tests/lab.test.ts [lab]: no /dev/net/tun");
    expect(text).toContain("tests/vm-lab.test.ts [vm]: needs root");
    expect(text.trimEnd().split("\n").at(-1)).toBe("3 passed, 1 failed, 9 skipped");
    expect(error).toBeUndefined();
  });

  test("under CI a skipped suite fails the run, unless TEST_SKIP_OK accepts its tier", async () => {
    const refused = await report({ CI: "true", TEST_SKIP_OK: undefined, LAB_SKIP_OK: undefined }, feedAll);
    expect(refused.error?.message).toMatch(/skipped suite fails the run.*TEST_SKIP_OK=lab,vm/);
    const partly = await report({ CI: "true", TEST_SKIP_OK: "lab" }, feedAll);
    expect(partly.error?.message).toContain("tests/vm-lab.test.ts");
    expect(partly.error?.message).not.toContain("tests/lab.test.ts");
    const accepted = await report({ CI: "true", TEST_SKIP_OK: "lab,vm" }, feedAll);
    expect(accepted.error).toBeUndefined();
  });

  test("a suite that failed to run at all counts as a failure, not as nothing", async () => {
    const { text } = await report({ CI: undefined }, async (r) => {
      await r.onTestFileResult(test_("unit", "b.test.ts", 0, 0), {
        ...result("b.test.ts", {}),
        testExecError: { message: "SyntaxError" },
      });
      await r.onRunComplete(new Set(), {});
    });
    expect(text.trimEnd().split("\n").at(-1)).toBe("0 passed, 1 failed, 0 skipped");
  });
});

/** [name@version, engines.node] of every package under node_modules and policy/node_modules. */
function installedEngines(): [string, string][] {
  const found: [string, string][] = [];
  const walk = (dir: string) => {
    if (!fs.existsSync(dir)) return;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const at = path.join(dir, entry.name);
      if (entry.name.startsWith("@")) {
        walk(at);
        continue;
      }
      const manifest = path.join(at, "package.json");
      if (fs.existsSync(manifest)) {
        const json = JSON.parse(fs.readFileSync(manifest, "utf8"));
        if (typeof json.engines?.node === "string") found.push([`${json.name}@${json.version}`, json.engines.node]);
      }
      walk(path.join(at, "node_modules"));
    }
  };
  walk(path.join(ROOT, "node_modules"));
  walk(path.join(ROOT, "policy", "node_modules"));
  return found;
}

describe("Node.js 22", () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));

  test("engines, @types/node and the node ensure-setup installs agree on one major", () => {
    expect(setup.NODE_MAJOR).toBe(22);
    expect(setup.majorOf(setup.NODE_VERSION)).toBe(setup.NODE_MAJOR);
    expect(semver.satisfies(setup.NODE_VERSION, pkg.engines.node)).toBe(true);
    expect(setup.majorOf(pkg.devDependencies["@types/node"])).toBe(setup.NODE_MAJOR);
    const policy = JSON.parse(fs.readFileSync(path.join(ROOT, "policy", "package.json"), "utf8"));
    expect(setup.majorOf(policy.devDependencies["@types/node"])).toBe(setup.NODE_MAJOR);
  });

  test("the tests themselves run on a Node.js the engines accept", () => {
    expect(semver.satisfies(process.version, pkg.engines.node)).toBe(true);
  });

  // Versions around every bound the engines and the packages' own engines draw.
  const SWEEP = ["20.19.0", "22.0.0", "22.12.0", "22.13.0", "22.23.5", "23.0.0", "23.11.0", "24.0.0", "25.1.0"];

  test("ensure-setup's check (it runs before npm ci, without semver) accepts exactly what engines.node accepts", () => {
    for (const v of SWEEP)
      expect([v, setup.nodeSupported(`v${v}`)]).toEqual([v, semver.satisfies(v, pkg.engines.node)]);
    const policy = JSON.parse(fs.readFileSync(path.join(ROOT, "policy", "package.json"), "utf8"));
    expect(policy.engines).toEqual(pkg.engines);
  });

  test("every installed package supports every Node.js the engines accept (no EBADENGINE on a supported node)", () => {
    const accepted = SWEEP.filter((v) => semver.satisfies(v, pkg.engines.node));
    expect(accepted).toContain(setup.NODE_VERSION);
    const refused = installedEngines().flatMap(([name, range]) =>
      accepted.filter((v) => !semver.satisfies(v, range)).map((v) => `${name} (${range}) on ${v}`),
    );
    expect(refused).toEqual([]);
    // Negative control: the engines this project had before (">=22") accept 22.0.0, which eslint refuses.
    const loose = installedEngines().filter(([, range]) => !semver.satisfies("22.0.0", range));
    expect(loose.length).toBeGreaterThan(0);
  });

  test("every npm script that runs project code goes through ensure-setup --exec (Node.js 22 first on PATH)", () => {
    for (const name of ["test", "test:fast", "lab", "bench", "lint", "build"])
      expect(pkg.scripts[name]).toMatch(/^node scripts\/ensure-setup\.js --exec /);
  });
});
