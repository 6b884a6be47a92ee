/**
 * The seed's ping test hub <-> every site, spoke-to-spoke, and the hub's own forward policy.
 * Moved unchanged from lab/run.ts (the orchestrator).
 */
import { ping } from "../checks";
import { check, type LabMetrics } from "../results";
import { bare, type LabSite } from "../topology";
import { type Ctx, execOf } from "./context";

export async function hubPingChecks(c: Ctx, metrics: LabMetrics): Promise<void> {
  const hub = c.t.sites[0];
  for (const site of c.t.sites.slice(1)) {
    const to = c.testHostAddr.get(site.name);
    const from = c.testHostAddr.get(hub.name)!;
    if (!to) {
      c.checks.push(
        check(`ping ${hub.name} -> ${site.name} test host`, "ping", "pass", false, "remote test host has no address"),
      );
      continue;
    }
    const fwd = await ping(execOf(c, hub.testHost), to, 3);
    const back = await ping(execOf(c, site.testHost), from, 3);
    metrics.rttAvgMs[site.name] = fwd.rttAvgMs ?? null;
    c.checks.push(
      check(
        `ping ${hub.name} -> ${site.name} test host`,
        "ping",
        "pass",
        fwd.received > 0,
        `${hub.testHost.id} -> ${to}: ${fwd.received}/${fwd.transmitted} replies, rtt avg ${fwd.rttAvgMs ?? "-"} ms`,
        { rttAvgMs: fwd.rttAvgMs ?? null },
      ),
    );
    c.checks.push(
      check(
        `ping ${site.name} -> ${hub.name} test host`,
        "ping",
        "pass",
        back.received > 0,
        `${site.testHost.id} -> ${from}: ${back.received}/${back.transmitted} replies, rtt avg ${back.rttAvgMs ?? "-"} ms`,
        { rttAvgMs: back.rttAvgMs ?? null },
      ),
    );
    c.log(
      `  ping ${hub.name} <-> ${site.name}: ${fwd.received}/${fwd.transmitted} and ${back.received}/${back.transmitted}, rtt ${fwd.rttAvgMs ?? "-"} ms`,
    );
    if (site.lanRouter) {
      // RFC 3442: a client given option 121 ignores option 3; the LAN must keep its own default route.
      const lr = bare(site.lanRouter.privateNic.address!);
      const def = (await execOf(c, site.testHost)(["ip", "-4", "route", "show", "default"])).stdout.trim();
      c.checks.push(
        check(
          `${site.testHost.id} keeps its default route via the LAN router ${lr}`,
          "ping",
          "pass",
          def.includes(`via ${lr} `),
          def || "no default route",
        ),
      );
    }
  }
}

/** Spoke-to-spoke: must work exactly when both spokes allow it (enforced by the hub). */
export async function spokeToSpokeChecks(c: Ctx): Promise<void> {
  const spokes = c.t.sites.slice(1);
  for (let i = 0; i < spokes.length; i++) {
    for (let j = i + 1; j < spokes.length; j++) {
      const a = spokes[i];
      const b = spokes[j];
      const to = c.testHostAddr.get(b.name);
      if (!to) continue;
      const allowed = a.allowSpokeToSpoke && b.allowSpokeToSpoke;
      const r = await ping(execOf(c, a.testHost), to, 2, 0.2, 1);
      c.checks.push(
        check(
          `spoke-to-spoke ${a.name} -> ${b.name} (${allowed ? "allowed" : "not allowed"})`,
          "spoke-to-spoke",
          allowed ? "pass" : "fail",
          r.received > 0,
          `${r.received}/${r.transmitted} replies`,
        ),
      );
      c.log(
        `  spoke-to-spoke ${a.name} -> ${b.name}: ${r.received}/${r.transmitted} replies (${allowed ? "should pass" : "should be blocked"})`,
      );
      await hubForwardProbe(c, a, b, to, allowed);
    }
  }
}

/**
 * Is spoke-to-spoke enforced by the hub itself, not only by the spokes' AllowedIPs and
 * routes? The lab forces spoke `a` to send traffic for `b` into the tunnel (adds b's subnet
 * to a's AllowedIPs for the hub and a route, then pings from a's gateway with a source in
 * a's subnet) and counts, with its own nftables table on the hub, what arrives from a for b
 * and what the hub sends on. Allowed pairs must be forwarded, others dropped by the hub.
 */
export async function hubForwardProbe(c: Ctx, a: LabSite, b: LabSite, to: string, allowed: boolean): Promise<void> {
  const hubGw = execOf(c, c.t.sites[0].gateway);
  const aGw = execOf(c, a.gateway);
  const peers = (await aGw(["wg", "show", "wg0", "allowed-ips"])).stdout.trim().split("\n");
  const hubPeer = peers[0]?.split(/\s+/)[0];
  if (!hubPeer) throw new Error(`${a.gateway.id} has no WireGuard peer`);
  const original = peers[0]
    .split(/\s+/)
    .slice(1)
    .filter((x) => x.includes("/"));
  const probe = `table ip labprobe {
\tchain pre {
\t\ttype filter hook prerouting priority -300;
\t\tiifname "wg0" ip saddr ${a.subnet} ip daddr ${b.subnet} counter
\t}
\tchain post {
\t\ttype filter hook postrouting priority 300;
\t\tip saddr ${a.subnet} ip daddr ${b.subnet} counter
\t}
}
`;
  await hubGw(["nft", "-f", "-"], { input: probe, check: true });
  const forced = !original.includes(b.subnet);
  try {
    if (forced) {
      await aGw(["wg", "set", "wg0", "peer", hubPeer, "allowed-ips", [...original, b.subnet].join(",")], {
        check: true,
      });
      await aGw(["ip", "-4", "route", "replace", b.subnet, "dev", "wg0"], { check: true });
    }
    // -I: a source address inside a's subnet, as a LAN host behind a would have.
    await aGw(["ping", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "1", "-I", bare(a.gateway.privateNic.address!), to], {
      timeoutMs: 10_000,
    });
    const counters = (await hubGw(["nft", "list", "table", "ip", "labprobe"])).stdout;
    const [arrived, forwarded] = [...counters.matchAll(/counter packets (\d+)/g)].map((m) => Number(m[1]));
    const passed = forwarded > 0;
    c.checks.push(
      check(
        `hub forward policy: ${a.name} -> ${b.name} forced into the tunnel (${allowed ? "allowed" : "not allowed"})`,
        "spoke-to-spoke",
        allowed ? "pass" : "fail",
        arrived > 0 && passed,
        `${arrived} packets from ${a.name} for ${b.subnet} reached the hub, ${forwarded} forwarded${forced ? ` (lab added ${b.subnet} to ${a.gateway.id}'s AllowedIPs)` : ""}`,
        { arrived, forwarded },
      ),
    );
    if (arrived === 0)
      c.checks.push(
        check(
          `hub forward probe ${a.name} -> ${b.name}: traffic reached the hub`,
          "spoke-to-spoke",
          "pass",
          false,
          "nothing arrived; the probe proves nothing",
        ),
      );
    c.log(
      `  hub forward policy ${a.name} -> ${b.name}: ${arrived} in, ${forwarded} forwarded (${allowed ? "should forward" : "should drop"})`,
    );
  } finally {
    await hubGw(["nft", "delete", "table", "ip", "labprobe"]);
    if (forced) {
      await aGw(["wg", "set", "wg0", "peer", hubPeer, "allowed-ips", original.join(",")]);
      await aGw(["ip", "-4", "route", "del", b.subnet, "dev", "wg0"]);
    }
  }
}
