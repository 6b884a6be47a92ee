/** @tier system */
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { classlessRoutes, renderDnsmasqConfig } from "./dnsmasq";
import {
  DNSMASQ,
  dnsmasqTest,
  requireTool,
  shInNetns,
  withNamespacesAsync,
  withScratchDirAsync,
} from "../testkit/cloudInit";
import type { DhcpServerSpec } from "../planning/specs";

const LAN: DhcpServerSpec = {
  subnet: "192.168.1.0/24",
  rangeStart: "192.168.1.100",
  rangeEnd: "192.168.1.200",
  leaseTime: "12h",
  routes: [
    { destination: "192.168.0.0/24", via: "192.168.1.2" },
    { destination: "10.8.0.0/16", via: "192.168.1.2" },
  ],
};

/** `dhcp-option=N,...` lines by option number. */
function options(config: string): Map<number, string[]> {
  const found = new Map<number, string[]>();
  for (const match of config.matchAll(/^dhcp-option=(\d+)(?:,(.*))?$/gm)) {
    found.set(Number(match[1]), match[2] === undefined ? [] : match[2].split(","));
  }
  return found;
}

/** Option 121's flat list as [destination, router] pairs. */
function option121Pairs(config: string): [string, string][] {
  const values = options(config).get(121) ?? [];
  expect(values.length % 2).toBe(0);
  return values.flatMap((value, i) => (i % 2 === 0 ? [[value, values[i + 1]] as [string, string]] : []));
}

describe("renderDnsmasqConfig", () => {
  it("serves DHCP only: DNS off, no fixed interface, never on wg0", () => {
    const config = renderDnsmasqConfig(LAN, "onprem");
    const lines = config.split("\n").filter((l) => l && !l.startsWith("#"));
    expect(lines).toContain("port=0");
    expect(lines).toContain("bind-dynamic");
    expect(lines).toContain("except-interface=wg0");
    expect(lines.filter((l) => l.startsWith("interface="))).toEqual([]);
    expect(lines).toContain("dhcp-range=192.168.1.100,192.168.1.200,255.255.255.0,12h");
  });

  it("without lanRouter: option 121 carries only the remote subnets, option 3 is sent empty", () => {
    const config = renderDnsmasqConfig(LAN, "onprem");
    expect(option121Pairs(config)).toEqual([
      ["10.8.0.0/16", "192.168.1.2"],
      ["192.168.0.0/24", "192.168.1.2"],
    ]);
    expect(options(config).get(3)).toEqual([]);
    expect(options(config).has(6)).toBe(false);
  });

  it("with lanRouter: the default route rides in option 121 too (RFC 3442), last", () => {
    const config = renderDnsmasqConfig({ ...LAN, lanRouter: "192.168.1.254", dnsServers: ["192.168.1.53"] }, "onprem");
    expect(option121Pairs(config)).toEqual([
      ["10.8.0.0/16", "192.168.1.2"],
      ["192.168.0.0/24", "192.168.1.2"],
      ["0.0.0.0/0", "192.168.1.254"],
    ]);
    expect(options(config).get(3)).toEqual(["192.168.1.254"]);
    expect(options(config).get(6)).toEqual(["192.168.1.53"]);
  });

  it.each([
    ["a range start outside the subnet", { rangeStart: "192.168.2.10" }, /outside 192\.168\.1\.0\/24/],
    ["a next hop outside the subnet", { routes: [{ destination: "192.168.0.0/24", via: "10.0.0.1" }] }, /outside/],
    ["a lanRouter outside the subnet", { lanRouter: "192.168.9.1" }, /lanRouter/],
    ["no routes at all", { routes: [] }, /no routes/],
    ["a malformed lease time", { leaseTime: "12 hours\ndhcp-script=/bin/x" }, /lease time/],
    [
      "a destination that is not a network",
      { routes: [{ destination: "192.168.0.7/24", via: "192.168.1.2" }] },
      /network CIDR/,
    ],
  ])("rejects %s", (_what, change, message) => {
    expect(() => renderDnsmasqConfig({ ...LAN, ...change } as DhcpServerSpec, "onprem")).toThrow(message);
  });

  it("passes dnsmasq's own syntax check; a broken config does not (control)", () => {
    expect(dnsmasqTest(renderDnsmasqConfig({ ...LAN, lanRouter: "192.168.1.254" }, "onprem"))).toEqual({
      ok: true,
      output: expect.stringContaining("syntax check OK"),
    });
    expect(dnsmasqTest("dhcp-range=192.168.1.100\nnot-an-option=1\n").ok).toBe(false);
  });

  it("classlessRoutes puts the default route last", () => {
    const routes = classlessRoutes({ ...LAN, lanRouter: "192.168.1.254" });
    expect(routes.at(-1)).toEqual({ destination: "0.0.0.0/0", via: "192.168.1.254" });
  });
});

/**
 * A real lease: dnsmasq with the rendered config on one end of a veth, ISC dhclient on the
 * other, in two throw-away namespaces. The client's hook script records what it was given.
 */
async function leaseWith(config: string): Promise<Record<string, string>> {
  requireTool(DNSMASQ, "dnsmasq");
  requireTool("/sbin/dhclient", "isc-dhcp-client");
  return withScratchDirAsync((dir) =>
    withNamespacesAsync(2, async ([server, client]) => {
      shInNetns(server, `ip link set lo up && ip link add lan type veth peer name eth0 netns ${client}`);
      shInNetns(server, "ip addr add 192.168.1.2/24 dev lan && ip link set lan up");
      shInNetns(client, "ip link set lo up && ip link set eth0 up");
      writeFileSync(join(dir, "dnsmasq.conf"), config);
      const out = join(dir, "lease.env");
      writeFileSync(join(dir, "hook.sh"), `#!/bin/sh\nenv | grep '^new_' >> ${out}\nexit 0\n`);
      chmodSync(join(dir, "hook.sh"), 0o755);
      writeFileSync(
        join(dir, "dhclient.conf"),
        "timeout 10; retry 1;\noption rfc3442-classless-static-routes code 121 = array of unsigned integer 8;\n" +
          "request subnet-mask, routers, domain-name-servers, rfc3442-classless-static-routes;\n",
      );
      const dnsmasq = spawn(
        "ip",
        [
          "netns",
          "exec",
          server,
          DNSMASQ,
          "--keep-in-foreground",
          `--conf-file=${join(dir, "dnsmasq.conf")}`,
          `--pid-file=${join(dir, "dnsmasq.pid")}`,
          `--dhcp-leasefile=${join(dir, "leases")}`,
          "--user=root",
          "--log-facility=-",
        ],
        { stdio: "ignore" },
      );
      try {
        await sleep(300);
        const result = spawnSync(
          "ip",
          [
            "netns",
            "exec",
            client,
            "dhclient",
            "-1",
            "-sf",
            join(dir, "hook.sh"),
            "-cf",
            join(dir, "dhclient.conf"),
            "-lf",
            join(dir, "dhclient.leases"),
            "-pf",
            join(dir, "dhclient.pid"),
            "eth0",
          ],
          { encoding: "utf8", timeout: 20000 },
        );
        if (result.status !== 0 || !existsSync(out)) throw new Error(`no lease: ${result.stderr}`);
        const lease = readFileSync(out, "utf8");
        return Object.fromEntries(
          lease
            .trim()
            .split("\n")
            .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
        );
      } finally {
        dnsmasq.kill();
        // dhclient stays behind as a daemon after a lease; stop it by its own pid file.
        const pidFile = join(dir, "dhclient.pid");
        const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, "utf8")) : 0;
        if (pid > 0) process.kill(pid);
      }
    }),
  );
}

describe("a real DHCP exchange with the rendered config", () => {
  it("hands out a lease with option 121 and no router when there is no lanRouter", async () => {
    const lease = await leaseWith(renderDnsmasqConfig(LAN, "onprem"));
    expect(lease.new_ip_address).toMatch(/^192\.168\.1\.(1\d\d|200)$/);
    expect(lease.new_rfc3442_classless_static_routes).toBe("16 10 8 192 168 1 2 24 192 168 0 192 168 1 2");
    expect(lease).not.toHaveProperty("new_routers");
    expect(lease).not.toHaveProperty("new_domain_name_servers");
  }, 30000);

  it("keeps the LAN's default route in option 121 when lanRouter is set", async () => {
    const lease = await leaseWith(renderDnsmasqConfig({ ...LAN, lanRouter: "192.168.1.254" }, "onprem"));
    expect(lease.new_rfc3442_classless_static_routes).toBe(
      "16 10 8 192 168 1 2 24 192 168 0 192 168 1 2 0 192 168 1 254",
    );
    expect(lease.new_routers).toBe("192.168.1.254");
  }, 30000);
});
