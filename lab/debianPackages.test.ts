/** @tier unit */
/** lab/debian-packages.json is well formed, and each rule fails on a planted mistake. */
import { debianPackageProblems, LAB_FILES, LAB_TOOLS, readDebianPackages, type DebianPackage } from "./debianPackages";

const packages = readDebianPackages();

test("the list is well formed and maps what the labs look for to its package", () => {
  expect(debianPackageProblems(packages)).toEqual([]);
  expect(LAB_TOOLS).toMatchObject({ dhclient: "isc-dhcp-client", "wireguard-go": "wireguard-go", ip: "iproute2" });
  expect(LAB_FILES["/etc/dhcp/dhclient-exit-hooks.d/rfc3442-classless-routes"]).toBe("isc-dhcp-client");
});

describe("negative controls: a planted mistake is reported", () => {
  const planted = (entry: Partial<DebianPackage>) => debianPackageProblems([...packages, entry as DebianPackage]);
  test.each<[string, Partial<DebianPackage>, string]>([
    ["a name listed twice", { name: "dnsmasq", why: "again" }, "dnsmasq is listed twice"],
    ["no reason", { name: "planted", why: " " }, 'planted: say why it is installed ("why")'],
    ["no name", { why: "x" }, "an entry has no name"],
    ["a relative file", { name: "planted", why: "x", labFiles: ["etc/x"] }, "planted: labFiles etc/x is not absolute"],
    ["a tool given as a path", { name: "planted", why: "x", vmLabTools: ["/usr/bin/x"] }, "is a path"],
    ["a unit without a suffix", { name: "planted", why: "x", maskUnits: ["ufw"] }, "maskUnits ufw is not a unit name"],
  ])("%s", (_, entry, problem) => {
    expect(planted(entry).join("\n")).toContain(problem);
  });
});
