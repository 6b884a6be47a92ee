/** @tier program */
/**
 * The whole program (index.ts and its components) under Pulumi's mock runtime: what it
 * declares for `simulated` and `external` sites, that every key and every user-data holding
 * one is secret, security-group rules, routes, outputs, key stability and rotation, and
 * that a bad config fails before anything is declared.
 */
import { parse } from "yaml";
import { PATHS } from "../cloud-init/common";
import { DEFAULT_REMOTE_SITES } from "../config/schema";
import { ADMIN_CIDRS as ADMIN, OFFICE_EXTERNAL_SITE as external } from "../testkit/fixtures";
import { DeclaredResource, mockResourceId, ProgramRun, runProgram } from "../testkit/programRun";

const PN = "scaleway:network/privateNetwork:PrivateNetwork";
const VPC = "scaleway:network/vpc:Vpc";
const T = {
  server: "scaleway:instance/server:Server",
  sg: "scaleway:instance/securityGroup:SecurityGroup",
  route: "scaleway:network/route:Route",
  nic: "scaleway:instance/privateNic:PrivateNic",
  bytes: "random:index/randomBytes:RandomBytes",
};

const onprem = DEFAULT_REMOTE_SITES[0];

function countByType(run: ProgramRun): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of run.resources.filter((r) => r.custom)) counts[r.type] = (counts[r.type] ?? 0) + 1;
  return counts;
}

function wgConf(userData: string): string {
  const doc = parse(userData.replace(/^#cloud-config\n/, ""));
  // The gateway's tunnel is systemd-networkd's netdev (keys, peers, endpoints).
  const file = doc.write_files.find((f: any) => f.path === PATHS.wireguardNetdev);
  return file.content;
}

function privateKeysOf(run: ProgramRun): string[] {
  return run.ofType(T.bytes).map((r) => r.state.base64 as string);
}

function byName(run: ProgramRun, name: string): DeclaredResource {
  const r = run.resources.find((x) => x.name === name);
  if (!r) throw new Error(`no resource ${name}; have ${run.resources.map((x) => x.name).join(", ")}`);
  return r;
}

describe("the seed topology (hub + one simulated site)", () => {
  let run: ProgramRun;
  beforeAll(async () => {
    run = await runProgram({ config: { adminCidrs: ADMIN }, keySeed: "seed-1" });
  });

  test("declares both sites on Scaleway", () => {
    expect(countByType(run)).toEqual({
      "random:index/randomBytes:RandomBytes": 3, // two gateway keys, one preshared key
      "tls:index/privateKey:PrivateKey": 5, // deploy key + a host key per server
      "scaleway:instance/ip:Ip": 2,
      "scaleway:network/vpc:Vpc": 2,
      "scaleway:network/privateNetwork:PrivateNetwork": 2,
      "scaleway:ipam/ip:Ip": 4,
      "scaleway:instance/securityGroup:SecurityGroup": 4,
      "scaleway:instance/server:Server": 4,
      "scaleway:instance/privateNic:PrivateNic": 4,
      "scaleway:network/route:Route": 2,
      // deploy verification: cloud-init on 4 hosts, forwarding and a handshake per gateway, one ping test
      "command:remote:Command": 9,
    });
  });

  test("every VPC has routing and custom-route propagation on", () => {
    for (const vpc of run.ofType("scaleway:network/vpc:Vpc")) {
      expect(vpc.inputs).toMatchObject({ enableRouting: true, enableCustomRoutesPropagation: true });
    }
  });

  test("each VPC routes the other site's subnet to its own gateway's private NIC", () => {
    const hubRoute = byName(run, "wg-s2s-scaleway-route-192-168-1-0-24");
    expect(hubRoute.inputs).toMatchObject({
      destination: "192.168.1.0/24",
      nexthopResourceId: "wg-s2s-scaleway-gateway-nic-id",
      nexthopPrivateNetworkId: mockResourceId(PN, "wg-s2s-scaleway-pn"),
      vpcId: mockResourceId(VPC, "wg-s2s-scaleway-vpc"),
    });
    const back = byName(run, "wg-s2s-onprem-route-192-168-0-0-24");
    expect(back.inputs).toMatchObject({
      destination: "192.168.0.0/24",
      nexthopResourceId: "wg-s2s-onprem-gateway-nic-id",
      vpcId: mockResourceId(VPC, "wg-s2s-onprem-vpc"),
    });
  });

  test("gateways get fixed private addresses reserved in IPAM, attached through the private NIC", () => {
    expect(byName(run, "wg-s2s-scaleway-gateway-private-ip").inputs).toMatchObject({
      address: "192.168.0.2",
      sources: [{ privateNetworkId: mockResourceId(PN, "wg-s2s-scaleway-pn") }],
    });
    expect(byName(run, "wg-s2s-scaleway-gateway-nic").inputs).toMatchObject({
      serverId: "wg-s2s-scaleway-gateway-id",
      ipamIpIds: ["wg-s2s-scaleway-gateway-private-ip-id"],
    });
  });

  test("every key and every user-data holding one is secret", () => {
    for (const r of run.ofType(T.server)) expect(r.secretInputs).toContain("userData");
    expect(run.secretOutputs).toEqual(expect.arrayContaining(["deployPrivateKey", "externalSiteBundles"]));
    const keys = privateKeysOf(run);
    expect(keys).toHaveLength(3);
    // No plain output and no non-secret input anywhere carries a private or preshared key.
    const plainOutputs = JSON.stringify(
      Object.fromEntries(Object.entries(run.outputs).filter(([k]) => !run.secretOutputs.includes(k))),
    );
    for (const key of keys) expect(plainOutputs).not.toContain(key);
    for (const r of run.resources.filter((x) => x.type !== T.bytes)) {
      const plainInputs = JSON.stringify(
        Object.fromEntries(Object.entries(r.inputs).filter(([k]) => !r.secretInputs.includes(k))),
      );
      for (const key of keys) expect(plainInputs).not.toContain(key);
    }
  });

  test("the gateway security group drops by default and opens only what the tunnel needs", () => {
    const sg = byName(run, "wg-s2s-scaleway-gateway-sg").inputs;
    expect(sg.inboundDefaultPolicy).toBe("drop");
    const rules = sg.inboundRules as any[];
    const udp = rules.filter((r) => r.protocol === "UDP");
    expect(udp).toEqual([
      { action: "accept", protocol: "UDP", port: 52435, ipRange: `${run.outputs.gatewayPublicIps.onprem}/32` },
    ]);
    expect(rules.filter((r) => r.protocol === "TCP")).toEqual([
      { action: "accept", protocol: "TCP", port: 22, ipRange: "203.0.113.7/32" },
    ]);
    expect(rules.filter((r) => !["UDP", "TCP", "ICMP"].includes(r.protocol))).toEqual([]);
  });

  test("test hosts have no public IP and a closed security group by default", () => {
    for (const r of run.ofType(T.server).filter((s) => s.inputs.tags.includes("wg-s2s-role:test-host"))) {
      expect(r.inputs.ipId).toBeUndefined();
    }
    expect(byName(run, "wg-s2s-scaleway-test-host-sg").inputs).toMatchObject({ inboundDefaultPolicy: "drop" });
    expect(byName(run, "wg-s2s-scaleway-test-host-sg").inputs.inboundRules ?? []).toEqual([]);
  });

  test("the two gateways' tunnels are each other's peer, with the same preshared key", () => {
    const hub = wgConf(run.userData("scaleway", "gateway"));
    const spoke = wgConf(run.userData("onprem", "gateway"));
    const pub = run.outputs.publicKeys;
    expect(hub).toContain(`PublicKey=${pub.onprem}`);
    expect(spoke).toContain(`PublicKey=${pub.scaleway}`);
    expect(spoke).toContain(`Endpoint=${run.outputs.gatewayPublicIps.scaleway}:52435`);
    // The hub dials the spoke too (its address is known), so a hub restart recovers at once.
    expect(hub).toContain(`Endpoint=${run.outputs.gatewayPublicIps.onprem}:52435`);
    expect(spoke).toMatch(/PersistentKeepalive=25/);
    const psk = (t: string) => t.match(/PresharedKey=(\S+)/)![1];
    expect(psk(hub)).toBe(psk(spoke));
  });

  test("outputs give addresses, keys, SSH commands and the ping test", () => {
    expect(run.outputs.tunnelAddresses).toEqual({ scaleway: "172.16.0.1", onprem: "172.16.0.2" });
    expect(run.outputs.privateAddresses.onprem).toEqual({
      subnet: "192.168.1.0/24",
      gateway: "192.168.1.2",
      testHost: "192.168.1.3",
    });
    expect(run.outputs.gatewayPublicIps).toEqual({ scaleway: expect.any(String), onprem: expect.any(String) });
    expect(run.outputs.sshCommandsBySite.scaleway.gateway).toContain(`root@${run.outputs.gatewayPublicIps.scaleway}`);
    expect(run.outputs.pingTest.onprem).toMatch(/ping -c 3 -W 2 192\.168\.1\.3$/);
    expect(run.outputs.pingTest.onprem).toContain("root@192.168.0.3");
    expect(run.outputs.externalSiteBundles).toEqual({});
  });
});

describe("an external site", () => {
  let run: ProgramRun;
  beforeAll(async () => {
    run = await runProgram({ config: { adminCidrs: ADMIN, remoteSites: [external] }, keySeed: "seed-ext" });
  });

  test("builds only the hub; nothing on Scaleway for the external site", () => {
    const counts = countByType(run);
    expect(counts["scaleway:network/vpc:Vpc"]).toBe(1);
    expect(counts["scaleway:instance/server:Server"]).toBe(2);
    expect(counts["scaleway:instance/ip:Ip"]).toBe(1);
    expect(counts[T.route]).toBe(1);
    expect(run.resources.some((r) => r.name.includes("office") && r.type.startsWith("scaleway:"))).toBe(false);
  });

  test("the hub accepts WireGuard only from the external gateway's public address", () => {
    const udp = (byName(run, "wg-s2s-scaleway-gateway-sg").inputs.inboundRules as any[]).filter(
      (r) => r.protocol === "UDP",
    );
    expect(udp.map((r) => r.ipRange)).toEqual([`${external.publicIp}/32`]);
  });

  test("its operator gets a secret bundle with everything the LAN needs", () => {
    expect(run.secretOutputs).toContain("externalSiteBundles");
    const bundle = run.operatorBundle("office");
    expect(Object.keys(bundle)).toEqual(expect.arrayContaining(["wg0.conf", "dnsmasq.conf", "cloud-config.yaml"]));
    expect(bundle["wg0.conf"]).toContain(`PublicKey = ${run.outputs.publicKeys.scaleway}`);
    expect(bundle["wg0.conf"]).toContain(`Endpoint = ${run.outputs.gatewayPublicIps.scaleway}:52435`);
    expect(bundle["dnsmasq.conf"]).toContain("192.168.0.0/24");
  });
});

describe("keys live in state", () => {
  const base = { adminCidrs: ADMIN, remoteSites: [onprem] };

  test("a repeated run gives byte-identical user-data", async () => {
    const a = await runProgram({ config: base, keySeed: "k" });
    const b = await runProgram({ config: base, keySeed: "k" });
    for (const site of ["scaleway", "onprem"]) {
      for (const role of ["gateway", "test-host"] as const) expect(b.userData(site, role)).toBe(a.userData(site, role));
    }
  });

  test("keys stay the same when unrelated settings change, and only a rotation changes them", async () => {
    const a = await runProgram({ config: base, keySeed: "k" });
    const tweaked = await runProgram({ config: { ...base, mtu: 1380 }, keySeed: "k" });
    expect(tweaked.outputs.publicKeys).toEqual(a.outputs.publicKeys);
    expect(tweaked.userData("onprem", "gateway")).not.toBe(a.userData("onprem", "gateway"));

    const rotated = await runProgram({
      config: { ...base, remoteSites: [{ ...onprem, keyGeneration: 1 }] },
      keySeed: "k",
    });
    expect(rotated.outputs.publicKeys.onprem).not.toBe(a.outputs.publicKeys.onprem);
    expect(rotated.outputs.publicKeys.scaleway).toBe(a.outputs.publicKeys.scaleway);
    const psk = (r: ProgramRun) => wgConf(r.userData("onprem", "gateway")).match(/PresharedKey=(\S+)/)![1];
    expect(psk(rotated)).not.toBe(psk(a));
  });
});

describe("bad config", () => {
  test("fails before any resource is declared, naming the key", async () => {
    const err = await runProgram({ config: { adminCidrs: ADMIN, listenPort: 70000 } }).catch((e) => e);
    expect(err.message).toMatch(/listenPort/);
    expect(err.declaredResources).toEqual([]);
  });

  test("missing adminCidrs is refused, not opened to the world", async () => {
    await expect(runProgram({ config: {} })).rejects.toThrow(/adminCidrs/);
  });
});
