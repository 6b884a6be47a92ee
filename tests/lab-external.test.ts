/** @tier lab */
/**
 * The namespace lab's external-site scenarios (lab/scenarios/externalSites.ts), end to end as
 * `npm run lab -- --sites 4 --two-step --tunnels-only` runs them: the two-step deploy in the
 * order a user runs it (step-1 checks before the external gateways exist, then step 2 with
 * bundleInstalled) and the dhcp LAN after a real dhclient lease, each with its negative
 * control. Needs what tests/lab.test.ts needs; where the lab cannot run, every test is
 * reported skipped with the reason (never passed), as in tests/lab.test.ts.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { preflight } from "../lab/preflight";
import type { LabResult } from "../lab/results";
import { describeUnless } from "../scripts/tier-skip";

const ROOT = path.resolve(__dirname, "..");
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");
const pf = preflight();
const describeLab = describeUnless(pf.ok ? undefined : `the namespace lab cannot run here: ${pf.problems.join("; ")}`);

describeLab("namespace lab, external sites in two steps (npm run lab -- --sites 4 --two-step)", () => {
  let r: LabResult;
  let code: number | null;
  beforeAll(() => {
    const json = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "lab-ext-")), "result.json");
    const run = spawnSync(
      process.execPath,
      [TSX, path.join(ROOT, "lab", "cli.ts"), "--sites", "4", "--two-step", "--tunnels-only", "--json", json],
      { cwd: ROOT, encoding: "utf8", timeout: 300_000, killSignal: "SIGTERM" },
    );
    code = run.status;
    if (!fs.existsSync(json))
      throw new Error(`no results JSON; exit ${run.status}\n${(run.stdout ?? "").slice(-4000)}`);
    r = JSON.parse(fs.readFileSync(json, "utf8")) as LabResult;
  }, 310_000);

  const named = (prefix: string) => r.checks.filter((c) => c.name.startsWith(prefix));

  test("every check came out as expected, and nothing was left behind", () => {
    expect(r.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.outcome} (${c.detail})`)).toEqual([]);
    expect(r.namespacesLeft).toEqual([]);
    expect(code).toBe(0);
  });

  test("step 1 passed with the external gateways not yet installed; step 2 before the install failed", () => {
    expect(named("two-step 1: ").map((c) => c.outcome)).toEqual(["passed", "passed"]);
    expect(named("two-step 1: the external peers have never shaken hands")[0].detail).toMatch(/\t0/);
    expect(named("two-step negative control: ")[0].outcome).toBe("failed as expected");
  });

  test("step 2 replaced nothing and its handshake and ping checks passed", () => {
    const step2 = named("two-step 2: ");
    expect(step2.map((c) => c.outcome)).toEqual(["passed", "passed", "passed"]);
    expect(step2[0].name).toContain("changes no user-data and no bundle");
    expect(step2[2].name).toContain("ping check to site3");
    expect(named("two-step 2: pulumi up's hub handshake")[0].detail).toContain("recent handshake with 4 peer(s)");
  });

  test("the dhcp LAN host kept its default route, got DNS servers and a lease from the pool", () => {
    const dhcp = named("dhcp site4: ");
    expect(dhcp.find((c) => c.name.includes("default route via lanRouter 192.168.4.1"))?.outcome).toBe("passed");
    expect(dhcp.find((c) => c.name.includes("resolv.conf"))?.detail).toBe("nameservers: 9.9.9.9, 1.1.1.1");
    expect(dhcp.find((c) => c.name.includes("lease address in the pool"))?.outcome).toBe("passed");
    expect(dhcp.find((c) => c.name.includes("negative control set-up"))?.outcome).toBe("passed");
    expect(dhcp.find((c) => c.name.includes("negative control:"))?.outcome).toBe("failed as expected");
  });
});
