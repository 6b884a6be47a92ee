/**
 * Saved running states: a host whose own boot is not what any check is about (a remote
 * site's test host; an operator's host that already runs when the bundle arrives) resumes
 * from a state saved once, instead of paying a boot under software emulation in every run.
 *
 * A state is a booted guest with no per-run part: it booted from a generic NoCloud seed
 * (empty cloud-config, the state's own SSH key), got its address from the same DHCP
 * stand-in config, was stopped, and its RAM and devices were written with qemu's
 * migration stream next to the disk it had written. It is cached like the image, under
 * /var/cache/scaleway-wireguard-s2s/vm/states/<key>/, keyed on everything the guest saw:
 * the image, qemu's version and accelerator, the machine (qemu arguments), its
 * network-config and the DHCP stand-in it talked to, and the scripts below.
 *
 * What differs per run is applied after the resume (`reseedScript`): the clock (the guest
 * resumes at the time it was saved), this run's seed (qemu gives the guest this run's
 * cidata disk, the same size as the generic one, in the same slot), then cloud-init runs
 * every stage on it as it does at boot: new instance, the program's user-data byte for
 * byte, its SSH keys (the state's key is removed first). Its output goes to the serial
 * console, as at boot, so the same console wait sees cloud-init finish.
 *
 *   savedStateRecipe(...) -> savedStateKey(recipe) -> findSavedState | buildSavedState
 *   restoreSpec(state, spec) -> startVm -> resumeVm -> reseed over SSH
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { CLOUD_INIT_FINISHED } from "../parsers";
import { pidAlive, runOk, sleep } from "../proc";
import { releaseCacheLock, takeCacheLock } from "./cacheLock";
import type { SshTarget } from "./guest";
import { ssh, sshScript } from "./guest";
import { debInstallScript, type DebFile } from "./debs";
import { saveVmState, startVm, stopVm, type Accel, type RunningVm, type VmSpec } from "./qemu";
import { renderMetaData, writeSeedIso } from "./seed";

/** Every seed of a restored host has this size: the guest saw a disk of it when the state was saved. */
export const SAVED_STATE_SEED_BYTES = 4 * 1024 * 1024;

/** The generic boot's user-data: nothing of any run (no keys, no config). */
export const GENERIC_USER_DATA = "#cloud-config\n{}\n";

/**
 * Run over SSH before the state is saved: the guest has finished its boot, and what its
 * page cache holds of the seed disk is dropped (the disk is another file after a restore).
 */
export const PREPARE_SCRIPT = [
  "set -u",
  "timeout 600 cloud-init status --wait >/dev/null 2>&1",
  "cloud-init status | sed -n 's/^status: /status=/p'",
  "sync",
  "echo 3 > /proc/sys/vm/drop_caches",
  "echo prepared",
].join("\n");

/**
 * The clock step every resumed host gets first. `epochSeconds` is the host's clock: a
 * running host keeps time (NTP), a resumed one would be as old as its state. The active
 * timers are stopped around the step, so daily jobs do not all fire at once for days that
 * never passed.
 */
export function clockStepScript(epochSeconds: number): string {
  if (!Number.isInteger(epochSeconds) || epochSeconds <= 0) throw new Error(`bad clock value ${epochSeconds}`);
  return [
    "set -u",
    "timers=$(systemctl list-units --type=timer --state=active --plain --no-legend | awk '{print $1}')",
    "systemctl stop $timers",
    `date -s @${epochSeconds} >/dev/null`,
    "systemctl start $timers",
  ].join("\n");
}

/**
 * Run over SSH right after the resume, with the state's key: the clock step, then this
 * run's seed, as the guest reads it at boot.
 */
export function reseedScript(epochSeconds: number): string {
  return [
    clockStepScript(epochSeconds),
    // The seed disk's content changed under the guest: forget every cached block of it.
    "blockdev --flushbufs /dev/vdb",
    "echo 3 > /proc/sys/vm/drop_caches",
    // Only this run's keys (from its user-data and meta-data) may log in from now on.
    "rm -f /root/.ssh/authorized_keys",
    // All stages, in boot order, on a clean instance; on the console as at boot.
    "( cloud-init clean --logs && cloud-init init --local && cloud-init init" +
      ' && cloud-init modules --mode=config && cloud-init modules --mode=final; echo "reseed-exit=$?" ) 2>&1 | tee /dev/console',
    // This run's DHCP stand-in hands out the same lease; take it from this one.
    "networkctl renew ens5",
  ].join("\n");
}

export interface SavedStateRecipe {
  image: string;
  qemu: string;
  accel: Accel;
  /** qemu's arguments for the host, with this run's paths replaced by placeholders. */
  machine: string[];
  networkConfig: string;
  /** What answers the guest on its network (the DHCP stand-in's config, paths removed). */
  environment: string;
  prepare: string;
  genericUserData: string;
  seedBytes: number;
  /**
   * A host that is more than the image (an operator's host): packages it has (Debian's
   * files, by SHA-256) and the script that sets it up, run once after the generic boot.
   */
  setup?: { packages: { package: string; sha256: string }[]; script: string };
}

/** The line a setup script prints last when it succeeded. */
export const SETUP_DONE = "saved-state-setup-done";

export function savedStateKey(recipe: SavedStateRecipe): string {
  return createHash("sha256").update(JSON.stringify(recipe)).digest("hex").slice(0, 16);
}

/** qemu's arguments with the run's own paths (disks, logs, sockets, state) as placeholders. */
export function machineArgs(args: readonly string[], runPaths: Record<string, string>): string[] {
  const byLength = Object.entries(runPaths).sort((a, b) => b[1].length - a[1].length);
  return args.map((a) => byLength.reduce((text, [name, p]) => text.split(p).join(`<${name}>`), a));
}

export async function qemuVersion(): Promise<string> {
  const r = await runOk(["qemu-system-x86_64", "--version"], { timeoutMs: 10_000 });
  return r.stdout.split("\n")[0].trim();
}

export interface SavedState {
  key: string;
  dir: string;
  /** The disk as the guest had written it; each restore writes to its own overlay on it. */
  disk: string;
  /** qemu's migration stream: RAM and devices. */
  state: string;
  /** Private key the state's guest lets in until the reseed removes it. */
  sshKey: string;
  built: boolean;
  buildSeconds: number;
}

const STATES = "states";

function stateFiles(dir: string) {
  return {
    disk: path.join(dir, "disk.qcow2"),
    state: path.join(dir, "state.bin"),
    sshKey: path.join(dir, "ssh-key"),
    recipe: path.join(dir, "recipe.json"),
  };
}

/** The cached state for `key`, or undefined when there is none (or only half of one). */
export function findSavedState(cacheRoot: string, key: string): SavedState | undefined {
  const dir = path.join(cacheRoot, STATES, key);
  const f = stateFiles(dir);
  if (![f.disk, f.state, f.sshKey, f.recipe].every((p) => fs.existsSync(p))) return undefined;
  return { key, dir, disk: f.disk, state: f.state, sshKey: f.sshKey, built: false, buildSeconds: 0 };
}

/** A spec that resumes `state` instead of booting: same machine, disks from the state. */
export function restoreSpec(state: SavedState, spec: Omit<VmSpec, "baseImage" | "incomingState">): VmSpec {
  return { ...spec, baseImage: state.disk, incomingState: state.state };
}

/** Pads a seed image to the size every seed of a restored host has. */
export function padSeed(iso: string): void {
  const size = fs.statSync(iso).size;
  if (size > SAVED_STATE_SEED_BYTES)
    throw new Error(`seed ${iso} is ${size} bytes, more than a restored host's ${SAVED_STATE_SEED_BYTES}`);
  fs.truncateSync(iso, SAVED_STATE_SEED_BYTES);
}

export interface BuildSavedStateOptions {
  cacheRoot: string;
  recipe: SavedStateRecipe;
  hostname: string;
  /** The machine to boot: everything but its disks. */
  spec: Omit<VmSpec, "baseImage" | "seedIso" | "dir" | "incomingState">;
  baseImage: string;
  /** Where the build's serial log and qemu output stay (the run's directory). */
  workDir: string;
  /** How the lab reaches the guest over SSH with a given key. */
  target: (keyFile: string) => SshTarget;
  /** Called with the booting VM (so the run's cleanup can stop it) and with undefined once it is gone. */
  track: (vm: RunningVm | undefined) => void;
  log: (line: string) => void;
  timeoutMs: number;
  /** The files of `recipe.setup.packages`, in that order. */
  debs?: readonly DebFile[];
}

/**
 * Boots the host once from the generic seed, waits for its boot to finish, and saves it.
 * One builder per key on the machine; a lock left by a dead process is taken over.
 */
export async function buildSavedState(o: BuildSavedStateOptions): Promise<SavedState> {
  const key = savedStateKey(o.recipe);
  const root = path.join(o.cacheRoot, STATES);
  const dir = path.join(root, key);
  fs.mkdirSync(root, { recursive: true });
  const started = Date.now();
  if (
    !(await takeCacheLock(dir, () => findSavedState(o.cacheRoot, key) !== undefined, o.timeoutMs, `saved state ${key}`))
  )
    return findSavedState(o.cacheRoot, key)!;

  const tmp = `${dir}.tmp-${process.pid}`;
  // What a killed build left (its pid is dead; the lock above was taken over).
  for (const entry of fs.readdirSync(root)) {
    const m = /^([0-9a-f]+)\.tmp-(\d+)$/.exec(entry);
    if (m && m[1] === key && !pidAlive(Number(m[2])))
      fs.rmSync(path.join(root, entry), { recursive: true, force: true });
  }
  let vm: RunningVm | undefined;
  try {
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp, { recursive: true, mode: 0o700 });
    const files = stateFiles(tmp);
    await runOk(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", `saved-state-${key}`, "-f", files.sshKey]);
    const workDir = path.join(o.workDir, `saved-state-${key}`);
    fs.mkdirSync(workDir, { recursive: true });
    const seedIso = path.join(workDir, "seed.iso");
    await writeSeedIso(
      path.join(workDir, "seed"),
      {
        userData: o.recipe.genericUserData,
        metaData: renderMetaData({
          instanceId: `saved-state-${key}`,
          hostname: o.hostname,
          publicKeys: [fs.readFileSync(`${files.sshKey}.pub`, "utf8").trim()],
        }),
        networkConfig: o.recipe.networkConfig,
      },
      seedIso,
    );
    fs.rmSync(path.join(workDir, "seed"), { recursive: true, force: true });
    padSeed(seedIso);
    o.log(`saved state ${key} for ${o.hostname}: booting it once from a generic seed (serial ${workDir}/serial.log)`);
    // In the run's directory, so that a sweep after a killed run finds this qemu by its command line.
    vm = await startVm({ ...o.spec, baseImage: o.baseImage, seedIso, dir: workDir });
    o.track(vm);
    const target = o.target(files.sshKey);
    const deadline = Date.now() + o.timeoutMs;
    let prepared = "";
    while (Date.now() < deadline && !prepared.includes("prepared")) {
      if (vm.process.exitCode !== null) throw new Error(`saved state ${key}: qemu exited during the boot`);
      const r = await ssh(target, PREPARE_SCRIPT, Math.max(30_000, deadline - Date.now()));
      prepared = r.stdout;
      if (!prepared.includes("prepared")) await sleep(5000);
    }
    if (!/status=done/.test(prepared))
      throw new Error(`saved state ${key}: the generic boot did not finish cleanly (${prepared.trim() || "no SSH"})`);
    if (o.recipe.setup) await runSetup(target, o.recipe.setup, o.debs ?? [], key);
    await saveVmState(vm, files.state);
    o.track(undefined);
    // The overlay the guest wrote is the state's disk; overlays of later runs only read it.
    fs.copyFileSync(path.join(workDir, "overlay.qcow2"), files.disk);
    fs.chmodSync(files.disk, 0o444);
    for (const f of ["overlay.qcow2", "seed.iso", "qmp.sock"]) fs.rmSync(path.join(workDir, f), { force: true });
    fs.writeFileSync(files.recipe, JSON.stringify({ key, ...o.recipe }, null, 2));
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
    const seconds = (Date.now() - started) / 1000;
    o.log(
      `saved state ${key} built in ${seconds.toFixed(0)} s (${(fs.statSync(path.join(dir, "state.bin")).size / 2 ** 20).toFixed(0)} MiB)`,
    );
    const state = findSavedState(o.cacheRoot, key)!;
    return { ...state, built: true, buildSeconds: seconds };
  } finally {
    if (vm) {
      await stopVm(vm);
      o.track(undefined);
    }
    fs.rmSync(tmp, { recursive: true, force: true });
    releaseCacheLock(dir);
  }
}

/**
 * This run's clock, seed and keys, then cloud-init on them. Returns cloud-init's exit code
 * (its errors are the cloud-init checks' business, as after a boot); throws when cloud-init
 * never reached its final stage, since then no console line will ever say it finished.
 */
export async function reseed(target: SshTarget, timeoutMs: number): Promise<number> {
  const r = await ssh(target, reseedScript(Math.floor(Date.now() / 1000)), timeoutMs, 0);
  const exit = /reseed-exit=(\d+)/.exec(r.stdout)?.[1];
  if (exit === undefined || !CLOUD_INIT_FINISHED.test(r.stdout)) {
    const tail = `${r.stdout}\n${r.stderr}`.trim().split("\n").slice(-8).join(" | ");
    throw new Error(`re-seeding ${target.address}: cloud-init did not finish (exit ${exit ?? "?"}): ${tail}`);
  }
  return Number(exit);
}

/** The recipe's setup on the booted guest: its packages first, then its script. */
async function runSetup(
  target: SshTarget,
  setup: NonNullable<SavedStateRecipe["setup"]>,
  debs: readonly DebFile[],
  key: string,
): Promise<void> {
  const wanted = setup.packages.map((p) => `${p.package}@${p.sha256}`).join(" ");
  const given = debs.map((d) => `${d.package}@${d.sha256}`).join(" ");
  if (wanted !== given) throw new Error(`saved state ${key}: setup wants ${wanted}, was given ${given}`);
  const r = await sshScript(target, `${debInstallScript(debs)}\n${setup.script}`, 10 * 60_000);
  if (r.code !== 0 || !r.stdout.includes(SETUP_DONE))
    throw new Error(
      `saved state ${key}: setup failed (exit ${r.code}): ${`${r.stdout}\n${r.stderr}`.trim().split("\n").slice(-6).join(" | ")}`,
    );
}

/**
 * Waits (bounded) until a resumed guest answers over SSH. Just after its resume a guest
 * catches up on its timers and, on a busy machine, drops or stalls the first connections;
 * the re-seed must not run twice, so it waits for this harmless command first.
 */
export async function waitForSsh(target: SshTarget, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    const r = await ssh(target, "true", Math.min(60_000, Math.max(10_000, deadline - Date.now())), 0);
    if (r.code === 0) return;
    last = `exit ${r.code}: ${r.stderr.trim() || "connection lost, no output"}`;
    await sleep(3000);
  }
  throw new Error(`${target.address} did not answer over SSH within ${timeoutMs / 1000} s after its resume (${last})`);
}

/** A resumed host that runs nothing of ours (an operator's host): only its clock is brought up to date. */
export async function resumeClock(target: SshTarget, timeoutMs: number, attempts = 4): Promise<void> {
  let last = "";
  for (let i = 0; i < attempts; i++) {
    // Each attempt steps to the time it runs at: a guest that stalled just after its resume
    // drops the first connections (ssh's ServerAlive gives up), and stepping again is harmless.
    const r = await ssh(target, clockStepScript(Math.floor(Date.now() / 1000)), timeoutMs, 0);
    if (r.code === 0) return;
    last = `exit ${r.code}${r.timedOut ? " (timed out)" : ""}: ${r.stderr.trim() || "connection lost, no output"}`;
  }
  throw new Error(`stepping the clock of ${target.address}: ${attempts} attempts, the last ${last}`);
}
