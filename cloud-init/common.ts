/**
 * Shared building blocks of every cloud-config we render: the document itself, file
 * entries, SSH settings, and the install paths the gateway, test host and operator
 * bundle must agree on.
 */
import { Document, isSeq } from "yaml";

/** Where things land on a host. One list, so cloud-config and operator bundle never drift. */
export const PATHS = {
  /** wg-quick's config: the operator bundle's manual path only; the cloud-config uses networkd. */
  wireguardConfig: "/etc/wireguard/wg0.conf",
  wireguardNetdev: "/etc/systemd/network/90-wg-s2s-wg0.netdev",
  wireguardNetwork: "/etc/systemd/network/90-wg-s2s-wg0.network",
  extrasScript: "/usr/local/sbin/wg-s2s-install-extras",
  forwardPolicy: "/etc/wg-s2s/forward.nft",
  dnsmasq: "/etc/dnsmasq.d/wg-s2s.conf",
  waitPrivateNicScript: "/usr/local/sbin/wg-s2s-wait-private-nic",
  staticRoutesScript: "/usr/local/sbin/wg-s2s-static-routes",
  routePropagationNote: "/etc/wg-s2s/route-propagation.txt",
  firewallUnit: "/etc/systemd/system/wg-s2s-firewall.service",
  privateNicUnit: "/etc/systemd/system/wg-s2s-private-nic.service",
  staticRoutesUnit: "/etc/systemd/system/wg-s2s-static-routes.service",
  extrasUnit: "/etc/systemd/system/wg-s2s-extras.service",
} as const;

export const UNITS = {
  firewall: "wg-s2s-firewall.service",
  privateNic: "wg-s2s-private-nic.service",
  staticRoutes: "wg-s2s-static-routes.service",
  wgQuick: "wg-quick@wg0.service",
  extras: "wg-s2s-extras.service",
  dnsmasq: "dnsmasq.service",
} as const;

/** Name of the WireGuard interface (the netdev's Name=; wg-quick takes it from wg0.conf's name). */
export const WG_INTERFACE = "wg0";

export interface WriteFileEntry {
  path: string;
  content: string;
  owner: string;
  permissions: string;
}

export type FileMode = "0600" | "0640" | "0644" | "0755";

/** A cloud-init write_files entry, owned by root (group root unless given) with an explicit mode. */
export function fileEntry(
  path: string,
  content: string,
  permissions: FileMode = "0644",
  owner = "root:root",
): WriteFileEntry {
  return { path, content, owner, permissions };
}

export interface SshHostKey {
  privateKeyOpenssh: string;
  publicKeyOpenssh: string;
}

/** ssh_* keys of a cloud-config: authorised keys, and a pinned ed25519 host key when given. */
export function sshSettings(authorizedKeys: readonly string[], hostKey?: SshHostKey): Record<string, unknown> {
  const settings: Record<string, unknown> = {
    ssh_pwauth: false,
    // Keys go to root, as on Scaleway's images and as deploy verification logs in; images
    // whose cloud.cfg sets disable_root (Debian's) would otherwise refuse root with a banner.
    disable_root: false,
    ssh_authorized_keys: [...authorizedKeys],
  };
  if (hostKey) {
    // Replace the image's host keys so the one known to the deployer is the one served.
    settings.ssh_deletekeys = true;
    settings.ssh_keys = {
      ed25519_private: ensureTrailingNewline(hostKey.privateKeyOpenssh),
      ed25519_public: hostKey.publicKeyOpenssh.trim(),
    };
  }
  return settings;
}

export function ensureTrailingNewline(text: string): string {
  return text.endsWith("\n") ? text : `${text}\n`;
}

/** A runcmd entry in exec form: cloud-init quotes each argument, no shell parsing. */
export type Command = readonly string[];

export function systemctl(...args: string[]): Command {
  return ["systemctl", ...args];
}

/**
 * `#cloud-config` + YAML of `body`, keys in insertion order. Literal block scalars and
 * no line folding, so file contents appear verbatim and the output is byte-stable.
 */
export function renderCloudConfig(headerComment: readonly string[], body: Record<string, unknown>): string {
  const doc = new Document(body);
  // runcmd entries in flow style ("- [systemctl, daemon-reload]"): one command per line.
  const runcmd = doc.get("runcmd");
  if (isSeq(runcmd)) runcmd.items.forEach((item) => isSeq(item) && (item.flow = true));
  const yaml = doc.toString({ lineWidth: 0, blockQuote: "literal", indentSeq: true });
  const comments = headerComment.map((line) => (line === "" ? "#" : `# ${line}`));
  return ["#cloud-config", ...comments, yaml].join("\n");
}
