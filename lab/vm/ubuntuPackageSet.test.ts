/** @tier unit */
/**
 * The VM image's package set: every package of Ubuntu's published lists has a disposition,
 * the image list follows from them, and it keeps the lab's premise (nothing the user-data
 * installs later, everything the gateway's critical path needs). Each rule is shown to fail
 * on a planted mistake in a copy of the data.
 */
import * as fs from "fs";
import { BASE_PACKAGES } from "./image";
import {
  DISPOSITIONS,
  imagePackages,
  listedPackages,
  listTableRows,
  PACKAGE_TABLE,
  LIST_TABLE,
  packageSetProblems,
  packageTableRows,
  README_FILE,
  UBUNTU_PACKAGE_SET,
  withPackageTables,
  type PackageSet,
} from "./ubuntuPackageSet";
import { readmeTableRows } from "../readmeTable";

const set = UBUNTU_PACKAGE_SET;

test("every listed package has a disposition, and the image list is consistent with them", () => {
  expect(packageSetProblems(set, BASE_PACKAGES)).toEqual([]);
  expect(BASE_PACKAGES).toEqual(imagePackages(set));
  expect(listedPackages(set).length).toBeGreaterThan(80);
});

test("the image keeps the lab's premise", () => {
  for (const p of [
    "nftables",
    "netplan.io",
    "systemd-resolved",
    "cloud-init",
    "dhcpcd-base",
    "linux-image-cloud-amd64",
  ])
    expect(BASE_PACKAGES).toContain(p);
  // Ubuntu-only names, what only costs boot time under TCG, what the user-data installs.
  for (const p of [
    "wireguard-tools",
    "dnsmasq",
    "ubuntu-advantage-tools",
    "plymouth",
    "isc-dhcp-client",
    "linux-virtual",
  ])
    expect(BASE_PACKAGES).not.toContain(p);
});

describe("negative controls: a planted mistake is reported", () => {
  const image = [...BASE_PACKAGES];
  const withLists = (extra: string): PackageSet => ({
    ...set,
    lists: [...set.lists, { id: "planted", title: "planted", source: "test", packages: [extra] }],
  });

  test("a listed seed package with no disposition", () => {
    expect(packageSetProblems(withLists("snapd"), image)).toEqual([
      "snapd (planted) has no disposition: add it to dispositions in lab/vm/ubuntu-package-set.json",
    ]);
  });

  test("wireguard-tools or dnsmasq in the image list", () => {
    for (const p of ["wireguard-tools", "dnsmasq"]) {
      expect(packageSetProblems(set, [...image, p])).toEqual([
        `${p} is in the image list: the user-data installs it after the tunnel is up; remove it`,
      ]);
    }
  });

  test("nftables missing from the image list", () => {
    const problems = packageSetProblems(
      set,
      image.filter((p) => p !== "nftables"),
    );
    expect(problems).toContain("nftables is missing from the image list: the gateway's critical path uses it");
  });

  test("a disposition naming a package the image list does not contain", () => {
    expect(
      packageSetProblems(
        set,
        image.filter((p) => p !== "dhcpcd-base"),
      ),
    ).toEqual(["isc-dhcp-client is mirrored as dhcpcd-base, but the image list does not contain dhcpcd-base"]);
    expect(
      packageSetProblems(
        set,
        image.filter((p) => p !== "rsync"),
      ),
    ).toEqual(["rsync is mirrored as rsync, but the image list does not contain rsync"]);
  });

  test("a stale disposition, and a leave-out without a reason", () => {
    const stale: PackageSet = {
      ...set,
      dispositions: { ...DISPOSITIONS, "no-such-seed-package": { kind: "left-out", reason: "boot-cost", why: " " } },
    };
    expect(packageSetProblems(stale, image)).toEqual([
      "no-such-seed-package has a disposition but no published list names it",
      "no-such-seed-package: left-out needs a reason",
    ]);
  });
});

test("lab/vm/README.md carries the generated tables, row by row", () => {
  const readme = fs.readFileSync(README_FILE, "utf8");
  // On failure: npx tsx lab/vm/ubuntuPackageSet.ts --write && npx prettier --write lab/vm/README.md
  expect(readmeTableRows(readme, LIST_TABLE)).toEqual(listTableRows(set));
  expect(readmeTableRows(readme, PACKAGE_TABLE)).toEqual(packageTableRows(set));
  // Drift is caught, and --write puts it back.
  const drifted = readme.replace("| plymouth ", "| plymouth-x ");
  expect(drifted).not.toBe(readme);
  expect(readmeTableRows(drifted, PACKAGE_TABLE)).not.toEqual(packageTableRows(set));
  expect(readmeTableRows(withPackageTables(drifted, set), PACKAGE_TABLE)).toEqual(packageTableRows(set));
});
