/**
 * The tunnel itself: boot to first ping (polled while the VMs boot), the kernel's
 * WireGuard with a handshake on every gateway, and the seed's ping test both ways between
 * the hub's test host and every spoke's.
 */
import { KERNEL_HANDSHAKES_PY, shQuote } from "../../../rendering/verificationScripts";
import { parseLatestHandshakes, parsePing } from "../../parsers";
import { waitFor } from "../../proc";
import { ssh } from "../guest";
import { privateAddress } from "../network";
import { gateways, pingOnce, type VmScenario } from "./context";

/**
 * Boot to tunnel: seconds from `t0` (the VMs' start) to the first answered ping from the
 * hub's test host to the first spoke's, polled from the first moment SSH answers.
 * Start it before waiting for cloud-init; await it afterwards.
 */
export function watchTunnel(
  s: Pick<VmScenario, "target" | "hubTest" | "spokeTests" | "timeouts" | "stopped">,
  t0: number,
): Promise<number | undefined> {
  return waitFor(
    async () => ((await pingOnce(s, s.hubTest, s.spokeTests[0])) === "answered" ? (Date.now() - t0) / 1000 : undefined),
    s.timeouts.tunnelMs,
    // Each SSH handshake costs an emulated guest seconds of CPU: poll gently.
    10_000,
    s.stopped,
  );
}

/** Records the boot-to-tunnel figure; throws when the tunnel never came up (nothing else can pass). */
export function tunnelUpCheck(s: VmScenario, boot: number | undefined): void {
  s.result.measurements.bootToTunnelSeconds = boot;
  if (
    !s.check(
      "tunnel up: first ping between test hosts",
      boot !== undefined,
      boot !== undefined
        ? `${boot.toFixed(0)} s after the VMs started`
        : `no ping within ${s.timeouts.tunnelMs / 1000} s`,
    )
  ) {
    throw new Error("the tunnel never came up");
  }
}

/** Kernel module (not wireguard-go), and a handshake with every Scaleway-built peer, on each gateway. */
export async function kernelWireGuardChecks(s: VmScenario): Promise<void> {
  // One SSH per gateway, at once (each on its own VM); checks recorded in gateway order.
  const outputs = await Promise.all(
    gateways(s).map((gw) =>
      ssh(
        s.target(gw),
        // The image has no wireguard-tools (and no mirror to get it from): read the kernel.
        `test -d /sys/module/wireguard && ip -d link show wg0 | grep -qw wireguard && echo KERNEL-WG; python3 -c ${shQuote(KERNEL_HANDSHAKES_PY)}`,
        30_000,
      ),
    ),
  );
  for (const [i, gw] of gateways(s).entries()) {
    const r = outputs[i];
    const kernel = r.stdout.includes("KERNEL-WG");
    const handshakes = Object.entries(parseLatestHandshakes(r.stdout, Date.now() / 1000))
      .filter(([key]) => !s.farEndPublicKeys.has(key))
      .map(([, age]) => age);
    const allShook = handshakes.length > 0 && handshakes.every((age) => age !== null);
    s.check(
      `${gw.id}: kernel WireGuard, handshake with every Scaleway-built peer`,
      kernel && allShook,
      `kernel module ${kernel ? "yes" : "no"}; handshakes ${handshakes.length ? handshakes.map((age) => (age !== null ? "done" : "none")).join(", ") : "none listed"}`,
    );
  }
}

/** The seed's ping test: 5 of 5 replies, hub test host <-> every spoke test host, both ways. */
export async function pingBothWays(s: VmScenario): Promise<void> {
  for (const spoke of s.spokeTests) {
    for (const [from, to] of [
      [s.hubTest, spoke],
      [spoke, s.hubTest],
    ] as const) {
      const r = await ssh(s.target(from), `ping -n -c 5 -i 0.5 -W 3 ${privateAddress(to)}`, 60_000);
      const stats = parsePing(r.stdout);
      const ok = r.code === 0 && stats.transmitted > 0 && stats.received === stats.transmitted;
      if (stats.rttAvgMs !== undefined) s.result.measurements.pingRttMs[`${from.id}->${to.id}`] = stats.rttAvgMs;
      s.check(
        `ping ${from.id} -> ${to.id}`,
        ok,
        stats.transmitted > 0
          ? `${stats.received}/${stats.transmitted} replies, avg ${stats.rttAvgMs ?? "?"} ms`
          : r.stderr.trim() || r.stdout.trim(),
      );
    }
  }
}
