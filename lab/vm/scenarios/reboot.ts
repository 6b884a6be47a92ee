/**
 * The hub gateway without its tunnel, then rebooted: first the negative control (with
 * wg0 down, the ping must fail, or nothing above measured the tunnel), then a reboot
 * from inside (or a hard QMP reset) after which the tunnel must come back with nothing
 * done by hand and cloud-init must still report no error.
 */
import { parseCloudInitResult, parseCloudInitStatus } from "../../parsers";
import { waitFor } from "../../proc";
import { ssh } from "../guest";
import { qmp } from "../qemu";
import { pingOnce, vmOf, type VmScenario } from "./context";

export async function tunnelStoppedControl(s: VmScenario): Promise<void> {
  const spoke = s.spokeTests[0];
  const stopped = await ssh(
    s.target(s.hubGateway),
    // networkd leaves a link an operator downed alone; the reboot below brings it back.
    "ip link set wg0 down && ip link show wg0 | grep -q 'state DOWN' && echo wg0-down",
    60_000,
  );
  const without = await pingOnce(s, s.hubTest, spoke);
  s.check(
    "negative control: no ping with the hub gateway's tunnel stopped",
    stopped.stdout.includes("wg0-down") && without === "no answer",
    without === "answered"
      ? "ping answered without the tunnel: traffic bypasses it"
      : without === "no answer"
        ? "wg0 down; ping unanswered, as it must be"
        : "could not run the ping (SSH failed)",
    true,
  );
}

export async function rebootCheck(s: VmScenario, method: "guest" | "reset"): Promise<void> {
  const gw = s.hubGateway;
  const vm = vmOf(s, gw);
  const timeoutMs = s.timeouts.rebootMs;
  const spoke = s.spokeTests[0];
  const bootId = async () =>
    (await ssh(s.target(gw), "cat /proc/sys/kernel/random/boot_id", 45_000)).stdout.trim() || undefined;
  const before = await bootId();
  const t = Date.now();
  if (method === "reset") {
    // A hard reset: no orderly shutdown, as after a host crash.
    await qmp(vm.qmpSocket, "system_reset");
  } else {
    // In-guest reboot, as an operator (or an unattended upgrade) would do it.
    await ssh(s.target(gw), "systemctl reboot", 45_000, 0);
  }
  const rebooted = await waitFor(
    async () => {
      if (vm.process.exitCode !== null) throw new Error(`${gw.id}: qemu exited during the reboot`);
      const now = await bootId();
      return now && before && now !== before ? now : undefined;
    },
    timeoutMs,
    5000,
  );
  if (
    !s.check(
      `${gw.id} rebooted`,
      rebooted !== undefined,
      rebooted
        ? `new boot id (${method === "reset" ? "QMP system_reset" : "systemctl reboot"})`
        : `no new boot id within ${timeoutMs / 1000} s`,
    )
  )
    return;
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
