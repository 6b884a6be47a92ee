/**
 * Faults and negative controls (`--faults`): tunnel restarts, NAT rebinding, underlay loss,
 * a wrong peer key, a missing route.
 * Moved unchanged from lab/run.ts (the orchestrator).
 */
import { iperf3, ping, waitForPing } from "../checks";
import { parseLatestHandshakes } from "../parsers";
import { setUnderlayLoss } from "../network";
import { check, type LabMetrics } from "../results";
import { bare } from "../topology";
import { type Ctx, execOf, serverOf } from "./context";

/**
 * Restarting the tunnel the networkd way: networkd never re-creates an existing netdev on
 * reload, so the link is deleted and networkd (its stand-in here) creates it afresh.
 */
export const RESTART_TUNNEL: readonly string[] = ["sh", "-c", "ip link delete wg0 && networkctl reload"];

/** A gateway's tunnel restarted (RESTART_TUNNEL): time until the hub test host reaches the site again. */
export async function faultTunnelRestart(
  c: Ctx,
  which: "remote" | "hub",
  faults: Record<string, number | string | boolean | null>,
): Promise<void> {
  const hub = c.t.sites[0];
  const far = c.t.sites[1];
  const gw = which === "hub" ? hub.gateway : far.gateway;
  const to = c.testHostAddr.get(far.name)!;
  const started = Date.now();
  const r = await execOf(c, gw)([...RESTART_TUNNEL], { timeoutMs: 30_000 });
  const ms = await waitForPing(execOf(c, hub.testHost), to, 60_000, 200);
  const total = ms === null ? null : Date.now() - started;
  faults[`tunnelRestart${which === "hub" ? "Hub" : "Remote"}RecoveryMs`] = total;
  c.checks.push(
    check(
      `fault: ${gw.id} tunnel restarted -> ping recovers`,
      "fault",
      "pass",
      r.code === 0 && ms !== null,
      ms === null ? `no ping within 60 s (restart exit ${r.code})` : `recovered after ${total} ms`,
      { recoveryMs: total },
    ),
  );
  c.log(
    `  fault: restart ${gw.id} wg0 (delete + networkctl reload) -> ${ms === null ? "NOT recovered" : `ping back after ${((total ?? 0) / 1000).toFixed(1)} s`}`,
  );
}

/** NAT rebinding: the remote gateway's public address changes mid-run. */
export async function faultNatRebinding(
  c: Ctx,
  faults: Record<string, number | string | boolean | null>,
): Promise<void> {
  const hub = c.t.sites[0];
  const far = c.t.sites[1];
  const pub = far.gateway.publicNic!;
  const oldAddr = pub.address;
  const len = oldAddr.split("/")[1];
  const newIp = `198.51.100.${200 + far.index}`;
  const to = c.testHostAddr.get(far.name)!;
  const started = Date.now();
  // Old address out first: deleting a primary address also deletes the secondaries of its subnet.
  await execOf(c, far.gateway)(["ip", "addr", "del", oldAddr, "dev", pub.name], { check: true });
  await execOf(c, far.gateway)(["ip", "addr", "add", `${newIp}/${len}`, "dev", pub.name], { check: true });
  const held = (await execOf(c, far.gateway)(["ip", "-4", "-o", "addr", "show", "dev", pub.name])).stdout.includes(
    `${newIp}/`,
  );
  if (!held) throw new Error(`${far.gateway.id} does not hold ${newIp} after the change`);
  // Traffic from the hub side: the tunnel comes back when the remote's keepalive (or data) arrives from the new address.
  const ms = await waitForPing(execOf(c, hub.testHost), to, (c.t.keepaliveSeconds + 20) * 1000, 250);
  const total = ms === null ? null : Date.now() - started;
  const endpoints = (await execOf(c, hub.gateway)(["wg", "show", "wg0", "endpoints"])).stdout;
  const roamed = endpoints.includes(`${newIp}:`);
  faults.natRebindingRecoveryMs = total;
  c.checks.push(
    check(
      `fault: ${far.gateway.id} public address ${bare(oldAddr)} -> ${newIp} (NAT rebinding) -> tunnel recovers`,
      "fault",
      "pass",
      ms !== null && roamed,
      ms === null
        ? `no ping within ${c.t.keepaliveSeconds + 20} s`
        : `recovered after ${total} ms; hub endpoint now ${roamed ? newIp : "unchanged"}`,
      { recoveryMs: total },
    ),
  );
  c.log(
    `  fault: NAT rebinding ${bare(oldAddr)} -> ${newIp}: ${ms === null ? "NOT recovered" : `recovered after ${((total ?? 0) / 1000).toFixed(1)} s`}`,
  );
}

export async function faultLoss(
  c: Ctx,
  metrics: LabMetrics,
  faults: Record<string, number | string | boolean | null>,
): Promise<string> {
  const hub = c.t.sites[0];
  const far = c.t.sites[1];
  const to = c.testHostAddr.get(far.name)!;
  const { method } = await setUnderlayLoss(c.t, 5);
  try {
    const p = await ping(execOf(c, hub.testHost), to, 30, 0.1, 1);
    const tput = await iperf3(serverOf(c, far.testHost), execOf(c, hub.testHost), to, {
      seconds: c.iperfSeconds,
      port: 5205,
    });
    metrics.throughputMbps.hostToHostUnderLoss = tput.ok ? tput.mbps : null;
    faults.lossPingLossPercent = p.lossPercent;
    // The seed's test passes when replies come back; with 5% per-direction loss most must.
    const passed = p.received >= p.transmitted / 2;
    c.checks.push(
      check(
        "fault: 5% underlay loss -> ping test still passes",
        "fault",
        "pass",
        passed,
        `${p.received}/${p.transmitted} replies (${p.lossPercent}% lost); iperf3 ${tput.ok ? `${tput.mbps} Mbit/s` : tput.error}`,
      ),
    );
    c.log(
      `  fault: 5% underlay loss: ${p.received}/${p.transmitted} replies, iperf3 ${tput.ok ? `${tput.mbps} Mbit/s` : "failed"}`,
    );
  } finally {
    await setUnderlayLoss(c.t, 0);
  }
  return method;
}

/** Negative control: the remote gateway is given a wrong public key for the hub. No handshake may happen. */
export async function negativeWrongKey(
  c: Ctx,
  faults: Record<string, number | string | boolean | null>,
): Promise<void> {
  const hub = c.t.sites[0];
  const far = c.t.sites[1];
  const to = c.testHostAddr.get(far.name)!;
  const gw = execOf(c, far.gateway);
  // Only public data is read here (peers, endpoints, allowed IPs); no private key leaves wg.
  const peers = (await gw(["wg", "show", "wg0", "peers"])).stdout.trim().split("\n").filter(Boolean);
  const endpoints = (await gw(["wg", "show", "wg0", "endpoints"])).stdout;
  const allowed = (await gw(["wg", "show", "wg0", "allowed-ips"])).stdout;
  const hubPeer = peers[0];
  const endpoint =
    endpoints
      .split("\n")
      .find((l) => l.startsWith(hubPeer))
      ?.split(/\s+/)[1] ?? `${hub.publicIp}:${c.t.listenPort}`;
  const ips = (allowed.split("\n").find((l) => l.startsWith(hubPeer)) ?? "").split(/\s+/).slice(1).join(",");
  const wrongKey = (await gw(["sh", "-c", "wg genkey | wg pubkey"])).stdout.trim();
  await gw(["wg", "set", "wg0", "peer", hubPeer, "remove"], { check: true });
  await gw(
    [
      "wg",
      "set",
      "wg0",
      "peer",
      wrongKey,
      "endpoint",
      endpoint,
      "allowed-ips",
      ips,
      "persistent-keepalive",
      String(c.t.keepaliveSeconds || 25),
    ],
    { check: true },
  );
  const reached = await waitForPing(execOf(c, hub.testHost), to, 8000, 500);
  const hs = parseLatestHandshakes(
    (await gw(["wg", "show", "wg0", "latest-handshakes"])).stdout,
    Math.floor(Date.now() / 1000),
  );
  const handshake = hs[wrongKey] !== null && hs[wrongKey] !== undefined;
  faults.wrongKeyHandshake = handshake;
  c.checks.push(
    check(
      `negative control: ${far.gateway.id} has a wrong public key for the hub`,
      "negative-control",
      "fail",
      reached !== null || handshake,
      `${reached !== null ? "ping got through" : "no ping in 8 s"}, ${handshake ? "handshake happened" : "no handshake"}`,
    ),
  );
  c.log(
    `  negative control, wrong peer key: ${reached === null && !handshake ? "no handshake, no ping (failed as expected)" : "TUNNEL WORKED (unexpected)"}`,
  );
  // Restore from the config files: a re-created wg0 re-reads the netdev.
  await gw([...RESTART_TUNNEL], { timeoutMs: 30_000 });
  const back = await waitForPing(execOf(c, hub.testHost), to, 45_000, 250);
  faults.wrongKeyRestoreRecoveryMs = back;
  c.checks.push(
    check(
      `tunnel back after restoring ${far.gateway.id}'s config`,
      "fault",
      "pass",
      back !== null,
      back === null ? "no ping within 45 s" : `after ${back} ms`,
    ),
  );
}

/** Negative control: one test host loses its route to the hub's subnet. */
export async function negativeMissingRoute(c: Ctx): Promise<void> {
  const hub = c.t.sites[0];
  const far = c.t.sites[1];
  const to = c.testHostAddr.get(far.name)!;
  const th = execOf(c, far.testHost);
  const route = (await th(["ip", "-4", "route", "show", hub.subnet])).stdout.trim();
  if (route) await th(["ip", "-4", "route", "del", hub.subnet], { check: true });
  const p = await ping(execOf(c, hub.testHost), to, 3, 0.2, 1);
  c.checks.push(
    check(
      `negative control: ${far.testHost.id} without its route to ${hub.subnet}`,
      "negative-control",
      "fail",
      p.received > 0,
      `route was "${route || "absent"}"; ${p.received}/${p.transmitted} replies`,
    ),
  );
  c.log(
    `  negative control, missing route: ${p.received === 0 ? "no replies (failed as expected)" : "REPLIES (unexpected)"}`,
  );
  if (route) await th(["sh", "-c", `ip -4 route add ${route}`], { check: true });
  const back = await waitForPing(execOf(c, hub.testHost), to, 10_000, 200);
  c.checks.push(
    check(
      `ping back after restoring ${far.testHost.id}'s route`,
      "fault",
      "pass",
      back !== null,
      back === null ? "no ping within 10 s" : `after ${back} ms`,
    ),
  );
}
