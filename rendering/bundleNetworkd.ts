/**
 * The external site's operator bundle in systemd-networkd form (systemd.netdev(5),
 * systemd.network(5)): the tunnel as wg0.netdev + wg0.network, for far ends whose network
 * is networkd's (Debian/Ubuntu servers, most appliances built on systemd). Forward policy,
 * MSS clamping and forwarding are the same files as the wg-quick form (the bundle's top
 * level): wg-s2s-firewall.service loads the policy before network-pre.target and only then
 * switches forwarding on, as on the Scaleway gateways; install.sh installs them. Not networkd's IPForward=, which
 * systemd 256 renamed and which would forward whether or not the policy loaded.
 *
 * The netdev and network files are the Scaleway gateways' own (cloud-init/wireguard.ts): one
 * renderer for the tunnel in networkd form, whichever end runs it.
 *
 * Pure; holds the private and preshared keys (wg0.netdev only).
 */
import { renderWireGuardNetdev, renderWireGuardNetwork } from "../cloud-init/wireguard";
import type { GatewaySpec } from "../planning/specs";

export const NETWORKD_FILES = {
  netdev: "networkd/90-wg-s2s.netdev",
  network: "networkd/90-wg-s2s.network",
} as const;

/** Where install.sh puts them; networkd reads /etc/systemd/network. */
export const NETWORKD_PATHS = {
  netdev: "/etc/systemd/network/90-wg-s2s.netdev",
  network: "/etc/systemd/network/90-wg-s2s.network",
} as const;

/** filename -> content, under networkd/. The shared files stay at the bundle's top level. */
export function renderNetworkdFiles(spec: GatewaySpec): Record<string, string> {
  return {
    [NETWORKD_FILES.netdev]: renderWireGuardNetdev(spec.wireguard),
    [NETWORKD_FILES.network]: renderWireGuardNetwork(spec.wireguard),
  };
}
