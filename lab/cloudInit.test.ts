/** @tier unit */
import { parse } from "yaml";
import { LAB_CLOUD_CFG, summariseCloudConfig } from "./cloudInit";

test("summarises what the lab applies and lists what it does not", () => {
  const s = summariseCloudConfig(
    "#cloud-config\nssh_authorized_keys: [x]\npackages: [wireguard-tools, [nftables, 1.0]]\nwrite_files: []\nruncmd: []\nfoo: 1\n",
  );
  expect(s.packages).toEqual(["wireguard-tools", "nftables"]);
  expect(s.notApplied).toEqual([
    { key: "ssh_authorized_keys", reason: expect.stringContaining("no SSH server") },
    { key: "foo", reason: expect.stringContaining("not supported") },
  ]);
});

test("refuses user-data that is not a cloud-config document", () => {
  expect(() => summariseCloudConfig("#!/bin/sh\necho hi\n")).toThrow(/not a #cloud-config/);
});

test("the per-host cloud.cfg narrows cloud-init to modules that cannot touch the machine", () => {
  const cfg = parse(LAB_CLOUD_CFG);
  expect(cfg.datasource_list).toEqual(["NoCloud", "None"]);
  expect(cfg.network).toEqual({ config: "disabled" });
  const modules = [...cfg.cloud_init_modules, ...cfg.cloud_config_modules, ...cfg.cloud_final_modules];
  expect(modules).toEqual(["bootcmd", "write-files", "runcmd", "write-files-deferred", "scripts-user"]);
  for (const dangerous of [
    "growpart",
    "resizefs",
    "mounts",
    "users-groups",
    "ssh",
    "set_hostname",
    "package-update-upgrade-install",
  ]) {
    expect(modules).not.toContain(dangerous);
  }
});
