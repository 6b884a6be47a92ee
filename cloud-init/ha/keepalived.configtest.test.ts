/** @tier system */
import { chmodSync, copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderKeepalivedConf } from "./keepalived";
import { inNetns, requireRoot, requireTool, shInNetns, withNetns, withScratchDir } from "../../testkit/cloudInit";

const KEEPALIVED = "/usr/sbin/keepalived";

/**
 * Debian's keepalived checks the rendered file (`keepalived -t`: parse and check, start
 * nothing) in a namespace of its own, where the private NIC's name exists (keepalived
 * refuses an interface it cannot see, and lo).
 */
function configTest(mutate: (conf: string) => string = (c) => c, agentPresent = true): { ok: boolean; output: string } {
  requireRoot("keepalived config test");
  requireTool(KEEPALIVED, "keepalived");
  return withScratchDir((dir) =>
    withNetns((ns) => {
      shInNetns(ns, "ip link add ens5 type veth peer name ens5p");
      const agent = join(dir, "wg-s2s-ha");
      if (agentPresent) {
        copyFileSync(join(__dirname, "wg-s2s-ha"), agent);
        chmodSync(agent, 0o755);
      }
      chmodSync(dir, 0o755);
      const conf = renderKeepalivedConf({
        name: "hub-a",
        interface: "ens5",
        ownAddress: "192.168.0.2",
        peerAddress: "192.168.0.3",
        virtualRouterId: 51,
        agentPath: agent,
      });
      const file = join(dir, "keepalived.conf");
      writeFileSync(file, mutate(conf));
      const r = inNetns(ns, KEEPALIVED, ["-t", "-f", file]);
      return { ok: r.ok, output: r.output };
    }),
  );
}

test("keepalived -t accepts the rendered configuration", () => {
  const { ok, output } = configTest();
  expect(output).toBe("");
  expect(ok).toBe(true);
});

test("negative control: an out-of-range router id fails the same check", () => {
  const { ok, output } = configTest((c) => c.replace("virtual_router_id 51", "virtual_router_id 300"));
  expect(ok).toBe(false);
  expect(output).toMatch(/VRID '300' not valid/);
});

test("negative control: without the agent script installed, keepalived disables the track scripts and fails", () => {
  const { ok, output } = configTest(undefined, false);
  expect(ok).toBe(false);
  expect(output).toMatch(/Disabling track script chk_holder/);
});

test("negative control: no virtual address at all is reported, which is why the marker is there", () => {
  const { ok, output } = configTest((c) => c.replace(/ {4}virtual_ipaddress \{\n[^}]*\}\n/, ""));
  expect(ok).toBe(false);
  expect(output).toMatch(/No VIP specified/);
});
