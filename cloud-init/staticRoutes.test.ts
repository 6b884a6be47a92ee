/** @tier system */
import { PATHS } from "./common";
import { renderStaticRoutesScript, staticRoutesFiles } from "./staticRoutes";
import { inNetns, shInNetns, shellcheck, withNetns } from "../testkit/cloudInit";

const ROUTES = [
  { destination: "192.168.0.0/24", via: "192.168.1.2" },
  { destination: "10.8.0.0/16", via: "192.168.1.2" },
];

describe("renderStaticRoutesScript", () => {
  it("replaces each route, sorted, in a shellcheck-clean POSIX script", () => {
    const script = renderStaticRoutesScript(ROUTES, "onprem");
    expect(script.split("\n").filter((l) => l.startsWith("ip "))).toEqual([
      "ip -4 route replace 10.8.0.0/16 via 192.168.1.2",
      "ip -4 route replace 192.168.0.0/24 via 192.168.1.2",
    ]);
    expect(script).toMatch(/^#!\/bin\/sh\n/);
    expect(script).toMatch(/^set -eu$/m);
    expect(shellcheck(script)).toEqual({ ok: true, output: "" });
    expect(renderStaticRoutesScript([...ROUTES].reverse(), "onprem")).toBe(script);
  });

  it("rejects no routes, a host destination and a next hop with a prefix", () => {
    expect(() => renderStaticRoutesScript([], "onprem")).toThrow(/no routes/);
    expect(() => renderStaticRoutesScript([{ destination: "192.168.0.9/24", via: "192.168.1.2" }], "x")).toThrow();
    expect(() => renderStaticRoutesScript([{ destination: "192.168.0.0/24", via: "192.168.1.2/24" }], "x")).toThrow(
      /bare address/,
    );
  });

  it("adds the routes in a real namespace, and running it again changes nothing", () => {
    withNetns((ns) => {
      shInNetns(ns, "ip link add lan0 type veth peer name lan0p && ip link set lan0p up");
      shInNetns(ns, "ip addr add 192.168.1.3/24 dev lan0 && ip link set lan0 up");
      const script = renderStaticRoutesScript(ROUTES, "onprem");
      expect(inNetns(ns, "sh", ["-s"], script).ok).toBe(true);
      const first = shInNetns(ns, "ip -4 route show");
      expect(first).toContain("10.8.0.0/16 via 192.168.1.2 dev lan0");
      expect(first).toContain("192.168.0.0/24 via 192.168.1.2 dev lan0");
      expect(inNetns(ns, "sh", ["-s"], script).ok).toBe(true);
      expect(shInNetns(ns, "ip -4 route show")).toBe(first);
    });
  });

  it("negative control: it fails (set -e) when the next hop is not on any link yet", () => {
    withNetns((ns) => {
      expect(inNetns(ns, "sh", ["-s"], renderStaticRoutesScript(ROUTES, "onprem")).ok).toBe(false);
    });
  });
});

describe("staticRoutesFiles", () => {
  it("installs the script and a oneshot unit ordered after the private-NIC wait", () => {
    const [script, unit] = staticRoutesFiles(ROUTES, "onprem");
    expect(script.path).toBe(PATHS.staticRoutesScript);
    expect(script.permissions).toBe("0755");
    expect(unit.path).toBe(PATHS.staticRoutesUnit);
    expect(unit.content).toMatch(/^Requires=wg-s2s-private-nic\.service$/m);
    expect(unit.content).toMatch(/^After=wg-s2s-private-nic\.service$/m);
    expect(unit.content).toMatch(/^ExecStart=\/usr\/local\/sbin\/wg-s2s-static-routes$/m);
    expect(unit.content).toMatch(/^WantedBy=multi-user\.target$/m);
  });
});
