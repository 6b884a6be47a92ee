/** @tier lab */
/**
 * The HA hub's failover in network namespaces of its own (not part of `npm run lab`): two
 * hub gateways with the same WireGuard identity, each running Debian's keepalived with the
 * rendered configuration and the agent as it ships; the Scaleway API stand-in (named as such
 * in every result) in an "internet" router namespace, whose hooks move the service IP's
 * route there and the address between the gateways, and the VPC routes in the hub LAN
 * host (standing in for the VPC router). One far end with a fixed address, one behind a
 * NAT. Events: kill the active gateway, bring it back (no flap back), partition the
 * private network between the gateways, heal it; negative control: the same kill without
 * the agent. Every wait is bounded; everything is removed at the end.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { renderHaAgentEnv } from "../cloud-init/ha/agent";
import { renderKeepalivedConf } from "../cloud-init/ha/keepalived";
import { destroyNetnsAll } from "../lab/netns";
import { LAB_HOME } from "../lab/paths";
import { preflight } from "../lab/preflight";
import { spawnBackground, type BackgroundProcess } from "../lab/proc";
import type { ScalewayApiProcessConfig } from "../lab/standins/scalewayApi";
import { describeUnless } from "../scripts/tier-skip";

const ROOT = path.resolve(__dirname, "..");
const pf = preflight();
const keepalived = fs.existsSync("/usr/sbin/keepalived");
const describeLab = describeUnless(
  !pf.ok
    ? `the namespace lab cannot run here: ${pf.problems.join("; ")}`
    : !keepalived
      ? "keepalived is not installed (node scripts/ensure-setup.js installs it)"
      : undefined,
);

jest.setTimeout(20 * 60_000);

const P = `wgha${Math.floor(Math.random() * 0xffff)
  .toString(16)
  .padStart(4, "0")}`;
const NS = {
  inet: `${P}-inet`,
  gwa: `${P}-gwa`,
  gwb: `${P}-gwb`,
  hub: `${P}-hub`,
  farf: `${P}-farf`,
  natn: `${P}-natn`,
  farn: `${P}-farn`,
};
const SERVICE_IP = "203.0.113.10";
const API = "198.51.100.1";
const TOKEN = "5c0a1e00-1111-4222-8333-444444444444";
const IDS = {
  serverA: "aaaaaaaa-0000-4000-8000-000000000001",
  serverB: "bbbbbbbb-0000-4000-8000-000000000002",
  nicA: "aaaaaaaa-0000-4000-8000-0000000000a1",
  nicB: "bbbbbbbb-0000-4000-8000-0000000000b1",
  pn: "cccccccc-0000-4000-8000-000000000003",
  vpc: "dddddddd-0000-4000-8000-000000000004",
  ip: "eeeeeeee-0000-4000-8000-000000000005",
};
const GW = {
  a: { ns: NS.gwa, server: IDS.serverA, nic: IDS.nicA, uplink: "198.51.100.2", pn: "192.168.0.2", name: "hub-a" },
  b: { ns: NS.gwb, server: IDS.serverB, nic: IDS.nicB, uplink: "198.51.100.3", pn: "192.168.0.3", name: "hub-b" },
};
type Gw = (typeof GW)["a"];

function sh(ns: string, script: string, ok = true): string {
  const r = spawnSync("ip", ["netns", "exec", ns, "sh", "-c", script], { encoding: "utf8", timeout: 60_000 });
  if (ok && r.status !== 0) throw new Error(`${ns}: ${script}\n${r.stdout}${r.stderr}`);
  return `${r.stdout}${r.stderr}`;
}

/** A host's private /run (wireguard-go's sockets): a `sleep` holding a mount namespace. */
const holders = new Map<string, BackgroundProcess>();
function holder(ns: string): number {
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
    if (spawnSync("nsenter", ["-t", String(h.pid), "-m", "test", "-d", "/run/wireguard"]).status === 0) return h.pid;
    spawnSync("sleep", ["0.1"]);
  }
  throw new Error(`${ns}: holder did not come up: ${h.output()}`);
}
function inHost(ns: string, script: string): string {
  const pid = holders.get(ns)!.pid;
  const r = spawnSync("nsenter", ["-t", String(pid), "-m", "-n", "sh", "-c", script], {
    encoding: "utf8",
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`${ns}: ${script}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

function genKey(): { priv: string; pub: string } {
  const priv = spawnSync("wg", ["genkey"], { encoding: "utf8" }).stdout.trim();
  const pub = spawnSync("wg", ["pubkey"], { input: priv, encoding: "utf8" }).stdout.trim();
  return { priv, pub };
}

function ping(target: string): boolean {
  return spawnSync("ip", ["netns", "exec", NS.hub, "ping", "-c1", "-W1", "-I", "192.168.0.10", target]).status === 0;
}

function tunnelUp(gw: Gw): boolean {
  return /state UP|,UP[,>]/.test(sh(gw.ns, "ip link show dev wg0", false));
}

/** Polls every 0.5 s until `cond`, at most `seconds`; the seconds it took, or undefined. */
function within(seconds: number, cond: () => boolean, from = Date.now()): number | undefined {
  while (Date.now() - from < seconds * 1000) {
    if (cond()) return (Date.now() - from) / 1000;
    spawnSync("sleep", ["0.5"]);
  }
  return undefined;
}

let dir = "";
let standIn: BackgroundProcess | undefined;
const keepaliveds = new Map<string, BackgroundProcess>();

function ipPatches(): number {
  const log = path.join(dir, "calls.log");
  if (!fs.existsSync(log)) return 0;
  return fs
    .readFileSync(log, "utf8")
    .split("\n")
    .filter((l) => l.includes('"PATCH"') && l.includes("/ips/")).length;
}
function holderOfIp(): string {
  return fs.readFileSync(path.join(dir, "holder"), "utf8").trim();
}
function agentState(gw: Gw): string {
  const file = path.join(dir, gw.name, "state", "state");
  return fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim() : "";
}

function writeAgent(gw: Gw, withAgent: boolean): string {
  const wrapper = path.join(dir, gw.name, "agent");
  const body = withAgent
    ? `export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nWG_S2S_HA_ENV=${dir}/${gw.name}/ha.env exec ${ROOT}/cloud-init/ha/wg-s2s-ha "$@"\n`
    : "exit 0\n";
  fs.writeFileSync(wrapper, `#!/bin/sh\n${body}`, { mode: 0o755 });
  return wrapper;
}

function startKeepalived(gw: Gw): void {
  const conf = path.join(dir, gw.name, "keepalived.conf");
  const log = path.join(dir, `keepalived-${gw.name}.log`);
  const k = spawnBackground([
    "nsenter",
    "-t",
    String(holders.get(gw.ns)!.pid),
    "-m",
    "-n",
    "sh",
    "-c",
    `exec keepalived -n -l -f ${conf} -p /run/keepalived-${gw.name}.pid -r /run/vrrp-${gw.name}.pid >>${log} 2>&1`,
  ]);
  keepaliveds.set(gw.name, k);
}

function setUp(): void {
  fs.mkdirSync(LAB_HOME, { recursive: true, mode: 0o755 });
  dir = fs.mkdtempSync(path.join(LAB_HOME, "ha-"));
  fs.chmodSync(dir, 0o755);
  for (const ns of Object.values(NS)) {
    spawnSync("ip", ["netns", "add", ns]);
    sh(
      ns,
      "ip link set lo up; sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0",
    );
  }
  // The internet: one bridge in inet; gateways, the fixed far end and the NAT on it.
  sh(NS.inet, `ip link add br0 type bridge && ip addr add ${API}/24 dev br0 && ip link set br0 up`);
  const onInet = [
    [NS.gwa, GW.a.uplink],
    [NS.gwb, GW.b.uplink],
    [NS.farf, "198.51.100.20"],
    [NS.natn, "198.51.100.30"],
  ];
  onInet.forEach(([ns, addr], i) => {
    sh(NS.inet, `ip link add i${i} type veth peer name uplink netns ${ns} && ip link set i${i} master br0 up`);
    sh(ns, `ip addr add ${addr}/24 dev uplink && ip link set uplink up && ip route add default via ${API}`);
  });
  // The private network: a bridge in the hub LAN host, both gateways on it.
  sh(NS.hub, "ip link add brpn type bridge && ip addr add 192.168.0.10/24 dev brpn && ip link set brpn up");
  for (const [i, gw] of [GW.a, GW.b].entries()) {
    sh(NS.hub, `ip link add p${i} type veth peer name pn0 netns ${gw.ns} && ip link set p${i} master brpn up`);
    sh(gw.ns, `ip addr add ${gw.pn}/24 dev pn0 && ip link set pn0 up`);
  }
  // The NATed far end behind a masquerading router.
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
    "ip addr add 10.40.0.2/24 dev lan0 && ip link set lan0 up && ip route add default via 10.40.0.1 && ip addr add 10.50.0.1/32 dev lo",
  );
  sh(NS.farf, "ip addr add 10.20.0.1/32 dev lo");

  // WireGuard: one hub identity on both gateways (down), the far ends up and dialling the service IP.
  const hub = genKey();
  const farf = genKey();
  const farn = genKey();
  for (const ns of Object.values(NS)) if (ns !== NS.inet && ns !== NS.hub && ns !== NS.natn) holder(ns);
  const wgUp = (ns: string, key: string, peers: string, up: boolean) => {
    fs.writeFileSync(path.join(dir, `${ns}.key`), key + "\n", { mode: 0o600 });
    inHost(
      ns,
      `ip link add wg0 type wireguard 2>/dev/null || wireguard-go wg0 >/dev/null 2>&1
wg set wg0 private-key ${dir}/${ns}.key listen-port 51820 ${peers}
${up ? "ip link set wg0 up" : "true"}`,
    );
  };
  for (const gw of [GW.a, GW.b]) {
    wgUp(
      gw.ns,
      hub.priv,
      `peer ${farf.pub} allowed-ips 10.20.0.0/24 endpoint 198.51.100.20:51820 persistent-keepalive 25 peer ${farn.pub} allowed-ips 10.50.0.0/24 persistent-keepalive 25`,
      false,
    );
  }
  wgUp(NS.farf, farf.priv, `peer ${hub.pub} allowed-ips 192.168.0.0/24 endpoint ${SERVICE_IP}:51820`, true);
  sh(NS.farf, "ip route add 192.168.0.0/24 dev wg0 src 10.20.0.1");
  wgUp(
    NS.farn,
    farn.priv,
    `peer ${hub.pub} allowed-ips 192.168.0.0/24 endpoint ${SERVICE_IP}:51820 persistent-keepalive 25`,
    true,
  );
  sh(NS.farn, "ip route add 192.168.0.0/24 dev wg0 src 10.50.0.1");

  // The service IP starts on A (as the stack's first `pulumi up` plus A's first claim leave it).
  sh(NS.inet, `ip route replace ${SERVICE_IP}/32 via ${GW.a.uplink}`);
  sh(GW.a.ns, `ip addr add ${SERVICE_IP}/32 dev uplink`);
  for (const dst of ["10.20.0.0/24", "10.50.0.0/24"]) sh(NS.hub, `ip route replace ${dst} via ${GW.a.pn}`);
  fs.writeFileSync(path.join(dir, "holder"), IDS.serverA);

  // The stand-in's hooks: what Scaleway's network does when the API says so.
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
  if (
    within(
      60,
      () =>
        spawnSync("ip", ["netns", "exec", NS.inet, "curl", "-s", "-o", "/dev/null", `http://${API}:8081/`]).status ===
        0,
    ) === undefined
  ) {
    throw new Error(`the API stand-in did not start: ${standIn.output()}`);
  }

  for (const [gw, peer] of [
    [GW.a, GW.b],
    [GW.b, GW.a],
  ]) {
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
        peerAddress: peer.pn,
        virtualRouterId: 51,
        agentPath: writeAgent(gw, true),
      }),
    );
  }
}

async function tearDown(): Promise<void> {
  // What keepalived and the stand-in said, kept beside the results for a failed run.
  const logs = ["hub-a", "hub-b"].map((name) => {
    const file = path.join(dir, `keepalived-${name}.log`);
    return `=== keepalived ${name}\n${fs.existsSync(file) ? fs.readFileSync(file, "utf8") : ""}`;
  });
  logs.push(`=== stand-in\n${standIn?.output() ?? ""}`);
  if (dir) fs.writeFileSync(path.join(LAB_HOME, "ha-failover-last.log"), logs.join("\n"));
  for (const k of keepaliveds.values()) await k.stop();
  await standIn?.stop();
  for (const ns of Object.values(NS)) spawnSync("ip", ["-n", ns, "link", "del", "wg0"]);
  for (const h of holders.values()) await h.stop();
  await destroyNetnsAll(Object.values(NS));
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}

function report(line: string): void {
  process.stdout.write(`[ha-failover, Scaleway API stand-in] ${line}\n`);
  fs.appendFileSync(path.join(LAB_HOME, "ha-failover-results.txt"), `${new Date().toISOString()} ${line}\n`);
}

/** The invariant after every event: IP, routes and the only tunnel up are on one gateway, and both far ends answer. */
function settledOn(gw: Gw, other: Gw): boolean {
  return (
    holderOfIp() === gw.server &&
    sh(NS.hub, "ip route show 10.20.0.0/24", false).includes(`via ${gw.pn}`) &&
    sh(NS.hub, "ip route show 10.50.0.0/24", false).includes(`via ${gw.pn}`) &&
    tunnelUp(gw) &&
    !tunnelUp(other) &&
    ping("10.20.0.1") &&
    ping("10.50.0.1")
  );
}

describeLab("HA hub failover (namespace lab, Scaleway API stand-in, real keepalived)", () => {
  beforeAll(() => setUp());
  afterAll(() => tearDown());

  it("A becomes active alone; B joins as standby", () => {
    startKeepalived(GW.a);
    expect(within(90, () => settledOn(GW.a, GW.b))).toBeDefined();
    startKeepalived(GW.b);
    const patches = ipPatches();
    expect(within(30, () => agentState(GW.b) === "standby")).toBeDefined();
    spawnSync("sleep", ["6"]);
    expect(settledOn(GW.a, GW.b)).toBe(true);
    expect(ipPatches()).toBe(patches);
  });

  it("kill the active gateway: both far ends reach the hub LAN through the standby; one switch", () => {
    const patches = ipPatches();
    const t0 = Date.now();
    process.kill(-keepaliveds.get("hub-a")!.pid, "SIGKILL");
    sh(GW.a.ns, "ip link set wg0 down; ip link set uplink down; ip link set pn0 down");
    const claimed = within(60, () => tunnelUp(GW.b), t0);
    const fixed = within(60, () => ping("10.20.0.1"), t0);
    const nated = within(60, () => ping("10.50.0.1"), t0);
    report(
      `kill active -> standby tunnel up ${claimed ?? "never within 60"} s; first ping through it: fixed-IP far end ${fixed ?? "none within 60"} s, NATed far end ${nated ?? "none within 60"} s (load ${fs.readFileSync("/proc/loadavg", "utf8").split(" ")[0]})`,
    );
    expect(fixed).toBeDefined();
    expect(nated).toBeDefined();
    expect(within(30, () => holderOfIp() === GW.b.server && tunnelUp(GW.b))).toBeDefined();
    expect(ipPatches()).toBe(patches + 1);
  });

  it("the killed gateway comes back: it stays standby, nothing moves back", () => {
    const patches = ipPatches();
    // A reboot empties /run: the agent's state and keepalived's PID files.
    fs.rmSync(path.join(dir, "hub-a", "state"), { recursive: true, force: true });
    inHost(GW.a.ns, "rm -f /run/keepalived-hub-a.pid /run/vrrp-hub-a.pid");
    sh(GW.a.ns, "ip link set uplink up; ip link set pn0 up");
    startKeepalived(GW.a);
    expect(within(30, () => agentState(GW.a) === "standby")).toBeDefined();
    spawnSync("sleep", ["8"]);
    expect(settledOn(GW.b, GW.a)).toBe(true);
    expect(ipPatches()).toBe(patches);
  });

  it("partition of the private network between the gateways, then healed: one gateway ends with everything, at most one switch", () => {
    const patches = ipPatches();
    const t0 = Date.now();
    // Neither gateway hears the other's adverts (the rest of the private network still works).
    for (const gw of [GW.a, GW.b]) {
      sh(
        gw.ns,
        "nft add table inet part && nft 'add chain inet part in { type filter hook input priority 0; }' && nft add rule inet part in ip protocol vrrp drop",
      );
    }
    spawnSync("sleep", ["10"]);
    const settled = within(60, () => settledOn(GW.a, GW.b) || settledOn(GW.b, GW.a), t0);
    report(
      `partition: settled after ${settled ?? "never within 60"} s on ${holderOfIp() === GW.a.server ? "A" : "B"}, IP moves ${ipPatches() - patches}`,
    );
    expect(settled).toBeDefined();
    expect(ipPatches() - patches).toBeLessThanOrEqual(1);
    const during = ipPatches();
    const winner = holderOfIp() === GW.a.server ? GW.a : GW.b;
    const loser = winner === GW.a ? GW.b : GW.a;
    for (const gw of [GW.a, GW.b]) sh(gw.ns, "nft delete table inet part");
    spawnSync("sleep", ["10"]);
    expect(settledOn(winner, loser)).toBe(true);
    expect(ipPatches()).toBe(during);
  });

  it("negative control: the same kill without the agent leaves the far ends down", () => {
    const active = holderOfIp() === GW.a.server ? GW.a : GW.b;
    const standby = active === GW.a ? GW.b : GW.a;
    writeAgent(standby, false);
    process.kill(-keepaliveds.get(active.name)!.pid, "SIGKILL");
    sh(active.ns, "ip link set wg0 down; ip link set uplink down; ip link set pn0 down");
    expect(within(20, () => ping("10.20.0.1") || ping("10.50.0.1"))).toBeUndefined();
  });
});
