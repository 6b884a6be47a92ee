/** @tier system */
import fc from "fast-check";
import { renderFirewallUnit, renderForwardPolicy, type ForwardPolicySpec } from "./firewall";
import {
  NFT,
  inNetns,
  requireTool,
  shInNetns,
  withNamespaces,
  withNamespacesAsync,
  withNetns,
  withScratchDir,
} from "../testkit/cloudInit";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { join } from "node:path";

const SEED: ForwardPolicySpec = {
  siteName: "par",
  forwardFlows: [
    { from: "192.168.0.0/24", to: "192.168.1.0/24" },
    { from: "192.168.1.0/24", to: "192.168.0.0/24" },
  ],
};

/** Rule lines of the forward chain, comments and blank lines dropped. */
function chainRules(nft: string): string[] {
  const body = nft.slice(nft.indexOf("chain forward {"));
  return body
    .split("\n")
    .slice(1)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#") && line !== "}");
}

describe("renderForwardPolicy", () => {
  it("drops by default and accepts only the listed flows, after established/related", () => {
    const rules = chainRules(renderForwardPolicy(SEED));
    expect(rules[0]).toBe("type filter hook forward priority filter; policy drop;");
    const accepts = rules.filter((r) => r.endsWith("accept"));
    expect(accepts).toEqual([
      "ct state established,related accept",
      "ip saddr 192.168.0.0/24 ip daddr 192.168.1.0/24 accept",
      "ip saddr 192.168.1.0/24 ip daddr 192.168.0.0/24 accept",
    ]);
  });

  it("clamps the TCP MSS on SYNs leaving and entering wg0, before any accept", () => {
    const rules = chainRules(renderForwardPolicy(SEED));
    const leaving = rules.indexOf('oifname "wg0" tcp flags syn tcp option maxseg size set rt mtu');
    const entering = rules.indexOf('iifname "wg0" tcp flags syn tcp option maxseg size set rt mtu');
    const firstAccept = rules.findIndex((r) => r.endsWith("accept"));
    expect(leaving).toBeGreaterThan(0);
    expect(entering).toBeGreaterThan(0);
    expect(Math.max(leaving, entering)).toBeLessThan(firstAccept);
  });

  it("negative control: a flow missing from the spec is missing from the rules", () => {
    const oneWay = renderForwardPolicy({ ...SEED, forwardFlows: [SEED.forwardFlows[0]] });
    expect(oneWay).toContain("ip saddr 192.168.0.0/24 ip daddr 192.168.1.0/24 accept");
    expect(oneWay).not.toContain("ip saddr 192.168.1.0/24");
  });

  it("is idempotent by construction and independent of flow order and duplicates", () => {
    const text = renderForwardPolicy(SEED);
    expect(text).toMatch(/^table inet wg_s2s \{\}\ndelete table inet wg_s2s\ntable inet wg_s2s \{$/m);
    const shuffled = { ...SEED, forwardFlows: [...SEED.forwardFlows].reverse().concat(SEED.forwardFlows) };
    expect(renderForwardPolicy(shuffled)).toBe(text);
  });

  it("rejects flows that are not network CIDRs (nothing unparsed reaches nft)", () => {
    expect(() =>
      renderForwardPolicy({ ...SEED, forwardFlows: [{ from: "192.168.0.5/24", to: "10.0.0.0/8" }] }),
    ).toThrow(/not a network CIDR/);
    expect(() => renderForwardPolicy({ ...SEED, forwardFlows: [{ from: "any", to: "10.0.0.0/8" }] })).toThrow();
  });

  it("loads before the network, like Debian's nftables.service", () => {
    const unit = renderFirewallUnit();
    expect(unit).toMatch(/^DefaultDependencies=no$/m);
    expect(unit).toMatch(/^Before=network-pre\.target /m);
    expect(unit).toMatch(/^Wants=network-pre\.target$/m);
    expect(unit).toMatch(/^WantedBy=sysinit\.target$/m);
    expect(unit).not.toMatch(/^ExecStop/m); // stopping must not leave forwarding unfiltered
  });
});

function loadRuleset(ns: string, text: string): { ok: boolean; output: string } {
  return withScratchDir((dir) => {
    const file = join(dir, "forward.nft");
    writeFileSync(file, text);
    return inNetns(ns, NFT, ["-f", file]);
  });
}

/**
 * Each host namespace behind the forwarding router `gw` on its own /24: the router's link to
 * it named `link` with .2, the host .10 with a default route via the router.
 */
function behindRouter(gw: string, hosts: [ns: string, link: string, net: string][]): void {
  shInNetns(gw, "ip link set lo up && sysctl -qw net.ipv4.ip_forward=1");
  for (const [ns, link, net] of hosts) {
    shInNetns(gw, `ip link add ${link} type veth peer name eth0 netns ${ns}`);
    shInNetns(gw, `ip addr add ${net}.2/24 dev ${link} && ip link set ${link} up`);
    shInNetns(ns, `ip link set lo up && ip addr add ${net}.10/24 dev eth0 && ip link set eth0 up`);
    shInNetns(ns, `ip route add default via ${net}.2`);
  }
}

const ping = (from: string, to: string) => inNetns(from, "ping", ["-c", "1", "-W", "1", to]).ok;

describe("forward policy in a real kernel (throw-away namespace)", () => {
  beforeAll(() => requireTool(NFT, "nftables"));

  it("loads twice with the same result (idempotent)", () => {
    withNetns((ns) => {
      const text = renderForwardPolicy(SEED);
      expect(loadRuleset(ns, text)).toEqual({ ok: true, output: "" });
      const first = inNetns(ns, NFT, ["list", "ruleset"]).output;
      expect(loadRuleset(ns, text)).toEqual({ ok: true, output: "" });
      const second = inNetns(ns, NFT, ["list", "ruleset"]).output;
      expect(second).toBe(first);
      expect(first).toContain("policy drop;");
      expect(first).toContain('oifname "wg0" tcp flags syn tcp option maxseg size set rt mtu');
      expect(first).toContain("ip saddr 192.168.1.0/24 ip daddr 192.168.0.0/24 accept");
      // Reloading with a flow removed really removes it (replace, not append).
      expect(loadRuleset(ns, renderForwardPolicy({ ...SEED, forwardFlows: [SEED.forwardFlows[0]] })).ok).toBe(true);
      expect(inNetns(ns, NFT, ["list", "ruleset"]).output).not.toContain("ip saddr 192.168.1.0/24");
    });
  });

  it("negative control: nft rejects a broken ruleset", () => {
    withNetns((ns) => {
      const broken = renderForwardPolicy(SEED).replace("policy drop;", "policy maybe;");
      expect(loadRuleset(ns, broken).ok).toBe(false);
    });
  });

  /**
   * Hosts A (192.168.0.10), B (192.168.1.10) and C (192.168.5.10) behind a gateway
   * namespace that forwards. Only A<->B is a listed flow, so C must be unreachable.
   */
  it("forwards the listed flows and drops the rest", () => {
    withNamespaces(4, ([gw, a, b, c]) => {
      behindRouter(gw, [
        [a, "la", "192.168.0"],
        [b, "lb", "192.168.1"],
        [c, "lc", "192.168.5"],
      ]);
      // Control: without the policy, everything is forwarded.
      expect(ping(a, "192.168.5.10")).toBe(true);
      expect(loadRuleset(gw, renderForwardPolicy(SEED)).ok).toBe(true);
      expect(ping(a, "192.168.1.10")).toBe(true);
      expect(ping(b, "192.168.0.10")).toBe(true);
      expect(ping(a, "192.168.5.10")).toBe(false);
      expect(ping(c, "192.168.0.10")).toBe(false);
    });
  });
});

/**
 * The far end's tunnel scope on a host that already forwards: A (LAN, 192.168.0.10) and C
 * (internet, 192.168.5.10) behind a router whose link to B (192.168.1.10) is named wg0 (a
 * veth standing in for the tunnel). Only A<->B is a listed tunnel flow.
 */
describe("tunnel-scoped forward policy in a real kernel (throw-away namespaces)", () => {
  beforeAll(() => requireTool(NFT, "nftables"));
  const TUNNEL: ForwardPolicySpec = { ...SEED, scope: "tunnel" };

  it("judges only what crosses wg0, and leaves the host's other forwarded flows alone", () => {
    withNamespaces(4, ([gw, a, b, c]) => {
      behindRouter(gw, [
        [a, "lan", "192.168.0"],
        [b, "wg0", "192.168.1"],
        [c, "wan", "192.168.5"],
      ]);
      expect(loadRuleset(gw, renderForwardPolicy(TUNNEL)).ok).toBe(true);
      expect([ping(a, "192.168.1.10"), ping(b, "192.168.0.10")]).toEqual([true, true]); // listed tunnel flow
      expect([ping(a, "192.168.5.10"), ping(c, "192.168.0.10")]).toEqual([true, true]); // the host's own flow
      expect([ping(c, "192.168.1.10"), ping(b, "192.168.5.10")]).toEqual([false, false]); // unlisted, via wg0
      // Negative control: the "all" scope (our gateways, --dedicated) cuts the host's own flow.
      expect(loadRuleset(gw, renderForwardPolicy({ ...SEED, scope: "all" })).ok).toBe(true);
      expect(ping(a, "192.168.5.10")).toBe(false);
      expect(ping(a, "192.168.1.10")).toBe(true);
    });
  });

  it("an accept in the tunnel chain does not override another base chain's drop (why Docker needs DOCKER-USER)", () => {
    withNamespaces(3, ([gw, a, b]) => {
      behindRouter(gw, [
        [a, "lan", "192.168.0"],
        [b, "wg0", "192.168.1"],
      ]);
      expect(loadRuleset(gw, renderForwardPolicy(TUNNEL)).ok).toBe(true);
      expect(
        loadRuleset(
          gw,
          "table ip hostfw {\n\tchain forward {\n\t\ttype filter hook forward priority 0; policy drop;\n\t}\n}\n",
        ).ok,
      ).toBe(true);
      expect(ping(a, "192.168.1.10")).toBe(false);
    });
  });

  it("the tunnel scope keeps MSS clamping on wg0", () => {
    const rules = renderForwardPolicy(TUNNEL);
    expect(rules).toContain("policy accept;");
    expect(rules).toContain('oifname "wg0" tcp flags syn tcp option maxseg size set rt mtu');
    const flows = rules.slice(rules.indexOf("chain tunnel_flows {"));
    expect(flows).toContain("ip saddr 192.168.0.0/24 ip daddr 192.168.1.0/24 accept");
    expect(flows).toContain("ip saddr 192.168.1.0/24 ip daddr 192.168.0.0/24 accept");
    expect(flows).toMatch(/\t\tdrop\n\t\}\n\}\n$/);
  });
});

/**
 * The MSS each TCP endpoint ends up with, measured with real sockets (TCP_MAXSEG, which
 * is the negotiated MSS minus the 12-byte timestamp option). Host A sits on a 1500-byte
 * LAN, host B behind the gateway's link named "wg0" (a veth with the tunnel's 1420 MTU
 * standing in for WireGuard). Both hosts have 1500-byte MTUs, so without clamping each
 * advertises 1460 and the other believes it.
 */
const UNCLAMPED = 1460 - 12;
const CLAMPED = 1420 - 40 - 12;
const MSS_SERVER = `
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 5001)); s.listen(1); s.settimeout(8)
print("listening", flush=True)
c, _ = s.accept()
print("server-mss", c.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG), flush=True)
c.close()
`;
const MSS_CLIENT = `
import socket
c = socket.create_connection(("192.168.1.10", 5001), timeout=5)
print("client-mss", c.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG))
c.close()
`;

async function measureMss(ruleset: string | undefined): Promise<{ client: number; server: number }> {
  return withNamespacesAsync(3, async ([gw, a, b]) => {
    shInNetns(gw, "ip link set lo up && sysctl -qw net.ipv4.ip_forward=1");
    shInNetns(gw, "ip link add lan type veth peer name eth0 netns " + a);
    shInNetns(gw, "ip link add wg0 type veth peer name eth0 netns " + b);
    shInNetns(gw, "ip addr add 192.168.0.2/24 dev lan && ip link set lan up");
    shInNetns(gw, "ip addr add 192.168.1.2/24 dev wg0 && ip link set wg0 mtu 1420 up");
    shInNetns(a, "ip link set lo up && ip addr add 192.168.0.10/24 dev eth0 && ip link set eth0 up");
    shInNetns(a, "ip route add default via 192.168.0.2");
    shInNetns(b, "ip link set lo up && ip addr add 192.168.1.10/24 dev eth0 && ip link set eth0 up");
    shInNetns(b, "ip route add default via 192.168.1.2");
    if (ruleset !== undefined) expect(loadRuleset(gw, ruleset).ok).toBe(true);
    const server = spawn("ip", ["netns", "exec", b, "python3", "-c", MSS_SERVER], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      let serverOutput = "";
      server.stdout.on("data", (chunk: Buffer) => (serverOutput += chunk.toString()));
      const exited = new Promise<void>((resolve) => server.on("exit", () => resolve()));
      for (let i = 0; i < 50 && !serverOutput.includes("listening"); i += 1) await sleep(100);
      const client = inNetns(a, "python3", ["-c", MSS_CLIENT]);
      if (!client.ok) throw new Error(`client failed: ${client.output}`);
      await Promise.race([exited, sleep(8000, undefined, { ref: false })]);
      const serverMss = /server-mss (\d+)/.exec(serverOutput);
      const clientMss = /client-mss (\d+)/.exec(client.output);
      if (!serverMss || !clientMss) throw new Error(`no MSS measured: ${serverOutput} ${client.output}`);
      return { client: Number(clientMss[1]), server: Number(serverMss[1]) };
    } finally {
      if (server.exitCode === null) server.kill();
    }
  });
}

describe("MSS clamping with real TCP (throw-away namespaces)", () => {
  it("control: without the policy both ends keep the 1500-byte MSS", async () => {
    expect(await measureMss(undefined)).toEqual({ client: UNCLAMPED, server: UNCLAMPED });
  });

  it("clamps both directions to the tunnel MTU", async () => {
    expect(await measureMss(renderForwardPolicy(SEED))).toEqual({ client: CLAMPED, server: CLAMPED });
  });

  it("negative control: clamping only what leaves wg0 leaves the reply direction at 1460", async () => {
    const leavingOnly = renderForwardPolicy(SEED).replace(/^\s*iifname "wg0" .*\n/m, "");
    expect(leavingOnly).not.toContain('iifname "wg0"');
    // A's SYN is clamped on its way into the tunnel; B's SYN-ACK coming out of it is not.
    expect(await measureMss(leavingOnly)).toEqual({ client: UNCLAMPED, server: CLAMPED });
  });
});

describe("renderForwardPolicy properties", () => {
  const subnet = fc
    .tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }))
    .map(([a, b]) => `10.${a}.${b}.0/24`);
  const flows = fc.array(fc.record({ from: subnet, to: subnet }), { minLength: 1, maxLength: 12 });

  it("accepts every listed flow exactly once, whatever the order, and nothing else", () => {
    const listAndPermutation = flows.chain((list) =>
      fc.tuple(fc.constant(list), fc.shuffledSubarray(list, { minLength: list.length, maxLength: list.length })),
    );
    fc.assert(
      fc.property(listAndPermutation, ([list, permuted]) => {
        const text = renderForwardPolicy({ siteName: "x", forwardFlows: list });
        expect(renderForwardPolicy({ siteName: "x", forwardFlows: permuted })).toBe(text);
        const accepts = chainRules(text).filter((r) => r.startsWith("ip saddr"));
        const expected = new Set(list.map((f) => `ip saddr ${f.from} ip daddr ${f.to} accept`));
        expect(new Set(accepts)).toEqual(expected);
        expect(accepts).toHaveLength(expected.size);
      }),
      { numRuns: 200 },
    );
  });
});
