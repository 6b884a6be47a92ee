/**
 * The far end on real systemd: an office router that already forwards its LAN to the
 * internet (lab/vm/farEnd.ts) receives the bundle as `npm run bundle` writes it and
 * installs it with its installer, in each form in turn (netplan, networkd, wg-quick):
 *
 *   install -> check (policy, guard, forwarding, wg0, a ping to the hub's tunnel address,
 *   the handshake's age) -> the LAN reaches the hub's test host through the tunnel, and
 *   the internet as before -> `systemctl restart nftables` (its /etc/nftables.conf begins
 *   with `flush ruleset`) -> check again, and the LAN still reaches the hub -> uninstall ->
 *   ruleset, forwarding and units as found, nothing of ours left -> negative control: the
 *   LAN no longer reaches the hub (only the tunnel carried it).
 *
 * Starts with the VMs (what needs no hub runs while the gateways boot) and installs once
 * the hub's own checks are done (`hubReady`), beside the checks that cut the simulated
 * site's tunnel (which the far end does not cross): a "beside" entry of VM_LAB_SCENARIOS.
 */
import { EXECUTABLE_FILES, FAR_END_FILES } from "../../../rendering/farEndHost";
import { shQuote } from "../../../rendering/verificationScripts";
import { nsRun } from "../../netns";
import { parsePing } from "../../parsers";
import { FAR_END_LEFTOVERS_SH, firstDifference, INTERNET_HOST } from "../../scenarios/farEndHosts";
import { ssh, sshScript, type SshTarget } from "../guest";
import { privateAddress } from "../network";
import { labCheck, type LabCheck } from "../../results";
import type { FarEndVm, VmScenario } from "./context";

/** The forms, in the order they are installed (each uninstalled before the next). */
export const FAR_END_FORMS = ["netplan", "networkd", "wg-quick"] as const;

/** Where the operator put the bundle: root's home, as the bundle's README says. */
const BUNDLE_DIR = "/root/wg-s2s-bundle";

/**
 * The bundle's files written as `npm run bundle` writes them (directory 0700, data 0600,
 * scripts 0700), through SSH's stdin: the keys never touch this machine's disk.
 */
export function bundleCopyScript(dir: string, files: Record<string, string>): string {
  return [
    "set -eu",
    "umask 077",
    `rm -rf ${shQuote(dir)}`,
    `mkdir -m 0700 ${shQuote(dir)}`,
    ...Object.entries(files).map(([name, content]) => {
      if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(name) || name.split("/").includes(".."))
        throw new Error(`bundle file name ${JSON.stringify(name)} is not a plain relative path`);
      const file = shQuote(`${dir}/${name}`);
      return [
        name.includes("/") ? `mkdir -p -m 0700 "$(dirname ${file})"` : "",
        `printf '%s' ${shQuote(Buffer.from(content).toString("base64"))} | base64 -d >${file}`,
        `chmod ${EXECUTABLE_FILES.has(name) ? "0700" : "0600"} ${file}`,
      ]
        .filter(Boolean)
        .join("\n");
    }),
    "echo bundle-copied",
  ].join("\n");
}

/** What uninstall must give back: ruleset (no counters), forwarding, units, and none of our files. */
const HOST_STATE_SH = [
  "nft -s list ruleset",
  "echo '--8<--'",
  "sysctl -n net.ipv4.ip_forward",
  "echo '--8<--'",
  "for u in nftables.service systemd-networkd.service wg-quick@wg0.service; do printf '%s %s\\n' $u $(systemctl is-enabled $u 2>/dev/null || true); done",
  "echo '--8<--'",
  FAR_END_LEFTOVERS_SH,
].join("\n");

interface HostState {
  ruleset: string;
  ipForward: string;
  units: string;
  leftovers: string;
}

async function hostState(t: SshTarget): Promise<HostState> {
  const r = await ssh(t, HOST_STATE_SH, 60_000);
  const [ruleset = "", ipForward = "", units = "", leftovers = ""] = r.stdout.split("--8<--\n");
  return { ruleset, ipForward: ipForward.trim(), units: units.trim(), leftovers: leftovers.trim() };
}

const installSh = (t: SshTarget, args: string, timeoutMs = 180_000) =>
  ssh(t, `sh ${BUNDLE_DIR}/${FAR_END_FILES.installer} ${args}`, timeoutMs, 0);

/** Pings from the LAN workstation (through the office router): replies of `count`. */
async function lanPing(lanNs: string, to: string, count: number): Promise<{ ok: boolean; detail: string }> {
  const r = await nsRun(lanNs, ["ping", "-n", "-c", String(count), "-i", "0.5", "-W", "2", to], {
    timeoutMs: 15_000 + count * 3000,
  });
  const p = parsePing(r.stdout);
  return {
    ok: r.code === 0 && p.received === p.transmitted && p.transmitted > 0,
    detail: `${p.received}/${p.transmitted} replies${p.rttAvgMs !== undefined ? `, avg ${p.rttAvgMs} ms` : ""}`,
  };
}

const tail = (text: string, lines = 4) => text.trim().split("\n").slice(-lines).join(" | ");

/**
 * Installs, checks, restarts the host's firewall under, and uninstalls each form on the
 * far end. Returns its checks, to be recorded by the caller; never throws for a failed check.
 */
export async function farEndChecks(s: VmScenario, far: FarEndVm): Promise<LabCheck[]> {
  const checks: LabCheck[] = [];
  const name = far.host.id;
  const check = (what: string, ok: boolean, detail: string, negativeControl = false) => {
    checks.push(labCheck(`${name}: ${what}`, ok, detail, { negativeControl }));
    s.log(`(${name}) ${ok ? "pass" : "FAIL"} ${what}: ${detail}`);
    return ok;
  };
  const hubTestAddress = privateAddress(s.hubTest);
  const installSeconds: Record<string, number | undefined> = {};
  s.result.measurements.farEndInstallToCheckSeconds = installSeconds;
  try {
    await far.resumed;
    const failed = far.startFailure();
    if (
      !check(
        "resumed from its saved state, clock set",
        !failed,
        failed ?? "running; its own nftables.service, forwarding and wireguard-tools from its setup",
      )
    )
      return checks;

    // One plain command first: it opens the shared connection (retried while the host is
    // busy), which a script fed on stdin cannot do reliably.
    const reachable = await ssh(far.target, "true", 60_000);
    if (!check("reachable over SSH from the office LAN", reachable.code === 0, tail(reachable.stderr) || "ok"))
      return checks;
    const copied = await sshScript(far.target, bundleCopyScript(BUNDLE_DIR, far.bundle), 60_000);
    if (
      !check(
        "bundle copied as `npm run bundle` writes it",
        copied.stdout.includes("bundle-copied"),
        tail(copied.stderr || copied.stdout) || BUNDLE_DIR,
      )
    )
      return checks;

    const before = await hostState(far.target);
    const lanInternetBefore = await lanPing(far.lanNs, INTERNET_HOST.address, 2);
    check(
      "before the bundle: the office LAN reaches the internet through the router (masquerade)",
      lanInternetBefore.ok && before.ipForward === "1",
      `${lanInternetBefore.detail}; ip_forward ${before.ipForward}`,
    );

    // Each install is timed to its passing check, so it starts once the hub runs.
    if (!(await s.hubReady)) {
      check("the hub's tunnel came up", false, "no ping between the test hosts: nothing to reach across");
      return checks;
    }
    for (const form of FAR_END_FORMS) {
      const started = Date.now();
      const install = await installSh(far.target, `install --form ${form}`);
      if (
        !check(
          `install --form ${form}`,
          install.code === 0,
          `exit ${install.code}: ${tail(install.code === 0 ? install.stdout : install.stderr || install.stdout)}`,
        )
      )
        break;
      const checked = await installSh(far.target, "check --wait 120", 200_000);
      installSeconds[form] = checked.code === 0 ? (Date.now() - started) / 1000 : undefined;
      check(
        `${form}: install.sh check (policy, guard, forwarding, wg0, ping to the hub's tunnel address, handshake)`,
        checked.code === 0,
        checked.code === 0
          ? `passed ${installSeconds[form]!.toFixed(0)} s after install began`
          : tail(checked.stdout + checked.stderr, 6),
      );
      const toHub = await lanPing(far.lanNs, hubTestAddress, 3);
      check(`${form}: office LAN -> hub test host ${hubTestAddress} through the tunnel`, toHub.ok, toHub.detail);
      const toInternet = await lanPing(far.lanNs, INTERNET_HOST.address, 2);
      check(`${form}: office LAN -> internet still works with the bundle installed`, toInternet.ok, toInternet.detail);

      const restart = await ssh(far.target, "systemctl restart nftables.service; echo restart-exit=$?", 60_000);
      const afterRestart = await installSh(far.target, "check --wait 60", 120_000);
      const toHubAgain = await lanPing(far.lanNs, hubTestAddress, 3);
      check(
        `${form}: survives systemctl restart nftables (flush ruleset): policy back, the LAN reaches the hub`,
        /restart-exit=0/.test(restart.stdout) && afterRestart.code === 0 && toHubAgain.ok,
        `restart ${/restart-exit=(\d+)/.exec(restart.stdout)?.[1] ?? "?"}; check ${afterRestart.code === 0 ? "passed" : tail(afterRestart.stdout, 3)}; ping ${toHubAgain.detail}`,
      );

      const uninstall = await installSh(far.target, "uninstall");
      const after = await hostState(far.target);
      const same =
        after.ruleset === before.ruleset &&
        after.ipForward === before.ipForward &&
        after.units === before.units &&
        after.leftovers === "";
      check(
        `${form}: uninstall leaves the host as it was (ruleset, forwarding, units, no files of ours)`,
        uninstall.code === 0 && same,
        uninstall.code !== 0
          ? `exit ${uninstall.code}: ${tail(uninstall.stderr || uninstall.stdout)}`
          : same
            ? "identical"
            : `ruleset ${firstDifference(before.ruleset, after.ruleset)}; ip_forward ${before.ipForward} -> ${after.ipForward}; units ${before.units === after.units ? "same" : `${before.units} -> ${after.units}`}; left: ${after.leftovers || "nothing"}`,
      );
      const gone = await lanPing(far.lanNs, hubTestAddress, 1);
      check(
        `${form}: negative control: after uninstall the LAN no longer reaches the hub`,
        !gone.ok,
        gone.ok ? "still answered: something other than the tunnel carries it" : `no reply (${gone.detail})`,
        true,
      );
    }
  } catch (e) {
    check("far-end scenario", false, e instanceof Error ? e.message : String(e));
  }
  return checks;
}
