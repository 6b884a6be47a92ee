/** @tier unit */
import { PATHS } from "../cloud-init/common";
import { renderGatewayCloudConfig } from "../cloud-init/gateway";
import { BUNDLE_FILES, lanRoutes, renderOperatorBundle } from "./operatorBundle";
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

  it("has exactly the files its operator needs", () => {
    expect(Object.keys(bundle).sort()).toEqual(
      [
        "wg0.conf",
        "wg-s2s.nft",
        "wg-s2s-firewall.service",
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

  it("holds the very strings the gateway cloud-config writes, minus everything about SSH", () => {
    const gateway = parseCloudConfig(renderGatewayCloudConfig(spec));
    const operator = parseCloudConfig(bundle[BUNDLE_FILES.cloudConfig]);
    expect(bundle[BUNDLE_FILES.cloudConfig]).toMatch(
      /^#cloud-config\n# WireGuard site-to-site gateway of site "onprem"/,
    );
    const files = operator.files;
    expect([...files.keys()]).toEqual([...gateway.files.keys()]);
    // wg0.conf is the manual (wg-quick) form; the cloud-config carries the same tunnel as
    // networkd's netdev: same private key, same peers.
    expect(files.has(PATHS.wireguardConfig)).toBe(false);
    const netdev = files.get(PATHS.wireguardNetdev)?.content ?? "";
    expect(netdev).toContain(`PrivateKey=${spec.wireguard.privateKey}`);
    for (const peer of spec.wireguard.peers) {
      expect(bundle[BUNDLE_FILES.wireguard]).toContain(`PublicKey = ${peer.publicKey}`);
      expect(netdev).toContain(`PublicKey=${peer.publicKey}`);
    }
    expect(bundle[BUNDLE_FILES.firewallUnit]).toBe(files.get(PATHS.firewallUnit)?.content);
    expect(bundle[BUNDLE_FILES.forwardPolicy]).toBe(files.get(PATHS.forwardPolicy)?.content);
    if (isDhcp) expect(bundle[BUNDLE_FILES.dnsmasq]).toBe(files.get(PATHS.dnsmasq)?.content);
    const { ssh_pwauth, ssh_deletekeys, ssh_keys, disable_root, ssh_authorized_keys, ...rest } = gateway.raw as Record<
      string,
      unknown
    >;
    expect([ssh_pwauth, ssh_deletekeys, ssh_keys]).not.toContain(undefined); // the gateway's own do set them
    void disable_root;
    void ssh_authorized_keys;
    const operatorRest: Record<string, unknown> = { ...operator.raw };
    for (const key of ["disable_root", "ssh_authorized_keys"]) delete operatorRest[key];
    expect(operatorRest).toEqual(rest);
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

  it("keeps the private key in wg0.conf (and the cloud-config that writes it) only", () => {
    for (const [name, content] of Object.entries(bundle)) {
      const holdsKey = content.includes(spec.wireguard.privateKey);
      expect([name, holdsKey]).toEqual([name, name === BUNDLE_FILES.wireguard || name === BUNDLE_FILES.cloudConfig]);
    }
  });

  it("explains the install in order: policy, then forwarding (one unit), tunnel, LAN routes", () => {
    const readme = bundle[BUNDLE_FILES.readme];
    expect(readme).not.toMatch(/sysctl|ip_forward/);
    const steps = [
      "wg-s2s.nft",
      "wg-s2s-firewall.service /etc/systemd/system/",
      "wg0.conf /etc/wireguard/wg0.conf",
      isDhcp ? "dnsmasq.conf" : "routes.sh",
    ];
    const positions = steps.map((s) => readme.indexOf(s));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(readme).toContain("203.0.113.5");
    expect(readme).toContain("install -D -m 0600 wg0.conf /etc/wireguard/wg0.conf");
  });

  if (!isDhcp) {
    it("routes.sh sends the other sites to the gateway's LAN address and passes shellcheck", () => {
      const routes = bundle[BUNDLE_FILES.routes];
      expect(routes.split("\n").filter((l) => l.startsWith("ip "))).toEqual([
        "ip -4 route replace 192.168.0.0/24 via 192.168.1.2",
      ]);
      expect(shellcheck(routes).ok).toBe(true);
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
