/**
 * Far ends that already have a job when the bundle arrives, for the production scenario:
 *
 *  - an office router: forwards its LAN to the internet with masquerade, from an
 *    /etc/nftables.conf that begins with `flush ruleset` (Debian's nftables.service);
 *  - a Docker host: dockerd 20.10's iptables-nft ruleset (FORWARD policy drop, DOCKER-USER),
 *    a docker0 bridge and one "container" namespace behind it; later the same host as a
 *    Debian box whose firewall is ufw.
 *
 * Each installs the bundle with its own install.sh, from a directory written with the same
 * modes as `npm run bundle`. The checks read what the host had before (ruleset, forwarding)
 * and compare after uninstall.
 */
import { readFileSync } from "fs";
import * as path from "path";
import { addBridge, addNetns, addVethPair, attachToBridge, ipIn } from "../netns";
import type { LabHost } from "../host";
import { EXECUTABLE_FILES, FAR_END_FILES } from "../../rendering/farEndHost";

/** A host on the internet segment that the far ends' own flows go to (not a WireGuard peer). */
export const INTERNET_HOST = { address: "198.51.100.99", len: 24 };
/** Docker's default bridge, as dockerd 20.10 sets it up, and the one container on it. */
export const DOCKER_BRIDGE = { name: "docker0", gateway: "172.17.0.1", container: "172.17.0.2", len: 16 };

const RULESETS = path.join(__dirname, "hostRulesets");

/** The lab's internet host: a namespace on the internet bridge, answering pings. */
export async function addInternetHost(prefix: string, switchNs: string, bridge: string): Promise<string> {
  const ns = `${prefix}-inet`;
  await addNetns(ns);
  await addVethPair({ ns, name: "eth0" }, { ns: switchNs, name: "s1-inet" });
  await attachToBridge(switchNs, "s1-inet", bridge);
  await ipIn(ns, ["addr", "add", `${INTERNET_HOST.address}/${INTERNET_HOST.len}`, "dev", "eth0"]);
  await ipIn(ns, ["link", "set", "eth0", "up"]);
  await ipIn(ns, ["link", "set", "lo", "up"]);
  return ns;
}

/** An office router's /etc/nftables.conf (begins with `flush ruleset`), masquerading out of `uplink`. */
export const officeRouterRuleset = (uplink: string): string =>
  readFileSync(path.join(RULESETS, "office-router.nft"), "utf8").replace('"UPLINK"', `"${uplink}"`);

/** The office router's own firewall and forwarding, in place before the bundle arrives. */
export async function makeOfficeRouter(h: LabHost, uplink: string): Promise<void> {
  await h.writeFile("/etc/nftables.conf", officeRouterRuleset(uplink), "0755");
  await h.execOk(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
  await h.execOk(["systemctl", "enable", "--now", "nftables.service"], { timeoutMs: 20_000 });
}

/**
 * Docker's part of a Docker host: its ruleset, its bridge and one container (a namespace).
 * The docker.service file is a stand-in (no dockerd runs here); install.sh only looks for it.
 */
export async function makeDockerHost(h: LabHost, hostNs: string, prefix: string): Promise<string> {
  await h.writeFile(
    "/etc/systemd/system/docker.service",
    [
      "# Lab stand-in: marks this host as a Docker host (install.sh looks for docker.service).",
      "[Unit]",
      "Description=Docker Application Container Engine (lab stand-in, no dockerd)",
      "[Service]",
      "Type=oneshot",
      "RemainAfterExit=yes",
      "ExecStart=/bin/true",
      "",
    ].join("\n"),
  );
  await h.execOk(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
  await h.execOk(["iptables-restore"], { input: readFileSync(path.join(RULESETS, "docker-20.10.rules"), "utf8") });
  const ctr = `${prefix}-ctr`;
  await addNetns(ctr);
  await addBridge(hostNs, DOCKER_BRIDGE.name);
  await ipIn(hostNs, ["addr", "add", `${DOCKER_BRIDGE.gateway}/${DOCKER_BRIDGE.len}`, "dev", DOCKER_BRIDGE.name]);
  await addVethPair({ ns: ctr, name: "eth0" }, { ns: hostNs, name: "veth-ctr" });
  await attachToBridge(hostNs, "veth-ctr", DOCKER_BRIDGE.name);
  await ipIn(ctr, ["addr", "add", `${DOCKER_BRIDGE.container}/${DOCKER_BRIDGE.len}`, "dev", "eth0"]);
  await ipIn(ctr, ["link", "set", "eth0", "up"]);
  await ipIn(ctr, ["route", "add", "default", "via", DOCKER_BRIDGE.gateway]);
  return ctr;
}

/**
 * The Docker host becomes a plain Debian box that does not forward, whose firewall is ufw
 * (forwarded traffic dropped, incoming denied): Docker's ruleset, bridge and unit go.
 */
export async function makeUfwHost(h: LabHost, hostNs: string, dockerCtrNs: string): Promise<void> {
  await h.execOk(["iptables-restore"], {
    input:
      "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n",
  });
  await h.execOk(["rm", "-f", "/etc/systemd/system/docker.service"]);
  await ipIn(hostNs, ["link", "delete", DOCKER_BRIDGE.name]);
  await ipIn(dockerCtrNs, ["link", "delete", "eth0"]);
  // Not a router: install switches forwarding on, uninstall must switch it off again.
  await h.execOk(["sysctl", "-q", "-w", "net.ipv4.ip_forward=0"]);
  await h.execOk(["ufw", "--force", "enable"], { timeoutMs: 30_000 });
  // Its admin's own rule, as on every ufw host, and the state it has after its next boot:
  // ufw's live update of a rule leaves its IPv6 rate-limit chains emptier than a reload of
  // the same rules does, so only a reloaded ufw compares equal after any rule change.
  await h.execOk(["ufw", "allow", "22/tcp"], { timeoutMs: 30_000 });
  await h.execOk(["ufw", "reload"], { timeoutMs: 30_000 });
}

/** The bundle as `npm run bundle` writes it (directory 0700, data 0600, scripts 0700), inside the host. */
export async function copyBundle(h: LabHost, files: Record<string, string>, dir: string): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    await h.writeFile(`${dir}/${name}`, content, EXECUTABLE_FILES.has(name) ? "0700" : "0600");
  }
  await h.execOk(["chmod", "0700", dir]);
}

/** `sh DIR/install.sh ARGS...` inside the host, as the operator runs it. */
export function installSh(h: LabHost, dir: string, args: string[], timeoutMs = 60_000) {
  return h.exec(["sh", `${dir}/${FAR_END_FILES.installer}`, ...args], { timeoutMs });
}

/** What uninstall must give back: the ruleset (stateless: no counters), forwarding, our paths. */
export interface HostFirewallState {
  ruleset: string;
  ipForward: string;
  leftovers: string;
}

/** Lists what of the bundle is still on a host (nothing, after uninstall), for both labs. */
export const FAR_END_LEFTOVERS_SH =
  "ls -d /etc/wg-s2s /var/lib/wg-s2s /usr/local/sbin/wg-s2s-fw /usr/local/sbin/wg-s2s-metrics /etc/systemd/system/wg-s2s-* " +
  "/var/lib/prometheus/node-exporter/wg_s2s.prom " +
  "/etc/systemd/system/*.service.d/wg-s2s.conf /etc/wireguard/wg0.conf /etc/systemd/network/90-wg-s2s.* " +
  "/etc/netplan/60-wg-s2s.yaml /etc/dnsmasq.d/wg-s2s.conf /sys/class/net/wg0 2>/dev/null; " +
  "sha256sum /etc/wireguard/wg0.conf 2>/dev/null; true";

export async function hostFirewallState(h: LabHost): Promise<HostFirewallState> {
  const ruleset = (await h.execOk(["nft", "-s", "list", "ruleset"])).stdout;
  const ipForward = (await h.execOk(["sysctl", "-n", "net.ipv4.ip_forward"])).stdout.trim();
  const leftovers = (await h.sh(FAR_END_LEFTOVERS_SH)).stdout.trim();
  return { ruleset, ipForward, leftovers };
}

/** First line where two rulesets differ, for a check's detail. */
export function firstDifference(before: string, after: string): string {
  const a = before.split("\n");
  const b = after.split("\n");
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i])
      return `line ${i + 1}: before ${JSON.stringify(a[i] ?? "")}, after ${JSON.stringify(b[i] ?? "")}`;
  }
  return "identical";
}
