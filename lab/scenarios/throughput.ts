/**
 * Bulk TCP through the tunnel and the MTU check (PMTU discovery blocked, MSS clamp on and off).
 * Moved unchanged from lab/run.ts (the orchestrator).
 */
import { iperf3 } from "../checks";
import { fragNeededDrops } from "../network";
import { check, type LabMetrics } from "../results";
import { type LabNode } from "../topology";
import { type Ctx, execOf, serverOf } from "./context";

export async function testHostMtus(c: Ctx): Promise<Record<string, number | null>> {
  const out: Record<string, number | null> = {};
  for (const site of c.t.sites) {
    const r = await execOf(c, site.testHost)(["cat", `/sys/class/net/${site.testHost.privateNic.name}/mtu`]);
    out[site.testHost.id] = r.code === 0 ? Number(r.stdout.trim()) : null;
  }
  return out;
}

/** Delete the gateway's MSS-clamp rules (the lines with `maxseg size set`); returns how many. */
export async function removeMssClamp(c: Ctx, gw: LabNode): Promise<number> {
  const list = await execOf(c, gw)(["nft", "-a", "list", "table", "inet", "wg_s2s"]);
  const handles = list.stdout
    .split("\n")
    .filter((l) => l.includes("maxseg size set"))
    .map((l) => /# handle (\d+)/.exec(l)?.[1])
    .filter((h): h is string => !!h);
  for (const h of handles)
    await execOf(c, gw)(["nft", "delete", "rule", "inet", "wg_s2s", "forward", "handle", h], { check: true });
  return handles.length;
}

export async function throughputAndMtu(c: Ctx, metrics: LabMetrics): Promise<void> {
  const hub = c.t.sites[0];
  const far = c.t.sites[1];
  const farAddr = c.testHostAddr.get(far.name);
  metrics.mtu.testHostMtu = await testHostMtus(c);
  const mtusOk = Object.values(metrics.mtu.testHostMtu).every((m) => m === 1500);
  c.checks.push(
    check(
      "test hosts keep MTU 1500",
      "mtu",
      "pass",
      mtusOk,
      Object.entries(metrics.mtu.testHostMtu)
        .map(([h, m]) => `${h} ${m}`)
        .join(", "),
    ),
  );

  const dropsBefore = await fragNeededDrops(c.t);
  if (farAddr) {
    const h2h = await iperf3(serverOf(c, far.testHost), execOf(c, hub.testHost), farAddr, {
      seconds: c.iperfSeconds,
      port: 5201,
    });
    metrics.throughputMbps.hostToHostTunnel = h2h.ok ? h2h.mbps : null;
    metrics.mtu.clampedTransferMbps = h2h.ok ? h2h.mbps : null;
    c.checks.push(
      check(
        `bulk TCP ${hub.testHost.id} -> ${far.testHost.id} through the tunnel (MTU 1500 hosts, frag-needed dropped)`,
        "mtu",
        "pass",
        h2h.ok,
        h2h.ok ? `${h2h.mbps} Mbit/s, ${h2h.bytesReceived} bytes in ${c.iperfSeconds} s` : (h2h.error ?? "no data"),
        { mbps: h2h.mbps },
      ),
    );
    c.log(`  iperf3 host-to-host via tunnel: ${h2h.ok ? `${h2h.mbps} Mbit/s` : `FAILED (${h2h.error})`}`);
  }
  const g2gT = await iperf3(serverOf(c, far.gateway), execOf(c, hub.gateway), far.tunnelAddress, {
    seconds: c.iperfSeconds,
    port: 5202,
  });
  metrics.throughputMbps.gatewayToGatewayTunnel = g2gT.ok ? g2gT.mbps : null;
  c.checks.push(
    check(
      `bulk TCP ${hub.gateway.id} -> ${far.gateway.id} through the tunnel`,
      "throughput",
      "pass",
      g2gT.ok,
      g2gT.ok ? `${g2gT.mbps} Mbit/s` : (g2gT.error ?? "no data"),
    ),
  );
  c.log(`  iperf3 gateway-to-gateway via tunnel: ${g2gT.ok ? `${g2gT.mbps} Mbit/s` : `FAILED (${g2gT.error})`}`);
  const g2gU = await iperf3(serverOf(c, far.gateway), execOf(c, hub.gateway), far.publicIp, {
    seconds: c.iperfSeconds,
    port: 5203,
  });
  metrics.throughputMbps.gatewayToGatewayUnderlay = g2gU.ok ? g2gU.mbps : null;
  c.checks.push(
    check(
      `bulk TCP ${hub.gateway.id} -> ${far.gateway.id} over the raw underlay`,
      "throughput",
      "pass",
      g2gU.ok,
      g2gU.ok ? `${g2gU.mbps} Mbit/s` : (g2gU.error ?? "no data"),
    ),
  );
  c.log(`  iperf3 gateway-to-gateway underlay: ${g2gU.ok ? `${g2gU.mbps} Mbit/s` : `FAILED (${g2gU.error})`}`);

  if (farAddr && far.kind !== "external") {
    // Negative control: without the clamp on either gateway of the path, full-size segments
    // need PMTU discovery, whose ICMP the lab drops: the transfer must stall.
    const removed = (await removeMssClamp(c, hub.gateway)) + (await removeMssClamp(c, far.gateway));
    const bare = await iperf3(serverOf(c, far.testHost), execOf(c, hub.testHost), farAddr, {
      seconds: c.iperfSeconds,
      port: 5204,
      hardTimeoutMs: (c.iperfSeconds + 8) * 1000,
    });
    const drops = (await fragNeededDrops(c.t)) - dropsBefore;
    metrics.mtu.unclampedTransferMbps = bare.ok ? bare.mbps : 0;
    // "Works" = at least a tenth of the clamped rate arrived; a stall delivers (almost) nothing.
    const worked = bare.ok && bare.mbps > Math.max(1, (metrics.mtu.clampedTransferMbps ?? 0) / 10);
    c.checks.push(
      check(
        `negative control: bulk TCP with the MSS clamp removed (${removed} rules on 2 gateways)`,
        "negative-control",
        "fail",
        worked,
        `${bare.ok ? `${bare.mbps} Mbit/s` : (bare.error ?? "no data")}; frag-needed dropped meanwhile: ${drops}`,
      ),
    );
    c.log(
      `  negative control, no MSS clamp: ${worked ? "transfer WORKED (unexpected)" : "stalled as expected"} (${bare.ok ? `${bare.mbps} Mbit/s` : (bare.error ?? `${bare.bytesReceived} bytes arrived`)})`,
    );
    // Restore through the unit's own reload (the ruleset is written to be re-runnable).
    for (const gw of [hub.gateway, far.gateway])
      await execOf(c, gw)(["systemctl", "reload", "wg-s2s-firewall.service"], { check: true });
    const restored = (await execOf(c, hub.gateway)(["nft", "list", "table", "inet", "wg_s2s"])).stdout.includes(
      "maxseg size set",
    );
    c.checks.push(
      check(
        "MSS clamp restored by `systemctl reload wg-s2s-firewall`",
        "mtu",
        "pass",
        restored,
        restored ? "rules back" : "rules missing after reload",
      ),
    );
  }
  metrics.mtu.fragNeededDropped = await fragNeededDrops(c.t);
}
