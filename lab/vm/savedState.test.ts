/** @tier unit */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { defaultHostStart } from "./boot";
import { qemuArgs, type VmSpec } from "./qemu";
import {
  findSavedState,
  machineArgs,
  padSeed,
  reseedScript,
  restoreSpec,
  SAVED_STATE_SEED_BYTES,
  savedStateKey,
  type SavedStateRecipe,
} from "./savedState";
import type { LabNode } from "../topology";

const recipe: SavedStateRecipe = {
  image: "d23f806470e0726a",
  qemu: "QEMU emulator version 7.2.22",
  accel: "tcg",
  machine: ["-name", "onprem-th", "-m", "1024"],
  networkConfig: "version: 2\n",
  environment: "dhcp-host=02:00:00:00:03:01,192.168.1.3,onprem-th\n",
  prepare: "sync",
  genericUserData: "#cloud-config\n{}\n",
  seedBytes: SAVED_STATE_SEED_BYTES,
};

describe("saved running states", () => {
  it("are keyed on everything the guest saw: image, qemu, machine, network, scripts", () => {
    const base = savedStateKey(recipe);
    expect(savedStateKey({ ...recipe })).toBe(base);
    for (const changed of [
      { image: "0000000000000000" },
      { qemu: "QEMU emulator version 8.2.2" },
      { accel: "kvm" as const },
      { machine: ["-name", "onprem-th", "-m", "2048"] },
      { networkConfig: "version: 2\nethernets: {}\n" },
      { environment: "dhcp-host=02:00:00:00:03:01,192.168.1.4,onprem-th\n" },
      { prepare: "true" },
      { genericUserData: "#cloud-config\nruncmd: [true]\n" },
    ])
      expect(savedStateKey({ ...recipe, ...changed })).not.toBe(base);
  });

  it("describe the machine without the run's own paths, so every run computes the same key", () => {
    const spec = (run: string): VmSpec => ({
      name: "onprem-th",
      netns: `${run}-switch`,
      kernel: "/c/img/vmlinuz",
      initrd: "/c/img/initrd.img",
      baseImage: "/BASE",
      dir: `/r/${run}/onprem-th`,
      seedIso: "/SEED",
      nics: [{ id: "private", mac: "02:00:00:00:03:01", pciSlot: 5, tap: "tap3v" }],
      accel: "tcg",
    });
    const files = { overlay: "/RUN/o", serialLog: "/RUN/s", qmpSocket: "/RUN/q", pidFile: "/RUN/p" };
    const paths = { kernel: "/c/img/vmlinuz", initrd: "/c/img/initrd.img" };
    const a = machineArgs(qemuArgs(spec("wgvm000001"), files), paths);
    expect(a).toEqual(machineArgs(qemuArgs(spec("wgvm0000ff"), files), paths));
    expect(a).toContain("<kernel>");
    expect(a.join(" ")).not.toContain("/c/img");
    // The NIC's MAC and slot are part of it: the guest saw them.
    expect(a).toContain("virtio-net-pci,netdev=private,mac=02:00:00:00:03:01,addr=0x5");
  });

  it("resume the same machine from the state's disk and migration stream", () => {
    const spec = restoreSpec(
      {
        key: "k",
        dir: "/s",
        disk: "/s/disk.qcow2",
        state: "/s/state.bin",
        sshKey: "/s/ssh-key",
        built: false,
        buildSeconds: 0,
      },
      {
        name: "onprem-th",
        netns: "ns",
        kernel: "/k",
        initrd: "/i",
        dir: "/r",
        seedIso: "/r/seed.iso",
        nics: [],
        accel: "tcg",
      },
    );
    const args = qemuArgs(spec, { overlay: "/r/o", serialLog: "/r/s", qmpSocket: "/r/q", pidFile: "/r/p" });
    expect(spec.baseImage).toBe("/s/disk.qcow2");
    expect(args.slice(-2)).toEqual(["-incoming", "exec:cat '/s/state.bin'"]);
    // A booted VM has no -incoming.
    expect(
      qemuArgs(
        { ...spec, incomingState: undefined },
        { overlay: "/r/o", serialLog: "/r/s", qmpSocket: "/r/q", pidFile: "/r/p" },
      ),
    ).not.toContain("-incoming");
  });

  it("are found only when complete", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "saved-state-"));
    try {
      const dir = path.join(root, "states", "abc");
      fs.mkdirSync(dir, { recursive: true });
      for (const f of ["disk.qcow2", "state.bin", "ssh-key"]) fs.writeFileSync(path.join(dir, f), "");
      expect(findSavedState(root, "abc")).toBeUndefined();
      fs.writeFileSync(path.join(dir, "recipe.json"), "{}");
      expect(findSavedState(root, "abc")).toMatchObject({ disk: path.join(dir, "disk.qcow2"), built: false });
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it("give every restored host's seed the size the saved guest saw, and refuse a bigger one", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "saved-state-"));
    try {
      const iso = path.join(root, "seed.iso");
      fs.writeFileSync(iso, Buffer.alloc(1000, 1));
      padSeed(iso);
      expect(fs.statSync(iso).size).toBe(SAVED_STATE_SEED_BYTES);
      expect(
        fs
          .readFileSync(iso)
          .subarray(0, 1000)
          .every((b) => b === 1),
      ).toBe(true);
      fs.writeFileSync(iso, Buffer.alloc(SAVED_STATE_SEED_BYTES + 1));
      expect(() => padSeed(iso)).toThrow(/more than a restored host's/);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it("re-seed: clock first (timers held), the seed disk's cache dropped, the state's key removed, then every cloud-init stage in boot order", () => {
    const script = reseedScript(1_800_000_000);
    const at = (needle: string) => {
      const i = script.indexOf(needle);
      expect(i).toBeGreaterThanOrEqual(0);
      return i;
    };
    expect(at("systemctl stop $timers")).toBeLessThan(at("date -s @1800000000"));
    expect(at("date -s")).toBeLessThan(at("systemctl start $timers"));
    expect(at("blockdev --flushbufs /dev/vdb")).toBeLessThan(at("cloud-init clean"));
    expect(at("rm -f /root/.ssh/authorized_keys")).toBeLessThan(at("cloud-init clean"));
    const stages = ["cloud-init init --local", "cloud-init init &&", "--mode=config", "--mode=final"].map(at);
    expect([...stages].sort((a, b) => a - b)).toEqual(stages);
    expect(script).toMatch(/tee \/dev\/console/);
    expect(() => reseedScript(0)).toThrow();
    expect(() => reseedScript(1.5)).toThrow();
  });
});

describe("which hosts resume from a saved state", () => {
  const node = (site: string, role: "gateway" | "test-host") => ({ id: `${site}-${role}`, site, role }) as LabNode;
  it("gateways and the hub's test host boot; other sites' test hosts resume", () => {
    expect(defaultHostStart(node("scaleway", "gateway"), "scaleway")).toBe("boot");
    expect(defaultHostStart(node("onprem", "gateway"), "scaleway")).toBe("boot");
    expect(defaultHostStart(node("scaleway", "test-host"), "scaleway")).toBe("boot");
    expect(defaultHostStart(node("onprem", "test-host"), "scaleway")).toBe("saved-state");
  });
});
