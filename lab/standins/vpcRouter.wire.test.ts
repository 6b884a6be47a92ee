/** @tier system */
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describeUnless } from "../../scripts/tier-skip";
import { LabSite } from "../topology";
import { VPC_ROUTER_HUB_SITE } from "../../testkit/fixtures";
import { renderVpcRouterDnsmasq } from "./vpcRouter";

const site = VPC_ROUTER_HUB_SITE as unknown as LabSite;

/**
 * What a DHCP client really gets from the stand-in: dnsmasq in one test namespace, ISC
 * dhclient in another (a veth pair between the two, nothing in the machine's own
 * namespace), asking for router, DNS and classless routes. The negative control adds a
 * router option to the same configuration: the client must then see it, or the check
 * proves nothing.
 */
const missing = ["/usr/sbin/dnsmasq", "/usr/sbin/dhclient"].filter((t) => !fs.existsSync(t));

describeUnless(missing.length ? `missing ${missing.join(", ")} (dnsmasq, isc-dhcp-client)` : undefined)(
  "Scaleway's DHCP stand-in on the wire",
  () => {
    const lease = (extraConf: string): Record<string, string> => {
      const tag = `wgt${process.pid.toString(16).slice(-4)}${Math.floor(Math.random() * 0xff).toString(16)}`;
      const [srv, cli] = [`${tag}-vr`, `${tag}-host`];
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lab-vr-wire-"));
      const sh = (...argv: string[]) => execFileSync(argv[0], argv.slice(1), { stdio: "pipe", timeout: 15_000 });
      const pids: number[] = [];
      try {
        sh("ip", "netns", "add", srv);
        sh("ip", "netns", "add", cli);
        sh("ip", "link", "add", "ens5", "netns", srv, "type", "veth", "peer", "name", "ens5", "netns", cli);
        sh("ip", "-n", cli, "link", "set", "ens5", "address", "02:00:00:00:00:02");
        sh("ip", "-n", srv, "addr", "add", "192.168.0.1/24", "dev", "ens5");
        for (const ns of [srv, cli]) sh("ip", "-n", ns, "link", "set", "ens5", "up");
        const f = {
          leaseFile: path.join(dir, "leases"),
          pidFile: path.join(dir, "pid"),
          logFile: path.join(dir, "log"),
        };
        fs.writeFileSync(path.join(dir, "dnsmasq.conf"), renderVpcRouterDnsmasq(site, f) + extraConf);
        sh("ip", "netns", "exec", srv, "dnsmasq", `--conf-file=${path.join(dir, "dnsmasq.conf")}`);
        pids.push(Number(fs.readFileSync(f.pidFile, "utf8")));
        fs.writeFileSync(
          path.join(dir, "dhclient.conf"),
          [
            "option rfc3442-classless-static-routes code 121 = array of unsigned integer 8;",
            "request subnet-mask, routers, domain-name-servers, rfc3442-classless-static-routes;",
            "",
          ].join("\n"),
        );
        // -sf /bin/true: record the lease, configure nothing; -1: one attempt, then exit, or
        // (bound) go to the background to renew: stopped by its pid file below.
        const leases = path.join(dir, "client.leases");
        const clientPid = path.join(dir, "dhclient.pid");
        try {
          sh(
            "ip",
            ...["netns", "exec", cli, "timeout", "12", "dhclient", "-4", "-1", "-sf", "/bin/true"],
            ...["-cf", path.join(dir, "dhclient.conf"), "-lf", leases, "-pf", clientPid, "ens5"],
          );
        } finally {
          if (fs.existsSync(clientPid)) pids.push(Number(fs.readFileSync(clientPid, "utf8")));
        }
        const text = fs.readFileSync(leases, "utf8");
        const options = Object.fromEntries(
          [...text.matchAll(/option ([\w-]+) ([^;]*);/g)].map((m) => [m[1], m[2].trim()] as [string, string]),
        );
        const fixed = /fixed-address ([\d.]+);/.exec(text)?.[1];
        return { ...options, "fixed-address": fixed ?? "" };
      } finally {
        for (const pid of pids) {
          try {
            process.kill(pid, "SIGTERM");
          } catch {
            /* gone */
          }
        }
        for (const ns of [srv, cli]) spawnSync("ip", ["netns", "delete", ns]);
        fs.rmSync(dir, { recursive: true, force: true });
      }
    };

    test("the IPAM address and the custom routes via .1, and neither a router nor a DNS server", () => {
      const got = lease("");
      expect(got["fixed-address"]).toBe("192.168.0.3");
      // 24.192.168.1 via 192.168.0.1: RFC 3442 encoding of 192.168.1.0/24 -> 192.168.0.1.
      expect(got["rfc3442-classless-static-routes"]).toBe("24,192,168,1,192,168,0,1");
      expect(got.routers).toBeUndefined();
      expect(got["domain-name-servers"]).toBeUndefined();
    }, 60_000);

    test("negative control: a router option in the same configuration does reach the client", () => {
      expect(lease("dhcp-option=tag:!none,option:router,192.168.0.1\n").routers).toBe("192.168.0.1");
    }, 60_000);
  },
);
