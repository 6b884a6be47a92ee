/** @tier unit */
/**
 * The scenario registry: the README's example (lab/README.md, "Adding a scenario") runs
 * against a fake context and records its check; needs gate which entries run; an isolated
 * entry's error becomes its failed check; the registered entries are well formed.
 */
import * as fs from "fs";
import * as path from "path";
import type { RunResult } from "../proc";
import { emptyMetrics, type LabCheck } from "../results";
import type { LabNode, LabTopology } from "../topology";
import { checkRecorder } from "./context";
import {
  NAMESPACE_LAB_SCENARIOS,
  runScenarios,
  scenarioName,
  type Need,
  type Scenario,
  type ScenarioRun,
} from "./registry";

// The README's example, verbatim (the test below checks the README still shows it).
const example: Scenario = {
  name: "hub gateway forwards IPv4",
  backends: ["netns"],
  needs: ["full-checks"],
  checks: "the hub gateway has IPv4 forwarding on",
  run: async (r) => {
    const gw = r.t.sites[0].gateway;
    const out = await r.exec(gw, ["sysctl", "-n", "net.ipv4.ip_forward"]);
    const value = out.stdout.trim();
    r.check(`${gw.id} forwards IPv4`, value === "1", `ip_forward=${value}`, { group: "boot" });
  },
};

const node = (id: string) => ({ id }) as LabNode;

/** A context whose hosts answer every command with `stdout`; records what ran. */
function fakeRun(stdout: string) {
  const ran: { host: string; argv: string[] }[] = [];
  const lines: string[] = [];
  const log = (l: string) => void lines.push(l);
  const checks: LabCheck[] = [];
  const r: ScenarioRun = {
    t: { sites: [{ gateway: node("wgl0000-scaleway-gw") }, { gateway: node("wgl0000-onprem-gw") }] } as LabTopology,
    w: { hosts: new Map(), daemons: [] },
    log,
    checks,
    check: checkRecorder(checks, log),
    exec: async (n: LabNode, argv: string[]): Promise<RunResult> => {
      ran.push({ host: n.id, argv });
      return { code: 0, stdout, stderr: "", timedOut: false } as RunResult;
    },
    testHostAddr: new Map(),
    iperfSeconds: 3,
    metrics: emptyMetrics(),
    faults: {},
    program: {} as ScenarioRun["program"],
    setLossMethod: () => undefined,
  };
  return { r, ran, lines };
}

test("the README shows the example this test runs", () => {
  const readme = fs.readFileSync(path.join(__dirname, "..", "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Adding a scenario"));
  const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  const dedented = block!.replace(/^ {3}/gm, "");
  const source = fs.readFileSync(__filename, "utf8");
  expect(source).toContain(dedented);
});

test("the README's example registers, runs where its needs are met, and records its check", async () => {
  const steps: string[] = [];
  const on = fakeRun("1\n");
  await runScenarios([example], "netns", on.r, new Set<Need>(["full-checks"]), (l) => steps.push(l));
  expect(steps).toEqual(["hub gateway forwards IPv4"]);
  expect(on.ran).toEqual([{ host: "wgl0000-scaleway-gw", argv: ["sysctl", "-n", "net.ipv4.ip_forward"] }]);
  expect(on.r.checks).toEqual([
    expect.objectContaining({ name: "wgl0000-scaleway-gw forwards IPv4", ok: true, outcome: "passed", group: "boot" }),
  ]);
  expect(on.lines).toEqual(["PASS wgl0000-scaleway-gw forwards IPv4: ip_forward=1"]);

  const off = fakeRun("0\n");
  await runScenarios([example], "netns", off.r, new Set<Need>(["full-checks"]), () => undefined);
  expect(off.r.checks.map((c) => [c.ok, c.detail])).toEqual([[false, "ip_forward=0"]]);
});

test("needs and backends gate which entries run", async () => {
  const steps: string[] = [];
  const { r, ran } = fakeRun("1\n");
  await runScenarios([example], "netns", r, new Set<Need>(["faults"]), (l) => steps.push(l));
  await runScenarios([example], "vm", r, new Set<Need>(["full-checks"]), (l) => steps.push(l));
  expect([steps, ran, r.checks]).toEqual([[], [], []]);
});

test("an isolated entry's lab error becomes its failed check and the next entry runs; others end the run", async () => {
  const broken: Scenario = {
    name: "fault: broken",
    backends: ["netns"],
    needs: [],
    checks: "nothing",
    isolated: true,
    run: async () => {
      throw new Error("no such host");
    },
  };
  const { r } = fakeRun("1\n");
  await runScenarios([broken, { ...example, needs: [] }], "netns", r, new Set(), () => undefined);
  expect(r.checks.map((c) => [c.name, c.outcome, c.detail])).toEqual([
    ["fault: broken", "failed", "lab error: no such host"],
    ["wgl0000-scaleway-gw forwards IPv4", "passed", "ip_forward=1"],
  ]);
  const { r: r2 } = fakeRun("1\n");
  await expect(
    runScenarios([{ ...broken, isolated: false }, example], "netns", r2, new Set(), () => undefined),
  ).rejects.toThrow("no such host");
});

test("every registered entry names itself, its backends and what it checks, once", () => {
  const { r } = fakeRun("");
  const names = NAMESPACE_LAB_SCENARIOS.map((s) => scenarioName(s, r));
  expect(new Set(names).size).toBe(names.length);
  for (const s of NAMESPACE_LAB_SCENARIOS) {
    expect(s.backends.length).toBeGreaterThan(0);
    expect(s.checks.trim()).not.toBe("");
  }
  expect(names).toContain("fault: wgl0000-onprem-gw tunnel restart");
});
