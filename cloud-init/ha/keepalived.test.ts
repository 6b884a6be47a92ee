/** @tier unit */
import { HOLDER_WEIGHT, masterMarker, renderKeepalivedConf, type KeepalivedSpec } from "./keepalived";

const HUB_A: KeepalivedSpec = {
  name: "hub-a",
  interface: "ens5",
  ownAddress: "192.168.0.2",
  peerAddress: "192.168.0.3",
  virtualRouterId: 51,
};

/** keepalived's blocks as { "name": ["line", ...] }, nested blocks flattened by their own name. */
function blocks(conf: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const stack: string[] = [];
  for (const raw of conf.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    if (line.endsWith("{")) {
      stack.push(line.slice(0, -1).trim());
      out.set(stack[stack.length - 1], []);
    } else if (line === "}") stack.pop();
    else out.get(stack[stack.length - 1])!.push(line);
  }
  if (stack.length) throw new Error(`unclosed block ${stack.join(" > ")}`);
  return out;
}

test("snapshot: gateway A", () => {
  expect(renderKeepalivedConf(HUB_A)).toMatchSnapshot();
});

test("unicast VRRP to the other gateway only, from this gateway's private address, never multicast", () => {
  const b = blocks(renderKeepalivedConf(HUB_A));
  const instance = b.get("vrrp_instance wg_s2s_hub")!;
  expect(instance).toContain("unicast_src_ip 192.168.0.2");
  expect(b.get("unicast_peer")).toEqual(["192.168.0.3"]);
  expect(instance).toContain("interface ens5");
  expect(instance).toContain("virtual_router_id 51");
  // No address on the private network: VRRP here only elects.
  expect(b.get("virtual_ipaddress")).toEqual([`${masterMarker(51)}/32 dev lo scope host`]);
});

test("no flap back: both start BACKUP with nopreempt and the same base priority; the holder weighs more", () => {
  const a = blocks(renderKeepalivedConf(HUB_A));
  const bConf = blocks(
    renderKeepalivedConf({ ...HUB_A, name: "hub-b", ownAddress: "192.168.0.3", peerAddress: "192.168.0.2" }),
  );
  for (const b of [a, bConf]) {
    const instance = b.get("vrrp_instance wg_s2s_hub")!;
    expect(instance).toContain("state BACKUP");
    expect(instance).toContain("nopreempt");
    expect(instance).toContain("priority 100");
    expect(b.get("vrrp_script chk_holder")).toContain(`weight ${HOLDER_WEIGHT}`);
    // chk_tunnel has no weight: failing it is FAULT, which hands over.
    expect(b.get("vrrp_script chk_tunnel")!.some((l) => l.startsWith("weight"))).toBe(false);
    expect(b.get("track_script")).toEqual(["chk_holder", "chk_tunnel"]);
  }
  // The holder's priority must beat the other's base even at the highest allowed base.
  expect(100 + HOLDER_WEIGHT).toBeLessThanOrEqual(254);
});

test("every state change runs the agent; FAULT and STOP take the tunnel down like BACKUP", () => {
  const instance = blocks(renderKeepalivedConf(HUB_A)).get("vrrp_instance wg_s2s_hub")!;
  expect(instance).toContain('notify_master "/usr/local/sbin/wg-s2s-ha master"');
  expect(instance).toContain('notify_backup "/usr/local/sbin/wg-s2s-ha backup"');
  expect(instance).toContain('notify_fault "/usr/local/sbin/wg-s2s-ha backup"');
  expect(instance).toContain('notify_stop "/usr/local/sbin/wg-s2s-ha backup"');
  const global = blocks(renderKeepalivedConf(HUB_A)).get("global_defs")!;
  expect(global).toEqual(["router_id hub-a", "script_user root", "enable_script_security"]);
});

test.each([
  [{ ownAddress: "192.168.0.3" }, /both 192\.168\.0\.3: give each gateway its own/],
  [{ peerAddress: "192.168.0.3/24" }, /must be a bare address/],
  [{ virtualRouterId: 0 }, /virtualRouterId/],
  [{ virtualRouterId: 256 }, /virtualRouterId/],
  [{ priority: 250 }, /priority/],
  [{ interface: "ens5\n}" }, /not an interface name/],
  [{ name: "hub a" }, /name/],
  [{ agentPath: "/usr/local/sbin/wg-s2s-ha; reboot" }, /not a plain absolute path/],
])("refuses %j", (override, message) => {
  expect(() => renderKeepalivedConf({ ...HUB_A, ...override } as KeepalivedSpec)).toThrow(message);
});
