/** @tier unit */
/**
 * The set-up script is plain JavaScript (it runs before `npm ci`), so it reads the labs'
 * Debian package list (lab/debian-packages.json) itself: this checks it reads the same
 * entries the labs' prerequisite checks do, so a fresh clone's `npm test` installs
 * everything the labs look for.
 */
import { DEBIAN_PACKAGES, LAB_DEBIAN_PACKAGES, readDebianPackages, VM_LAB_TOOLS } from "../lab/debianPackages";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const setup = require("./ensure-setup.js") as { DEBIAN_PACKAGES: string[]; MASKED_UNITS: string[] };

describe("scripts/ensure-setup.js", () => {
  const installed = new Set(setup.DEBIAN_PACKAGES);

  test("installs every package of lab/debian-packages.json, and nothing else", () => {
    expect(setup.DEBIAN_PACKAGES).toEqual(DEBIAN_PACKAGES);
    expect(setup.DEBIAN_PACKAGES.length).toBeGreaterThan(20);
  });

  test("installs every Debian package the namespace lab checks for", () => {
    expect(LAB_DEBIAN_PACKAGES.filter((p) => !installed.has(p))).toEqual([]);
    expect(LAB_DEBIAN_PACKAGES).toEqual(expect.arrayContaining(["wireguard-go", "isc-dhcp-client", "ufw"]));
  });

  test("installs every package the VM lab names in its prerequisites", () => {
    expect(Object.values(VM_LAB_TOOLS).filter((p) => !installed.has(p))).toEqual([]);
    expect(VM_LAB_TOOLS["qemu-system-x86_64"]).toBe("qemu-system-x86");
  });

  test("masks the units the list names (ufw.service would load a firewall on this machine)", () => {
    expect(setup.MASKED_UNITS).toEqual(readDebianPackages().flatMap((p) => p.maskUnits ?? []));
    expect(setup.MASKED_UNITS).toContain("ufw.service");
  });
});
