/**
 * External-site scenarios of the namespace lab, beside the registry that runs them (lab/scenarios/registry.ts):
 *
 * - `dhcpLeaseChecks`: on a `dhcp` external LAN, what a real DHCP client (dhclient + Debian's
 *   rfc3442 hook) ends up with after its lease from the gateway's dnsmasq: the default route
 *   via lanRouter, the tunnel routes via the gateway, resolv.conf with the configured (or
 *   default) DNS servers, and a lease address inside the pool and clear of every configured
 *   address. Negative control: a dnsmasq.conf without the routes it needs (no 0.0.0.0/0 in option 121, no
 *   option 6) served to the same client loses the default route and DNS.
 * - the two-step external deploy, in the order a user runs it: step 1 runs the hub's
 *   handshake check of `pulumi up` (bundleInstalled false) while the external gateway is not
 *   installed yet; the operator then installs the bundle (the lab boots that gateway only
 *   now); step 2 re-runs the program with bundleInstalled true and runs its checks.
 */
import { readFileSync } from "fs";
import { netnsPids } from "../netns";
import { sleep, type RunResult } from "../proc";
import { handshakeScript } from "../../rendering/verificationScripts";
import { ipv4ToNumber } from "../../addressing/ipv4";
import { planTopology } from "../../planning/topology";
import type { StackConfig } from "../../config/types";
import type { ProgramRun } from "../../testkit/programRun";
import { check } from "../results";
import type { ScenarioCtx } from "./context";
import { RESOURCE_TYPES, type LabNode, type LabSite, type LabTopology } from "../topology";
import { UNITS, PATHS } from "../../cloud-init/common";

/** What the scenarios need from the lab run. */
const COMMAND = "command:remote:Command";

/** The raw config with every external site marked installed (step 2). */
export function withBundlesInstalled(config: Record<string, unknown>): Record<string, unknown> {
  const sites = (config.remoteSites as Record<string, unknown>[] | undefined)?.map((s) =>
    s.kind === "external" ? { ...s, bundleInstalled: true } : s,
  );
  return sites ? { ...config, remoteSites: sites } : config;
}

function verifyScript(program: ProgramRun, name: string): string | undefined {
  return program.ofType(COMMAND).find((c) => c.name === `wg-s2s-verify-${name}`)?.inputs.create as string | undefined;
}

/**
 * Every dnsmasq in the gateway's network namespace stopped (by PID: all were started by this
 * run, in its own namespace), then the unit started again, so exactly one server answers with
 * the config on disk. The systemctl stand-in can hold a second instance after the package
 * unit's `restart`, which would answer with the old config.
 */
async function restartDnsmasq(sc: ScenarioCtx, gw: LabNode): Promise<void> {
  for (let round = 0; round < 3; round++) {
    const pids = (await netnsPids(gw.ns)).filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "dnsmasq";
      } catch {
        return false;
      }
    });
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        /* already gone */
      }
    }
    await sleep(500);
  }
  const r = await sc.exec(gw, ["systemctl", "restart", UNITS.dnsmasq], { timeoutMs: 20_000 });
  if (r.code !== 0) throw new Error(`${gw.id}: systemctl restart ${UNITS.dnsmasq}: ${r.stderr.trim()}`);
}

async function lease(sc: ScenarioCtx, n: LabNode, iface: string): Promise<RunResult> {
  // Release, then ask again: the same client, state files and hook as at boot.
  const pf = `/run/dhclient.${iface}.pid`;
  const lf = `/var/lib/dhcp/dhclient.${iface}.leases`;
  await sc.exec(n, ["dhclient", "-4", "-r", "-pf", pf, "-lf", lf, iface], { timeoutMs: 15_000 });
  await sc.exec(n, ["sh", "-c", ": > /etc/resolv.conf"]);
  return sc.exec(n, ["dhclient", "-4", "-1", "-pf", pf, "-lf", lf, iface], { timeoutMs: 30_000 });
}

interface LeaseView {
  address?: string;
  defaultRoute?: string;
  routes: string;
  nameservers: string[];
}

async function leaseView(sc: ScenarioCtx, n: LabNode, iface: string): Promise<LeaseView> {
  const addr = await sc.exec(n, ["ip", "-4", "-o", "addr", "show", "dev", iface]);
  const routes = (await sc.exec(n, ["ip", "-4", "route", "show"])).stdout;
  const resolv = (await sc.exec(n, ["cat", "/etc/resolv.conf"])).stdout;
  return {
    address: /inet (\d+\.\d+\.\d+\.\d+)\//.exec(addr.stdout)?.[1],
    defaultRoute: /^default via (\S+)/m.exec(routes)?.[1],
    routes,
    nameservers: [...resolv.matchAll(/^nameserver\s+(\S+)/gm)].map((m) => m[1]),
  };
}

/** DHCP on every `dhcp` external LAN, as its hosts see it after the lease. */
export async function dhcpLeaseChecks(sc: ScenarioCtx, t: LabTopology, config: StackConfig): Promise<void> {
  const plan = planTopology(config);
  for (const site of t.sites.filter((s) => s.kind === "external" && s.routePropagation === "dhcp")) {
    const spec = plan.spokes.find((s) => s.name === site.name)!.dhcp!;
    const remote = config.remoteSites.find((s) => s.name === site.name)!;
    const n = site.testHost;
    const iface = n.privateNic.name;
    const view = await leaseView(sc, n, iface);
    const name = (what: string) => `dhcp ${site.name}: ${what}`;

    const expectedDefault = spec.lanRouter;
    sc.checks.push(
      check(
        name(expectedDefault ? `default route via lanRouter ${expectedDefault}` : "no default route (isolated LAN)"),
        "dhcp",
        "pass",
        view.defaultRoute === expectedDefault,
        `ip route: default via ${view.defaultRoute ?? "none"}`,
      ),
    );
    const tunnelRoutes = spec.routes.map((r) => `${r.destination} via ${r.via}`);
    sc.checks.push(
      check(
        name(`tunnel routes (option 121) via the gateway: ${tunnelRoutes.join(", ")}`),
        "dhcp",
        "pass",
        tunnelRoutes.every((r) => view.routes.includes(r)),
        view.routes.trim().split("\n").join("; "),
      ),
    );
    const dns = spec.dnsServers ?? [];
    sc.checks.push(
      check(
        name(`resolv.conf lists the DNS servers ${dns.join(", ") || "(none)"}`),
        "dhcp",
        "pass",
        JSON.stringify(view.nameservers) === JSON.stringify(dns),
        `nameservers: ${view.nameservers.join(", ") || "none"}`,
      ),
    );
    const configured = [remote.gatewayAddress, remote.lanRouter, remote.testHostAddress, ...(remote.fixedHosts ?? [])]
      .filter((a): a is string => a !== undefined)
      .map(ipv4ToNumber);
    const a = view.address ? ipv4ToNumber(view.address) : NaN;
    const inPool = a >= ipv4ToNumber(spec.rangeStart) && a <= ipv4ToNumber(spec.rangeEnd);
    sc.checks.push(
      check(
        name(`lease address in the pool ${spec.rangeStart}-${spec.rangeEnd}, no configured address`),
        "dhcp",
        "pass",
        inPool && !configured.includes(a),
        `leased ${view.address ?? "nothing"}`,
      ),
    );

    // Negative control: a dnsmasq.conf without the default route in option 121 and without
    // the DNS option. Same client, same hook: the route and DNS go.
    const gw = site.gateway;
    const current = (await sc.exec(gw, ["cat", PATHS.dnsmasq])).stdout;
    const preFix = current
      .replace(/,0\.0\.0\.0\/0,[0-9.]+/, "")
      .replace(/^dhcp-option=6,.*\n/m, "")
      .replace(/^dhcp-option=3,.*$/m, "dhcp-option=3");
    try {
      await sc.exec(gw, ["sh", "-c", `cat > ${PATHS.dnsmasq}`], { input: preFix });
      await restartDnsmasq(sc, gw);
      const r = await lease(sc, n, iface);
      const broken = await leaseView(sc, n, iface);
      // The control counts only if the client did get a lease from the pre-fix server.
      sc.checks.push(
        check(
          name("negative control set-up: the pre-fix dnsmasq.conf still hands out a lease"),
          "dhcp",
          "pass",
          r.code === 0 && broken.address !== undefined,
          `leased ${broken.address ?? "nothing"} (dhclient exit ${r.code})`,
        ),
      );
      const kept = broken.defaultRoute === expectedDefault || broken.nameservers.length > 0;
      sc.checks.push(
        check(
          name("negative control: the pre-fix dnsmasq.conf leaves hosts without default route and DNS"),
          "negative-control",
          "fail",
          kept,
          `default via ${broken.defaultRoute ?? "none"}, nameservers ${broken.nameservers.join(", ") || "none"}`,
        ),
      );
    } finally {
      await sc.exec(gw, ["sh", "-c", `cat > ${PATHS.dnsmasq}`], { input: current });
      await restartDnsmasq(sc, gw);
      await lease(sc, n, iface);
    }
    const restored = await leaseView(sc, n, iface);
    sc.checks.push(
      check(
        name("the rendered dnsmasq.conf restored: default route and DNS back after a new lease"),
        "dhcp",
        "pass",
        restored.defaultRoute === expectedDefault && JSON.stringify(restored.nameservers) === JSON.stringify(dns),
        `default via ${restored.defaultRoute ?? "none"}, nameservers ${restored.nameservers.join(", ") || "none"}`,
      ),
    );
    if (restored.address) sc.testHostAddr.set(site.name, restored.address);
  }
}

/** What the two-step checks work with: the run's hosts, and the program's first and second runs. */
export interface TwoStepRun extends ScenarioCtx {
  t: LabTopology;
  /** Step 1: bundleInstalled false. */
  program: ProgramRun;
  /** Step 2: bundleInstalled true. */
  step2: ProgramRun;
}

/**
 * Step 1, while the external gateways are not installed: the hub's handshake check of
 * `pulumi up` passes without them, they have never shaken hands, and step 2's check run
 * now fails (bounded) naming the external peer, so the order is real.
 */
export async function twoStepBeforeInstall(sc: TwoStepRun): Promise<void> {
  const { t, program: step1, step2 } = sc;
  const hub = t.sites[0];
  const externals = t.sites.filter((s) => s.kind === "external");
  const script = verifyScript(step1, `${hub.name}-handshake`);
  if (script) {
    const r = await sc.exec(hub.gateway, ["sh", "-c", script], { timeoutMs: 330_000 });
    const leftOut = externals.every((s) => !script.includes(step1.outputs.publicKeys[s.name]));
    sc.checks.push(
      check(
        "two-step 1: pulumi up's hub handshake check passes before any operator installed a bundle",
        "two-step",
        "pass",
        r.code === 0 && leftOut,
        `${r.stdout.trim() || r.stderr.trim()}${leftOut ? "" : " (but it lists an external peer)"}`,
      ),
    );
  } else {
    sc.checks.push(
      check("two-step 1: no hub handshake check (every peer is pending)", "two-step", "pass", true, "none declared"),
    );
  }
  const hs = (await sc.exec(hub.gateway, ["wg", "show", "wg0", "latest-handshakes"])).stdout;
  const never = externals.every((s) => new RegExp(`^${escape(step1.outputs.publicKeys[s.name])}\\s+0$`, "m").test(hs));
  sc.checks.push(
    check(
      "two-step 1: the external peers have never shaken hands yet (their gateways are not installed)",
      "two-step",
      "pass",
      never,
      hs.trim().split("\n").join("; "),
    ),
  );
  const early = handshakeScript(
    `${hub.name} gateway`,
    externals.map((s) => ({ name: s.name, publicKey: step2.outputs.publicKeys[s.name] as string })),
    8,
  );
  const r = await sc.exec(hub.gateway, ["sh", "-c", early], { timeoutMs: 40_000 });
  sc.checks.push(
    check(
      "two-step negative control: step 2's handshake check before the install fails, naming the external peer",
      "negative-control",
      "fail",
      r.code === 0 || !externals.every((s) => r.stderr.includes(`${s.name} (public key`)),
      r.stderr.trim().slice(0, 300),
    ),
  );
}

/** Step 2, once the bundles are installed: nothing replaced, and the step-2 checks pass. */
export async function twoStepAfterInstall(sc: TwoStepRun): Promise<void> {
  const { t, program: step1, step2 } = sc;
  const hub = t.sites[0];
  const servers = (p: ProgramRun) =>
    JSON.stringify(p.ofType(RESOURCE_TYPES.server).map((s) => [s.name, s.inputs.userData]));
  const same =
    servers(step1) === servers(step2) &&
    JSON.stringify(step1.outputs.externalSiteBundles) === JSON.stringify(step2.outputs.externalSiteBundles);
  sc.checks.push(
    check(
      "two-step 2: bundleInstalled=true changes no user-data and no bundle (no server replaced)",
      "two-step",
      "pass",
      same,
      same ? "identical" : "differs",
    ),
  );
  const pending = (p: ProgramRun) =>
    Object.entries(p.outputs.externalSites ?? {})
      .filter(([, v]) => (v as { status: string }).status === "pending")
      .map(([k]) => k);
  sc.checks.push(
    check(
      "two-step: externalSites output says pending in step 1, checked in step 2",
      "two-step",
      "pass",
      pending(step1).length === t.sites.filter((s) => s.kind === "external").length && pending(step2).length === 0,
      `step 1 pending: ${pending(step1).join(", ") || "none"}; step 2 pending: ${pending(step2).join(", ") || "none"}`,
    ),
  );
  const handshake = verifyScript(step2, `${hub.name}-handshake`)!;
  const r = await sc.exec(hub.gateway, ["sh", "-c", handshake], { timeoutMs: 330_000 });
  sc.checks.push(
    check(
      "two-step 2: pulumi up's hub handshake check, now with the external peers, passes",
      "two-step",
      "pass",
      r.code === 0,
      (r.stdout.trim() || r.stderr.trim()).slice(0, 300),
    ),
  );
  for (const site of t.sites.filter((s: LabSite) => s.kind === "external")) {
    const ping = verifyScript(step2, `${site.name}-ping`);
    if (!ping) continue; // no testHostAddress configured: nothing to ping
    const p = await sc.exec(hub.testHost, ["sh", "-c", ping], { timeoutMs: 120_000 });
    sc.checks.push(
      check(
        `two-step 2: pulumi up's ping check to ${site.name} passes`,
        "two-step",
        "pass",
        p.code === 0,
        (p.stdout.trim() || p.stderr.trim()).slice(0, 300),
      ),
    );
  }
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}
