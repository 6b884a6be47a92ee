/**
 * Starting the VMs: one NoCloud seed and one qemu per host of the topology, each either
 * booted from its kernel or resumed from a saved running state (lab/vm/savedState.ts) and
 * re-seeded; then the waits for cloud-init (its console line, bounded, failing at once on a
 * kernel panic) and the first checks: cloud-init status and errors, and the user-data byte
 * for byte.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseCloudInitResult, parseCloudInitStatus } from "../parsers";
import { waitFor } from "../proc";
import type { LabNode, LabSite } from "../topology";
import { cloudInitFinishedUptime, kernelPanic, ssh, type SshTarget } from "./guest";
import { fetchDebs, type DebFile } from "./debs";
import { officeRouterRuleset } from "../scenarios/farEndHosts";
import { FAR_END_PACKAGES, FAR_END_UPLINK, isFarEnd, officeRouterSetupScript } from "./farEnd";
import type { VmImage } from "./image";
import { privateAddress, tapName } from "./network";
import { qemuArgs, resumeVm, startVm, unlinkOnceOpen, type Accel, type RunningVm, type VmSpec } from "./qemu";
import type { CheckFn, VmLabHostResult } from "./result";
import { recordOwner, type RunContext } from "./runState";
import {
  buildSavedState,
  findSavedState,
  GENERIC_USER_DATA,
  machineArgs,
  padSeed,
  PREPARE_SCRIPT,
  qemuVersion,
  reseed,
  restoreSpec,
  resumeClock,
  waitForSsh,
  SAVED_STATE_SEED_BYTES,
  savedStateKey,
  type SavedState,
  type SavedStateRecipe,
} from "./savedState";
import { renderMetaData, renderNetworkConfig, writeSeedIso, type VmNic } from "./seed";
import { renderVpcRouterDnsmasq } from "../standins/vpcRouter";

export const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** A host's NICs in Scaleway's PCI slots (public ens2, private ens5), on its taps. */
export function nicsOf(host: LabNode, hostIndex: number): (VmNic & { tap: string })[] {
  const nics: (VmNic & { tap: string })[] = [];
  if (host.publicNic) {
    nics.push({
      id: "public",
      mac: host.publicNic.mac,
      pciSlot: 2,
      staticAddress: host.publicNic.address,
      tap: tapName(hostIndex, "public"),
    });
  }
  nics.push({
    id: "private",
    mac: host.privateNic.mac,
    pciSlot: 5,
    // A far end's LAN address is the operator's own setting; Scaleway's NICs get theirs by DHCP.
    ...(isFarEnd(host) ? { staticAddress: host.privateNic.address } : {}),
    tap: tapName(hostIndex, "private"),
  });
  return nics;
}

/**
 * A host's NoCloud network-config: a Scaleway gateway's private NIC comes up the Scaleway
 * way (the image's udev rule), not from cloud-init; a far end has both NICs static.
 */
export const networkConfigOf = (host: LabNode, nics: readonly VmNic[]) =>
  renderNetworkConfig(host.publicNic && !isFarEnd(host) ? nics.filter((n) => n.id === "public") : nics);

/** How a host starts: booted from its kernel, or resumed from a saved running state. */
export type HostStart = "boot" | "saved-state";

/**
 * Which hosts resume from a saved state: those whose own boot no check is about. The hub's
 * test host boots (its cloud-init done is the bench's boot ratio's denominator) and so do
 * the gateways (their boot to first handshake is what the lab measures); every other site's
 * test host only has to be running, with this run's user-data, when the tunnel comes up.
 */
export function defaultHostStart(host: LabNode, hubSite: string): HostStart {
  return (host.role === "test-host" && host.site !== hubSite) || isFarEnd(host) ? "saved-state" : "boot";
}

export interface BootSpec {
  hosts: LabNode[];
  userData: Map<string, string>;
  /** Extra SSH keys through meta-data (when the program exports no deploy key). */
  labKeys: string[];
  image: VmImage;
  accel: Accel;
  switchNs: string;
  repoRoot: string;
  /** Hosts that resume from a saved state (ensureSavedStates), by host id; the others boot. */
  savedStates?: Map<string, SavedState>;
  /** How the lab reaches a host over SSH with a given key (a restored host's re-seed uses the state's). */
  sshTarget?: (host: LabNode, keyFile: string) => SshTarget;
  /** Bound on a restored host's re-seed (cloud-init's stages over SSH). */
  reseedTimeoutMs?: number;
}

/** qemu's spec of a host, without its disks: what a saved state of it must match. */
function machineSpec(spec: BootSpec, host: LabNode, i: number, dir: string): Omit<VmSpec, "baseImage" | "seedIso"> {
  return {
    name: host.id,
    netns: spec.switchNs,
    kernel: spec.image.kernel,
    initrd: spec.image.initrd,
    dir,
    nics: nicsOf(host, i),
    accel: spec.accel,
  };
}

/**
 * What a saved state of `host` depends on: the image, qemu, the machine, its
 * network-config and the DHCP stand-in it talks to, and the scripts that make it.
 */
export async function savedStateRecipeOf(
  spec: BootSpec,
  host: LabNode,
  hostIndex: number,
  site: LabSite,
  debs: readonly DebFile[] = [],
): Promise<SavedStateRecipe> {
  const m = { ...machineSpec(spec, host, hostIndex, "/RUN"), baseImage: "/BASE", seedIso: "/SEED" };
  const files = { overlay: "/RUN/overlay", serialLog: "/RUN/serial", qmpSocket: "/RUN/qmp", pidFile: "/RUN/pid" };
  return {
    image: spec.image.key,
    qemu: await qemuVersion(),
    accel: spec.accel,
    machine: machineArgs(qemuArgs(m, files), { kernel: spec.image.kernel, initrd: spec.image.initrd }),
    networkConfig: networkConfigOf(host, m.nics),
    // A far end's LAN has no DHCP: its neighbours are the lab's namespaces, with fixed addresses.
    environment: isFarEnd(host)
      ? `far end of site ${site.name}: no DHCP, LAN ${site.subnet}`
      : renderVpcRouterDnsmasq(site, { leaseFile: "-", pidFile: "-", logFile: "-" }),
    prepare: PREPARE_SCRIPT,
    genericUserData: GENERIC_USER_DATA,
    seedBytes: SAVED_STATE_SEED_BYTES,
    ...(isFarEnd(host)
      ? {
          setup: {
            packages: debs.map((d) => ({ package: d.package, sha256: d.sha256 })),
            script: officeRouterSetupScript(officeRouterRuleset(FAR_END_UPLINK)),
          },
        }
      : {}),
  };
}

/**
 * The saved state of every host in `restored`, built (once per key, on this run's network,
 * before the other VMs start) where the cache has none. Needs the run's network.
 */
export async function ensureSavedStates(
  ctx: RunContext,
  spec: BootSpec,
  restored: readonly LabNode[],
  siteOf: (host: LabNode) => LabSite,
  cacheRoot: string,
  timeoutMs: number,
): Promise<Map<string, SavedState>> {
  const states = new Map<string, SavedState>();
  for (const host of restored) {
    const i = spec.hosts.indexOf(host);
    const debs = isFarEnd(host) ? await fetchDebs(cacheRoot, FAR_END_PACKAGES) : [];
    const recipe = await savedStateRecipeOf(spec, host, i, siteOf(host), debs);
    const key = savedStateKey(recipe);
    let state = findSavedState(cacheRoot, key);
    if (state) {
      ctx.log(`${host.id}: saved state ${key} (cached)`);
    } else {
      state = await buildSavedState({
        cacheRoot,
        recipe,
        hostname: host.id,
        spec: machineSpec(spec, host, i, ctx.runDir),
        baseImage: spec.image.rootfs,
        workDir: ctx.runDir,
        target: (keyFile) => spec.sshTarget!(host, keyFile),
        track: (vm) => {
          ctx.vms = ctx.vms.filter((v) => !v.name.startsWith("saved-state:"));
          if (vm) ctx.vms.push({ ...vm, name: `saved-state:${vm.name}` });
          recordOwner(ctx);
        },
        log: ctx.log,
        timeoutMs,
        debs,
      });
    }
    states.set(host.id, state);
  }
  return states;
}

/** Per host id: why it could not be started (a restored host whose re-seed failed). */
export type StartFailures = Map<string, string>;

export interface StartedVms {
  failures: StartFailures;
  /** Per restored host: settles once it runs with this run's clock (and seed); its failure is in `failures`. */
  resumed: Map<string, Promise<void>>;
}

/**
 * Starts one VM per host, in order; each result row is appended to `hosts`. A restored
 * host's resume and re-seed go on in the background while the others boot; what fails
 * there lands in the returned map, which waitForCloudInit reads.
 */
export async function startVms(ctx: RunContext, spec: BootSpec, hostResults: VmLabHostResult[]): Promise<StartedVms> {
  const failures: StartFailures = new Map();
  const resumes = new Map<string, Promise<void>>();
  for (const [i, host] of spec.hosts.entries()) {
    const dir = path.join(ctx.runDir, host.id);
    const nics = nicsOf(host, i);
    const seedIso = path.join(dir, "seed.iso");
    const ud = spec.userData.get(host.id)!;
    const saved = spec.savedStates?.get(host.id);
    await writeSeedIso(
      path.join(dir, "seed"),
      {
        userData: ud,
        metaData: renderMetaData({
          instanceId: `${ctx.prefix}-${host.id}`,
          hostname: host.id,
          publicKeys: spec.labKeys,
        }),
        networkConfig: networkConfigOf(host, nics),
      },
      seedIso,
    );
    if (saved) padSeed(seedIso);
    const machine = { ...machineSpec(spec, host, i, dir), seedIso };
    const vm = await startVm(saved ? restoreSpec(saved, machine) : { ...machine, baseImage: spec.image.rootfs });
    ctx.vms.push(vm);
    recordOwner(ctx);
    // The seed's files and the overlay hold keys: keep them only as qemu's open files. A
    // resumed VM opens its disks again by name when it starts running (read-write after the
    // incoming migration's read-only), so its names go once it runs.
    fs.rmSync(path.join(dir, "seed"), { recursive: true, force: true });
    const unlinkDisks = async () => {
      if (!(await unlinkOnceOpen(vm.pid, [vm.overlay, seedIso])))
        throw new Error(`${host.id}: qemu did not open its disks; see ${path.join(dir, "qemu.stderr")}`);
    };
    if (!saved) await unlinkDisks();
    hostResults.push({
      name: host.id,
      site: host.site,
      role: host.role,
      privateAddress: privateAddress(host),
      publicAddress: host.publicNic?.address.split("/")[0],
      cloudInitErrors: [],
      userDataSha256: sha256(ud),
      start: saved ? "saved-state" : "boot",
      ...(saved ? { savedState: saved.key } : {}),
    });
    ctx.log(
      `${saved ? `resuming ${host.id} from saved state ${saved.key}` : `started ${host.id}`} (qemu pid ${vm.pid}, serial ${path.relative(spec.repoRoot, vm.serialLog)})`,
    );
    if (saved) {
      const target = spec.sshTarget!(host, saved.sshKey);
      const resumed = (async () => {
        await resumeVm(vm);
        await unlinkDisks();
        await waitForSsh(target, 10 * 60_000);
        if (isFarEnd(host)) {
          // An operator's host runs nothing of ours: it only keeps time, as a running host does.
          await resumeClock(target, 120_000);
          ctx.log(`${host.id}: resumed, clock set (the operator's host: no cloud-init of ours)`);
          return;
        }
        const exit = await reseed(target, spec.reseedTimeoutMs ?? 15 * 60_000);
        ctx.log(`${host.id}: re-seeded with this run's clock, keys and user-data (cloud-init exit ${exit})`);
      })();
      resumes.set(
        host.id,
        resumed.catch((e: unknown) => {
          const why = e instanceof Error ? e.message : String(e);
          failures.set(host.id, why);
          ctx.log(`${host.id}: could not be resumed: ${why}`);
        }),
      );
    }
  }
  return { failures, resumed: resumes };
}

/** Waits (bounded) for cloud-init's "finished" console line on every VM, all at once. */
export async function waitForCloudInit(
  ctx: RunContext,
  hosts: LabNode[],
  hostResults: VmLabHostResult[],
  timeoutMs: number,
  failures: StartFailures = new Map(),
): Promise<void> {
  ctx.log(`waiting for cloud-init on ${hosts.length} VMs (bound ${timeoutMs / 1000} s each)`);
  await Promise.all(
    hosts.map(async (host, i) => {
      const vm: RunningVm = ctx.vms[i];
      const uptime = await waitFor(
        async () => {
          if (vm.process.exitCode !== null)
            throw new Error(`${host.id}: qemu exited (${vm.process.exitCode}); see ${vm.serialLog}`);
          const panic = kernelPanic(vm.serialLog);
          if (panic) throw new Error(`${host.id}: ${panic}; see ${vm.serialLog}`);
          const failed = failures.get(host.id);
          if (failed) throw new Error(`${host.id}: ${failed}; see ${vm.serialLog}`);
          return cloudInitFinishedUptime(vm.serialLog);
        },
        timeoutMs,
        2000,
        () => ctx.cleaned,
      );
      const hr = hostResults[i];
      if (uptime === undefined) {
        hr.cloudInitErrors.push(`cloud-init did not finish within ${timeoutMs / 1000} s`);
        return;
      }
      hr.cloudInitDoneUptimeSeconds = uptime;
      hr.cloudInitDoneSeconds = (Date.now() - vm.startedAt) / 1000;
      ctx.log(
        `${host.id}: cloud-init finished (guest uptime ${uptime.toFixed(0)} s, wall ${hr.cloudInitDoneSeconds.toFixed(0)} s)`,
      );
    }),
  );
}

/** Per VM: cloud-init done with no error, and the user-data on disk is the program's. */
export async function cloudInitChecks(
  hosts: LabNode[],
  hostResults: VmLabHostResult[],
  target: (h: LabNode) => SshTarget,
  check: CheckFn,
): Promise<void> {
  // One SSH per VM, at once; the checks are recorded in host order.
  const outputs = await Promise.all(
    hosts.map((host, i) =>
      hostResults[i].cloudInitDoneUptimeSeconds === undefined
        ? Promise.resolve(undefined)
        : inspectCloudInit(target(host)),
    ),
  );
  for (const [i, host] of hosts.entries()) {
    const hr = hostResults[i];
    const r = outputs[i];
    if (r === undefined) {
      check(`cloud-init on ${host.id}`, false, hr.cloudInitErrors.join("; "));
      continue;
    }
    recordCloudInit(host, hr, r, check);
  }
}

function inspectCloudInit(t: SshTarget) {
  return ssh(
    t,
    "timeout 300 cloud-init status --wait --long; echo '--8<--'; cat /run/cloud-init/result.json; echo '--8<--'; sha256sum /var/lib/cloud/instance/user-data.txt",
    360_000,
  );
}

function recordCloudInit(
  host: LabNode,
  hr: VmLabHostResult,
  r: { stdout: string; stderr: string },
  check: CheckFn,
): void {
  const [statusText, resultJson, shaLine] = r.stdout.split("--8<--\n");
  hr.cloudInitStatus = parseCloudInitStatus(statusText ?? "");
  try {
    hr.cloudInitErrors.push(...parseCloudInitResult(resultJson ?? "").errors);
  } catch (e) {
    hr.cloudInitErrors.push(`no result.json over SSH: ${(e as Error).message} ${r.stderr.trim()}`);
  }
  hr.guestUserDataSha256 = shaLine?.split(/\s+/)[0];
  check(
    `cloud-init on ${host.id}: status done, no errors`,
    hr.cloudInitStatus === "done" && hr.cloudInitErrors.length === 0,
    `status ${hr.cloudInitStatus ?? "?"}; errors: ${hr.cloudInitErrors.length ? hr.cloudInitErrors.join(" | ") : "none"}${hr.start === "saved-state" ? `; resumed from saved state ${hr.savedState}, cloud-init re-run on this run's seed` : ""}`,
  );
  check(
    `user-data on ${host.id} is the program's, byte for byte`,
    hr.guestUserDataSha256 === hr.userDataSha256,
    `sha256 program ${hr.userDataSha256.slice(0, 12)}, guest ${hr.guestUserDataSha256?.slice(0, 12) ?? "?"}`,
  );
}
