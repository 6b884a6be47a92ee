/** @tier unit */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LabSite } from "../topology";
import { VPC_ROUTER_HUB_SITE } from "../../testkit/fixtures";
import { renderVpcRouterDnsmasq, vpcRouterForwardingCommands } from "./vpcRouter";

const site = VPC_ROUTER_HUB_SITE as unknown as LabSite;
const files = { leaseFile: "/tmp/l", pidFile: "/tmp/p", logFile: "/tmp/log" };

test("Scaleway's DHCP stand-in: static IPAM leases only, no router, no DNS, custom routes via the VPC router in option 121", () => {
  const lines = renderVpcRouterDnsmasq(site, files).split("\n");
  expect(lines).toContain("dhcp-range=192.168.0.0,static,255.255.255.0,1h");
  expect(lines).toContain("dhcp-host=02:00:00:00:00:01,192.168.0.2,scaleway-gw");
  expect(lines).toContain("dhcp-host=02:00:00:00:00:02,192.168.0.3,scaleway-th");
  // No dynamic pool: every dhcp-range is static.
  expect(lines.filter((l) => l.startsWith("dhcp-range=")).every((l) => l.includes(",static,"))).toBe(true);
  // Empty options: dnsmasq sends neither a router nor a DNS server.
  expect(lines).toContain("dhcp-option=option:router");
  expect(lines).toContain("dhcp-option=option:dns-server");
  expect(lines).toContain("dhcp-option=121,192.168.1.0/24,192.168.0.1");
  expect(lines).toContain("port=0");
  expect(lines).toContain("interface=ens5");
});

test("no custom routes: no option 121 at all", () => {
  const bare = { ...site, vpcRouter: { ...site.vpcRouter!, customRoutes: [] } } as LabSite;
  expect(renderVpcRouterDnsmasq(bare, files)).not.toContain("121");
});

test("dnsmasq itself accepts the configuration", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lab-vr-"));
  try {
    const f = path.join(dir, "dnsmasq.conf");
    fs.writeFileSync(f, renderVpcRouterDnsmasq(site, files));
    expect(
      execFileSync("dnsmasq", ["--test", `--conf-file=${f}`], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }),
    ).toBeDefined();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("the router forwards the custom routes to the next hop and sends no ICMP redirects", () => {
  const cmds = vpcRouterForwardingCommands(site).map((c) => c.join(" "));
  expect(cmds).toContain("sysctl -qw net.ipv4.ip_forward=1");
  expect(cmds).toContain("sysctl -qw net.ipv4.conf.all.send_redirects=0");
  expect(cmds).toContain("ip -4 route replace 192.168.1.0/24 via 192.168.0.2 dev ens5");
});
