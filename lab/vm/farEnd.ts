/**
 * The far end as an operator has it: an office router that runs before our bundle
 * arrives. A Debian 12 VM on the lab's image (systemd, netplan rendering for
 * systemd-networkd, nftables) that already does its job: it forwards its LAN to the
 * internet with masquerade, from an /etc/nftables.conf that begins with `flush ruleset`
 * loaded by an enabled nftables.service, forwarding switched on in /etc/sysctl.d, and
 * wireguard-tools installed (the operator's own package, for the wg-quick form). Its own
 * boot is not what any check is about, so it always resumes from a saved state; only its
 * clock is brought up to date (no cloud-init of ours runs on it: it has none).
 *
 * On the lab's network it has its uplink on the "internet" bridge (the site's publicIp)
 * and its LAN NIC on the site's bridge, where a namespace stands for the office's LAN
 * (a workstation: the operator SSHes from it, and its pings cross the router), and one
 * more namespace on the internet bridge is a host the office already talks to.
 */
import type { LabNode } from "../topology";
import { SETUP_DONE } from "./savedState";

/** Debian packages the office router has and the image lacks (fetched on this machine). */
export const FAR_END_PACKAGES = ["wireguard-tools"] as const;

/** The uplink's name in the VM: the NIC in Scaleway's public slot (see seed.ts). */
export const FAR_END_UPLINK = "ens2";

/** True for the hosts that are an operator's machine (an external site's gateway). */
export const isFarEnd = (h: LabNode): boolean => h.provisioning === "operator-bundle";

/**
 * What turns the image's generic boot into the office router, run once over SSH before
 * its state is saved, after its packages are installed (debInstallScript).
 */
export function officeRouterSetupScript(ruleset: string): string {
  return [
    "set -eu",
    `cat >/etc/nftables.conf <<'WG_S2S_LAB_EOF'\n${ruleset.trimEnd()}\nWG_S2S_LAB_EOF`,
    "chmod 0755 /etc/nftables.conf",
    "systemctl enable --now nftables.service >/dev/null 2>&1",
    "printf 'net.ipv4.ip_forward = 1\\n' >/etc/sysctl.d/80-office-router.conf",
    "sysctl -q -p /etc/sysctl.d/80-office-router.conf",
    "sync",
    "echo 3 > /proc/sys/vm/drop_caches",
    `echo ${SETUP_DONE}`,
  ].join("\n");
}
