/**
 * Boot to first handshake on every gateway (guest uptime, from the kernel log) and its
 * ratio to the booted test hosts' boot to cloud-init done: what `npm run bench` reports
 * for the VM lab. A host resumed from a saved state did not boot in this run, so its
 * uptime is no boot figure. Measurements only, no check.
 */
import type { SshTarget } from "../guest";
import { ssh } from "../guest";
import { gateways, type VmScenario } from "./context";

/**
 * Guest uptime of the first WireGuard handshake: the kernel logs "Keypair 1 created" with
 * a boot-relative timestamp (wireguard.dyndbg=+p on the lab's kernel command line).
 */
async function firstHandshakeUptime(t: SshTarget): Promise<number | undefined> {
  const r = await ssh(t, "dmesg | grep -m1 'wg0: Keypair [0-9]* created for peer'", 30_000);
  const m = /^\[\s*(\d+\.\d+)\]/.exec(r.stdout.trim());
  return m ? Number(m[1]) : undefined;
}

export async function handshakeTiming(s: VmScenario): Promise<void> {
  const m = s.result.measurements;
  const ups = await Promise.all(gateways(s).map((gw) => firstHandshakeUptime(s.target(gw))));
  for (const [i, gw] of gateways(s).entries()) {
    const up = ups[i];
    if (up !== undefined) m.firstHandshakeUptimeSeconds[gw.id] = up;
  }
  const testDone = s.result.hosts
    .filter((h) => h.role === "test-host" && h.start === "boot")
    .map((h) => h.cloudInitDoneUptimeSeconds);
  if (testDone.every((u) => u !== undefined) && testDone.length > 0) {
    const mean = (testDone as number[]).reduce((x, y) => x + y, 0) / testDone.length;
    for (const [name, up] of Object.entries(m.firstHandshakeUptimeSeconds)) {
      m.handshakeToTestHostRatio[name] = Math.round((up / mean) * 100) / 100;
    }
  }
  s.log(
    `first handshake (guest uptime): ${JSON.stringify(m.firstHandshakeUptimeSeconds)}; ratio to test hosts' cloud-init done: ${JSON.stringify(m.handshakeToTestHostRatio)}`,
  );
}
