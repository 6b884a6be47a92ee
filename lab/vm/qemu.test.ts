/** @tier unit */
import { KERNEL_CMDLINE, qemuArgs, type VmSpec } from "./qemu";

const spec: VmSpec = {
  name: "hub-gateway",
  netns: "wgvm000000-net",
  kernel: "/c/vmlinuz",
  initrd: "/c/initrd.img",
  baseImage: "/c/rootfs.qcow2",
  dir: "/r/hub-gateway",
  seedIso: "/r/hub-gateway/seed.iso",
  nics: [
    { id: "public", mac: "52:54:00:00:01:02", pciSlot: 2, staticAddress: "198.51.100.10/24", tap: "tap0p" },
    { id: "private", mac: "02:00:00:00:00:01", pciSlot: 5, tap: "tap0v" },
  ],
  accel: "tcg",
};
const files = { overlay: "/r/o.qcow2", serialLog: "/r/serial.log", qmpSocket: "/r/qmp.sock", pidFile: "/r/qemu.pid" };

describe("qemu command line", () => {
  const args = qemuArgs(spec, files);
  const after = (flag: string) => args.filter((_, i) => args[i - 1] === flag);

  it("boots the image's kernel directly on the overlay, with the seed as a second disk", () => {
    expect(after("-kernel")).toEqual(["/c/vmlinuz"]);
    expect(after("-append")).toEqual([KERNEL_CMDLINE]);
    expect(KERNEL_CMDLINE).toMatch(/console=ttyS0/);
    expect(after("-drive")).toEqual([
      "file=/r/o.qcow2,if=none,id=root,format=qcow2",
      "file=/r/hub-gateway/seed.iso,if=none,id=seed,format=raw,readonly=on",
    ]);
    expect(after("-m")).toEqual(["1024"]);
    expect(after("-smp")).toEqual(["1"]);
  });

  it("puts NICs on the lab's taps in Scaleway's PCI slots (ens2 public, ens5 private), never on user-mode networking", () => {
    expect(after("-netdev")).toEqual([
      "tap,id=public,ifname=tap0p,script=no,downscript=no",
      "tap,id=private,ifname=tap0v,script=no,downscript=no",
    ]);
    expect(after("-device")).toContain("virtio-net-pci,netdev=private,mac=02:00:00:00:00:01,addr=0x5");
    expect(after("-device")).toContain("virtio-net-pci,netdev=public,mac=52:54:00:00:01:02,addr=0x2");
    expect(args.join(" ")).not.toMatch(/-nic|user,|hostfwd/);
    expect(args).toContain("-nodefaults");
  });

  it("uses TCG without a host CPU model, and KVM with one", () => {
    expect(after("-accel")).toEqual(["tcg"]);
    expect(args).not.toContain("-cpu");
    const kvm = qemuArgs({ ...spec, accel: "kvm" }, files);
    expect(kvm[kvm.indexOf("-accel") + 1]).toBe("kvm");
    expect(kvm[kvm.indexOf("-cpu") + 1]).toMatch(/^host/);
  });
});
