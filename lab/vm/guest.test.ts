/** @tier unit */
import { controlPath, sshArgs, type SshTarget } from "./guest";

const t: SshTarget = { netns: "wgvm000001-onprem-vr", address: "192.168.1.3", keyFile: "/r/deploy.key" };
const after = (args: string[], flag: string) => args.filter((_, i) => args[i - 1] === flag);

describe("SSH to the VMs", () => {
  it("runs from the VM's own network's stand-in namespace, as root, with only the given key", () => {
    const args = sshArgs(t, "true");
    expect(args.slice(0, 4)).toEqual(["netns", "exec", "wgvm000001-onprem-vr", "ssh"]);
    expect(after(args, "-i")).toEqual(["/r/deploy.key"]);
    expect(args).toContain("IdentitiesOnly=yes");
    expect(args.slice(-2)).toEqual(["root@192.168.1.3", "true"]);
  });

  it("opens one connection per command unless the run shares them", () => {
    expect(controlPath(t)).toBeUndefined();
    expect(sshArgs(t, "true").join(" ")).not.toMatch(/Control/);
  });

  it("shares a connection per host and key, never across keys, namespaces or hosts", () => {
    const shared = { ...t, controlDir: "/r/ssh" };
    const p = controlPath(shared)!;
    expect(p).toMatch(/^\/r\/ssh\/[0-9a-f]{16}$/);
    expect(after(sshArgs(shared, "true"), "-o")).toEqual(
      expect.arrayContaining(["ControlMaster=auto", `ControlPath=${p}`, "ControlPersist=120"]),
    );
    expect(controlPath({ ...shared })).toBe(p);
    // A restored host is re-seeded with its saved state's key, then checked with the run's:
    // the run's commands must not ride on the saved state's login.
    expect(controlPath({ ...shared, keyFile: "/cache/states/k/ssh-key" })).not.toBe(p);
    expect(controlPath({ ...shared, netns: "wgvm000002-onprem-vr" })).not.toBe(p);
    expect(controlPath({ ...shared, address: "192.168.1.2" })).not.toBe(p);
    expect(controlPath({ ...shared, user: "ubuntu" })).not.toBe(p);
  });
});
