/** @tier vm */
/**
 * The VM lab end to end: four real VMs on an Ubuntu-like image with no reachable package
 * repository run the program's user-data through cloud-init (the gateways and the hub's
 * test host boot; the other site's test host resumes from a saved running state and runs
 * cloud-init on this run's seed, lab/vm/savedState.ts); the tunnel comes up from
 * what the image ships, carries pings both ways, survives a DHCP renewal + netplan apply
 * on a gateway's private NIC and a gateway reboot, and everything is cleaned up. Bulk TCP
 * and the path-MTU checks are left to the namespace lab (`--throughput` runs them here).
 *
 * Where it cannot run (not root, no qemu, ...) it says so loudly and every test is reported
 * SKIPPED with the reason, never passed; under CI that fails the run unless
 * TEST_SKIP_OK=vm (or VM_LAB_SKIP_OK=1) accepts it (scripts/tier-reporter.js).
 */
import * as fs from "fs";
import * as path from "path";
import { runVmLab, vmLabPrerequisites, NETNS_PATTERN, type VmLabResult } from "../lab/vm";
import { listLabNamespaces } from "../lab/vm/network";
import { VM_LAB_TOOLS } from "../lab/vm";
import { spawnSync } from "child_process";
import { describeUnless } from "../scripts/tier-skip";

const HOUR = 60 * 60_000;

/**
 * vmLabPrerequisites() at the time jest declares the tests (it is async; jest declares
 * synchronously): what is missing decides whether the suite runs or is skipped with a reason.
 */
function missingNow(): string[] {
  const missing: string[] = [];
  if (process.platform !== "linux") missing.push("Linux");
  if (typeof process.getuid === "function" && process.getuid() !== 0) missing.push("root");
  if (!fs.existsSync("/dev/net/tun")) missing.push("/dev/net/tun");
  for (const [tool, pkg] of Object.entries(VM_LAB_TOOLS))
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) missing.push(`${tool} (apt-get install ${pkg})`);
  return missing;
}
const missingAtStart = missingNow();
const describeVm = describeUnless(
  missingAtStart.length ? `the VM lab cannot run here: missing ${missingAtStart.join("; ")}` : undefined,
);

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? filesUnder(p) : [p];
  });
}

describeVm("VM lab (npm run lab -- --vm)", () => {
  let missing: string[] = [];
  let result: VmLabResult | undefined;

  beforeAll(async () => {
    missing = await vmLabPrerequisites();
    if (missing.length) {
      const msg = `VM LAB NOT RUN: missing ${missing.join("; ")}`;
      console.warn(`\n${"!".repeat(msg.length)}\n${msg}\n${"!".repeat(msg.length)}\n`);
      return;
    }
    result = await runVmLab({ log: (l) => process.stderr.write(`[vm-lab] ${l}\n`) });
  }, 2 * HOUR);

  // The suite was declared runnable (missingNow() found nothing), so a prerequisite
  // missing now is a failure, never a pass.
  const ran = () => {
    if (missing.length) throw new Error(`the VM lab could not run (missing: ${missing.join("; ")})`);
    return true;
  };
  const checkNamed = (re: RegExp) => {
    const found = result!.checks.filter((c) => re.test(c.name));
    expect(found.length).toBeGreaterThan(0);
    return found;
  };

  it("every VM ran the program's user-data, byte for byte, and cloud-init reports no error", () => {
    if (!ran()) return;
    expect(result!.error).toBeUndefined();
    expect(result!.hosts.map((h) => h.role).sort()).toEqual(["gateway", "gateway", "test-host", "test-host"]);
    for (const h of result!.hosts) {
      expect({ host: h.name, status: h.cloudInitStatus, errors: h.cloudInitErrors }).toEqual({
        host: h.name,
        status: "done",
        errors: [],
      });
      expect(h.guestUserDataSha256).toBe(h.userDataSha256);
    }
  });

  it("boots the gateways and the hub's test host; another site's test host resumes from a saved state with this run's seed", () => {
    if (!ran()) return;
    const started = Object.fromEntries(result!.hosts.map((h) => [h.name, h.start]));
    for (const h of result!.hosts.filter((x) => x.role === "gateway")) expect(started[h.name]).toBe("boot");
    const testHosts = result!.hosts.filter((h) => h.role === "test-host");
    expect(testHosts.filter((h) => h.start === "boot").length).toBeGreaterThanOrEqual(1);
    const resumed = result!.hosts.filter((h) => h.start === "saved-state");
    expect(resumed.length).toBeGreaterThanOrEqual(1);
    for (const h of resumed) {
      // This run's user-data (per-run keys in it), applied by cloud-init on the resumed host.
      expect(h.guestUserDataSha256).toBe(h.userDataSha256);
      expect(result!.savedStates[h.name]?.key).toBe(h.savedState);
      const [stack] = checkNamed(new RegExp(`^${h.name}: Ubuntu-like network stack`));
      expect(stack).toMatchObject({ ok: true });
    }
  });

  it("the tunnel comes up by itself and carries pings both ways over kernel WireGuard", () => {
    if (!ran()) return;
    expect(result!.measurements.bootToTunnelSeconds).toBeGreaterThan(0);
    for (const c of [...checkNamed(/^ping /), ...checkNamed(/kernel WireGuard/)]) expect(c).toMatchObject({ ok: true });
    expect(checkNamed(/^ping /)).toHaveLength(2);
  });

  it("the deploy-verification scripts pulumi up runs pass against the VMs over SSH", () => {
    if (!ran()) return;
    const checks = checkNamed(/^deploy verification: /);
    // cloud-init on 4 hosts, forwarding under the loaded policy and handshakes on 2 gateways,
    // the hub test host's ping.
    expect(checks).toHaveLength(9);
    expect(checks.filter((c) => /: forwarding on /.test(c.name))).toHaveLength(2);
    for (const c of checks) expect(c).toMatchObject({ ok: true });
  });

  it("runs on an Ubuntu-like stack: resolved's stub, netplan -> networkd, private NIC by scw-vpc-iface", () => {
    if (!ran()) return;
    const checks = checkNamed(/: Ubuntu-like network stack/);
    expect(checks).toHaveLength(4);
    for (const c of checks) expect(c).toMatchObject({ ok: true });
  });

  it("comes up with the package repository unreachable (no apt, no wireguard-tools), and says how fast", () => {
    if (!ran()) return;
    const [repo] = checkNamed(/^package repository unreachable/);
    expect(repo).toMatchObject({ ok: true });
    expect(repo.detail).toMatch(/wg\(8\) absent/);
    const ratios = Object.values(result!.measurements.handshakeToTestHostRatio);
    expect(ratios).toHaveLength(2);
    for (const r of ratios) expect(r).toBeGreaterThan(0);
  });

  it("once the repository answers (the package-mirror stand-in), each gateway's extras unit installs what it names: wg(8) and node_exporter's tunnel metrics", () => {
    if (!ran()) return;
    const installs = checkNamed(/installs its packages from the package-mirror stand-in$/);
    const working = checkNamed(/: wg\(8\) from the mirror reads wg0; node_exporter serves the tunnel metrics/);
    expect(installs.map((c) => c.name.split(":")[0]).sort()).toEqual(["onprem-gw", "scaleway-gw"]);
    expect(working).toHaveLength(2);
    for (const c of [...installs, ...working]) expect(c).toMatchObject({ ok: true });
  });

  it("the far end (an office router already forwarding its LAN) installs, checks, survives an nftables restart and uninstalls every form on real systemd", () => {
    if (!ran()) return;
    expect(result!.farEnds?.map((h) => [h.name, h.start])).toEqual([["office-gw", "saved-state"]]);
    const checks = checkNamed(/^office-gw: /);
    for (const c of checks) expect(c).toMatchObject({ ok: true });
    for (const form of ["netplan", "networkd", "wg-quick"]) {
      const mine = checks.filter((c) => c.name.startsWith(`office-gw: ${form}: `));
      // check, LAN -> hub, LAN -> internet, nftables restart, uninstall as found, negative control
      expect(mine).toHaveLength(6);
      expect(mine.filter((c) => c.negativeControl)).toHaveLength(1);
      expect(result!.measurements.farEndInstallToCheckSeconds?.[form]).toBeGreaterThan(0);
    }
  });

  // The checks that cut a tunnel run on the simulated site's gateway, beside the far end
  // (which dials the hub); the hub gateway takes the plain reboot.
  it("a DHCP renewal and netplan apply on a gateway's private NIC leave tunnel and routes intact", () => {
    if (!ran()) return;
    const [renewal] = checkNamed(/^DHCP renewal \+ netplan apply/);
    expect(renewal).toMatchObject({ ok: true });
    expect(renewal.name).toMatch(/on onprem-gw's private NIC/);
  });

  it("negative control: no ping with a gateway's tunnel down", () => {
    if (!ran()) return;
    const [tunnel] = checkNamed(/^negative control: no ping/);
    expect(tunnel).toMatchObject({ ok: true, negativeControl: true, name: expect.stringMatching(/onprem-gw/) });
  });

  it("a gateway rebooted without nft fails closed (no forwarding, no ping) and recovers once the policy loads", () => {
    if (!ran()) return;
    const checks = checkNamed(/^fail-closed: /);
    expect(checks.map((c) => c.name)).toEqual([
      "fail-closed: nft hidden on onprem-gw",
      "fail-closed: without its policy the gateway does not forward (unit failed, ip_forward=0, wg0 up)",
      "fail-closed: no ping across while the policy is missing",
      "fail-closed: nft back, `systemctl start` of the failed wg-s2s-firewall.service restores forwarding and the ping",
    ]);
    for (const c of checks) expect(c).toMatchObject({ ok: true });
  });

  it("a rebooted gateway brings the tunnel back with nothing done by hand", () => {
    if (!ran()) return;
    for (const c of [
      ...checkNamed(/^scaleway-gw rebooted$/),
      ...checkNamed(/^tunnel back after rebooting/),
      ...checkNamed(/after the reboot/),
    ]) {
      expect(c).toMatchObject({ ok: true });
    }
    expect(result!.measurements.rebootToTunnelSeconds).toBeGreaterThan(0);
  });

  it("cleans up every VM, namespace, disk and secret, and passes overall", async () => {
    if (!ran()) return;
    expect(result!.cleanupProblems).toEqual([]);
    const left = (await listLabNamespaces(NETNS_PATTERN)).filter((n) => n.startsWith(result!.prefix));
    expect(left).toEqual([]);
    const files = filesUnder(result!.runDir).map((f) => path.basename(f));
    for (const secretOrDisk of ["seed.iso", "user-data", "deploy.key", "ssh-key", "overlay.qcow2"])
      expect(files).not.toContain(secretOrDisk);
    for (const f of filesUnder(result!.runDir)) {
      expect(fs.readFileSync(f, "utf8")).not.toMatch(/PrivateKey\s*=\s*[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=/);
    }
    // No process of the run is left: qemu, dnsmasq, the shared SSH connections.
    const processes = fs
      .readdirSync("/proc")
      .filter((p) => /^\d+$/.test(p))
      .map((p) => {
        try {
          return fs.readFileSync(`/proc/${p}/cmdline`, "utf8").replace(/\0/g, " ");
        } catch {
          return "";
        }
      })
      .filter((cmd) => cmd.includes(result!.runDir));
    expect(processes).toEqual([]);
    expect(result!.ok).toBe(true);
  });
});
