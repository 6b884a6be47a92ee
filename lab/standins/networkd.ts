/**
 * What systemd-networkd does with a WireGuard .netdev/.network pair, as a plan of `ip` and
 * `wg` commands the namespace lab can run: a namespace has no networkd, and this kernel
 * has no WireGuard module (wireguard-go stands in, and wg(8) configures it).
 *
 * Understood (systemd.netdev(5), systemd.network(5)), and nothing else:
 *   .netdev  [NetDev] Name=, Kind=wireguard, MTUBytes=; [WireGuard] PrivateKey=,
 *            ListenPort=; [WireGuardPeer] PublicKey=, PresharedKey=, AllowedIPs=,
 *            Endpoint=, PersistentKeepalive=
 *   .network [Match] Name= (exact); [Network] Address=; [Route] Destination= (no Gateway=)
 * Any other key, or a netdev of another Kind, is refused with its name, so a user-data
 * that relies on more than this fails in the lab instead of passing untested.
 */

export interface IniBlock {
  section: string;
  entries: [string, string][];
}

/** INI as networkd reads it: repeated sections stay separate, in order; comments dropped. */
export function parseNetworkdIni(text: string): IniBlock[] {
  const blocks: IniBlock[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[([A-Za-z]+)\]$/.exec(line);
    if (header) {
      blocks.push({ section: header[1], entries: [] });
      continue;
    }
    const eq = line.indexOf("=");
    if (eq < 0 || blocks.length === 0) throw new Error(`networkd stand-in: cannot parse line "${line}"`);
    blocks[blocks.length - 1].entries.push([line.slice(0, eq).trim(), line.slice(eq + 1).trim()]);
  }
  return blocks;
}

const KNOWN: Record<string, string[]> = {
  NetDev: ["Name", "Kind", "MTUBytes", "Description"],
  WireGuard: ["PrivateKey", "ListenPort"],
  WireGuardPeer: ["PublicKey", "PresharedKey", "AllowedIPs", "Endpoint", "PersistentKeepalive"],
  Match: ["Name"],
  Link: ["RequiredForOnline", "MTUBytes"],
  Network: ["Address", "LinkLocalAddressing", "ConfigureWithoutCarrier"],
  Route: ["Destination", "Scope"],
};

/**
 * Keys accepted only with the values whose effect the stand-in reproduces (what
 * `netplan generate` writes for a WireGuard tunnel): the link is brought up without
 * waiting for carrier, IPv6 link-local is irrelevant to the IPv4 tunnel, and a route
 * without Gateway= is a device route of scope link (what `ip route replace ... dev` adds).
 */
const ONLY_VALUES: Record<string, string[]> = {
  "Network.LinkLocalAddressing": ["ipv6", "no"],
  "Network.ConfigureWithoutCarrier": ["yes"],
  "Route.Scope": ["link"],
};

function checkKnown(blocks: IniBlock[], file: string): void {
  for (const b of blocks) {
    const known = KNOWN[b.section];
    if (!known) throw new Error(`networkd stand-in: ${file}: section [${b.section}] is not supported`);
    for (const [key, value] of b.entries) {
      if (!known.includes(key)) throw new Error(`networkd stand-in: ${file}: ${b.section}.${key}= is not supported`);
      const only = ONLY_VALUES[`${b.section}.${key}`];
      if (only && !only.includes(value))
        throw new Error(
          `networkd stand-in: ${file}: ${b.section}.${key}=${value} is not supported (${only.join(", ")})`,
        );
    }
  }
}

const get = (b: IniBlock | undefined, key: string): string | undefined =>
  b?.entries.filter(([k]) => k === key).pop()?.[1];
const getAll = (b: IniBlock, key: string): string[] => b.entries.filter(([k]) => k === key).map(([, v]) => v);

export interface WireGuardPeerPlan {
  publicKey: string;
  presharedKey?: string;
  allowedIps: string[];
  endpoint?: string;
  keepalive?: string;
}

export interface WireGuardLinkPlan {
  name: string;
  mtu?: string;
  privateKey: string;
  listenPort?: string;
  peers: WireGuardPeerPlan[];
  addresses: string[];
  routes: string[];
}

/** netdev files and network files (name -> text) -> one plan per WireGuard netdev. */
export function planWireGuardLinks(
  netdevs: Record<string, string>,
  networks: Record<string, string>,
): WireGuardLinkPlan[] {
  const parsedNetworks = Object.entries(networks).map(([file, text]) => {
    const blocks = parseNetworkdIni(text);
    return { file, blocks };
  });
  const plans: WireGuardLinkPlan[] = [];
  for (const [file, text] of Object.entries(netdevs).sort(([a], [b]) => a.localeCompare(b))) {
    const blocks = parseNetworkdIni(text);
    checkKnown(blocks, file);
    const netdev = blocks.find((b) => b.section === "NetDev");
    const name = get(netdev, "Name");
    if (!name) throw new Error(`networkd stand-in: ${file}: no [NetDev] Name=`);
    if (get(netdev, "Kind") !== "wireguard") {
      throw new Error(`networkd stand-in: ${file}: Kind=${get(netdev, "Kind")} is not supported (wireguard only)`);
    }
    const wg = blocks.find((b) => b.section === "WireGuard");
    const privateKey = get(wg, "PrivateKey");
    if (!privateKey) throw new Error(`networkd stand-in: ${file}: no [WireGuard] PrivateKey=`);
    const peers = blocks
      .filter((b) => b.section === "WireGuardPeer")
      .map((b): WireGuardPeerPlan => {
        const publicKey = get(b, "PublicKey");
        if (!publicKey) throw new Error(`networkd stand-in: ${file}: a [WireGuardPeer] has no PublicKey=`);
        return {
          publicKey,
          presharedKey: get(b, "PresharedKey"),
          allowedIps: getAll(b, "AllowedIPs").flatMap((v) => v.split(/[\s,]+/).filter(Boolean)),
          endpoint: get(b, "Endpoint"),
          keepalive: get(b, "PersistentKeepalive"),
        };
      });
    const addresses: string[] = [];
    const routes: string[] = [];
    let linkMtu: string | undefined;
    // networkd applies the first .network (in file-name order) whose [Match] fits.
    const network = parsedNetworks
      .sort((a, b) => a.file.localeCompare(b.file))
      .find(
        (n) =>
          get(
            n.blocks.find((b) => b.section === "Match"),
            "Name",
          ) === name,
      );
    if (network) {
      checkKnown(network.blocks, network.file);
      for (const b of network.blocks) {
        if (b.section === "Network") addresses.push(...getAll(b, "Address"));
        if (b.section === "Link") linkMtu = get(b, "MTUBytes") ?? linkMtu;
        if (b.section === "Route") {
          const destination = get(b, "Destination");
          if (!destination) throw new Error(`networkd stand-in: ${network.file}: a [Route] has no Destination=`);
          routes.push(destination);
        }
      }
    }
    plans.push({
      name,
      // [Link] MTUBytes= of the .network wins over the netdev's, as in networkd.
      mtu: linkMtu ?? get(netdev, "MTUBytes"),
      privateKey,
      listenPort: get(wg, "ListenPort"),
      peers,
      addresses,
      routes,
    });
  }
  return plans;
}

/** A step of the plan: a command, or a key written to a root-only file first. */
export type Step = { argv: string[] } | { secretFile: string; content: string };

/**
 * Commands that give the link what networkd would: keys and peers (`wg set`, keys through
 * files, never argv), MTU, addresses, up, then one route per [Route]. `createLink` is the
 * argv that creates the link when it does not exist yet (kernel or wireguard-go).
 */
export function linkSteps(plan: WireGuardLinkPlan, secretDir: string): Step[] {
  const steps: Step[] = [];
  const keyFile = `${secretDir}/${plan.name}.key`;
  steps.push({ secretFile: keyFile, content: `${plan.privateKey}\n` });
  steps.push({
    argv: [
      "wg",
      "set",
      plan.name,
      "private-key",
      keyFile,
      ...(plan.listenPort ? ["listen-port", plan.listenPort] : []),
    ],
  });
  plan.peers.forEach((peer, i) => {
    const argv = ["wg", "set", plan.name, "peer", peer.publicKey];
    if (peer.presharedKey) {
      const pskFile = `${secretDir}/${plan.name}.peer${i}.psk`;
      steps.push({ secretFile: pskFile, content: `${peer.presharedKey}\n` });
      argv.push("preshared-key", pskFile);
    }
    argv.push("allowed-ips", peer.allowedIps.join(","));
    if (peer.endpoint) argv.push("endpoint", peer.endpoint);
    if (peer.keepalive) argv.push("persistent-keepalive", peer.keepalive);
    steps.push({ argv });
  });
  if (plan.mtu) steps.push({ argv: ["ip", "link", "set", plan.name, "mtu", plan.mtu] });
  for (const address of plan.addresses) steps.push({ argv: ["ip", "address", "replace", address, "dev", plan.name] });
  steps.push({ argv: ["ip", "link", "set", plan.name, "up"] });
  for (const route of plan.routes) steps.push({ argv: ["ip", "-4", "route", "replace", route, "dev", plan.name] });
  return steps;
}
