/**
 * Boot: every host from its own user-data (hot-plugged private NICs, DHCP clients), with the
 * time to first ping per site.
 * Moved unchanged from lab/run.ts (the orchestrator).
 */
import * as path from "path";
import { runUserData, type CloudInitResult } from "../cloudInit";
import { hotplugPrivateNic, nodeAddress, runDhcpClient } from "../network";
import { pollUntil, sleep } from "../proc";
import { check, emptyBootSummary, maskSecrets, type HostBootSummary, type LabCheck } from "../results";
import { UNITS } from "../../cloud-init/common";
import { bare, type LabNode, type LabSite } from "../topology";
import { type Ctx, readText, nicOrdering, host, execOf } from "./context";

/** Boot every host from its user-data, hot-plug NICs, run DHCP clients; measure time to first ping per site. */
export async function bootAll(
  c: Ctx,
  userData: Map<string, string>,
  bundles: Map<string, Record<string, string>>,
  hotplugDelayMs: number,
  /** Awaited before a node boots: the two-step scenario (externalSites.ts) holds external gateways back with it. */
  gate: (n: LabNode) => Promise<void> = async () => {},
): Promise<{ summaries: HostBootSummary[]; firstPing: Record<string, number | null> }> {
  const { t } = c;
  const hub = t.sites[0];
  const t0 = Date.now();
  const summaries = new Map<string, HostBootSummary>();
  const cloudInitDone = new Map<string, Promise<CloudInitResult | null>>();

  const summary = (n: LabNode): HostBootSummary => {
    let s = summaries.get(n.id);
    if (!s) {
      s = emptyBootSummary(n);
      summaries.set(n.id, s);
    }
    return s;
  };

  const bootNode = async (site: LabSite, n: LabNode) => {
    const s = summary(n);
    const ud = userData.get(n.id);
    // Registered before the gate opens, so a LAN host waiting for its gateway waits for the gate too.
    const gated = gate(n);
    const ci = gated.then(() =>
      ud ? runUserData(host(c, n), ud, { instanceId: `${t.prefix}-${n.id}` }) : Promise.resolve(null),
    );
    cloudInitDone.set(n.id, ci);
    const nicWork = (async () => {
      await gated;
      if (n.privateNic.hotplug) {
        // Scaleway attaches the NIC while the server boots. Where the user-data waits for it,
        // plug it a few seconds into that wait (so the wait is really exercised); else a few
        // seconds after the user-data started.
        if (ud?.includes(UNITS.privateNic)) {
          const journal = path.join(host(c, n).runDir, "lab-systemd", "journal.log");
          const seen = await pollUntil(
            async () => readText(journal).includes(`${UNITS.privateNic}: starting`),
            90_000,
            200,
          );
          if (seen === null) c.log(`  ${n.id}: user-data never started ${UNITS.privateNic}; plugging the NIC anyway`);
        }
        await sleep(hotplugDelayMs);
        await hotplugPrivateNic(t, n);
        s.hotplugAtMs = Date.now() - t0;
        c.log(`  ${n.id}: private NIC ${n.privateNic.name} hot-plugged at +${(s.hotplugAtMs / 1000).toFixed(1)} s`);
      }
      if (n.privateNic.addressing === "ipam-dhcp") {
        const d = await runDhcpClient(host(c, n), n.privateNic.name);
        s.dhcp = { ok: d.ok, address: d.address, ms: d.ms };
        if (!d.ok || d.address !== nodeAddress(n)) {
          s.ok = false;
          s.errors.push(
            `DHCP (VPC router stand-in): got ${d.address ?? "no address"}, expected ${nodeAddress(n)}: ${d.log}`,
          );
        }
      } else if (n.privateNic.addressing === "lan-dhcp") {
        // The operator's LAN host asks for a lease once its gateway's dnsmasq is up.
        const gwDone = await cloudInitDone.get(site.gateway.id);
        if (!gwDone?.ok) c.log(`  ${n.id}: gateway user-data failed; asking for a lease anyway`);
        const d = await runDhcpClient(host(c, n), n.privateNic.name);
        s.dhcp = { ok: d.ok, address: d.address, ms: d.ms };
        if (d.address) c.testHostAddr.set(site.name, d.address);
        if (!d.ok) {
          s.ok = false;
          s.errors.push(`DHCP from the gateway's dnsmasq failed: ${d.log}`);
        }
      } else if (n.role === "test-host" && site.kind === "external") {
        // external `static`: the operator runs the bundle's routes.sh on each LAN host.
        const routes = bundles.get(site.name)?.["routes.sh"];
        if (routes) {
          const r = await host(c, n).exec(["sh", "-c", routes]);
          s.routesSh = r.code === 0;
          if (r.code !== 0) {
            s.ok = false;
            s.errors.push(`routes.sh failed: ${r.stderr.trim()}`);
          }
        }
      }
    })().catch((e: Error) => {
      s.ok = false;
      s.errors.push(`NIC: ${e.message}`);
    });
    const [ciResult] = await Promise.all([ci, nicWork]);
    if (ciResult) {
      s.cloudInitMs = ciResult.finishedAt - ciResult.startedAt;
      s.stages = ciResult.stages;
      s.notApplied = ciResult.notApplied.map((k) => k.key);
      if (!ciResult.ok) {
        s.ok = false;
        s.errors.push(...ciResult.errors.map(maskSecrets));
        if (ciResult.outputTail) s.errors.push(`cloud-init-output.log: ${maskSecrets(ciResult.outputTail)}`);
      }
      const ordering = nicOrdering(readText(path.join(host(c, n).runDir, "lab-systemd", "journal.log")));
      if (n.role === "gateway") {
        s.nicWaitSeconds = ordering.waitedSeconds;
        if (ordering.tunnelBeforeNic === null) {
          s.ok = false;
          s.errors.push("networkd stand-in never brought wg0 up (no networkctl reload in the journal)");
        }
      }
      const state = await host(c, n).readFile("/run/lab-systemd/state.json");
      if (state) {
        try {
          s.units = (JSON.parse(state).sequence ?? []).map((x: any) => ({
            unit: x.unit,
            action: x.action,
            result: x.result,
          }));
        } catch {
          /* state unreadable: units stay empty */
        }
      }
    }
    c.log(
      `  ${n.id}: ${ud ? `user-data ${s.ok ? "done" : "FAILED"} in ${((s.cloudInitMs ?? 0) / 1000).toFixed(1)} s` : s.ok ? "ready" : "FAILED"}${s.dhcp ? `, DHCP ${s.dhcp.address ?? "none"}` : ""}`,
    );
  };

  for (const site of t.sites)
    if (site.testHost.privateNic.address) c.testHostAddr.set(site.name, bare(site.testHost.privateNic.address));
  const boots = t.sites.flatMap((site) => [bootNode(site, site.gateway), bootNode(site, site.testHost)]);

  // Time to first ping, per remote site, measured while the hosts boot.
  const firstPing: Record<string, number | null> = {};
  const pollers = t.sites.slice(1).map(async (site) => {
    const deadline = 120_000;
    const ms = await pollUntil(
      async () => {
        const to = c.testHostAddr.get(site.name);
        if (!to) return false;
        const r = await execOf(c, hub.testHost)(["ping", "-n", "-q", "-c", "1", "-W", "1", to], {
          timeoutMs: 5000,
        }).catch(() => null);
        return r?.code === 0;
      },
      deadline,
      250,
    );
    firstPing[site.name] = ms === null ? null : Date.now() - t0;
    c.log(
      `  ${site.name}: ${ms === null ? "NO ping from the hub test host within 120 s" : `first ping from ${hub.testHost.id} after ${((Date.now() - t0) / 1000).toFixed(1)} s`}`,
    );
  });
  await Promise.all([...boots, ...pollers]);
  return { summaries: [...summaries.values()], firstPing };
}

/** A host's boot as a check: what configured it (cloud-init, the bundle, nothing of ours), its lease, the bundle's routes and any wait for its private NIC. */
export function bootCheck(h: HostBootSummary): LabCheck {
  const configured =
    h.cloudInitMs !== null
      ? `cloud-init ${h.cloudInitMs} ms`
      : h.provisioning === "operator-bundle"
        ? "bundle installed"
        : "no user-data";
  const waited =
    h.nicWaitSeconds !== undefined && h.nicWaitSeconds !== null
      ? `, waited ${h.nicWaitSeconds} s for the private NIC (tunnel already up)`
      : "";
  const detail = `${configured}${h.dhcp ? `, DHCP ${h.dhcp.address}` : ""}${h.routesSh ? ", operator bundle's routes.sh applied" : ""}${waited}`;
  return check(
    `boot ${h.host} (${h.provisioning})`,
    "boot",
    "pass",
    h.ok,
    h.ok ? detail : h.errors.join(" | ").slice(0, 600),
  );
}
