/** @tier unit */
import { renderGatewayFiles } from "../../cloud-init/gateway";
import { KeyRing, hubGatewaySpec, spokeGatewaySpec } from "../../testkit/cloudInit";
import { linkSteps, parseNetworkdIni, planWireGuardLinks } from "./networkd";

describe("networkd stand-in: the gateway's wg0 netdev/network as ip + wg commands", () => {
  const keys = new KeyRing();
  const spec = spokeGatewaySpec(keys, "static");
  const files = renderGatewayFiles(spec);
  const [plan] = planWireGuardLinks(
    { "90-wg-s2s-wg0.netdev": files.wireguardNetdev },
    { "90-wg-s2s-wg0.network": files.wireguardNetwork, "10-other.network": "[Match]\nName=ens5\n" },
  );

  it("reads name, keys, peers, MTU, address and one route per AllowedIP from the rendered files", () => {
    expect(plan.name).toBe("wg0");
    expect(plan.mtu).toBe(String(spec.wireguard.mtu));
    expect(plan.privateKey).toBe(spec.wireguard.privateKey);
    expect(plan.listenPort).toBe(String(spec.wireguard.listenPort));
    expect(plan.addresses).toEqual([spec.wireguard.address]);
    expect(plan.peers.map((p) => p.publicKey)).toEqual(spec.wireguard.peers.map((p) => p.publicKey));
    expect(plan.peers[0].presharedKey).toBe(spec.wireguard.peers[0].presharedKey);
    expect(plan.peers[0].endpoint).toBe(spec.wireguard.peers[0].endpoint);
    expect([...plan.routes].sort()).toEqual(spec.wireguard.peers.flatMap((p) => p.allowedIps).sort());
  });

  it("passes keys through files only, and routes the tunnel's CIDRs after the link is up", () => {
    const steps = linkSteps(plan, "/run/x");
    const argvs = steps.flatMap((s) => ("argv" in s ? [s.argv.join(" ")] : []));
    for (const secret of [spec.wireguard.privateKey, spec.wireguard.peers[0].presharedKey]) {
      expect(argvs.join("\n")).not.toContain(secret);
    }
    expect(steps.filter((s) => "secretFile" in s)).toHaveLength(1 + spec.wireguard.peers.length);
    const up = argvs.indexOf("ip link set wg0 up");
    const firstRoute = argvs.findIndex((a) => a.startsWith("ip -4 route replace"));
    expect(up).toBeGreaterThan(0);
    expect(firstRoute).toBeGreaterThan(up);
  });

  it("refuses keys and kinds it does not implement, naming them", () => {
    const netdev = files.wireguardNetdev.replace("[WireGuard]\n", "[WireGuard]\nFirewallMark=7\n");
    expect(() => planWireGuardLinks({ "a.netdev": netdev }, {})).toThrow(
      /a\.netdev: WireGuard\.FirewallMark= is not supported/,
    );
    expect(() => planWireGuardLinks({ "b.netdev": "[NetDev]\nName=br0\nKind=bridge\n" }, {})).toThrow(/Kind=bridge/);
    const hub = renderGatewayFiles(hubGatewaySpec(keys));
    const network = hub.wireguardNetwork.replace("[Route]\n", "[Route]\nGateway=10.0.0.1\n");
    expect(() => planWireGuardLinks({ "c.netdev": hub.wireguardNetdev }, { "c.network": network })).toThrow(
      /Route\.Gateway= is not supported/,
    );
  });

  it("keeps repeated sections apart", () => {
    const blocks = parseNetworkdIni("[Route]\nDestination=10.0.0.0/8\n\n[Route]\n# c\nDestination=10.1.0.0/16\n");
    expect(blocks).toEqual([
      { section: "Route", entries: [["Destination", "10.0.0.0/8"]] },
      { section: "Route", entries: [["Destination", "10.1.0.0/16"]] },
    ]);
  });
});
