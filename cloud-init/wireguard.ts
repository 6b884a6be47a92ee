/**
 * The WireGuard tunnel from a WireGuardInterfaceSpec, in two forms:
 *  - systemd-networkd's native .netdev/.network pair (kernel WireGuard): what the gateway
 *    cloud-config writes, because Ubuntu's cloud image ships networkd and the kernel
 *    module but not wireguard-tools, so the tunnel needs no package download;
 *  - wg0.conf for wg-quick: the operator bundle's manual install path.
 */
import { WG_INTERFACE } from "./common";
import { renderIni, type IniSection } from "./ini";
import { sortCidrs } from "../addressing/ipv4";
import {
  addressPart,
  assertEndpoint,
  assertIntegerInRange,
  assertSiteName,
  assertWireGuardKey,
  strictCidr,
} from "./guards";
import type { WireGuardInterfaceSpec, WireGuardPeerSpec } from "../planning/specs";

function sortedPeers(peers: readonly WireGuardPeerSpec[]): WireGuardPeerSpec[] {
  const names = peers.map((p) => p.name);
  const duplicate = names.find((name, i) => names.indexOf(name) !== i);
  if (duplicate !== undefined) throw new Error(`wireguard: peer "${duplicate}" is listed twice`);
  return [...peers].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function peerAllowedIps(peer: WireGuardPeerSpec, who = "wireguard"): string[] {
  if (peer.allowedIps.length === 0) throw new Error(`${who}: peer "${peer.name}" has no allowedIps`);
  return sortCidrs(peer.allowedIps.map((cidr) => strictCidr(cidr, `${who}: allowedIps of peer "${peer.name}"`)));
}

/** A peer as every form of the tunnel writes it: each field checked, AllowedIPs sorted. */
export interface CheckedPeer {
  name: string;
  publicKey: string;
  presharedKey: string;
  allowedIps: string[];
  endpoint?: string;
  /** Seconds; 0 is off. */
  keepalive: number;
}

/**
 * The peers in name order, each field checked; `who` (the renderer) starts every error, so
 * wg0.conf, the networkd files and the netplan file refuse the same spec for the same reasons.
 */
export function checkedPeers(spec: WireGuardInterfaceSpec, who = "wireguard"): CheckedPeer[] {
  return sortedPeers(spec.peers).map((peer) => {
    assertSiteName(peer.name, `${who}: peer name`);
    const publicKey = assertWireGuardKey(peer.publicKey, `${who}: public key of peer "${peer.name}"`);
    const presharedKey = assertWireGuardKey(peer.presharedKey, `${who}: preshared key of peer "${peer.name}"`);
    const allowedIps = peerAllowedIps(peer, who);
    const endpoint =
      peer.endpoint === undefined
        ? undefined
        : assertEndpoint(peer.endpoint, `${who}: endpoint of peer "${peer.name}"`);
    const keepalive = peer.persistentKeepalive ?? 0;
    assertIntegerInRange(keepalive, 0, 65535, `${who}: persistentKeepalive of peer "${peer.name}"`);
    return { name: peer.name, publicKey, presharedKey, allowedIps, ...(endpoint ? { endpoint } : {}), keepalive };
  });
}

function peerSection(peer: CheckedPeer): IniSection {
  const entries: [string, string | number][] = [
    ["PublicKey", peer.publicKey],
    ["PresharedKey", peer.presharedKey],
    ["AllowedIPs", peer.allowedIps.join(", ")],
  ];
  if (peer.endpoint !== undefined) entries.push(["Endpoint", peer.endpoint]);
  if (peer.keepalive > 0) entries.push(["PersistentKeepalive", peer.keepalive]);
  return { name: "Peer", comment: [peer.name], entries };
}

/**
 * Every CIDR routed into the tunnel, in peer-name then address order. These become
 * `ip route replace` PostUp lines (see renderWireGuardConfig).
 */
export function tunnelRoutes(spec: WireGuardInterfaceSpec): string[] {
  const routes = sortedPeers(spec.peers).flatMap((peer) => peerAllowedIps(peer));
  const duplicate = routes.find((cidr, i) => routes.indexOf(cidr) !== i);
  if (duplicate !== undefined) throw new Error(`wireguard: ${duplicate} is in the allowedIps of two peers`);
  return routes;
}

/** Checks the interface's own address, port and MTU (`who` starts the errors); returns tunnelRoutes. */
export function checkInterface(spec: WireGuardInterfaceSpec, who = "wireguard"): string[] {
  addressPart(spec.address, `${who}: interface address`);
  assertIntegerInRange(spec.listenPort, 1, 65535, `${who}: listenPort`);
  assertIntegerInRange(spec.mtu, 1280, 9000, `${who}: mtu`);
  return tunnelRoutes(spec);
}

/**
 * wg0.conf. `Table = off` plus one `ip -4 route replace <cidr> dev %i` per AllowedIP:
 * Scaleway's DHCP pushes the VPC custom route for the remote subnet to the gateway too,
 * so wg-quick's own `ip route add` would fail with "File exists"; replace is
 * deterministic and re-runnable. MTU is explicit rather than wg-quick's guess.
 */
export function renderWireGuardConfig(spec: WireGuardInterfaceSpec): string {
  const routes = checkInterface(spec);
  const iface: IniSection = {
    name: "Interface",
    entries: [
      ["PrivateKey", assertWireGuardKey(spec.privateKey, "wireguard: private key")],
      ["Address", spec.address],
      ["ListenPort", spec.listenPort],
      ["MTU", spec.mtu],
      ["Table", "off"],
      ...routes.map((cidr) => ["PostUp", `ip -4 route replace ${cidr} dev %i`] as const),
    ],
  };
  return renderIni(
    [iface, ...checkedPeers(spec).map(peerSection)],
    [
      "WireGuard site-to-site tunnel, generated by scaleway-wireguard-s2s. Holds secrets: mode 0600.",
      "Routes are set by the PostUp lines (Table = off): replace, not add, so a route the",
      "network already pushed for the same subnet never makes the interface fail to start.",
    ],
  );
}

/**
 * systemd-networkd netdev (systemd.netdev(5), [WireGuard]/[WireGuardPeer]): networkd
 * creates wg0 in the kernel and sets keys and peers itself, no wg(8) needed. Holds the
 * private and preshared keys: networkd reads it as group systemd-network, so the file is
 * 0640 root:systemd-network, as systemd.netdev(5) asks of PrivateKeyFile=.
 */
export function renderWireGuardNetdev(spec: WireGuardInterfaceSpec): string {
  checkInterface(spec);
  const peerSections: IniSection[] = checkedPeers(spec).map((peer) => {
    const section = peerSection(peer);
    return {
      name: "WireGuardPeer",
      comment: section.comment,
      entries: section.entries.map(([key, value]) =>
        // networkd takes AllowedIPs= as a comma-separated list too; no spaces keeps it one token.
        key === "AllowedIPs" ? ([key, String(value).replace(/, /g, ",")] as const) : ([key, value] as const),
      ),
    };
  });
  return renderIni(
    [
      {
        name: "NetDev",
        entries: [
          ["Name", WG_INTERFACE],
          ["Kind", "wireguard"],
          ["MTUBytes", spec.mtu],
          ["Description", "WireGuard site-to-site tunnel (scaleway-wireguard-s2s)"],
        ],
      },
      {
        name: "WireGuard",
        entries: [
          ["PrivateKey", assertWireGuardKey(spec.privateKey, "wireguard: private key")],
          ["ListenPort", spec.listenPort],
        ],
      },
      ...peerSections,
    ],
    [
      "WireGuard site-to-site tunnel for systemd-networkd, generated by scaleway-wireguard-s2s.",
      "Holds secrets: mode 0640, owner root:systemd-network.",
    ],
    "=",
  );
}

/**
 * systemd-networkd network for wg0: its address and one [Route] per AllowedIP. networkd
 * owns these routes, so it restores them whenever it reconfigures wg0 (a `netplan apply`
 * on a private NIC hot-plug restarts or reloads networkd); a route pushed by the VPC for
 * the same subnet on the private NIC has DHCP's metric (1024) and loses to metric 0 here.
 * wg0 is not required for "online": the boot never waits for the peer.
 */
/**
 * `manualActivation`: networkd creates and configures wg0 but never sets it up or down
 * (systemd.network(5), `ActivationPolicy=manual`, systemd 248+): an HA hub's agent does,
 * on the gateway that holds the service IP only.
 */
export function renderWireGuardNetwork(
  spec: WireGuardInterfaceSpec,
  opts: { manualActivation?: boolean } = {},
): string {
  const routes = checkInterface(spec);
  return renderIni(
    [
      { name: "Match", entries: [["Name", WG_INTERFACE]] },
      {
        name: "Link",
        entries: [
          ["RequiredForOnline", "no"],
          ...(opts.manualActivation ? ([["ActivationPolicy", "manual"]] as const) : []),
        ],
      },
      { name: "Network", entries: [["Address", spec.address]] },
      ...routes.map((cidr): IniSection => ({ name: "Route", entries: [["Destination", cidr]] })),
    ],
    ["WireGuard site-to-site tunnel: address and routes, generated by scaleway-wireguard-s2s."],
    "=",
  );
}
