/** @tier unit */
/** The VM lab builds its machines from the namespace lab's topology: one model, two backends. */
import { runProgram } from "../../testkit/programRun";
import { allPublicIps, sitesLabConfig, vmLabConfig } from "../labConfig";
import { renderVpcRouterDnsmasq } from "../standins/vpcRouter";
import { buildTopology, type LabTopology } from "../topology";
import { defaultHostStart, networkConfigOf, nicsOf } from "./boot";
import { plannedNetwork, privateAddress, vmHosts } from "./network";
import { renderNetworkConfig } from "./seed";
import { NETNS_PATTERN } from "./runState";

let t: LabTopology;
beforeAll(async () => {
  const d = vmLabConfig();
  const run = await runProgram({ config: d.config, publicIps: d.publicIps, keySeed: "vm-network-test" });
  t = buildTopology({ prefix: "wgvm00aa11", config: run.config, resources: run.resources, publicIps: allPublicIps(d) });
}, 120_000);

test("one VM per declared server: the topology's gateways and test hosts, with their declared MACs and addresses", () => {
  const hosts = vmHosts(t);
  expect(hosts.map((h) => [h.id, h.role, privateAddress(h)])).toEqual([
    ["scaleway-gw", "gateway", "192.168.0.2"],
    ["scaleway-th", "test-host", "192.168.0.3"],
    ["onprem-gw", "gateway", "192.168.1.2"],
    ["onprem-th", "test-host", "192.168.1.3"],
    ["office-gw", "gateway", "192.168.2.2"],
  ]);
  // The MAC the VM's network-config matches on is the one the lab's DHCP stand-in leases to.
  for (const site of t.sites.filter((s) => s.vpcRouter)) {
    for (const h of [site.gateway, site.testHost]) {
      expect(site.vpcRouter!.leases).toContainEqual({ mac: h.privateNic.mac, address: privateAddress(h), host: h.id });
    }
  }
  const [gw] = hosts;
  const nics = nicsOf(gw, 0);
  expect(nics.map((n) => [n.id, n.mac, n.pciSlot, n.staticAddress])).toEqual([
    ["public", gw.publicNic!.mac, 2, "198.51.100.10/24"],
    ["private", gw.privateNic.mac, 5, undefined],
  ]);
  expect(renderNetworkConfig(nics)).toContain(gw.privateNic.mac);
});

test("the far end is the operator's office router: both NICs static (no DHCP on its LAN), resumed, never booted", () => {
  const far = vmHosts(t).find((h) => h.id === "office-gw")!;
  const nics = nicsOf(far, 4);
  expect(nics.map((n) => [n.id, n.pciSlot, n.staticAddress])).toEqual([
    ["public", 2, "198.51.100.12/24"],
    ["private", 5, "192.168.2.2/24"],
  ]);
  // Not Scaleway's 02:00:00 prefix: the image's scw-vpc-iface udev rule must leave its LAN NIC alone.
  expect(far.privateNic.mac).not.toMatch(/^02:00:00:/);
  const config = networkConfigOf(far, nics);
  expect(config).toContain("192.168.2.2/24");
  expect(config).toContain("198.51.100.12/24");
  expect(config).not.toContain("dhcp4");
  expect(defaultHostStart(far, "scaleway")).toBe("saved-state");
  expect(defaultHostStart(vmHosts(t)[0], "scaleway")).toBe("boot");
  const net = plannedNetwork(t);
  // The lab reaches it from the office LAN's workstation, the site's test host.
  expect(net.vpcNs.get("office")).toBe("wgvm00aa11-office-th");
  expect(net.internetNs).toBe("wgvm00aa11-inet");
  for (const ns of [net.vpcNs.get("office")!, net.internetNs!]) expect(ns).toMatch(NETNS_PATTERN);
});

test("the stand-in per private network is the namespace lab's: same namespace names, same dnsmasq configuration", () => {
  const net = plannedNetwork(t);
  expect(net.switchNs).toBe("wgvm00aa11-switch");
  expect([...net.vpcNs.entries()]).toEqual([
    ["scaleway", "wgvm00aa11-scaleway-vr"],
    ["onprem", "wgvm00aa11-onprem-vr"],
    ["office", "wgvm00aa11-office-th"],
  ]);
  // The package mirror's too: a killed run's leftover sweep must find it.
  for (const ns of [net.switchNs, ...net.vpcNs.values(), net.mirrorNs]) expect(ns).toMatch(NETNS_PATTERN);
  const conf = renderVpcRouterDnsmasq(t.sites[0], { leaseFile: "/l", pidFile: "/p", logFile: "/g" });
  expect(conf).toContain("interface=ens5");
  expect(conf).toContain("dhcp-option=121,192.168.1.0/24,192.168.0.1");
});

test("refuses an external site it has no stand-in for: a dhcp site needs the operator's LAN router", async () => {
  const s = sitesLabConfig(3);
  const run = await runProgram({ config: s.config, publicIps: s.publicIps, keySeed: "vm-network-test" });
  const three = buildTopology({ prefix: "wgvm00aa11", config: run.config, resources: run.resources });
  expect(() => vmHosts(three)).toThrow(/external sites with routePropagation static; site3 \(dhcp\) is not/);
}, 120_000);
