/**
 * What the operator of an `external` site installs on a host that already has a job (the
 * office router, a Docker host, a Debian box with its own firewall), and how: the
 * installer (farEnd/install.sh, one text for every site), the site's facts and file list
 * it reads (site.conf), the guard that keeps the forward policy in place when the host's
 * firewall reloads (farEnd/wg-s2s-fw), and the systemd units and drop-ins around them.
 *
 * The shell scripts live beside this file as real files, so shellcheck reads them as they
 * ship; everything site-specific is rendered here and handed to them as shell variables.
 */
import { readFileSync } from "fs";
import * as path from "path";
import { PATHS, UNITS, WG_INTERFACE, renderCloudConfig } from "../cloud-init/common";
import { NFT_TABLE, renderFirewallUnit, renderForwardPolicy } from "../cloud-init/firewall";
import { addressPart, assertIntegerInRange, assertSiteName } from "../cloud-init/guards";
import { renderSystemdUnit } from "../cloud-init/ini";
import type { GatewayMetricsPushSpec, GatewaySpec } from "../planning/specs";
import {
  PUSH_PATHS,
  PUSH_UNIT,
  remoteWriteUrl,
  renderPushAgentConfig,
  renderPushAgentUnit,
} from "../cloud-init/metricsPush";
import {
  METRICS_PATHS,
  METRICS_UNIT,
  TEXTFILE_DIRECTORY,
  collectorScript,
  renderCollectorUnit,
  renderMetricsConfig,
} from "../cloud-init/tunnelMetrics";

/** Bundle file names of the far-end host's own pieces (the tunnel's are in operatorBundle.ts). */
export const FAR_END_FILES = {
  installer: "install.sh",
  siteFacts: "site.conf",
  tunnelPolicy: "wg-s2s.nft",
  dedicatedPolicy: "wg-s2s-dedicated.nft",
  firewallUnit: "wg-s2s-firewall.service",
  guardScript: "wg-s2s-fw",
  guardUnit: "wg-s2s-guard.service",
  dockerDropIn: "docker-wg-s2s.conf",
  wgQuickDropIn: "wg-quick-wg-s2s.conf",
  metricsScript: "wg-s2s-metrics",
  metricsConfig: "metrics.conf",
  metricsUnit: "wg-s2s-metrics.service",
  pushConfig: "metrics-push.yml",
  pushToken: "cockpit-push-token",
  pushUnit: "wg-s2s-metrics-push.service",
} as const;

export const FAR_END_PATHS = {
  guardScript: "/usr/local/sbin/wg-s2s-fw",
  guardUnit: "/etc/systemd/system/wg-s2s-guard.service",
  dockerDropIn: "/etc/systemd/system/docker.service.d/wg-s2s.conf",
  wgQuickDropIn: `/etc/systemd/system/wg-quick@${WG_INTERFACE}.service.d/wg-s2s.conf`,
} as const;

/** What install.sh recorded (the form, the host's settings before it); uninstall reads it back. */
export const FAR_END_STATE_DIR = "/var/lib/wg-s2s";

/** The LAN hosts' route script of a `static` site (operatorBundle.ts renders it). */
export const ROUTES_SCRIPT = "routes.sh";

/** Bundle files the operator runs; every other file of the bundle is data (mode 0600). */
export const EXECUTABLE_FILES: ReadonlySet<string> = new Set([
  FAR_END_FILES.installer,
  FAR_END_FILES.guardScript,
  FAR_END_FILES.metricsScript,
  ROUTES_SCRIPT,
]);

/** The forms a far end's tunnel can take; install.sh --form picks one. */
export type FarEndForm = "wg-quick" | "networkd" | "netplan";

/** One line of the installer's manifest: what goes where, for which form or scope, in what role. */
export interface ManifestEntry {
  /** Path inside the bundle. */
  file: string;
  /** Where install.sh puts it. */
  installedAs: string;
  mode: "0600" | "0640" | "0644" | "0755";
  group: "root" | "systemd-network";
  /**
   * "all", a form, a policy scope ("tunnel" | "dedicated"), "docker" (where Docker is
   * installed), or "metrics" (`install.sh install --metrics`).
   */
  when: "all" | FarEndForm | "tunnel" | "dedicated" | "docker" | "metrics";
  /** What install.sh restarts or reloads when the file changed. */
  role: "policy" | "unit" | "guard" | "tunnel" | "dhcp" | "metrics";
}

/** Where each form's tunnel files come from and go; filled in by operatorBundle.ts. */
export interface TunnelFiles {
  wgQuick: { file: string; installedAs: string };
  networkd: { netdev: { file: string; installedAs: string }; network: { file: string; installedAs: string } };
  netplan: { file: string; installedAs: string };
  dnsmasq?: { file: string; installedAs: string };
  /** The bundle pushes the metrics to the deployer's Cockpit (remoteSites[].bundleCockpit). */
  metricsPush?: boolean;
}

/**
 * In install order: the policy and what loads and guards it, then the tunnel, then the LAN's
 * DHCP, then the tunnel metrics (installed only with --metrics).
 */
export function installManifest(tunnel: TunnelFiles): ManifestEntry[] {
  const entries: ManifestEntry[] = [
    {
      file: FAR_END_FILES.tunnelPolicy,
      installedAs: PATHS.forwardPolicy,
      mode: "0644",
      group: "root",
      when: "tunnel",
      role: "policy",
    },
    {
      file: FAR_END_FILES.dedicatedPolicy,
      installedAs: PATHS.forwardPolicy,
      mode: "0644",
      group: "root",
      when: "dedicated",
      role: "policy",
    },
    {
      file: FAR_END_FILES.guardScript,
      installedAs: FAR_END_PATHS.guardScript,
      mode: "0755",
      group: "root",
      when: "all",
      role: "guard",
    },
    {
      file: FAR_END_FILES.firewallUnit,
      installedAs: PATHS.firewallUnit,
      mode: "0644",
      group: "root",
      when: "all",
      role: "unit",
    },
    {
      file: FAR_END_FILES.guardUnit,
      installedAs: FAR_END_PATHS.guardUnit,
      mode: "0644",
      group: "root",
      when: "all",
      role: "unit",
    },
    {
      file: FAR_END_FILES.dockerDropIn,
      installedAs: FAR_END_PATHS.dockerDropIn,
      mode: "0644",
      group: "root",
      when: "docker",
      role: "unit",
    },
    {
      file: FAR_END_FILES.wgQuickDropIn,
      installedAs: FAR_END_PATHS.wgQuickDropIn,
      mode: "0644",
      group: "root",
      when: "wg-quick",
      role: "unit",
    },
    { ...tunnel.wgQuick, mode: "0600", group: "root", when: "wg-quick", role: "tunnel" },
    // networkd reads netdevs as user systemd-network: the group may read the keys, nobody else.
    { ...tunnel.networkd.netdev, mode: "0640", group: "systemd-network", when: "networkd", role: "tunnel" },
    { ...tunnel.networkd.network, mode: "0644", group: "root", when: "networkd", role: "tunnel" },
    // netplan warns about (and future versions refuse) tunnel keys readable by others.
    { ...tunnel.netplan, mode: "0600", group: "root", when: "netplan", role: "tunnel" },
  ];
  if (tunnel.dnsmasq) entries.push({ ...tunnel.dnsmasq, mode: "0644", group: "root", when: "all", role: "dhcp" });
  // The tunnel metrics collector, opt-in (--metrics), last: the same script, config and unit as our gateways'.
  entries.push(
    ...(
      [
        [FAR_END_FILES.metricsScript, METRICS_PATHS.collectorScript, "0755"],
        [FAR_END_FILES.metricsConfig, METRICS_PATHS.collectorConfig, "0644"],
        [FAR_END_FILES.metricsUnit, METRICS_PATHS.collectorUnit, "0644"],
        ...(tunnel.metricsPush
          ? ([
              [FAR_END_FILES.pushConfig, PUSH_PATHS.config, "0644"],
              // The token: root only; its unit hands it to the agent as a systemd credential.
              [FAR_END_FILES.pushToken, PUSH_PATHS.token, "0600"],
              [FAR_END_FILES.pushUnit, PUSH_PATHS.unit, "0644"],
            ] as const)
          : []),
      ] as const
    ).map(([file, installedAs, mode]): ManifestEntry => ({
      file,
      installedAs,
      mode,
      group: "root",
      when: "metrics",
      role: "metrics",
    })),
  );
  return entries;
}

/** A single-quoted shell value of plain characters (spaces allowed), so nothing can inject. */
function shellValue(value: string | number): string {
  const text = String(value);
  if (!/^[A-Za-z0-9@%+=:,./_ -]*$/.test(text)) throw new Error(`site.conf: ${JSON.stringify(text)} is not plain text`);
  return `'${text}'`;
}

/** A manifest field: install.sh splits lines on blanks, so none may hold one. */
function manifestWord(value: string): string {
  if (!/^[A-Za-z0-9@%+=:,./_-]+$/.test(value))
    throw new Error(`site.conf: manifest field ${JSON.stringify(value)} is not one word`);
  return value;
}

/**
 * The hub's tunnel address: the /32 among the AllowedIPs of the peer this far end dials.
 * `install.sh check` pings it (answered by the hub itself, whatever its forward policy).
 */
export function hubTunnelAddress(spec: GatewaySpec): string {
  const hub = [...spec.wireguard.peers].sort((a, b) => a.name.localeCompare(b.name)).find((p) => p.endpoint);
  const host = hub?.allowedIps.find((cidr) => cidr.endsWith("/32"));
  if (!host) throw new Error(`far end "${spec.siteName}": no peer with an endpoint and a /32 tunnel address`);
  return addressPart(host, "hub tunnel address");
}

/** The host part of the endpoint this far end dials ("" when it dials none). */
function hubAddress(spec: GatewaySpec): string {
  const hub = [...spec.wireguard.peers].sort((a, b) => a.name.localeCompare(b.name)).find((p) => p.endpoint);
  return hub?.endpoint ? hub.endpoint.slice(0, hub.endpoint.lastIndexOf(":")).replace(/^\[|\]$/g, "") : "";
}

/**
 * site.conf: shell assignments install.sh sources. Plain words only (checked), so nothing
 * can inject. `publicIp`: the far end's fixed address, which the hub dials (so the far end's
 * own firewall must let the hub's handshakes in).
 */
export function renderSiteFacts(spec: GatewaySpec, manifest: readonly ManifestEntry[], publicIp?: string): string {
  const facts: [string, string | number][] = [
    ["SITE", assertSiteName(spec.siteName)],
    ["WG_IF", WG_INTERFACE],
    ["TABLE", NFT_TABLE],
    ["HUB_TUNNEL_ADDRESS", hubTunnelAddress(spec)],
    ["LISTEN_PORT", assertIntegerInRange(spec.wireguard.listenPort, 1, 65535, "site.conf: listenPort")],
    ["HUB_ADDRESS", hubAddress(spec)],
    // The hub dials a far end whose public address it knows; one with no peer to dial waits.
    ["PEERS_DIAL_IN", publicIp !== undefined || spec.wireguard.peers.every((p) => !p.endpoint) ? "yes" : "no"],
    ["LAN_DHCP", spec.routePropagation === "dhcp" ? "yes" : "no"],
    ["FW_SCRIPT", FAR_END_PATHS.guardScript],
    ["STATE", FAR_END_STATE_DIR],
    ["METRICS_UNIT", METRICS_UNIT],
    ["METRICS_DIR", TEXTFILE_DIRECTORY],
    ["METRICS_TEXTFILE", METRICS_PATHS.textfile],
    // Empty unless the bundle pushes to Cockpit (bundleCockpit).
    ["PUSH_UNIT", spec.metrics.push ? PUSH_UNIT : ""],
  ];
  const lines = manifest.map((e) =>
    [e.file, e.installedAs, e.mode, e.group, e.when, e.role].map(manifestWord).join(" "),
  );
  return [
    `# Site "${spec.siteName}": facts and file list for install.sh, generated by scaleway-wireguard-s2s.`,
    "# shellcheck disable=SC2034 # read by install.sh, which sources this file",
    ...facts.map(([k, v]) => `${k}=${shellValue(v)}`),
    "# bundle file, installed as, mode, group, installed when, role",
    `MANIFEST='`,
    ...lines,
    `'`,
    "",
  ].join("\n");
}

const SCRIPT_DIR = path.join(__dirname, "farEnd");

/** The installer: the same text for every site (site.conf carries what differs). */
export function installerScript(): string {
  return readFileSync(path.join(SCRIPT_DIR, "install.sh"), "utf8");
}

/** wg-s2s-fw with the names it needs set right after `set -eu`. */
export function renderGuardScript(): string {
  const text = readFileSync(path.join(SCRIPT_DIR, "wg-s2s-fw"), "utf8");
  const names = [
    `POLICY=${shellValue(PATHS.forwardPolicy)}`,
    `TABLE=${shellValue(NFT_TABLE)}`,
    `WG_IF=${shellValue(WG_INTERFACE)}`,
    `STATE=${shellValue(FAR_END_STATE_DIR)}`,
  ];
  return text.replace(/^set -eu\n/m, `set -eu\n${names.join("\n")}\n`);
}

export function renderGuardUnit(): string {
  return renderSystemdUnit({
    comment: ["Generated by scaleway-wireguard-s2s."],
    unit: [
      ["Description", "WireGuard s2s: put the forward policy back whenever a firewall reload removes it"],
      ["Wants", UNITS.firewall],
      ["After", `${UNITS.firewall} nftables.service`],
    ],
    service: [
      ["Type", "simple"],
      ["ExecStart", `${FAR_END_PATHS.guardScript} guard`],
      ["Restart", "always"],
      ["RestartSec", "2"],
    ],
    install: [["WantedBy", "multi-user.target"]],
  });
}

/** wg-quick's tunnel never runs without the policy: no policy at boot, no wg0. */
export function renderWgQuickDropIn(): string {
  return renderSystemdUnit({
    comment: ["Generated by scaleway-wireguard-s2s: no tunnel without its forward policy."],
    unit: [
      ["Requires", UNITS.firewall],
      ["After", UNITS.firewall],
    ],
  });
}

/** Docker rebuilds its chains when it starts: the DOCKER-USER accepts come back with them. */
export function renderDockerDropIn(): string {
  return renderSystemdUnit({
    comment: ["Generated by scaleway-wireguard-s2s: tunnel traffic past Docker's FORWARD chain."],
    service: [["ExecStartPost", `${FAR_END_PATHS.guardScript} docker-accept`]],
  });
}

/** Every file of the far end's own that does not depend on the tunnel's form. */
export function renderFarEndHostFiles(
  spec: GatewaySpec,
  manifest: readonly ManifestEntry[],
  publicIp?: string,
): Record<string, string> {
  const policy = (scope: "tunnel" | "all") =>
    renderForwardPolicy({ siteName: spec.siteName, forwardFlows: spec.forwardFlows, scope });
  return {
    [FAR_END_FILES.installer]: installerScript(),
    [FAR_END_FILES.siteFacts]: renderSiteFacts(spec, manifest, publicIp),
    [FAR_END_FILES.tunnelPolicy]: policy("tunnel"),
    [FAR_END_FILES.dedicatedPolicy]: policy("all"),
    [FAR_END_FILES.firewallUnit]: renderFirewallUnit({ afterHostFirewall: true }),
    [FAR_END_FILES.guardScript]: renderGuardScript(),
    [FAR_END_FILES.guardUnit]: renderGuardUnit(),
    [FAR_END_FILES.dockerDropIn]: renderDockerDropIn(),
    [FAR_END_FILES.wgQuickDropIn]: renderWgQuickDropIn(),
    // Installed only with --metrics.
    [FAR_END_FILES.metricsScript]: collectorScript(),
    [FAR_END_FILES.metricsConfig]: renderMetricsConfig({
      siteName: spec.siteName,
      peers: spec.wireguard.peers,
      metrics: spec.metrics,
    }),
    [FAR_END_FILES.metricsUnit]: renderCollectorUnit(),
    ...(spec.metrics.push ? metricsPushFiles(spec.siteName, spec.metrics.push) : {}),
  };
}

/** The Cockpit push agent's files, as our gateways have them (cloud-init/metricsPush.ts). */
function metricsPushFiles(siteName: string, push: GatewayMetricsPushSpec): Record<string, string> {
  return {
    [FAR_END_FILES.pushConfig]: renderPushAgentConfig({
      url: remoteWriteUrl(push.pushUrl),
      instance: `${siteName}-gateway`,
    }),
    [FAR_END_FILES.pushToken]: `${push.token}\n`,
    [FAR_END_FILES.pushUnit]: renderPushAgentUnit(),
  };
}

/** Where cloud-config.yaml writes the bundle before it runs the installer. */
export const CLOUD_CONFIG_BUNDLE_DIR = "/root/wg-s2s-bundle";

/**
 * cloud-config.yaml: for a host provisioned with cloud-init for this job alone. It writes
 * the bundle's own files and runs its installer (--form networkd --dedicated), so it
 * installs exactly what the manual steps install, in the same order. Dedicated: such a
 * host forwards nothing else, so it fails closed like our own gateways. SSH is left alone
 * unless the stack's owner opted in (bundleSshKeys: sshAuthorizedKeys holds the user's
 * keys then, never the deploy key).
 */
export function renderFarEndCloudConfig(spec: GatewaySpec, bundle: Record<string, string>): string {
  const files = Object.keys(bundle)
    .sort()
    .map((name) => ({
      path: `${CLOUD_CONFIG_BUNDLE_DIR}/${name}`,
      content: bundle[name],
      owner: "root:root",
      permissions: EXECUTABLE_FILES.has(name) ? "0700" : "0600",
    }));
  const body: Record<string, unknown> = {
    packages: ["nftables", "wireguard-tools", ...(spec.routePropagation === "dhcp" ? ["dnsmasq"] : [])],
    write_files: files,
    runcmd: [
      ["sh", `${CLOUD_CONFIG_BUNDLE_DIR}/${FAR_END_FILES.installer}`, "install", "--form", "networkd", "--dedicated"],
    ],
  };
  if (spec.sshAuthorizedKeys.length > 0) {
    // Root's keys: Ubuntu's default disable_root would prefix them with a "login as ubuntu" refusal.
    body.disable_root = false;
    body.ssh_authorized_keys = [...spec.sshAuthorizedKeys];
  }
  return renderCloudConfig(
    [
      `WireGuard gateway of site "${spec.siteName}" on a host provisioned with cloud-init,`,
      "generated by scaleway-wireguard-s2s. Holds its keys: keep it secret.",
      `Writes the bundle to ${CLOUD_CONFIG_BUNDLE_DIR} and runs its install.sh (networkd form, dedicated host).`,
    ],
    body,
  );
}
