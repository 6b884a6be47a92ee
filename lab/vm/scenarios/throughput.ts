/**
 * Bulk TCP through the tunnel: iperf3 test host to test host, the same with a path-MTU
 * black hole on every segment (only the gateways' MSS clamping lets it through), and the
 * negative control that proves it: without the clamp the black hole must stall the transfer.
 */
import { parseIperf3 } from "../../parsers";
import { run, sleep } from "../../proc";
import { ssh, type SshTarget } from "../guest";
import { privateAddress } from "../network";
import { gateways, type VmScenario } from "./context";

async function iperfRun(
  client: SshTarget,
  server: SshTarget,
  serverAddress: string,
): Promise<{ bps?: number; detail: string }> {
  // One-shot server; the client run is bounded by its own -t plus connect time.
  await ssh(server, "pkill -x iperf3; iperf3 -s -1 -D", 30_000);
  await sleep(1000);
  const r = await ssh(client, `iperf3 -c ${serverAddress} -t 5 -J --connect-timeout 5000`, 90_000);
  const parsed = parseIperf3(r.stdout);
  if (!parsed.ok) return { detail: `iperf3: ${parsed.error ?? "nothing received"} ${r.stderr.trim()}`.trim() };
  return {
    bps: parsed.bitsPerSecond,
    detail: `${parsed.mbps.toFixed(1)} Mbit/s over ${parsed.seconds.toFixed(1)} s${parsed.retransmits !== undefined ? `, ${parsed.retransmits} retransmits` : ""}`,
  };
}

/** Deletes the MSS-clamping rules (by handle) from the gateway's forward policy, nothing else. */
export const UNCLAMP_SCRIPT = `n=0; for h in $(nft -a list chain inet wg_s2s forward | sed -n 's/.*maxseg size set.*# handle \\([0-9]*\\)$/\\1/p'); do nft delete rule inet wg_s2s forward handle "$h" && n=$((n+1)); done; echo "removed $n"`;

/** Drops ICMP "fragmentation needed" on every bridge of the lab (a path-MTU black hole). */
async function dropFragNeeded(switchNs: string, on: boolean): Promise<void> {
  const rules = on
    ? [
        "table bridge wgvm_pmtu {",
        "  chain forward {",
        "    type filter hook forward priority 0;",
        "    icmp type destination-unreachable icmp code frag-needed drop",
        "  }",
        "}",
        "",
      ].join("\n")
    : "delete table bridge wgvm_pmtu\n";
  const r = await run(["ip", "netns", "exec", switchNs, "nft", "-f", "-"], { timeoutMs: 10_000, input: rules });
  if (r.code !== 0) throw new Error(`nft in ${switchNs}: ${r.stderr.trim()}`);
}

export async function throughputChecks(s: VmScenario): Promise<void> {
  const { hubTest, target, check, result } = s;
  const spoke = s.spokeTests[0];
  const transfer = () => iperfRun(target(hubTest), target(spoke), privateAddress(spoke));

  const iperf = await transfer();
  result.measurements.iperfBitsPerSecond = iperf.bps;
  check(
    `iperf3 ${hubTest.id} -> ${spoke.id} through the tunnel`,
    iperf.bps !== undefined && iperf.bps > 0,
    iperf.detail,
  );

  // MTU: the test hosts keep 1500-byte MTUs; with every ICMP "fragmentation needed"
  // dropped on all segments, path-MTU discovery is blind and only MSS clamping saves TCP.
  await dropFragNeeded(s.switchNs, true);
  const blackhole = await transfer();
  await dropFragNeeded(s.switchNs, false);
  result.measurements.iperfPmtuBlackholeBitsPerSecond = blackhole.bps;
  check(
    "MTU: bulk TCP across the tunnel with ICMP frag-needed dropped",
    blackhole.bps !== undefined && blackhole.bps > 0,
    blackhole.detail,
  );

  // Negative control: the same black hole without the gateways' MSS clamping must stall
  // bulk TCP, or the MTU check above proves nothing. The policy is reloaded afterwards.
  const gws = gateways(s);
  const unclamped = await Promise.all(gws.map((gw) => ssh(target(gw), UNCLAMP_SCRIPT, 60_000)));
  await dropFragNeeded(s.switchNs, true);
  const stalled = await transfer();
  await dropFragNeeded(s.switchNs, false);
  const restored = await Promise.all(
    gws.map((gw) =>
      ssh(
        target(gw),
        "systemctl restart wg-s2s-firewall.service && nft list table inet wg_s2s | grep -c maxseg",
        60_000,
      ),
    ),
  );
  const removedAll = unclamped.every((r) => /removed [1-9]/.test(r.stdout));
  const clampedBps = blackhole.bps ?? 0;
  const stall = stalled.bps === undefined || stalled.bps < clampedBps / 4;
  check(
    "negative control: without MSS clamping, the frag-needed black hole stalls bulk TCP",
    removedAll && stall,
    `${removedAll ? "clamp rules removed on both gateways" : `could not remove the clamp rules: ${unclamped.map((r) => r.stdout.trim() || r.stderr.trim()).join(" | ")}`}; ${stalled.detail}`,
    { negativeControl: true },
  );
  if (!restored.every((r) => r.code === 0 && Number(r.stdout.trim()) > 0))
    throw new Error("could not restore the gateways' forward policy");
}
