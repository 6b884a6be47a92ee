/** @tier unit */
import { PATHS } from "../cloud-init/common";
import { renderGatewayCloudConfig } from "../cloud-init/gateway";
import { execFileSync } from "child_process";
import { BUNDLE_FILES, lanRoutes, renderOperatorBundle } from "./operatorBundle";
import { CLOUD_CONFIG_BUNDLE_DIR, FAR_END_FILES, hubTunnelAddress } from "./farEndHost";
import { NETWORKD_FILES } from "./bundleNetworkd";
import { NETPLAN_FILES } from "./bundleNetplan";
import {
  KeyRing,
  WIREGUARD_KEY_SHAPE,
  hubGatewaySpec,
  parseCloudConfig,
  shellcheck,
  spokeGatewaySpec,
} from "../testkit/cloudInit";
import type { GatewaySpec } from "../planning/specs";

/** What the component passes for an external site: no SSH keys unless the user opted in (bundleSshKeys). */
const USER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeUserKeyForRendererTestsOnly000000000 ops@laptop";
const operatorSpec = (spec: GatewaySpec, keys: string[] = []): GatewaySpec => ({ ...spec, sshAuthorizedKeys: keys });

const VARIANTS: { name: string; build: (keys: KeyRing) => GatewaySpec }[] = [
  { name: "static", build: (keys) => operatorSpec(spokeGatewaySpec(keys, "static")) },
  { name: "dhcp", build: (keys) => operatorSpec(spokeGatewaySpec(keys, "dhcp")) },
  { name: "dhcp with lanRouter", build: (keys) => operatorSpec(spokeGatewaySpec(keys, "dhcp", "192.168.1.254")) },
  { name: "static, SSH keys opted in", build: (keys) => operatorSpec(spokeGatewaySpec(keys, "static"), [USER_KEY]) },
];

describe.each(VARIANTS)("operator bundle ($name)", ({ build }) => {
  const keys = new KeyRing();
  const spec = build(keys);
  const bundle = renderOperatorBundle(spec, { publicIp: "203.0.113.5" });
  const isDhcp = spec.routePropagation === "dhcp";

  it("has exactly the files its operator needs: every form, the policy in both scopes, the installer", () => {
    expect(Object.keys(bundle).sort()).toEqual(
      [
        "install.sh",
        "site.conf",
        "wg-s2s.nft",
        "wg-s2s-dedicated.nft",
        "wg-s2s-firewall.service",
        "wg-s2s-fw",
        "wg-s2s-guard.service",
        "docker-wg-s2s.conf",
        "wg-quick-wg-s2s.conf",
        "wg-s2s-metrics",
        "metrics.conf",
        "wg-s2s-metrics.service",
        "wg0.conf",
        "networkd/90-wg-s2s.netdev",
        "networkd/90-wg-s2s.network",
        "netplan/60-wg-s2s.yaml",
        isDhcp ? "dnsmasq.conf" : "routes.sh",
        "cloud-config.yaml",
        "README.txt",
      ].sort(),
    );
  });

  it("matches the snapshot with every key masked", () => {
    const masked = Object.fromEntries(Object.entries(bundle).map(([name, content]) => [name, keys.mask(content)]));
    const all = Object.values(masked).join("\n");
    for (const secret of keys.secrets()) expect(all).not.toContain(secret);
    expect(all).not.toMatch(WIREGUARD_KEY_SHAPE);
    expect(masked).toMatchSnapshot();
  });

  it("holds the very tunnel and DHCP strings the gateway cloud-config writes; the dedicated policy is the gateway's", () => {
    const gateway = parseCloudConfig(renderGatewayCloudConfig(spec)).files;
    expect(bundle[FAR_END_FILES.dedicatedPolicy]).toBe(gateway.get(PATHS.forwardPolicy)?.content);
    expect(bundle[NETWORKD_FILES.netdev]).toBe(gateway.get(PATHS.wireguardNetdev)?.content);
    expect(bundle[NETWORKD_FILES.network]).toBe(gateway.get(PATHS.wireguardNetwork)?.content);
    if (isDhcp) expect(bundle[BUNDLE_FILES.dnsmasq]).toBe(gateway.get(PATHS.dnsmasq)?.content);
    for (const peer of spec.wireguard.peers)
      expect(bundle[BUNDLE_FILES.wireguard]).toContain(`PublicKey = ${peer.publicKey}`);
  });

  it("cloud-config.yaml writes exactly the bundle's files and runs its installer (same files, same order)", () => {
    const doc = parseCloudConfig(bundle[BUNDLE_FILES.cloudConfig]);
    const written = [...doc.files.entries()].map(([path, f]) => [
      path.replace(`${CLOUD_CONFIG_BUNDLE_DIR}/`, ""),
      f.content,
    ]);
    const expected = Object.entries(bundle).filter(([name]) => name !== BUNDLE_FILES.cloudConfig);
    expect(Object.fromEntries(written)).toEqual(Object.fromEntries(expected));
    expect((doc.raw as Record<string, unknown>).runcmd).toEqual([
      ["sh", `${CLOUD_CONFIG_BUNDLE_DIR}/install.sh`, "install", "--form", "networkd", "--dedicated"],
    ]);
    expect((doc.raw as { packages: string[] }).packages).toEqual([
      "nftables",
      "wireguard-tools",
      ...(isDhcp ? ["dnsmasq"] : []),
    ]);
  });

  it("changes SSH on the operator's host only when opted in, never with the deploy key, and says so", () => {
    const doc = parseCloudConfig(bundle[BUNDLE_FILES.cloudConfig]).raw as Record<string, unknown>;
    const readme = bundle[BUNDLE_FILES.readme];
    for (const key of ["ssh_pwauth", "ssh_deletekeys", "ssh_keys"]) expect(doc).not.toHaveProperty(key);
    expect(bundle[BUNDLE_FILES.cloudConfig]).not.toContain("deploy");
    if (spec.sshAuthorizedKeys.length === 0) {
      expect(doc).not.toHaveProperty("ssh_authorized_keys");
      expect(doc).not.toHaveProperty("disable_root");
      expect(readme).toContain("nothing in this bundle changes SSH on your host");
    } else {
      expect(doc.ssh_authorized_keys).toEqual([USER_KEY]);
      expect(doc.disable_root).toBe(false);
      expect(readme).toMatch(/adds\n1 public key\(s\) to root's authorized_keys/);
      expect(readme).toContain("ssh-ed25519 ... ops@laptop");
    }
  });

  it("keeps the private key in each form's tunnel file (and the cloud-config that writes them) only", () => {
    const holders = [BUNDLE_FILES.wireguard, NETWORKD_FILES.netdev, NETPLAN_FILES.config, BUNDLE_FILES.cloudConfig];
    for (const [name, content] of Object.entries(bundle)) {
      const holdsKey = content.includes(spec.wireguard.privateKey);
      expect([name, holdsKey]).toEqual([name, (holders as string[]).includes(name)]);
    }
  });

  it("README: install, check and uninstall with one form; what it changes; forwarding is never a step of its own", () => {
    const readme = bundle[BUNDLE_FILES.readme];
    const steps = ["apt-get install nftables", "--dry-run", "./install.sh install --form FORM\n", "./install.sh check"];
    const positions = steps.map((s) => readme.indexOf(s));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(readme).toContain("Pick exactly one FORM");
    expect(readme).toContain("./install.sh uninstall");
    expect(readme).not.toMatch(/sysctl|ip_forward/);
    expect(readme).toContain("203.0.113.5");
    expect(readme).toContain("--dedicated");
    expect(readme).toContain("ufw route allow");
    expect(readme).toContain("DOCKER-USER");
    expect(readme).toContain("firewalld");
  });

  it("site.conf: every manifest file is in the bundle, and nothing in the bundle is left out of it", () => {
    const conf = bundle[FAR_END_FILES.siteFacts];
    const manifest = /MANIFEST='\n([\s\S]*?)\n'/
      .exec(conf)![1]
      .split("\n")
      .map((l) => l.split(" "));
    const listed = new Set(manifest.map(([file]) => file));
    for (const file of listed) expect(Object.keys(bundle)).toContain(file);
    const notInstalled = Object.keys(bundle)
      .filter((f) => !listed.has(f))
      .sort();
    expect(notInstalled).toEqual(
      [
        FAR_END_FILES.installer,
        FAR_END_FILES.siteFacts,
        BUNDLE_FILES.cloudConfig,
        BUNDLE_FILES.readme,
        ...(isDhcp ? [] : [BUNDLE_FILES.routes]),
      ].sort(),
    );
    const modes = Object.fromEntries(manifest.map(([file, dest, mode, group]) => [file, `${dest} ${mode} ${group}`]));
    expect(modes["wg0.conf"]).toBe("/etc/wireguard/wg0.conf 0600 root");
    expect(modes["networkd/90-wg-s2s.netdev"]).toBe("/etc/systemd/network/90-wg-s2s.netdev 0640 systemd-network");
    expect(modes["netplan/60-wg-s2s.yaml"]).toBe("/etc/netplan/60-wg-s2s.yaml 0600 root");
  });

  it("install.sh, wg-s2s-fw and site.conf pass shellcheck; site.conf sets what install.sh reads", () => {
    for (const name of [FAR_END_FILES.installer, FAR_END_FILES.guardScript, FAR_END_FILES.siteFacts]) {
      const text = name === FAR_END_FILES.siteFacts ? `#!/bin/sh\n${bundle[name]}` : bundle[name];
      expect([name, shellcheck(text).output]).toEqual([name, ""]);
    }
    const facts = (conf: string) =>
      execFileSync(
        "sh",
        ["-c", `${conf}\necho "$SITE $WG_IF $TABLE $HUB_TUNNEL_ADDRESS $HUB_ADDRESS $PEERS_DIAL_IN $LAN_DHCP"`],
        { encoding: "utf8" },
      ).trim();
    const lan = isDhcp ? "yes" : "no";
    // The hub dials a far end with a fixed public address (its firewall must let it in); not a NATed one.
    expect(facts(bundle[FAR_END_FILES.siteFacts])).toBe(
      `onprem wg0 inet wg_s2s ${hubTunnelAddress(spec)} 198.51.100.10 yes ${lan}`,
    );
    expect(facts(renderOperatorBundle(spec)[FAR_END_FILES.siteFacts])).toBe(
      `onprem wg0 inet wg_s2s ${hubTunnelAddress(spec)} 198.51.100.10 no ${lan}`,
    );
  });

  if (!isDhcp) {
    it("routes.sh sends the other sites to the gateway's LAN address and passes shellcheck", () => {
      const routes = bundle[BUNDLE_FILES.routes];
      expect(routes.split("\n").filter((l) => l.startsWith("ip "))).toEqual([
        "ip -4 route replace 192.168.0.0/24 via 192.168.1.2",
      ]);
      expect(shellcheck(routes).ok).toBe(true);
    });

    it("README names the one route for the LAN's router, for hosts that run nothing", () => {
      expect(bundle[BUNDLE_FILES.readme]).toMatch(
        /on the LAN's router[\s\S]*\n {6}192\.168\.0\.0\/24 via 192\.168\.1\.2\n/,
      );
    });
  }
});

describe("operator bundle edge cases", () => {
  it("refuses vpc-route, which exists only on Scaleway", () => {
    expect(() => renderOperatorBundle(hubGatewaySpec(new KeyRing(), "vpc-route"))).toThrow(/only on Scaleway/);
  });

  it("derives LAN routes from the flows leaving the LAN, or takes them as given", () => {
    const spec = spokeGatewaySpec(new KeyRing(), "static");
    spec.forwardFlows.push(
      { from: "192.168.1.0/24", to: "10.9.0.0/16" },
      { from: "10.9.0.0/16", to: "192.168.1.0/24" },
    );
    expect(lanRoutes(spec)).toEqual([
      { destination: "192.168.0.0/24", via: "192.168.1.2" },
      { destination: "10.9.0.0/16", via: "192.168.1.2" },
    ]);
    const given = [{ destination: "172.20.0.0/16", via: "192.168.1.5" }];
    expect(renderOperatorBundle({ ...spec, lanRoutes: given })[BUNDLE_FILES.routes]).toContain(
      "ip -4 route replace 172.20.0.0/16 via 192.168.1.5",
    );
  });

  it("is byte-identical when rendered twice", () => {
    const spec = spokeGatewaySpec(new KeyRing(), "dhcp", "192.168.1.254");
    expect(renderOperatorBundle(spec)).toEqual(renderOperatorBundle(spec));
  });
});
