/**
 * One qemu VM per host: direct kernel boot from the cached image, a qcow2 overlay, the
 * NoCloud seed as a second disk, NICs on taps inside the lab's namespace, the serial
 * console in a file. KVM is used when it actually boots a kernel here, TCG otherwise.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { shQuote } from "../../rendering/verificationScripts";
import { run, runOk, sleep } from "../proc";
import type { VmNic } from "./seed";

export type Accel = "kvm" | "tcg";

export interface VmSpec {
  name: string;
  netns: string;
  kernel: string;
  initrd: string;
  /** Base image; each VM writes to its own overlay. */
  baseImage: string;
  dir: string;
  seedIso: string;
  nics: (VmNic & { tap: string })[];
  accel: Accel;
  memoryMiB?: number;
  /**
   * A saved running state (lab/vm/savedState.ts) to resume instead of booting: qemu loads
   * it before the guest runs and waits paused for `resumeVm`. The rest of the spec must
   * describe the same machine the state was saved from.
   */
  incomingState?: string;
}

export interface RunningVm {
  name: string;
  pid: number;
  overlay: string;
  serialLog: string;
  qmpSocket: string;
  startedAt: number;
  process: ChildProcess;
  /** Resolves with qemu's exit code. */
  exited: Promise<number | null>;
  /** "boot": booted from its kernel; "saved-state": resumed from a saved running state. */
  origin: "boot" | "saved-state";
}

/**
 * no_timer_check: under emulation on a busy machine the kernel's IO-APIC timer check can
 * fail and panic ("IO-APIC + timer doesn't work!"); cloud images set it for the same reason.
 * wireguard.dyndbg=+p: the WireGuard module logs its handshakes to the kernel log, with
 * boot-relative timestamps (the bench's boot-to-first-handshake). Lab instrumentation only.
 */
export const KERNEL_CMDLINE = "root=/dev/vda rw console=ttyS0 net.ifnames=1 no_timer_check wireguard.dyndbg=+p";

export function qemuArgs(
  spec: VmSpec,
  files: { overlay: string; serialLog: string; qmpSocket: string; pidFile: string },
): string[] {
  const args = [
    "-name",
    spec.name,
    "-machine",
    "pc",
    "-accel",
    spec.accel,
    ...(spec.accel === "kvm" ? ["-cpu", "host,-arch-capabilities"] : []),
    "-smp",
    "1",
    "-m",
    String(spec.memoryMiB ?? 1024),
    "-kernel",
    spec.kernel,
    "-initrd",
    spec.initrd,
    "-append",
    KERNEL_CMDLINE,
    "-drive",
    `file=${files.overlay},if=none,id=root,format=qcow2`,
    "-device",
    "virtio-blk-pci,drive=root,addr=0x3",
    "-drive",
    `file=${spec.seedIso},if=none,id=seed,format=raw,readonly=on`,
    "-device",
    "virtio-blk-pci,drive=seed,addr=0x4",
    // Entropy at boot: sshd host keys and cloud-init must not stall under emulation.
    "-device",
    "virtio-rng-pci,addr=0x6",
  ];
  for (const nic of spec.nics) {
    args.push(
      "-netdev",
      `tap,id=${nic.id},ifname=${nic.tap},script=no,downscript=no`,
      "-device",
      `virtio-net-pci,netdev=${nic.id},mac=${nic.mac},addr=0x${nic.pciSlot.toString(16)}`,
    );
  }
  args.push(
    "-nodefaults",
    "-vga",
    "none",
    "-display",
    "none",
    "-serial",
    `file:${files.serialLog}`,
    "-qmp",
    `unix:${files.qmpSocket},server=on,wait=off`,
    "-pidfile",
    files.pidFile,
  );
  // exec: rather than file: (qemu 7.2, Debian 12, has no file: migration URI).
  if (spec.incomingState) args.push("-incoming", `exec:cat ${shQuote(spec.incomingState)}`);
  return args;
}

export async function startVm(spec: VmSpec): Promise<RunningVm> {
  fs.mkdirSync(spec.dir, { recursive: true });
  const files = {
    overlay: path.join(spec.dir, "overlay.qcow2"),
    serialLog: path.join(spec.dir, "serial.log"),
    qmpSocket: path.join(spec.dir, "qmp.sock"),
    pidFile: path.join(spec.dir, "qemu.pid"),
  };
  fs.rmSync(files.overlay, { force: true });
  await runOk(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", spec.baseImage, files.overlay], {
    timeoutMs: 30_000,
  });
  const stderrLog = fs.openSync(path.join(spec.dir, "qemu.stderr"), "w");
  // `ip netns exec` execs qemu in place, so the child's pid is qemu's.
  const child = spawn("ip", ["netns", "exec", spec.netns, "qemu-system-x86_64", ...qemuArgs(spec, files)], {
    stdio: ["ignore", "ignore", stderrLog],
  });
  fs.closeSync(stderrLog);
  if (!child.pid) throw new Error(`${spec.name}: qemu did not start`);
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return {
    name: spec.name,
    pid: child.pid,
    overlay: files.overlay,
    serialLog: files.serialLog,
    qmpSocket: files.qmpSocket,
    startedAt: Date.now(),
    process: child,
    exited,
    origin: spec.incomingState ? "saved-state" : "boot",
  };
}

/**
 * Once qemu holds its disks open, their names can go: the overlay and the seed carry the
 * WireGuard keys, and an unlinked file vanishes with the process, even after a SIGKILL.
 * A guest reboot or reset reuses the open files. Returns false if qemu never opened them.
 */
export async function unlinkOnceOpen(pid: number, files: readonly string[], timeoutMs = 30_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const wanted = new Set(files.map((f) => path.resolve(f)));
  while (Date.now() < deadline) {
    const open = new Set<string>();
    try {
      for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
        try {
          open.add(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
        } catch {
          /* fd closed meanwhile */
        }
      }
    } catch {
      return false; // qemu is gone
    }
    if ([...wanted].every((f) => open.has(f))) {
      for (const f of wanted) fs.rmSync(f, { force: true });
      return true;
    }
    await sleep(250);
  }
  return false;
}

/** Ends a VM by pid: SIGTERM, then SIGKILL after a bounded wait. */
export async function stopVm(vm: RunningVm, graceMs = 5000): Promise<void> {
  if (vm.process.exitCode !== null || vm.process.signalCode !== null) return;
  try {
    process.kill(vm.pid, "SIGTERM");
  } catch {
    return;
  }
  const done = await Promise.race([vm.exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!done) {
    try {
      process.kill(vm.pid, "SIGKILL");
    } catch {
      /* already gone */
    }
    await Promise.race([vm.exited, sleep(graceMs)]);
  }
}

/** Sends one QMP command (e.g. "system_reset") and returns the reply line. */
export function qmp(
  socketPath: string,
  command: string,
  timeoutMs = 10_000,
  args?: Record<string, unknown>,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(socketPath);
    let buffer = "";
    let sent = false;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`QMP ${command}: no reply within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on("data", (d) => {
      buffer += d.toString();
      const lines = buffer.split("\n");
      buffer = lines.pop() ?? "";
      for (const line of lines) {
        if (line.includes('"QMP"')) {
          sock.write(JSON.stringify({ execute: "qmp_capabilities" }) + "\n");
        } else if (line.includes('"return"') && !sent) {
          sent = true;
          sock.write(JSON.stringify(args ? { execute: command, arguments: args } : { execute: command }) + "\n");
        } else if ((line.includes('"return"') || line.includes('"error"')) && sent) {
          clearTimeout(timer);
          sock.end();
          resolve(line);
        }
      }
    });
    sock.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** The `return` of a QMP reply line, or an Error with qemu's `desc`. */
export function qmpReturn(line: string): unknown {
  const reply = JSON.parse(line) as { return?: unknown; error?: { desc?: string } };
  if (reply.error) throw new Error(`QMP: ${reply.error.desc ?? line}`);
  return reply.return;
}

async function qmpStatus(vm: RunningVm): Promise<string | undefined> {
  try {
    return (qmpReturn(await qmp(vm.qmpSocket, "query-status")) as { status?: string }).status;
  } catch {
    return undefined; // socket not there yet
  }
}

/**
 * Resumes a VM started with `incomingState` once qemu has loaded the state (status
 * "paused"; "inmigrate" while loading). Bounded; throws if qemu exits or never gets there.
 */
export async function resumeVm(vm: RunningVm, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (vm.process.exitCode !== null) throw new Error(`${vm.name}: qemu exited while loading its saved state`);
    const status = await qmpStatus(vm);
    if (status === "paused") break;
    if (status === "running") return;
    if (Date.now() > deadline)
      throw new Error(`${vm.name}: saved state not loaded within ${timeoutMs / 1000} s (status ${status ?? "?"})`);
    await sleep(500);
  }
  qmpReturn(await qmp(vm.qmpSocket, "cont"));
}

/**
 * Saves a VM's running state (RAM and devices) to `stateFile` and ends qemu: the guest is
 * stopped first so the state and the disks it was writing agree (qemu flushes them when the
 * migration completes). Bounded; throws on a failed or stalled migration.
 */
export async function saveVmState(vm: RunningVm, stateFile: string, timeoutMs = 300_000): Promise<void> {
  qmpReturn(await qmp(vm.qmpSocket, "stop"));
  qmpReturn(await qmp(vm.qmpSocket, "migrate", 10_000, { uri: `exec:cat > ${shQuote(stateFile)}` }));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = qmpReturn(await qmp(vm.qmpSocket, "query-migrate")) as { status?: string; "error-desc"?: string };
    if (info.status === "completed") break;
    if (info.status === "failed" || info.status === "cancelled")
      throw new Error(`${vm.name}: saving its state ${info.status}: ${info["error-desc"] ?? "no reason given"}`);
    if (Date.now() > deadline) throw new Error(`${vm.name}: saving its state took over ${timeoutMs / 1000} s`);
    await sleep(500);
  }
  qmpReturn(await qmp(vm.qmpSocket, "quit"));
  await Promise.race([vm.exited, sleep(30_000)]);
}

/**
 * KVM is present here but fails on nested CPU features (the vCPU dies with "KVM internal
 * error" or an MSR assertion). Only a kernel that prints its banner proves it works.
 */
export async function probeKvm(
  kernel: string,
  dir: string,
  timeoutMs = 15_000,
): Promise<{ ok: boolean; reason: string }> {
  if (!fs.existsSync("/dev/kvm")) return { ok: false, reason: "no /dev/kvm" };
  fs.mkdirSync(dir, { recursive: true });
  const serial = path.join(dir, "kvm-probe.serial");
  fs.rmSync(serial, { force: true });
  const r = await run(
    [
      "timeout",
      String(Math.ceil(timeoutMs / 1000)),
      "qemu-system-x86_64",
      "-accel",
      "kvm",
      "-cpu",
      "host,-arch-capabilities",
      "-m",
      "256",
      "-nodefaults",
      "-display",
      "none",
      "-no-reboot",
      "-serial",
      `file:${serial}`,
      "-kernel",
      kernel,
      // No root: the kernel panics at once, which ends qemu (-no-reboot) as soon as it has proven itself.
      "-append",
      "console=ttyS0 panic=1",
    ],
    { timeoutMs: timeoutMs + 5000 },
  );
  const banner = fs.existsSync(serial) && /Linux version/.test(fs.readFileSync(serial, "utf8"));
  if (banner) return { ok: true, reason: "kernel booted under KVM" };
  const lines = r.stderr.trim().split("\n").filter(Boolean);
  // Prefer qemu's own diagnosis ("KVM internal error", an MSR assertion) over timeout(1)'s kill notice.
  const why =
    lines.find((l) => /kvm|msr|assert|error/i.test(l) && !/terminating on signal/.test(l)) ??
    `no kernel output within ${timeoutMs / 1000} s`;
  return { ok: false, reason: `KVM unusable: ${why}` };
}
