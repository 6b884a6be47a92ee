/** @tier unit */
/**
 * The VM lab's scenario registry: the README's example (lab/README.md, "Adding a scenario",
 * "In the VM lab") runs against a fake context and records its check; the phases run in
 * their order, the "beside" entries concurrently and gated on the hub; needs gate which
 * entries run; the registered entries are well formed.
 */
import * as fs from "fs";
import * as path from "path";
import { checkRecorder } from "../../scenarios/context";
import type { Need } from "../../scenarios/registry";
import type { LabCheck } from "../../results";
import type { LabNode } from "../../topology";
import { ssh, type SshTarget } from "../guest";
import type { VmScenario } from "./context";
import { runVmScenarios, VM_LAB_SCENARIOS, VM_PHASES, vmLabNeeds, type VmLabScenario, type VmPhase } from "./registry";

jest.mock("../guest", () => ({ ...jest.requireActual("../guest"), ssh: jest.fn() }));
const sshMock = ssh as jest.MockedFunction<typeof ssh>;

// The README's example, verbatim (the test below checks the README still shows it).
const vmExample: VmLabScenario = {
  name: "hub gateway forwards IPv4",
  backends: ["vm"],
  needs: [],
  phase: "spoke",
  checks: "the hub gateway has IPv4 forwarding on",
  run: async (r) => {
    const gw = r.hubGateway;
    const out = await ssh(r.target(gw), "sysctl -n net.ipv4.ip_forward", 30_000);
    const value = out.stdout.trim();
    r.check(`${gw.id} forwards IPv4`, value === "1", `ip_forward=${value}`);
  },
};

/** A VM-lab context whose VMs answer every SSH command with `stdout`; records what ran where. */
function fakeRun(stdout: string) {
  const ran: { address: string; command: string }[] = [];
  sshMock.mockReset();
  sshMock.mockImplementation(async (t: SshTarget, command: string) => {
    ran.push({ address: t.address, command });
    return { code: 0, stdout, stderr: "", timedOut: false } as Awaited<ReturnType<typeof ssh>>;
  });
  const lines: string[] = [];
  const log = (l: string) => void lines.push(l);
  const checks: LabCheck[] = [];
  const hubGateway = { id: "wgvm0000-scaleway-gw" } as LabNode;
  const r = {
    log,
    checks,
    check: checkRecorder(checks, log),
    hubGateway,
    target: (h: LabNode) => ({ netns: "vr", address: `${h.id}-address`, keyFile: "key" }),
    result: { measurements: {} },
  } as unknown as Omit<VmScenario, "hubReady">;
  return { r, ran, lines };
}

const booted = async () => undefined;

test("the README shows the VM example this test runs", () => {
  const readme = fs.readFileSync(path.join(__dirname, "..", "..", "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("### In the VM lab"), readme.indexOf("## For other code"));
  const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  expect(block).toBeDefined();
  const dedented = block!.replace(/^ {3}/gm, "");
  expect(fs.readFileSync(__filename, "utf8")).toContain(dedented);
});

test("the README's VM example registers, runs where its needs are met, and records its check", async () => {
  const steps: string[] = [];
  const on = fakeRun("1\n");
  await runVmScenarios([vmExample], on.r, new Set(), (l) => steps.push(l), booted);
  expect(steps).toEqual(["hub gateway forwards IPv4"]);
  expect(on.ran).toEqual([{ address: "wgvm0000-scaleway-gw-address", command: "sysctl -n net.ipv4.ip_forward" }]);
  expect(on.r.checks).toEqual([
    expect.objectContaining({ name: "wgvm0000-scaleway-gw forwards IPv4", ok: true, outcome: "passed" }),
  ]);
  expect(on.lines).toEqual(["PASS wgvm0000-scaleway-gw forwards IPv4: ip_forward=1"]);

  const off = fakeRun("0\n");
  await runVmScenarios([vmExample], off.r, new Set(), () => undefined, booted);
  expect(off.r.checks.map((c) => [c.ok, c.detail])).toEqual([[false, "ip_forward=0"]]);
});

test("needs and backends gate which entries run", async () => {
  const steps: string[] = [];
  const { r, ran } = fakeRun("1\n");
  await runVmScenarios([{ ...vmExample, needs: ["reboot"] }], r, new Set(), (l) => steps.push(l), booted);
  await runVmScenarios([{ ...vmExample, backends: ["netns"] }], r, new Set(), (l) => steps.push(l), booted);
  expect([steps, ran, r.checks]).toEqual([[], [], []]);
  expect([...vmLabNeeds({}, 1)].sort()).toEqual(["far-end", "reboot"]);
  expect([...vmLabNeeds({ reboot: false, throughput: true }, 0)]).toEqual(["throughput"]);
});

/** An entry that logs its start and end, records one check, and (when `gate`) waits for the hub first. */
function traced(name: string, phase: VmPhase, trace: string[], gate = false): VmLabScenario {
  return {
    name,
    backends: ["vm"],
    needs: [],
    phase,
    checks: name,
    run: async (r) => {
      trace.push(`${name} start`);
      const ready = gate ? await r.hubReady : undefined;
      await new Promise((resolve) => setTimeout(resolve, 5));
      r.check(name, ready !== false, ready === undefined ? "" : `hub ready: ${ready}`);
      trace.push(`${name} end`);
    },
  };
}

test("phases: beside starts with the VMs and installs once the hub is done; its checks are recorded after the spoke's", async () => {
  const trace: string[] = [];
  const { r } = fakeRun("");
  const boot = async () => void trace.push("booted");
  await runVmScenarios(
    [
      traced("after", "after", trace),
      traced("spoke 1", "spoke", trace),
      traced("far end", "beside", trace, true),
      traced("hub 1", "hub", trace),
      traced("spoke 2", "spoke", trace),
      traced("hub 2", "hub", trace),
    ],
    r,
    new Set(),
    () => undefined,
    boot,
  );
  expect(trace.slice(0, 6)).toEqual([
    "far end start",
    "booted",
    "hub 1 start",
    "hub 1 end",
    "hub 2 start",
    "hub 2 end",
  ]);
  expect(trace.indexOf("far end end")).toBeLessThan(trace.indexOf("after start"));
  expect(trace.indexOf("spoke 2 end")).toBeLessThan(trace.indexOf("after start"));
  expect(r.checks.map((c) => c.name)).toEqual(["hub 1", "hub 2", "spoke 1", "spoke 2", "far end", "after"]);
  expect(r.checks.find((c) => c.name === "far end")?.detail).toBe("hub ready: true");
  expect(r.result.measurements.farEndWaitSeconds).toBeGreaterThanOrEqual(0);
});

test("a failing hub phase tells the beside entries the hub is not ready, and ends the run", async () => {
  const trace: string[] = [];
  const { r } = fakeRun("");
  let besideSaw: boolean | undefined;
  const beside: VmLabScenario = {
    ...traced("far end", "beside", trace),
    run: async (x) => void (besideSaw = await x.hubReady),
  };
  const broken: VmLabScenario = {
    ...traced("hub", "hub", trace),
    run: async () => {
      throw new Error("the tunnel never came up");
    },
  };
  await expect(
    runVmScenarios([beside, broken, traced("spoke", "spoke", trace)], r, new Set(), () => undefined, booted),
  ).rejects.toThrow("the tunnel never came up");
  await new Promise((resolve) => setImmediate(resolve));
  expect(besideSaw).toBe(false);
  expect(trace).not.toContain("spoke start");
});

test("every registered entry is a VM entry, named once, with known needs, in phase order", () => {
  const names = VM_LAB_SCENARIOS.map((s) => s.name);
  expect(names.every((n) => typeof n === "string")).toBe(true);
  expect(new Set(names).size).toBe(names.length);
  // Every need the VM lab can meet; an entry needing anything else would never run.
  const known = vmLabNeeds({ reboot: true, throughput: true }, 1);
  for (const s of VM_LAB_SCENARIOS) {
    expect(s.backends).toContain("vm");
    expect(s.checks.trim()).not.toBe("");
    for (const n of s.needs) expect([s.name, known.has(n as Need)]).toEqual([s.name, true]);
  }
  const phases = VM_LAB_SCENARIOS.map((s) => VM_PHASES.indexOf(s.phase));
  expect(phases.every((p) => p >= 0)).toBe(true);
  expect(phases).toEqual([...phases].sort((a, b) => a - b));
  expect(names).toEqual(
    expect.arrayContaining(["reboot of the hub gateway", "far ends: the operator's bundle in each form"]),
  );
});
