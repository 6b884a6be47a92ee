/**
 * A gateway without its tunnel, then rebooted: first the negative control (with wg0 down,
 * the ping must fail, or nothing above measured the tunnel), then a reboot with no `nft`
 * (the gateway must fail closed), both on the gateway the caller names; then a plain
 * reboot of the hub gateway from inside (or a hard QMP reset) after which the tunnel must
 * come back with nothing done by hand and cloud-init must still report no error.
 */
import { parseCloudInitResult, parseCloudInitStatus } from "../../parsers";
import { waitFor } from "../../proc";
import { closeSshMaster, ssh } from "../guest";
import { qmp } from "../qemu";
import type { LabNode } from "../../topology";
import { pingOnce, vmOf, type VmScenario } from "./context";

export async function tunnelStoppedControl(s: VmScenario, gw: LabNode): Promise<void> {
  const spoke = s.spokeTests[0];
  const stopped = await ssh(
    s.target(gw),
    // networkd leaves a link an operator downed alone; the reboot below brings it back.
    "ip link set wg0 down && ip link show wg0 | grep -q 'state DOWN' && echo wg0-down",
    60_000,
  );
  const without = await pingOnce(s, s.hubTest, spoke);
  s.check(
    `negative control: no ping with ${gw.id}'s tunnel stopped`,
    stopped.stdout.includes("wg0-down") && without === "no answer",
    without === "answered"
      ? "ping answered without the tunnel: traffic bypasses it"
      : without === "no answer"
        ? "wg0 down; ping unanswered, as it must be"
        : "could not run the ping (SSH failed)",
    { negativeControl: true },
  );
}

/**
 * Reboots `gw` and waits for a new boot id. Returns when the reboot was ordered (epoch ms),
 * or undefined (and a failed check) when no new boot came.
 */
async function rebootAndWait(
  s: VmScenario,
  gw: LabNode,
  method: "guest" | "reset",
  label: string,
): Promise<number | undefined> {
  const vm = vmOf(s, gw);
  const timeoutMs = s.timeouts.rebootMs;
  const bootIdCommand = "cat /proc/sys/kernel/random/boot_id";
  const before = (await ssh(s.target(gw), bootIdCommand, 45_000)).stdout.trim() || undefined;
  // While it reboots: one short try every 2 s, each on a connection of its own (a shared
  // one could be the dead one from before the reboot), without ssh()'s retries (a try made
  // while the guest is down waits out its connect timeout: retried, that made a minute).
  const probe = { ...s.target(gw), controlDir: undefined, connectTimeoutSeconds: 5 };
  const bootId = async () => (await ssh(probe, bootIdCommand, 30_000, 0)).stdout.trim() || undefined;
  const orderedAt = Date.now();
  if (method === "reset") {
    // A hard reset: no orderly shutdown, as after a host crash.
    await qmp(vm.qmpSocket, "system_reset");
  } else {
    // In-guest reboot, as an operator (or an unattended upgrade) would do it.
    await ssh(s.target(gw), "systemctl reboot", 45_000, 0);
  }
  await closeSshMaster(s.target(gw));
  const rebooted = await waitFor(
    async () => {
      if (vm.process.exitCode !== null) throw new Error(`${gw.id}: qemu exited during the reboot`);
      const now = await bootId();
      return now && before && now !== before ? now : undefined;
    },
    timeoutMs,
    2000,
  );
  const ok = s.check(
    `${gw.id} rebooted${label}`,
    rebooted !== undefined,
    rebooted
      ? `new boot id (${method === "reset" ? "QMP system_reset" : "systemctl reboot"})`
      : `no new boot id within ${timeoutMs / 1000} s`,
  );
  return ok ? orderedAt : undefined;
}

/** Where the fail-closed check hides nft, as on an image without nftables. */
const NFT = "/usr/sbin/nft";
const NFT_HIDDEN = "/usr/sbin/nft.wg-s2s-lab-hidden";

/**
 * Fails closed: the gateway boots with no `nft` (an image without nftables, or a
 * policy the kernel refuses). wg-s2s-firewall.service must fail, so its ExecStartPost
 * never switches forwarding on: ip_forward stays 0 and nothing crosses, although wg0 is
 * up. The previous user-data (forwarding from /etc/sysctl.d, applied at every boot
 * whatever the policy did) would forward unfiltered here; the unit test that forwarding
 * is switched on nowhere but the firewall unit fails on its rendering. Then nft comes back and one
 * `systemctl start` of the failed unit restores the tunnel: what wg-s2s-extras.service
 * does once it has installed nftables (the safety net), or an operator by hand.
 */
export async function failClosedCheck(s: VmScenario, gw: LabNode): Promise<void> {
  const spoke = s.spokeTests[0];
  const hid = await ssh(s.target(gw), `mv ${NFT} ${NFT_HIDDEN} && sync && echo hidden`, 45_000);
  if (!s.check(`fail-closed: nft hidden on ${gw.id}`, hid.stdout.includes("hidden"), hid.stderr.trim())) return;
  try {
    if ((await rebootAndWait(s, gw, "guest", " without nft")) === undefined) return;
    const state = await ssh(
      s.target(gw),
      "echo forward=$(cat /proc/sys/net/ipv4/ip_forward); echo unit=$(systemctl is-active wg-s2s-firewall.service);" +
        " ip link show wg0 >/dev/null 2>&1 && echo wg0=present",
      45_000,
    );
    const forward = /forward=(\d)/.exec(state.stdout)?.[1];
    const unit = /unit=(\S+)/.exec(state.stdout)?.[1];
    s.check(
      "fail-closed: without its policy the gateway does not forward (unit failed, ip_forward=0, wg0 up)",
      forward === "0" && unit === "failed" && state.stdout.includes("wg0=present"),
      `ip_forward=${forward ?? "?"}, wg-s2s-firewall.service ${unit ?? "?"}, wg0 ${state.stdout.includes("wg0=present") ? "up" : "absent"}`,
    );
    // Three tries a few seconds apart: with forwarding off, none may be answered.
    const tries: (string | undefined)[] = [];
    for (let i = 0; i < 3; i += 1) tries.push(await pingOnce(s, s.hubTest, spoke));
    s.check(
      "fail-closed: no ping across while the policy is missing",
      tries.every((t) => t === "no answer"),
      `pings: ${tries.map((t) => t ?? "ssh failed").join(", ")}`,
    );
  } finally {
    await ssh(s.target(gw), `test -e ${NFT_HIDDEN} && mv ${NFT_HIDDEN} ${NFT}; sync`, 45_000);
  }
  const restarted = await ssh(
    s.target(gw),
    "systemctl start wg-s2s-firewall.service && cat /proc/sys/net/ipv4/ip_forward",
    60_000,
  );
  const t = Date.now();
  const back = await waitFor(
    async () => ((await pingOnce(s, s.hubTest, spoke)) === "answered" ? (Date.now() - t) / 1000 : undefined),
    120_000,
    3000,
  );
  s.check(
    "fail-closed: nft back, `systemctl start` of the failed wg-s2s-firewall.service restores forwarding and the ping",
    restarted.stdout.trim() === "1" && back !== undefined,
    `ip_forward=${restarted.stdout.trim() || "?"} after the start; ${back !== undefined ? `ping after ${back.toFixed(1)} s` : "no ping within 120 s"}`,
  );
}

export async function rebootCheck(s: VmScenario, method: "guest" | "reset"): Promise<void> {
  const gw = s.hubGateway;
  const timeoutMs = s.timeouts.rebootMs;
  const spoke = s.spokeTests[0];
  const t = await rebootAndWait(s, gw, method, "");
  if (t === undefined) return;
  const back = await waitFor(
    async () => ((await pingOnce(s, s.hubTest, spoke)) === "answered" ? (Date.now() - t) / 1000 : undefined),
    timeoutMs - (Date.now() - t),
    3000,
  );
  s.result.measurements.rebootToTunnelSeconds = back;
  s.check(
    `tunnel back after rebooting ${gw.id}, nothing done by hand`,
    back !== undefined,
    back !== undefined
      ? `${back.toFixed(0)} s from the reboot command to the first ping`
      : `no ping within ${timeoutMs / 1000} s`,
  );
}

/** After rebootCheck: cloud-init on the rebooted hub gateway still reports no error. */
export async function cloudInitAfterRebootCheck(s: VmScenario): Promise<void> {
  const gw = s.hubGateway;
  const r = await ssh(
    s.target(gw),
    "timeout 300 cloud-init status --wait --long; echo '--8<--'; cat /run/cloud-init/result.json",
    360_000,
  );
  const [statusText, json] = r.stdout.split("--8<--\n");
  let errors: string[];
  try {
    errors = parseCloudInitResult(json ?? "").errors;
  } catch (e) {
    errors = [(e as Error).message];
  }
  const status = parseCloudInitStatus(statusText ?? "");
  s.check(
    `cloud-init on ${gw.id} after the reboot: no errors`,
    status === "done" && errors.length === 0,
    `status ${status ?? "?"}; errors: ${errors.length ? errors.join(" | ") : "none"}`,
  );
}
