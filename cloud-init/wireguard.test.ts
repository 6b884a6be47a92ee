/** @tier system */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderWireGuardConfig, tunnelRoutes } from "./wireguard";
import {
  KeyRing,
  hubGatewaySpec,
  requireRoot,
  spokeGatewaySpec,
  withNetns,
  withScratchDir,
} from "../testkit/cloudInit";
import type { WireGuardInterfaceSpec } from "../planning/specs";

/** [section, key, value] triples of an INI text, comments dropped. */
function iniEntries(text: string): [string, string, string][] {
  let section = "";
  const entries: [string, string, string][] = [];
  for (const line of text.split("\n")) {
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) section = header[1];
    const entry = /^(\w+) = (.*)$/.exec(line);
    if (entry) entries.push([section, entry[1], entry[2]]);
  }
  return entries;
}

function threePeerHub(keys: KeyRing): WireGuardInterfaceSpec {
  const base = hubGatewaySpec(keys).wireguard;
  const peer = (name: string, allowedIps: string[], keepalive?: number) => ({
    name,
    publicKey: keys.wireguardKeyPair(name).publicKey,
    presharedKey: keys.presharedKey(`hub-${name}`),
    allowedIps,
    persistentKeepalive: keepalive,
  });
  return {
    ...base,
    peers: [
      peer("zrh", ["192.168.3.0/24", "172.16.0.4/32"]),
      peer("ams", ["172.16.0.3/32", "10.20.0.0/16", "192.168.2.0/24"], 0),
      peer("berlin", ["172.16.0.10/32", "172.16.0.2/32"].slice(0, 1).concat(["192.168.10.0/24"]), 15),
    ],
  };
}

describe("renderWireGuardConfig", () => {
  it("writes the interface with explicit MTU, Table = off and one route replace per AllowedIP", () => {
    const keys = new KeyRing();
    const spec = threePeerHub(keys);
    const entries = iniEntries(renderWireGuardConfig(spec));
    const iface = entries.filter(([section]) => section === "Interface").map(([, k, v]) => [k, v]);
    expect(iface).toEqual([
      ["PrivateKey", spec.privateKey],
      ["Address", "172.16.0.1/32"],
      ["ListenPort", "52435"],
      ["MTU", "1420"],
      ["Table", "off"],
      // Peers by name (ams, berlin, zrh), each peer's CIDRs in numeric order.
      ["PostUp", "ip -4 route replace 10.20.0.0/16 dev %i"],
      ["PostUp", "ip -4 route replace 172.16.0.3/32 dev %i"],
      ["PostUp", "ip -4 route replace 192.168.2.0/24 dev %i"],
      ["PostUp", "ip -4 route replace 172.16.0.10/32 dev %i"],
      ["PostUp", "ip -4 route replace 192.168.10.0/24 dev %i"],
      ["PostUp", "ip -4 route replace 172.16.0.4/32 dev %i"],
      ["PostUp", "ip -4 route replace 192.168.3.0/24 dev %i"],
    ]);
    expect(tunnelRoutes(spec)).toHaveLength(7);
  });

  it("writes one [Peer] per peer, sorted by name, with its comment, keys and sorted AllowedIPs", () => {
    const keys = new KeyRing();
    const spec = threePeerHub(keys);
    const text = renderWireGuardConfig(spec);
    expect(text.match(/^\[Peer\]\n# (\S+)$/gm)).toEqual(["[Peer]\n# ams", "[Peer]\n# berlin", "[Peer]\n# zrh"]);
    const allowed = iniEntries(text)
      .filter(([, k]) => k === "AllowedIPs")
      .map(([, , v]) => v);
    // Numeric, not lexical, order: 172.16.0.10 after 172.16.0.3 would be wrong lexically too.
    expect(allowed).toEqual([
      "10.20.0.0/16, 172.16.0.3/32, 192.168.2.0/24",
      "172.16.0.10/32, 192.168.10.0/24",
      "172.16.0.4/32, 192.168.3.0/24",
    ]);
    const ams = spec.peers.find((p) => p.name === "ams");
    expect(text).toContain(`PublicKey = ${ams?.publicKey}\nPresharedKey = ${ams?.presharedKey}\n`);
    // Keepalive only where > 0; no endpoint on the hub (spokes dial in).
    expect(text.match(/^PersistentKeepalive = .*$/gm)).toEqual(["PersistentKeepalive = 15"]);
    expect(text).not.toMatch(/^Endpoint/m);
  });

  it("gives a spoke the hub's endpoint and the keepalive", () => {
    const text = renderWireGuardConfig(spokeGatewaySpec(new KeyRing(), "static").wireguard);
    expect(text).toMatch(/^Endpoint = 198\.51\.100\.10:52435$/m);
    expect(text).toMatch(/^PersistentKeepalive = 25$/m);
  });

  it("does not depend on the order of peers or AllowedIPs", () => {
    const spec = threePeerHub(new KeyRing());
    const shuffled = {
      ...spec,
      peers: [spec.peers[2], spec.peers[0], spec.peers[1]].map((p) => ({
        ...p,
        allowedIps: [...p.allowedIps].reverse(),
      })),
    };
    expect(renderWireGuardConfig(shuffled)).toBe(renderWireGuardConfig(spec));
  });

  it.each([
    ["a newline in a peer name", (s: WireGuardInterfaceSpec) => (s.peers[0].name = "ams\nPostUp = rm -rf /")],
    ["a key that is not base64 of 32 bytes", (s: WireGuardInterfaceSpec) => (s.peers[0].publicKey = "abc=")],
    ["a private key with a newline", (s: WireGuardInterfaceSpec) => (s.privateKey += "\nPostUp = id")],
    ["an endpoint with a space", (s: WireGuardInterfaceSpec) => (s.peers[0].endpoint = "1.2.3.4:1 x")],
    [
      "an AllowedIP that is a host, not a network",
      (s: WireGuardInterfaceSpec) => (s.peers[0].allowedIps = ["192.168.3.7/24"]),
    ],
    ["the same AllowedIP on two peers", (s: WireGuardInterfaceSpec) => (s.peers[1].allowedIps = s.peers[0].allowedIps)],
    ["two peers with one name", (s: WireGuardInterfaceSpec) => (s.peers[1].name = s.peers[0].name)],
    ["an MTU below IPv6's minimum", (s: WireGuardInterfaceSpec) => (s.mtu = 1000)],
    ["port 0", (s: WireGuardInterfaceSpec) => (s.listenPort = 0)],
  ])("rejects %s", (_what, breakIt) => {
    const spec = threePeerHub(new KeyRing());
    breakIt(spec);
    expect(() => renderWireGuardConfig(spec)).toThrow();
  });

  it("never echoes a key in its error message", () => {
    const spec = threePeerHub(new KeyRing());
    const secret = `${spec.privateKey}x`;
    spec.privateKey = secret;
    expect(() => renderWireGuardConfig(spec)).toThrow(/private key is not a base64 WireGuard key/);
    try {
      renderWireGuardConfig(spec);
    } catch (error) {
      expect(String(error)).not.toContain(secret);
    }
  });
});

/**
 * wg-quick itself brings the rendered config up (wireguard-go where the kernel has no
 * module) in a throw-away namespace with its own mount namespace, so wireguard-go's
 * socket directory is private: a fresh tmpfs over the whole /run there, so /run/wireguard
 * is made inside it and never on the machine (a mkdir under the machine's /run would land
 * on the machine even from a private mount namespace). The namespace first gets the route Scaleway's DHCP would
 * push for the remote subnet: replace must win where wg-quick's `add` fails.
 */
function wgQuickUp(config: string): { ok: boolean; output: string } {
  requireRoot("wg-quick test");
  return withScratchDir((dir) =>
    withNetns((ns) => {
      const file = join(dir, "wg0.conf");
      writeFileSync(file, config, { mode: 0o600 });
      const script = [
        "set -e",
        "mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -m 0700 /run/wireguard",
        "ip link set lo up",
        "ip link add lan0 type veth peer name lan0p && ip link set lan0p up && ip addr add 192.168.1.2/24 dev lan0 && ip link set lan0 up",
        "ip route add 192.168.0.0/24 via 192.168.1.1 dev lan0",
        `rc=0; wg-quick up ${file} >/dev/null 2>&1 || rc=$?`,
        'echo "up=$rc"',
        'if [ "$rc" -eq 0 ]; then ip -4 route show; ip -o link show wg0; wg show wg0 allowed-ips | cut -f2; wg show wg0 persistent-keepalive | cut -f2; ' +
          `wg-quick down ${file} >/dev/null 2>&1; fi`,
      ].join("\n");
      const result = spawnSync(
        "ip",
        ["netns", "exec", ns, "unshare", "-m", "--propagation", "private", "sh", "-c", script],
        {
          encoding: "utf8",
          timeout: 20000,
        },
      );
      return { ok: result.status === 0, output: `${result.stdout}${result.stderr}` };
    }),
  );
}

describe("wg0.conf with the real wg-quick", () => {
  it("comes up over a pre-existing route to the remote subnet, with the tunnel routes and MTU", () => {
    const spec = spokeGatewaySpec(new KeyRing(), "static").wireguard;
    const { ok, output } = wgQuickUp(renderWireGuardConfig(spec));
    expect(ok).toBe(true);
    expect(output).toContain("up=0");
    expect(output).toMatch(/^192\.168\.0\.0\/24 dev wg0 /m);
    expect(output).toMatch(/^172\.16\.0\.1 dev wg0 /m);
    expect(output).toMatch(/wg0: .* mtu 1420 /);
    expect(output).toContain("172.16.0.1/32 192.168.0.0/24");
    expect(output).toMatch(/^25$/m);
  });

  it("negative control: wg-quick's own route handling fails on that pre-existing route", () => {
    const spec = spokeGatewaySpec(new KeyRing(), "static").wireguard;
    const withoutTableOff = renderWireGuardConfig(spec).replace(/^(Table|PostUp) = .*\n/gm, "");
    const { output } = wgQuickUp(withoutTableOff);
    expect(output).toMatch(/up=[1-9]/);
  });
});
