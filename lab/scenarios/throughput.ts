/**
 * Bulk TCP through the tunnel and the MTU check (PMTU discovery blocked, MSS clamp on and off).
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
  /** One iperf3 transfer between two hosts, recorded as a check and a log line; its rate, or null. */
  const bulkTcp = async (
    from: LabNode,
    to: LabNode,
    target: string,
    port: number,
    how: { name: string; kind: "mtu" | "throughput"; logAs: string; bytesInDetail?: boolean },
  ): Promise<number | null> => {
    const r = await iperf3(serverOf(c, to), execOf(c, from), target, { seconds: c.iperfSeconds, port });
    const rate = `${r.mbps} Mbit/s${how.bytesInDetail ? `, ${r.bytesReceived} bytes in ${c.iperfSeconds} s` : ""}`;
    c.checks.push(
      check(
        how.name,
        how.kind,
        "pass",
        r.ok,
        r.ok ? rate : (r.error ?? "no data"),
        how.bytesInDetail ? { mbps: r.mbps } : undefined,
      ),
    );
    c.log(`  iperf3 ${how.logAs}: ${r.ok ? `${r.mbps} Mbit/s` : `FAILED (${r.error})`}`);
    return r.ok ? r.mbps : null;
  };
  if (farAddr) {
    const mbps = await bulkTcp(hub.testHost, far.testHost, farAddr, 5201, {
      name: `bulk TCP ${hub.testHost.id} -> ${far.testHost.id} through the tunnel (MTU 1500 hosts, frag-needed dropped)`,
      kind: "mtu",
      logAs: "host-to-host via tunnel",
      bytesInDetail: true,
    });
    metrics.throughputMbps.hostToHostTunnel = mbps;
    metrics.mtu.clampedTransferMbps = mbps;
  }
  metrics.throughputMbps.gatewayToGatewayTunnel = await bulkTcp(hub.gateway, far.gateway, far.tunnelAddress, 5202, {
    name: `bulk TCP ${hub.gateway.id} -> ${far.gateway.id} through the tunnel`,
    kind: "throughput",
    logAs: "gateway-to-gateway via tunnel",
  });
  metrics.throughputMbps.gatewayToGatewayUnderlay = await bulkTcp(hub.gateway, far.gateway, far.publicIp, 5203, {
    name: `bulk TCP ${hub.gateway.id} -> ${far.gateway.id} over the raw underlay`,
    kind: "throughput",
    logAs: "gateway-to-gateway underlay",
  });

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
