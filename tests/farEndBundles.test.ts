/** @tier unit */
/**
 * The networkd and netplan forms of the operator bundle: the same tunnel as wg0.conf, read
 * back the way networkd reads it (the lab's networkd stand-in parser, which refuses keys it
 * does not reproduce), and for netplan after Debian's real `netplan generate` turned the
 * YAML into networkd files. Keys stay in the one file per form that needs them.
 */
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";
import { renderWireGuardNetdev } from "../cloud-init/wireguard";
import { NETWORKD_FILES, renderNetworkdFiles } from "../rendering/bundleNetworkd";
import { NETPLAN_FILES, NETPLAN_PATH, renderNetplanConfig } from "../rendering/bundleNetplan";
import { planWireGuardLinks, type WireGuardLinkPlan } from "../lab/standins/networkd";
import { KeyRing, WIREGUARD_KEY_SHAPE, hubGatewaySpec, spokeGatewaySpec } from "../testkit/cloudInit";
import type { GatewaySpec } from "../planning/specs";

const haveNetplan = spawnSync("netplan", ["--help"], { encoding: "utf8" }).status === 0;

/** What the spec says wg0 must be, in the stand-in's plan shape. */
function expectedPlan(spec: GatewaySpec): WireGuardLinkPlan {
  const w = spec.wireguard;
  const peers = [...w.peers].sort((a, b) => a.name.localeCompare(b.name));
  return {
    name: "wg0",
    mtu: String(w.mtu),
    privateKey: w.privateKey,
    listenPort: String(w.listenPort),
    peers: peers.map((p) => ({
      publicKey: p.publicKey,
      presharedKey: p.presharedKey,
      allowedIps: [...p.allowedIps].sort(),
      endpoint: p.endpoint,
      keepalive: p.persistentKeepalive ? String(p.persistentKeepalive) : undefined,
    })),
    addresses: [w.address],
    routes: peers.flatMap((p) => p.allowedIps).sort(),
  };
}

function normalise(plan: WireGuardLinkPlan): WireGuardLinkPlan {
  return {
    ...plan,
    peers: plan.peers.map((p) => ({ ...p, allowedIps: [...p.allowedIps].sort() })),
    routes: [...plan.routes].sort(),
  };
}

/** `netplan generate` into a temp root; returns the networkd files it wrote. */
function netplanGenerate(yamlText: string): { netdevs: Record<string, string>; networks: Record<string, string> } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "wgs2s-netplan-"));
  try {
    const target = path.join(root, NETPLAN_PATH);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, yamlText, { mode: 0o600 });
    execFileSync("netplan", ["generate", "--root-dir", root], { stdio: "pipe" });
    const dir = path.join(root, "run", "systemd", "network");
    const read = (ext: string) =>
      Object.fromEntries(
        fs
          .readdirSync(dir)
          .filter((f) => f.endsWith(ext))
          .map((f) => [f, fs.readFileSync(path.join(dir, f), "utf8")]),
      );
    return { netdevs: read(".netdev"), networks: read(".network") };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

const VARIANTS: { name: string; build: (keys: KeyRing) => GatewaySpec }[] = [
  { name: "spoke, static", build: (keys) => spokeGatewaySpec(keys, "static") },
  { name: "spoke, dhcp", build: (keys) => spokeGatewaySpec(keys, "dhcp", "192.168.1.254") },
  // A dynamic far end is always a spoke; the hub form (peer without endpoint) checks the optional keys.
  { name: "peer without endpoint", build: (keys) => hubGatewaySpec(keys, "static") },
];

describe.each(VARIANTS)("far-end bundle forms ($name)", ({ build }) => {
  const keys = new KeyRing();
  const spec = build(keys);
  const networkd = renderNetworkdFiles(spec);
  const netplan = { [NETPLAN_FILES.config]: renderNetplanConfig(spec.wireguard) };

  it("networkd form: wg0.netdev/.network read back as exactly the spec's tunnel", () => {
    const [plan, ...more] = planWireGuardLinks(
      { "90-wg-s2s.netdev": networkd[NETWORKD_FILES.netdev] },
      { "90-wg-s2s.network": networkd[NETWORKD_FILES.network] },
    );
    expect(more).toEqual([]);
    expect(normalise(plan)).toEqual(expectedPlan(spec));
  });

  it("netplan form: the YAML says the same tunnel", () => {
    const doc = parse(netplan[NETPLAN_FILES.config]);
    const wg0 = doc.network.tunnels.wg0;
    expect(wg0).toMatchObject({ mode: "wireguard", port: spec.wireguard.listenPort, mtu: spec.wireguard.mtu });
    expect(wg0.addresses).toEqual([spec.wireguard.address]);
    expect(wg0.peers).toHaveLength(spec.wireguard.peers.length);
  });

  (haveNetplan ? it : it.skip)(
    "netplan form: Debian's `netplan generate` turns it into the networkd form's tunnel (skipped without netplan.io)",
    () => {
      const generated = netplanGenerate(netplan[NETPLAN_FILES.config]);
      const [plan, ...more] = planWireGuardLinks(generated.netdevs, generated.networks);
      expect(more).toEqual([]);
      expect(normalise(plan)).toEqual(expectedPlan(spec));
    },
  );

  it("keeps keys in the tunnel file of each form only, and masks to a stable snapshot", () => {
    const all = { ...networkd, ...netplan };
    for (const [name, content] of Object.entries(all)) {
      const holdsKey = content.includes(spec.wireguard.privateKey);
      expect([name, holdsKey]).toEqual([name, name === NETWORKD_FILES.netdev || name === NETPLAN_FILES.config]);
    }
    const masked = Object.fromEntries(Object.entries(all).map(([n, c]) => [n, keys.mask(c)]));
    expect(Object.values(masked).join("\n")).not.toMatch(WIREGUARD_KEY_SHAPE);
    expect(masked).toMatchSnapshot();
  });
});

describe("networkd stand-in refuses what it does not reproduce (negative control)", () => {
  it("an unknown key in the netdev, or netplan-only values it cannot honour, fail loudly", () => {
    const keys = new KeyRing();
    const netdev = renderWireGuardNetdev(spokeGatewaySpec(keys, "static").wireguard);
    expect(() =>
      planWireGuardLinks({ "x.netdev": netdev.replace("[WireGuard]", "[WireGuard]\nFwMark=7") }, {}),
    ).toThrow(/WireGuard.FwMark= is not supported/);
    expect(() =>
      planWireGuardLinks(
        { "x.netdev": netdev },
        { "x.network": "[Match]\nName=wg0\n[Route]\nDestination=10.0.0.0/8\nScope=global\n" },
      ),
    ).toThrow(/Route.Scope=global is not supported/);
  });
});
