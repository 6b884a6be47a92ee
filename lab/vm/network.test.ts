import { renderVpcDnsmasqConfig } from "./network";
import type { VmHost, VmSegment } from "./plan";

const segment: VmSegment = {
  site: "hub",
  subnet: "192.168.0.0/24",
  prefixLength: 24,
  routerAddress: "192.168.0.1",
  vpcRoutes: [{ destination: "192.168.1.0/24", via: "192.168.0.2" }],
};
const hosts: VmHost[] = [
  { name: "hub-gateway", site: "hub", role: "gateway", privateAddress: "192.168.0.2", privateMac: "02:00:00:00:00:01" },
  {
    name: "hub-test-host",
    site: "hub",
    role: "test-host",
    privateAddress: "192.168.0.3",
    privateMac: "02:00:00:00:00:02",
  },
];
const files = { leases: "/r/l", log: "/r/log", pid: "/r/pid" };

describe("DHCP/IPAM stand-in", () => {
  it("leases only the reserved addresses, gives no router, and pushes VPC routes via the VPC router", () => {
    const lines = renderVpcDnsmasqConfig(segment, hosts, files).split("\n");
    expect(lines).toContain("dhcp-range=192.168.0.0,static,255.255.255.0,1h");
    expect(lines).toContain("dhcp-host=02:00:00:00:00:01,192.168.0.2,hub-gateway");
    expect(lines).toContain("dhcp-host=02:00:00:00:00:02,192.168.0.3,hub-test-host");
    expect(lines).toContain("dhcp-option=option:router");
    expect(lines).toContain("dhcp-option=121,192.168.1.0/24,192.168.0.1");
    expect(lines).toContain("port=0");
  });

  it("pushes no option 121 when the VPC has no custom route", () => {
    expect(renderVpcDnsmasqConfig({ ...segment, vpcRoutes: [] }, hosts, files)).not.toMatch(/121/);
  });
});
