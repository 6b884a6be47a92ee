/**
 * Booting the VMs: one NoCloud seed and one qemu per host of the topology, then the waits
 * for cloud-init (its console line, bounded, failing at once on a kernel panic) and the
 * first checks: cloud-init status and errors, and the user-data byte for byte.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseCloudInitResult, parseCloudInitStatus } from "../parsers";
import { waitFor } from "../proc";
import type { LabNode } from "../topology";
import { cloudInitFinishedUptime, kernelPanic, ssh, type SshTarget } from "./guest";
import type { VmImage } from "./image";
import { privateAddress, tapName } from "./network";
import { startVm, unlinkOnceOpen, type Accel, type RunningVm } from "./qemu";
import type { CheckFn, VmLabHostResult } from "./result";
import { recordOwner, type RunContext } from "./runState";
import { renderMetaData, renderNetworkConfig, writeSeedIso, type VmNic } from "./seed";

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
  nics.push({ id: "private", mac: host.privateNic.mac, pciSlot: 5, tap: tapName(hostIndex, "private") });
  return nics;
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
}

/** Starts one VM per host, in order; each result row is appended to `hosts`. */
export async function startVms(ctx: RunContext, spec: BootSpec, hostResults: VmLabHostResult[]): Promise<void> {
  for (const [i, host] of spec.hosts.entries()) {
    const dir = path.join(ctx.runDir, host.id);
    const nics = nicsOf(host, i);
    const seedIso = path.join(dir, "seed.iso");
    const ud = spec.userData.get(host.id)!;
    await writeSeedIso(
      path.join(dir, "seed"),
      {
        userData: ud,
        metaData: renderMetaData({
          instanceId: `${ctx.prefix}-${host.id}`,
          hostname: host.id,
          publicKeys: spec.labKeys,
        }),
        // A gateway's private NIC comes up the Scaleway way (the image's udev rule), not from cloud-init.
        networkConfig: renderNetworkConfig(host.publicNic ? nics.filter((n) => n.id === "public") : nics),
      },
      seedIso,
    );
    const vm = await startVm({
      name: host.id,
      netns: spec.switchNs,
      kernel: spec.image.kernel,
      initrd: spec.image.initrd,
      baseImage: spec.image.rootfs,
      dir,
      seedIso,
      nics,
      accel: spec.accel,
    });
    ctx.vms.push(vm);
    recordOwner(ctx);
    // The seed's files and the overlay hold keys: keep them only as qemu's open files.
    fs.rmSync(path.join(dir, "seed"), { recursive: true, force: true });
    if (!(await unlinkOnceOpen(vm.pid, [vm.overlay, seedIso]))) {
      throw new Error(`${host.id}: qemu did not open its disks; see ${path.join(dir, "qemu.stderr")}`);
    }
    hostResults.push({
      name: host.id,
      site: host.site,
      role: host.role,
      privateAddress: privateAddress(host),
      publicAddress: host.publicNic?.address.split("/")[0],
      cloudInitErrors: [],
      userDataSha256: sha256(ud),
    });
    ctx.log(`started ${host.id} (qemu pid ${vm.pid}, serial ${path.relative(spec.repoRoot, vm.serialLog)})`);
  }
}

/** Waits (bounded) for cloud-init's "finished" console line on every VM, all at once. */
export async function waitForCloudInit(
  ctx: RunContext,
  hosts: LabNode[],
  hostResults: VmLabHostResult[],
  timeoutMs: number,
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
  for (const [i, host] of hosts.entries()) {
    const hr = hostResults[i];
    if (hr.cloudInitDoneUptimeSeconds === undefined) {
      check(`cloud-init on ${host.id}`, false, hr.cloudInitErrors.join("; "));
      continue;
    }
    await inspectCloudInit(host, hr, target(host), check);
  }
}

async function inspectCloudInit(host: LabNode, hr: VmLabHostResult, t: SshTarget, check: CheckFn): Promise<void> {
  const r = await ssh(
    t,
    "timeout 300 cloud-init status --wait --long; echo '--8<--'; cat /run/cloud-init/result.json; echo '--8<--'; sha256sum /var/lib/cloud/instance/user-data.txt",
    360_000,
  );
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
    `status ${hr.cloudInitStatus ?? "?"}; errors: ${hr.cloudInitErrors.length ? hr.cloudInitErrors.join(" | ") : "none"}`,
  );
  check(
    `user-data on ${host.id} is the program's, byte for byte`,
    hr.guestUserDataSha256 === hr.userDataSha256,
    `sha256 program ${hr.userDataSha256.slice(0, 12)}, guest ${hr.guestUserDataSha256?.slice(0, 12) ?? "?"}`,
  );
}
