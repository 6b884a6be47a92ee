/**
 * The HA hub's failover lab (tests/ha-failover.test.ts, and `npm run bench`), in network
 * namespaces of its own (not part of `npm run lab`):
 *
 *   inet  the "internet": one bridge; the Scaleway API stand-in (lab/standins/scalewayApi.ts,
 *         named as a stand-in in every result) listens here, and its hooks move the service
 *         IP's route here and the address between the gateways;
 *   gwa, gwb  two hub gateways with one WireGuard identity (wireguard-go), each with its own
 *         management address, Debian's keepalived with the rendered configuration, the agent
 *         as it ships (cloud-init/ha/wg-s2s-ha) and its `serve` (the endpoint hand-over);
 *   hub   the hub's private network (a bridge) and a host on it; its routes stand in for the
 *         VPC routes the stand-in moves;
 *   farf  a far end with a fixed address; natn + farn  a far end behind a masquerading NAT.
 *
 * The hub's peers are configured as the stack configures them: no persistent keepalive
 * (planning/topology.ts gives one only to a site that dials the hub), the fixed far end's
 * endpoint known, the NATed one's not.
 *
 * What stands in for what a gateway's kernel does: wireguard-go, unlike the kernel's
 * WireGuard, ignores `ip link set down` (0.0.20220316 tun/tun_linux.go: the netlink
 * listener's `wasEverUp` is reset for every message, and the write() probe that raised it
 * keeps reporting it up), so a gateway whose tunnel is "down" would keep its sessions and
 * go on answering and retrying handshakes, from its management address once the source
 * rule is gone. The kernel's link down drops the socket, the sessions and the timers
 * (drivers/net/wireguard/device.c, wg_stop). So the agent runs here with an `ip` shim
 * first on its PATH that, for `ip link set dev wg0 down` only, does what the kernel does:
 * the interface is recreated with the same configuration (`wg showconf`), down, with no
 * session. Everything else goes to the real `ip`. A killed gateway loses its processes,
 * its WireGuard state and its links; when it comes back, it boots with empty /run and
 * nftables, as a reboot does.
 *
 * Events, in order: A becomes active alone, B joins as standby; kill A (both far ends reach
 * the hub LAN through B; the far ends see the service IP as the hub's address); A comes back
 * (stays standby); kill B with the hand-over withheld (negative control: the NATed far end
 * is not back within the window); B comes back; partition of the private network between
 * the gateways, then healed; rolling replacements as the stack's hand-over commands run
 * them (gateway-a then gateway-b: keepalived stopped, `wg-s2s-ha drain 90`, the server
 * replaced, `wg-s2s-ha ready 900`), once with B active at the start (one failover) and once
 * with A active (two), both far ends pinging throughout; kill the active with the standby's
 * agent replaced by `exit 0` (negative control: the far ends stay down). Every wait is bounded; every process is
 * started here, tracked by PID and stopped, every namespace removed, at the end.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { renderHaAgentEnv } from "../cloud-init/ha/agent";
import { renderKeepalivedConf } from "../cloud-init/ha/keepalived";
import { LAB_HOME } from "./paths";
import { preflight } from "./preflight";
import { run, sleep, spawnBackground, type BackgroundProcess } from "./proc";
import { startLabRun } from "./runLifecycle";
import { IP_ID, NIC_A, NIC_B, PN, SERVER_A, SERVER_B, VPC } from "../testkit/haApiStandIn";
import type { ScalewayApiProcessConfig } from "./standins/scalewayApi";

const ROOT = path.resolve(__dirname, "..");

/** The failover aim, kill -> first ping through the standby for both far ends: under the 15 s a NATed far end takes to re-handshake on its own. */
export const FAILOVER_AIM_S = 10;
/** How long the negative controls watch for an answer that must not come. */
export const HANDOVER_WINDOW_S = 12;
export const NO_AGENT_WINDOW_S = 20;
/** The far ends' ping interval during a rolling replacement, s. */
export const ROLLING_PING_INTERVAL_S = 0.2;
/** One failover's worth of pings lost: the aim's time at that interval. */
export const FAILOVER_WORTH_PINGS = Math.round(FAILOVER_AIM_S / ROLLING_PING_INTERVAL_S);

/** Why the HA lab cannot run here, or undefined. */
export function haLabUnavailable(): string | undefined {
  const pf = preflight();
  if (!pf.ok) return `the namespace lab cannot run here: ${pf.problems.join("; ")}`;
  if (!fs.existsSync("/usr/sbin/keepalived"))
    return "keepalived is not installed (node scripts/ensure-setup.js installs it)";
  for (const bin of ["/usr/bin/wireguard-go", "/usr/sbin/nft", "/usr/bin/curl", "/usr/bin/python3"]) {
    if (!fs.existsSync(bin)) return `${bin} is missing (node scripts/ensure-setup.js installs it)`;
  }
  return undefined;
}

/** A failover's figures, seconds from the kill (undefined: not within its bound). */
export interface FailoverFigures {
  /** The new active's WireGuard link up. */
  tunnelUpS?: number;
  /** First echo reply of a ping from each far end to the hub LAN host, through the new active. */
  firstPingFixedS?: number;
  firstPingNatedS?: number;
  /** The handed-over endpoints the new active applied (its agent's log). */
  handoverApplied: number;
  /** Then: IP, routes and the only tunnel up on the new active, both far ends answer the hub LAN. */
  settled: boolean;
  ipMoves: number;
}

/** One far end's pings (every 0.2 s) to the hub LAN host during a rolling replacement. */
export interface PingRecord {
  sent: number;
  received: number;
  lost: number;
  /** The longest time without a reply, s (from the start, between replies, to the end). */
  longestGapS: number;
}

/** One step of a rolling replacement: a hand-over command as the engine runs it. */
export interface RollingStep {
  gateway: string;
  command: string;
  exitCode: number | null;
  seconds: number;
}

export interface RollingFigures {
  /** The gateway holding the service IP when the replacement began. */
  activeAtStart: string;
  /** Failovers the fixed order makes from that start: 2 when gateway-a is active, 1 when it is standby. */
  failovers: number;
  steps: RollingStep[];
  ipMoves: number;
  /** Each claim during the sequence: the handed-over endpoints it applied (0: it had none to apply). */
  endpointsApplied: number[];
  /** After the whole sequence: IP, routes and the only tunnel up on one gateway, both far ends answer. */
  settledOn: string;
  fixed: PingRecord;
  nated: PingRecord;
  wallS: number;
}

export interface HaLabResult {
  standIn: string;
  /** /proc/loadavg's 1-minute figure when the run began and ended. */
  load: { before: number; after: number };
  start: { aActiveS?: number; bStandby: boolean; settledOnA: boolean; ipMovesWhenBJoined: number };
  kill: FailoverFigures & {
    /** The hub's endpoint as each far end's WireGuard sees it after the failover. */
    hubSeenByFixed: string;
    hubSeenByNated: string;
  };
  comeback: { standby: boolean; settledOnB: boolean; ipMoves: number };
  /** Kill B with the hand-over withheld (its `serve` stopped, A's copy removed first). */
  withoutHandover: FailoverFigures & { natedWithinWindow: boolean; natedEventuallyS?: number; hubSeenByFixed: string };
  partition: {
    /** The standby's agent left `standby` (keepalived made it MASTER: its claim began). */
    challengerMasterS?: number;
    settledS?: number;
    winner: string;
    ipMovesDuring: number;
    settledAfterHeal: boolean;
    ipMovesAtHeal: number;
  };
  /**
   * Rolling replacements, as the stack's hand-over commands run them (gateway-a, then
   * gateway-b): one starting with B active (one failover), one with A active (two).
   */
  rolling: RollingFigures[];
  /** The same kill with the standby's agent replaced by `exit 0`. */
  noAgent: { reached: boolean };
  /** Where the run stopped, if it did not finish. */
  error?: string;
  wallS: number;
}

const SERVICE_IP = "203.0.113.10";
const API = "198.51.100.1";
const TOKEN = "5c0a1e00-1111-4222-8333-444444444444";
/** The stand-in's ids of the two gateways, their NICs, the network and the service IP (testkit/haApiStandIn.ts). */
const IDS = { serverA: SERVER_A, serverB: SERVER_B, nicA: NIC_A, nicB: NIC_B, pn: PN, vpc: VPC, ip: IP_ID };
const HUB_HOST = "192.168.0.10";
const FAR = { fixed: "10.20.0.1", nated: "10.50.0.1" };

interface Gw {
  ns: string;
  server: string;
  nic: string;
  uplink: string;
  pn: string;
  name: string;
  label: string;
}

function loadAvg(): number {
  return Number(fs.readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
}

const round = (x: number | undefined) => (x === undefined ? undefined : Math.round(x * 10) / 10);

export async function runHaLab(opts: { log?: (line: string) => void } = {}): Promise<HaLabResult> {
  const why = haLabUnavailable();
  if (why) throw new Error(why);
  const log = opts.log ?? (() => undefined);
  const began = Date.now();
  // The namespace lab's run ownership: a prefix no live run holds, an owner record and a
  // reaper, so a run killed outright is swept by the next one.
  const labRun = await startLabRun({ log });
  const P = labRun.prefix;
  const NS = {
    inet: `${P}-inet`,
    gwa: `${P}-gwa`,
    gwb: `${P}-gwb`,
    hub: `${P}-hub`,
    farf: `${P}-farf`,
    natn: `${P}-natn`,
    farn: `${P}-farn`,
  };
  const GW: Record<"a" | "b", Gw> = {
    a: {
      ns: NS.gwa,
      server: IDS.serverA,
      nic: IDS.nicA,
      uplink: "198.51.100.2",
      pn: "192.168.0.2",
      name: "hub-a",
      label: "A",
    },
    b: {
      ns: NS.gwb,
      server: IDS.serverB,
      nic: IDS.nicB,
      uplink: "198.51.100.3",
      pn: "192.168.0.3",
      name: "hub-b",
      label: "B",
    },
  };
  const other = (gw: Gw) => (gw === GW.a ? GW.b : GW.a);

  const dir = labRun.runDir;
  fs.mkdirSync(dir, { recursive: true });
  fs.chmodSync(dir, 0o755);
  let standIn: BackgroundProcess | undefined;
  const holders = new Map<string, BackgroundProcess>();
  const keepaliveds = new Map<string, BackgroundProcess>();
  const serves = new Map<string, BackgroundProcess>();
  const pings: BackgroundProcess[] = [];
  const wgConf = new Map<string, string>();
  let lastKillAt = 0;

  function sh(ns: string, script: string, ok = true): string {
    const r = spawnSync("ip", ["netns", "exec", ns, "sh", "-c", script], { encoding: "utf8", timeout: 60_000 });
    if (ok && r.status !== 0) throw new Error(`${ns}: ${script}\n${r.stdout}${r.stderr}`);
    return `${r.stdout}${r.stderr}`;
  }

  /** A host's private /run (wireguard-go's sockets): a `sleep` holding a mount namespace. */
  async function holder(ns: string): Promise<void> {
    const h = spawnBackground([
      "ip",
      "netns",
      "exec",
      ns,
      "unshare",
      "-m",
      "--propagation",
      "private",
      "sh",
      "-c",
      "mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -m 0700 /run/wireguard && exec sleep infinity",
    ]);
    holders.set(ns, h);
    for (let i = 0; i < 100; i++) {
      if (spawnSync("nsenter", ["-t", String(h.pid), "-m", "test", "-d", "/run/wireguard"]).status === 0) return;
      await sleep(100);
    }
    throw new Error(`${ns}: holder did not come up: ${h.output()}`);
  }
  function inHost(ns: string, script: string, ok = true): string {
    const r = spawnSync("nsenter", ["-t", String(holders.get(ns)!.pid), "-m", "-n", "sh", "-c", script], {
      encoding: "utf8",
      timeout: 60_000,
    });
    if (ok && r.status !== 0) throw new Error(`${ns}: ${script}\n${r.stdout}${r.stderr}`);
    return r.stdout;
  }
  function genKey(): { priv: string; pub: string } {
    const priv = spawnSync("wg", ["genkey"], { encoding: "utf8" }).stdout.trim();
    const pub = spawnSync("wg", ["pubkey"], { input: priv, encoding: "utf8" }).stdout.trim();
    return { priv, pub };
  }
  /** WireGuard on a host: created (wireguard-go), configured, and up or not. */
  function wgUp(ns: string, up: boolean): void {
    inHost(
      ns,
      `ip link add wg0 type wireguard 2>/dev/null || wireguard-go wg0 >/dev/null 2>&1
wg setconf wg0 ${dir}/${ns}.conf
${up ? "ip link set wg0 up" : "true"}`,
    );
  }

  function ping(target: string): boolean {
    return spawnSync("ip", ["netns", "exec", NS.hub, "ping", "-c1", "-W1", "-I", HUB_HOST, target]).status === 0;
  }
  function tunnelUp(gw: Gw): boolean {
    return /state UP|,UP[,>]/.test(sh(gw.ns, "ip link show dev wg0", false));
  }
  function ipPatches(): number {
    const file = path.join(dir, "calls.log");
    if (!fs.existsSync(file)) return 0;
    return fs
      .readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => l.includes('"PATCH"') && l.includes("/ips/")).length;
  }
  const holderOfIp = () => fs.readFileSync(path.join(dir, "holder"), "utf8").trim();
  const holderGw = () => (holderOfIp() === GW.a.server ? GW.a : GW.b);
  function agentState(gw: Gw): string {
    const file = path.join(dir, gw.name, "state", "state");
    return fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim() : "";
  }
  /** The hub's endpoint as a far end's WireGuard sees it. */
  function hubSeenBy(ns: string): string {
    return inHost(ns, "wg show wg0 endpoints", false).trim().split("\t")[1] ?? "";
  }
  function agentLog(gw: Gw): string {
    const file = path.join(dir, `agent-${gw.name}.log`);
    return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
  }

  /** Polls every 0.5 s until `cond`, at most `seconds`; the seconds it took, or undefined. */
  async function within(seconds: number, cond: () => boolean, from = Date.now()): Promise<number | undefined> {
    for (let i = 0; i < seconds * 2 + 1; i++) {
      if (cond()) return (Date.now() - from) / 1000;
      if (Date.now() - from >= seconds * 1000) break;
      await sleep(500);
    }
    return undefined;
  }

  function writeAgent(gw: Gw, withAgent: boolean): string {
    const wrapper = path.join(dir, gw.name, "agent");
    const body = withAgent
      ? `export PATH=${dir}/shim:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nexport WG_S2S_HA_ENV=${dir}/${gw.name}/ha.env\n[ "$1" = serve ] || exec ${ROOT}/cloud-init/ha/wg-s2s-ha "$@" 2>>${dir}/agent-${gw.name}.log\nexec ${ROOT}/cloud-init/ha/wg-s2s-ha "$@"\n`
      : "exit 0\n";
    fs.writeFileSync(wrapper, `#!/bin/sh\n${body}`, { mode: 0o755 });
    return wrapper;
  }

  function startGateway(gw: Gw): void {
    const conf = path.join(dir, gw.name, "keepalived.conf");
    const klog = path.join(dir, `keepalived-${gw.name}.log`);
    const pid = String(holders.get(gw.ns)!.pid);
    keepaliveds.set(
      gw.name,
      spawnBackground([
        "nsenter",
        "-t",
        pid,
        "-m",
        "-n",
        "sh",
        "-c",
        `exec keepalived -n -l -f ${conf} -p /run/keepalived-${gw.name}.pid -r /run/vrrp-${gw.name}.pid >>${klog} 2>&1`,
      ]),
    );
    // wg-s2s-ha-share.service: the endpoints for the other gateway.
    serves.set(gw.name, spawnBackground(["nsenter", "-t", pid, "-m", "-n", path.join(dir, gw.name, "agent"), "serve"]));
  }

  /** The gateway dies: its processes, its WireGuard state, its links. */
  async function kill(gw: Gw): Promise<void> {
    process.kill(-keepaliveds.get(gw.name)!.pid, "SIGKILL");
    await serves.get(gw.name)?.stop(500);
    sh(gw.ns, "ip link set uplink down; ip link set pn0 down");
    inHost(gw.ns, "ip link del wg0", false);
    await keepaliveds.get(gw.name)!.waitExit(2000);
  }

  /** It boots again: empty /run (the agent's state, keepalived's PID files) and nftables, wg0 down. */
  function reboot(gw: Gw): void {
    fs.rmSync(path.join(dir, gw.name, "state"), { recursive: true, force: true });
    inHost(gw.ns, `rm -f /run/keepalived-${gw.name}.pid /run/vrrp-${gw.name}.pid; nft flush ruleset`);
    sh(gw.ns, "ip link set uplink up; ip link set pn0 up");
    wgUp(gw.ns, false);
    startGateway(gw);
  }

  /** The invariant after every event: IP, routes and the only tunnel up on one gateway, both far ends answer. */
  function settledOn(gw: Gw): boolean {
    return (
      holderOfIp() === gw.server &&
      sh(NS.hub, "ip route show 10.20.0.0/24", false).includes(`via ${gw.pn}`) &&
      sh(NS.hub, "ip route show 10.50.0.0/24", false).includes(`via ${gw.pn}`) &&
      tunnelUp(gw) &&
      !tunnelUp(other(gw)) &&
      ping(FAR.fixed) &&
      ping(FAR.nated)
    );
  }

  /**
   * Kill `active`; from then on each far end pings the hub LAN host every 0.2 s (the far
   * end's own traffic, which the new active cannot answer before a handshake: only its
   * dialling, or the far end's own rekey 15 s on, makes one). Times from the kill.
   */
  async function failover(active: Gw, boundS: number): Promise<FailoverFigures> {
    const standby = other(active);
    // One ping each way first, answered: each far end's own re-handshake then comes 15 s
    // (keepalive timeout + rekey timeout) after its first unanswered packet, i.e. after the
    // kill, whatever its traffic was before. The figures do not depend on that timer.
    for (const [ns, src] of [
      [NS.farf, FAR.fixed],
      [NS.farn, FAR.nated],
    ]) {
      inHost(
        ns,
        `ping -c1 -W1 -I ${src} ${HUB_HOST} >/dev/null || ping -c1 -W1 -I ${src} ${HUB_HOST} >/dev/null`,
        false,
      );
    }
    const patches = ipPatches();
    const logBefore = agentLog(standby).length;
    const t0 = Date.now();
    lastKillAt = t0;
    await kill(active);
    const pinger = (ns: string, src: string) => farEndPinger(ns, src, 0.2, boundS + 5);
    const pf = pinger(NS.farf, FAR.fixed);
    const pn = pinger(NS.farn, FAR.nated);
    const firstReply = (p: BackgroundProcess) => {
      const m = /^\[(\d+\.\d+)\] \d+ bytes from/m.exec(p.output());
      return m ? Number(m[1]) * 1000 - t0 : undefined;
    };
    let tunnelUpS: number | undefined;
    for (let i = 0; i < boundS * 5 + 1 && Date.now() - t0 < boundS * 1000; i++) {
      if (tunnelUpS === undefined && tunnelUp(standby)) tunnelUpS = (Date.now() - t0) / 1000;
      if (tunnelUpS !== undefined && firstReply(pf) !== undefined && firstReply(pn) !== undefined) break;
      await sleep(200);
    }
    const fixedMs = firstReply(pf);
    const natedMs = firstReply(pn);
    if (fixedMs === undefined || natedMs === undefined) {
      // What each side's WireGuard saw, for a run that missed.
      for (const ns of [NS.farf, NS.farn, standby.ns]) {
        log(`${ns} after the failover: ${inHost(ns, "wg show wg0; ip route; nft list ruleset", false)}`);
      }
      log(`pings: ${pf.output().slice(0, 400)}\n${pn.output().slice(0, 400)}`);
    }
    await pf.stop(500);
    await pn.stop(500);
    const applied = /handed-over endpoints applied: (\d+)/.exec(agentLog(standby).slice(logBefore));
    return {
      tunnelUpS: round(tunnelUpS),
      firstPingFixedS: round(fixedMs === undefined ? undefined : fixedMs / 1000),
      firstPingNatedS: round(natedMs === undefined ? undefined : natedMs / 1000),
      handoverApplied: applied ? Number(applied[1]) : 0,
      settled: false,
      ipMoves: ipPatches() - patches,
    };
  }

  /** A hand-over command on a gateway, as the stack's `remote.Command` runs it (bounded here). */
  async function handOver(gw: Gw, args: string[], boundS: number): Promise<RollingStep> {
    const r = await run(
      ["nsenter", "-t", String(holders.get(gw.ns)!.pid), "-m", "-n", path.join(dir, gw.name, "agent"), ...args],
      { timeoutMs: boundS * 1000 },
    );
    log(`${gw.label}: wg-s2s-ha ${args.join(" ")} -> ${r.timedOut ? "timed out" : r.code}: ${r.stdout.trim()}`);
    return {
      gateway: gw.label,
      command: `wg-s2s-ha ${args.join(" ")}`,
      exitCode: r.timedOut ? null : r.code,
      seconds: round(r.ms / 1000)!,
    };
  }

  /**
   * One gateway's turn in a rolling replacement, as the engine runs it: the old hand-over
   * command's delete (`systemctl stop keepalived`, which `drain` does under systemd; here
   * keepalived gets the same SIGTERM, then `drain` runs with KEEPALIVED_UNIT absent), the
   * old server deleted, the new one booted (empty state, fresh keepalived and `serve`, wg0
   * as at boot, down; same server and NIC ids in the stand-in), the new command's create.
   */
  async function replaceGateway(gw: Gw): Promise<RollingStep[]> {
    const steps: RollingStep[] = [];
    const k = keepaliveds.get(gw.name)!;
    process.kill(k.pid, "SIGTERM");
    if (!(await k.waitExit(10_000))) throw new Error(`${gw.label}: keepalived did not stop on SIGTERM`);
    steps.push(await handOver(gw, ["drain", "90"], 100));
    await serves.get(gw.name)?.stop(500);
    sh(gw.ns, "ip link set uplink down; ip link set pn0 down");
    inHost(gw.ns, "ip link del wg0", false);
    reboot(gw);
    steps.push(await handOver(gw, ["ready", "900"], 60));
    return steps;
  }

  /** A far end pinging the hub LAN host every `intervalS`, timestamped (-D), for at most `deadlineS`. */
  function farEndPinger(ns: string, src: string, intervalS: number, deadlineS: number): BackgroundProcess {
    const p = spawnBackground([
      "nsenter",
      "-t",
      String(holders.get(ns)!.pid),
      "-n",
      "ping",
      "-D",
      "-n",
      "-i",
      String(intervalS),
      "-W",
      "1",
      "-w",
      String(deadlineS),
      "-I",
      src,
      HUB_HOST,
    ]);
    pings.push(p);
    return p;
  }

  /** Both far ends ping the hub LAN host every 0.2 s until stopped; then their record. */
  function pingRecorder(ns: string, src: string): () => Promise<PingRecord> {
    const t0 = Date.now();
    const p = farEndPinger(ns, src, ROLLING_PING_INTERVAL_S, 300);
    return async () => {
      const t1 = Date.now();
      process.kill(p.pid, "SIGINT"); // ping's summary, as on ^C
      if (!(await p.waitExit(3000))) await p.stop(500);
      const out = p.output();
      const replies = [...out.matchAll(/^\[(\d+\.\d+)\] \d+ bytes from/gm)].map((m) => Number(m[1]) * 1000);
      const summary = /(\d+) packets transmitted, (\d+) received/.exec(out);
      const sent = summary ? Number(summary[1]) : Math.round((t1 - t0) / 200);
      const received = summary ? Number(summary[2]) : replies.length;
      let gap = 0;
      let last = t0;
      for (const at of [...replies, t1]) {
        gap = Math.max(gap, at - last);
        last = at;
      }
      return { sent, received, lost: sent - received, longestGapS: round(gap / 1000)! };
    };
  }

  /** The whole rolling replacement, gateway-a then gateway-b, while both far ends ping. */
  async function rollingReplacement(): Promise<RollingFigures> {
    const start = holderGw();
    log(`rolling replacement, ${start.label} active`);
    for (const [ns, src] of [
      [NS.farf, FAR.fixed],
      [NS.farn, FAR.nated],
    ]) {
      inHost(ns, `ping -c1 -W1 -I ${src} ${HUB_HOST} >/dev/null`, false);
    }
    const patches = ipPatches();
    const logsBefore = [GW.a, GW.b].map((gw) => agentLog(gw).length);
    const t = Date.now();
    const stopFixed = pingRecorder(NS.farf, FAR.fixed);
    const stopNated = pingRecorder(NS.farn, FAR.nated);
    const steps: RollingStep[] = [];
    try {
      for (const gw of [GW.a, GW.b]) steps.push(...(await replaceGateway(gw)));
    } finally {
      // Settled, or 30 s; then one more second of pings answered (or not).
      const on = await within(30, () => settledOn(GW.a) || settledOn(GW.b));
      if (on !== undefined) await sleep(1000);
      const fixed = await stopFixed();
      const nated = await stopNated();
      const holding = settledOn(GW.a) ? "A" : settledOn(GW.b) ? "B" : "none";
      result.rolling.push({
        activeAtStart: start.label,
        failovers: start === GW.a ? 2 : 1,
        steps,
        ipMoves: ipPatches() - patches,
        endpointsApplied: [GW.a, GW.b].flatMap((gw, i) =>
          [
            ...agentLog(gw)
              .slice(logsBefore[i])
              .matchAll(/handed-over endpoints applied: (\d+)|(no handed-over endpoints)/g),
          ].map((m) => (m[1] ? Number(m[1]) : 0)),
        ),
        settledOn: holding,
        fixed,
        nated,
        wallS: round((Date.now() - t) / 1000)!,
      });
    }
    return result.rolling[result.rolling.length - 1];
  }

  const result: HaLabResult = {
    standIn: "Scaleway API stand-in (lab/standins/scalewayApi.ts)",
    load: { before: loadAvg(), after: 0 },
    start: { bStandby: false, settledOnA: false, ipMovesWhenBJoined: -1 },
    kill: { handoverApplied: 0, settled: false, ipMoves: -1, hubSeenByFixed: "", hubSeenByNated: "" },
    comeback: { standby: false, settledOnB: false, ipMoves: -1 },
    withoutHandover: {
      handoverApplied: -1,
      settled: false,
      ipMoves: -1,
      natedWithinWindow: true,
      hubSeenByFixed: "",
    },
    partition: { winner: "", ipMovesDuring: -1, settledAfterHeal: false, ipMovesAtHeal: -1 },
    rolling: [],
    noAgent: { reached: true },
    wallS: 0,
  };

  try {
    // ---- the networks
    for (const ns of Object.values(NS)) {
      spawnSync("ip", ["netns", "add", ns]);
      sh(
        ns,
        "ip link set lo up; sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0",
      );
    }
    sh(NS.inet, `ip link add br0 type bridge && ip addr add ${API}/24 dev br0 && ip link set br0 up`);
    const onInet: [string, string][] = [
      [NS.gwa, GW.a.uplink],
      [NS.gwb, GW.b.uplink],
      [NS.farf, "198.51.100.20"],
      [NS.natn, "198.51.100.30"],
    ];
    onInet.forEach(([ns, addr], i) => {
      sh(NS.inet, `ip link add i${i} type veth peer name uplink netns ${ns} && ip link set i${i} master br0 up`);
      sh(ns, `ip addr add ${addr}/24 dev uplink && ip link set uplink up && ip route add default via ${API}`);
    });
    sh(NS.hub, `ip link add brpn type bridge && ip addr add ${HUB_HOST}/24 dev brpn && ip link set brpn up`);
    for (const [i, gw] of [GW.a, GW.b].entries()) {
      sh(NS.hub, `ip link add p${i} type veth peer name pn0 netns ${gw.ns} && ip link set p${i} master brpn up`);
      sh(gw.ns, `ip addr add ${gw.pn}/24 dev pn0 && ip link set pn0 up`);
    }
    sh(
      NS.natn,
      `ip link add lan0 type veth peer name lan0 netns ${NS.farn} && ip addr add 10.40.0.1/24 dev lan0 && ip link set lan0 up`,
    );
    sh(
      NS.natn,
      "nft add table ip nat && nft 'add chain ip nat post { type nat hook postrouting priority 100; }' && nft add rule ip nat post oifname uplink masquerade",
    );
    sh(
      NS.farn,
      `ip addr add 10.40.0.2/24 dev lan0 && ip link set lan0 up && ip route add default via 10.40.0.1 && ip addr add ${FAR.nated}/32 dev lo`,
    );
    sh(NS.farf, `ip addr add ${FAR.fixed}/32 dev lo`);

    // ---- WireGuard: one hub identity on both gateways (down), the far ends up and dialling the service IP
    const hub = genKey();
    const farf = genKey();
    const farn = genKey();
    for (const ns of [NS.gwa, NS.gwb, NS.farf, NS.farn]) await holder(ns);
    const hubConf = `[Interface]\nPrivateKey = ${hub.priv}\nListenPort = 51820\n\n[Peer]\nPublicKey = ${farf.pub}\nAllowedIPs = 10.20.0.0/24\nEndpoint = 198.51.100.20:51820\n\n[Peer]\nPublicKey = ${farn.pub}\nAllowedIPs = 10.50.0.0/24\n`;
    wgConf.set(NS.gwa, hubConf);
    wgConf.set(NS.gwb, hubConf);
    wgConf.set(
      NS.farf,
      `[Interface]\nPrivateKey = ${farf.priv}\nListenPort = 51820\n\n[Peer]\nPublicKey = ${hub.pub}\nAllowedIPs = 192.168.0.0/24\nEndpoint = ${SERVICE_IP}:51820\n`,
    );
    wgConf.set(
      NS.farn,
      `[Interface]\nPrivateKey = ${farn.priv}\nListenPort = 51820\n\n[Peer]\nPublicKey = ${hub.pub}\nAllowedIPs = 192.168.0.0/24\nEndpoint = ${SERVICE_IP}:51820\nPersistentKeepalive = 25\n`,
    );
    for (const [ns, conf] of wgConf) fs.writeFileSync(path.join(dir, `${ns}.conf`), conf, { mode: 0o600 });
    wgUp(NS.gwa, false);
    wgUp(NS.gwb, false);
    wgUp(NS.farf, true);
    sh(NS.farf, `ip route add 192.168.0.0/24 dev wg0 src ${FAR.fixed}`);
    wgUp(NS.farn, true);
    sh(NS.farn, `ip route add 192.168.0.0/24 dev wg0 src ${FAR.nated}`);

    // The kernel's link down, for wireguard-go (see the header): only `ip link set dev wg0 down`.
    fs.mkdirSync(path.join(dir, "shim"));
    fs.writeFileSync(
      path.join(dir, "shim", "ip"),
      `#!/bin/sh
# Lab stand-in for the kernel's WireGuard link down (wg_stop: no socket, no session, no
# timer), which wireguard-go does not do: recreate wg0 with its configuration, down.
# The daemon gets none of the caller's descriptors: the agent holds its lock on fd 9, and
# a daemon inheriting it would hold the lock for as long as it runs.
if [ "$*" = "link set dev wg0 down" ]; then
  conf=$(wg showconf wg0) || exit 1
  /usr/bin/ip link del wg0 && wireguard-go wg0 >/dev/null 2>&1 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- || exit 1
  printf '%s\\n' "$conf" > /run/wg0.conf && wg setconf wg0 /run/wg0.conf
  rc=$?; rm -f /run/wg0.conf; exit $rc
fi
exec /usr/bin/ip "$@"
`,
      { mode: 0o755 },
    );

    // ---- the service IP starts on A (as the stack's first `pulumi up` plus A's first claim leave it)
    sh(NS.inet, `ip route replace ${SERVICE_IP}/32 via ${GW.a.uplink}`);
    sh(GW.a.ns, `ip addr add ${SERVICE_IP}/32 dev uplink`);
    for (const dst of ["10.20.0.0/24", "10.50.0.0/24"]) sh(NS.hub, `ip route replace ${dst} via ${GW.a.pn}`);
    fs.writeFileSync(path.join(dir, "holder"), IDS.serverA);

    // ---- the stand-in and its hooks: what Scaleway's network does when the API says so
    const hook = path.join(dir, "hook");
    fs.writeFileSync(
      hook,
      `#!/bin/sh
set -e
gw() { case "$1" in ${IDS.serverA}) echo "${GW.a.ns} ${GW.a.uplink} ${GW.a.pn}" ;; ${IDS.serverB}) echo "${GW.b.ns} ${GW.b.uplink} ${GW.b.pn}" ;; esac; }
case "$1" in
ip)
  [ -z "$FROM_SERVER" ] || { set -- $(gw "$FROM_SERVER"); ip netns exec "$1" ip addr del ${SERVICE_IP}/32 dev uplink 2>/dev/null || true; }
  set -- $(gw "$TO_SERVER")
  ip netns exec "$1" ip addr replace ${SERVICE_IP}/32 dev uplink
  ip route replace ${SERVICE_IP}/32 via "$2"
  echo "$TO_SERVER" > ${dir}/holder
  ;;
route)
  set -- $(gw "$TO_SERVER")
  ip netns exec ${NS.hub} ip route replace "$ROUTE_DESTINATION" via "$3"
  ;;
esac
`,
      { mode: 0o755 },
    );
    const config: ScalewayApiProcessConfig = {
      state: {
        zone: "fr-par-1",
        region: "fr-par",
        token: TOKEN,
        servers: [GW.a, GW.b].map((gw) => ({
          id: gw.server,
          name: gw.name,
          metadataSources: [gw.uplink],
          privateNics: [{ id: gw.nic, privateNetworkId: IDS.pn, macAddress: "02:00:00:00:00:01" }],
        })),
        ips: [{ id: IDS.ip, address: SERVICE_IP, serverId: IDS.serverA, project: "p" }],
        routes: ["10.20.0.0/24", "10.50.0.0/24"].map((destination, i) => ({
          id: `ffffffff-0000-4000-8000-00000000000${i}`,
          vpcId: IDS.vpc,
          destination,
          nexthopResourceId: IDS.nicA,
          nexthopPrivateNetworkId: IDS.pn,
          tags: ["wg-s2s-ha:lab"],
          type: "custom" as const,
        })),
      },
      apiHost: API,
      apiPort: 8080,
      metadataHost: API,
      metadataPort: 8081,
      ipMovedCommand: [hook, "ip"],
      routeMovedCommand: [hook, "route"],
      callLog: path.join(dir, "calls.log"),
    };
    fs.writeFileSync(path.join(dir, "api.json"), JSON.stringify(config));
    standIn = spawnBackground([
      "ip",
      "netns",
      "exec",
      NS.inet,
      process.execPath,
      path.join(ROOT, "node_modules", "tsx", "dist", "cli.mjs"),
      path.join(ROOT, "lab", "standins", "scalewayApi.ts"),
      path.join(dir, "api.json"),
    ]);
    const apiUp = await within(
      60,
      () =>
        spawnSync("ip", ["netns", "exec", NS.inet, "curl", "-s", "-o", "/dev/null", `http://${API}:8081/`]).status ===
        0,
    );
    if (apiUp === undefined) throw new Error(`the API stand-in did not start: ${standIn.output()}`);

    for (const gw of [GW.a, GW.b]) {
      fs.mkdirSync(path.join(dir, gw.name));
      fs.writeFileSync(path.join(dir, gw.name, "key"), TOKEN + "\n", { mode: 0o600 });
      fs.writeFileSync(
        path.join(dir, gw.name, "ha.env"),
        renderHaAgentEnv({
          zone: "fr-par-1",
          region: "fr-par",
          serviceIpId: IDS.ip,
          privateNetworkId: IDS.pn,
          vpcId: IDS.vpc,
          routeTag: "wg-s2s-ha:lab",
          tunnelForm: "plain",
          ownPrivateAddress: gw.pn,
          peerPrivateAddress: other(gw).pn,
          serviceIpAddress: SERVICE_IP,
          listenPort: 51820,
          apiUrl: `http://${API}:8080`,
          metadataUrl: `http://${API}:8081`,
          secretKeyFile: path.join(dir, gw.name, "key"),
          stateDir: path.join(dir, gw.name, "state"),
          apiAttempts: 4,
        }),
      );
      fs.writeFileSync(
        path.join(dir, gw.name, "keepalived.conf"),
        renderKeepalivedConf({
          name: gw.name,
          interface: "pn0",
          ownAddress: gw.pn,
          peerAddress: other(gw).pn,
          virtualRouterId: 51,
          agentPath: writeAgent(gw, true),
        }),
      );
    }

    // ---- A becomes active alone; B joins as standby without any move
    log("A starts alone");
    let t = Date.now();
    startGateway(GW.a);
    result.start.aActiveS = round(await within(90, () => settledOn(GW.a), t));
    if (result.start.aActiveS === undefined) throw new Error("A did not become active");
    startGateway(GW.b);
    let patches = ipPatches();
    result.start.bStandby = (await within(30, () => agentState(GW.b) === "standby")) !== undefined;
    // Long enough for B's check to have pulled A's endpoints (every 2 s).
    await within(10, () => fs.existsSync(path.join(dir, GW.b.name, "state", "peer-endpoints")));
    await sleep(3000);
    result.start.settledOnA = settledOn(GW.a);
    result.start.ipMovesWhenBJoined = ipPatches() - patches;

    // ---- kill A: both far ends reach the hub LAN through B
    log("kill A");
    result.kill = { ...result.kill, ...(await failover(GW.a, 60)) };
    result.kill.settled = (await within(30, () => settledOn(GW.b))) !== undefined;
    result.kill.hubSeenByFixed = hubSeenBy(NS.farf);
    result.kill.hubSeenByNated = hubSeenBy(NS.farn);

    // ---- A comes back: it stays standby, nothing moves back
    log("A comes back");
    patches = ipPatches();
    reboot(GW.a);
    result.comeback.standby = (await within(30, () => agentState(GW.a) === "standby")) !== undefined;
    await within(10, () => fs.existsSync(path.join(dir, GW.a.name, "state", "peer-endpoints")));
    await sleep(4000);
    result.comeback.settledOnB = settledOn(GW.b);
    result.comeback.ipMoves = ipPatches() - patches;

    // ---- negative control for the hand-over: B's `serve` stopped and A's copy removed, then kill B
    log("kill B with the hand-over withheld");
    await serves.get(GW.b.name)!.stop(500);
    await sleep(2500); // a check of A's under way when serve stopped has finished
    fs.rmSync(path.join(dir, GW.a.name, "state", "peer-endpoints"), { force: true });
    const wh = await failover(GW.b, HANDOVER_WINDOW_S);
    result.withoutHandover = {
      ...result.withoutHandover,
      ...wh,
      natedWithinWindow: wh.firstPingNatedS !== undefined,
      hubSeenByFixed: hubSeenBy(NS.farf),
    };
    // When the NATed far end comes back on its own (its rekey), for the record.
    const eventually = await within(45, () => ping(FAR.nated));
    result.withoutHandover.natedEventuallyS = round(
      eventually === undefined ? undefined : (Date.now() - lastKillAt) / 1000,
    );
    result.withoutHandover.settled = (await within(10, () => settledOn(GW.a))) !== undefined;

    // ---- B comes back as standby (two gateways for the partition)
    log("B comes back");
    reboot(GW.b);
    await within(30, () => agentState(GW.b) === "standby");
    await sleep(3000);

    // ---- partition of the private network between the gateways, then healed
    log("partition");
    patches = ipPatches();
    const challenger = other(holderGw());
    t = Date.now();
    for (const gw of [GW.a, GW.b]) {
      sh(
        gw.ns,
        "nft add table inet part && nft 'add chain inet part in { type filter hook input priority 0; }' && nft add rule inet part in ip protocol vrrp drop",
      );
    }
    // Settled: the standby, no longer hearing the active, became MASTER and its claim ended
    // (won or lost), and one gateway holds the IP, the routes and the only tunnel up.
    result.partition.challengerMasterS = round(await within(30, () => agentState(challenger) !== "standby", t));
    result.partition.settledS = round(
      await within(60, () => agentState(challenger) !== "claiming" && (settledOn(GW.a) || settledOn(GW.b)), t),
    );
    result.partition.winner = holderGw().label;
    result.partition.ipMovesDuring = ipPatches() - patches;
    const during = ipPatches();
    const winner = holderGw();
    for (const gw of [GW.a, GW.b]) sh(gw.ns, "nft delete table inet part");
    await sleep(10_000);
    result.partition.settledAfterHeal = settledOn(winner);
    result.partition.ipMovesAtHeal = ipPatches() - during;

    // ---- rolling replacement, both orders: which gateway is active is runtime state, and
    // the stack's order is fixed (gateway-a, then gateway-b). The partition usually leaves B
    // active (the challenger claims last); a replacement always ends with the new A active.
    for (const gw of [GW.a, GW.b]) {
      // The lab has no systemd: drain's `systemctl stop` finds no such unit, and the lab
      // stops keepalived itself right before (what `systemctl stop keepalived` does).
      fs.appendFileSync(path.join(dir, gw.name, "ha.env"), "KEEPALIVED_UNIT=wg-s2s-ha-lab-absent.service\n");
    }
    // A pair as a later `pulumi up` finds it: one active, the other standby with the active's
    // endpoints pulled (the race between a new gateway's first pull and the next drain is
    // the sequence's own, not one between two replacements).
    const standbyOf = (active: Gw) =>
      agentState(other(active)) === "standby" &&
      fs.existsSync(path.join(dir, other(active).name, "state", "peer-endpoints"));
    const pairReady = () => (settledOn(GW.a) && standbyOf(GW.a)) || (settledOn(GW.b) && standbyOf(GW.b));
    if ((await within(20, pairReady)) === undefined)
      throw new Error("no active/standby pair before the rolling replacement");
    if (holderGw() === GW.a) {
      // B active first, for the order with one failover: the one-gateway turn of a replacement.
      log("B made active first (A replaced alone)");
      await replaceGateway(GW.a);
      if ((await within(20, pairReady)) === undefined) throw new Error("no pair after replacing A");
    }
    for (let i = 0; i < 2; i++) {
      const r = await rollingReplacement();
      if (r.settledOn === "none") throw new Error("the rolling replacement did not settle");
      if (i === 0 && (await within(20, pairReady)) === undefined)
        throw new Error("no pair after the first rolling replacement");
    }

    // ---- negative control: the same kill without the agent leaves the far ends down
    log("kill the active with the standby's agent replaced by exit 0");
    const active = holderGw();
    writeAgent(other(active), false);
    await kill(active);
    result.noAgent.reached = (await within(NO_AGENT_WINDOW_S, () => ping(FAR.fixed) || ping(FAR.nated))) !== undefined;
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
  } finally {
    const logs = ["hub-a", "hub-b"].map((name) => {
      const k = path.join(dir, `keepalived-${name}.log`);
      const a = path.join(dir, `agent-${name}.log`);
      return `=== keepalived ${name}\n${fs.existsSync(k) ? fs.readFileSync(k, "utf8") : ""}\n=== agent ${name}\n${fs.existsSync(a) ? fs.readFileSync(a, "utf8") : ""}`;
    });
    logs.push(`=== stand-in\n${standIn?.output() ?? ""}`);
    fs.writeFileSync(path.join(LAB_HOME, "ha-failover-last.log"), logs.join("\n"));
    for (const p of pings) await p.stop(500);
    for (const s of serves.values()) await s.stop(500);
    for (const k of keepaliveds.values()) await k.stop();
    await standIn?.stop();
    for (const ns of [NS.gwa, NS.gwb, NS.farf, NS.farn]) {
      if (holders.has(ns)) inHost(ns, "ip link del wg0", false);
    }
    for (const h of holders.values()) await h.stop();
    await labRun.finish();
  }
  result.load.after = loadAvg();
  result.wallS = round((Date.now() - began) / 1000)!;
  return result;
}
