/** @tier unit */
/** The VM lab builds its machines from the namespace lab's topology: one model, two backends. */
import { runProgram } from "../../testkit/programRun";
import { allPublicIps, defaultLabConfig, sitesLabConfig } from "../labConfig";
import { renderVpcRouterDnsmasq } from "../standins/vpcRouter";
import { buildTopology, type LabTopology } from "../topology";
import { nicsOf } from "./boot";
import { plannedNetwork, privateAddress, vmHosts } from "./network";
import { renderNetworkConfig } from "./seed";
import { NETNS_PATTERN } from "./runState";

let t: LabTopology;
beforeAll(async () => {
  const d = defaultLabConfig();
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
  ]);
  // The MAC the VM's network-config matches on is the one the lab's DHCP stand-in leases to.
  for (const site of t.sites) {
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

test("the stand-in per private network is the namespace lab's: same namespace names, same dnsmasq configuration", () => {
  const net = plannedNetwork(t);
  expect(net.switchNs).toBe("wgvm00aa11-switch");
  expect([...net.vpcNs.entries()]).toEqual([
    ["scaleway", "wgvm00aa11-scaleway-vr"],
    ["onprem", "wgvm00aa11-onprem-vr"],
  ]);
  for (const ns of [net.switchNs, ...net.vpcNs.values()]) expect(ns).toMatch(NETNS_PATTERN);
  const conf = renderVpcRouterDnsmasq(t.sites[0], { leaseFile: "/l", pidFile: "/p", logFile: "/g" });
  expect(conf).toContain("interface=ens5");
  expect(conf).toContain("dhcp-option=121,192.168.1.0/24,192.168.0.1");
});

test("refuses an external site: it is the operator's machine, not a declared server", async () => {
  const s = sitesLabConfig(3);
  const run = await runProgram({ config: s.config, publicIps: s.publicIps, keySeed: "vm-network-test" });
  const three = buildTopology({ prefix: "wgvm00aa11", config: run.config, resources: run.resources });
  expect(() => vmHosts(three)).toThrow(/Scaleway-built sites only; site3 is external/);
}, 120_000);
