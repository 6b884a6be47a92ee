/** @tier unit */
/** The stand-in list is written once: both labs' results and both READMEs come from it. */
import * as fs from "fs";
import { README_FILES, readmeStandIns, renderStandInTable, standInsFor, withTable } from "./list";

test("each README's stand-in table is the list's, row by row", () => {
  for (const backend of ["netns", "vm"] as const) {
    const readme = fs.readFileSync(README_FILES[backend], "utf8");
    // On failure: npx tsx lab/standins/list.ts --write && npx prettier --write lab/README.md lab/vm/README.md
    expect({ backend, rows: readmeStandIns(readme) }).toEqual({ backend, rows: standInsFor(backend) });
  }
});

test("a README that drifts from the list is caught (and --write puts it back)", () => {
  const readme = fs.readFileSync(README_FILES.vm, "utf8");
  const drifted = readme.replace("no DNS option", "a DNS option");
  expect(drifted).not.toBe(readme);
  expect(readmeStandIns(drifted)).not.toEqual(standInsFor("vm"));
  expect(readmeStandIns(withTable(drifted, renderStandInTable("vm")))).toEqual(standInsFor("vm"));
  expect(readmeStandIns("no markers here")).toBeUndefined();
});

test("the shared stand-ins are the same in both labs; each lab lists only what it replaces", () => {
  const netns = standInsFor("netns");
  const vm = standInsFor("vm");
  const dhcp = (l: typeof netns) => l.find((s) => /DHCP\/IPAM/.test(s.replaces));
  expect(dhcp(vm)).toEqual(dhcp(netns));
  expect(dhcp(vm)?.why).toMatch(/no router option, no DNS option/);
  // The VM lab runs systemd and the kernel's WireGuard for real.
  expect(vm.map((s) => s.replaces).join("\n")).not.toMatch(/systemd as PID 1|kernel WireGuard/);
  expect(netns.map((s) => s.replaces).join("\n")).toMatch(/systemd[\s\S]*DHCP\/IPAM[\s\S]*kernel WireGuard/);
  expect(standInsFor("netns", "tc netem loss 5%").at(-1)).toEqual({
    name: "underlay loss",
    replaces: "a lossy internet path",
    why: "tc netem loss 5%",
  });
});
