/**
 * Talking to the VMs: SSH from the private network's stand-in namespace (it sits on the
 * same segment as the VM), and the serial console. What comes back is parsed by
 * lab/parsers.ts, shared with the namespace lab.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseCloudInitFinished, parseKernelPanic } from "../parsers";
import { run, type RunResult } from "../proc";

export interface SshTarget {
  /** Namespace the client runs in (on the VM's segment). */
  netns: string;
  address: string;
  keyFile: string;
  user?: string;
  /**
   * Directory of this run's SSH control sockets: commands to the same host with the same
   * key share one connection. Under emulation a new login costs the guest seconds of CPU
   * (key exchange, PAM, a logind session); a command on an open connection costs a channel.
   * Cleanup ends the shared connections (closeSshMasters). Unset: one connection per command.
   */
  controlDir?: string;
  /** ssh's ConnectTimeout (default 20 s); short while polling a host that is rebooting. */
  connectTimeoutSeconds?: number;
}

/** The control socket of a target: per namespace, address, user and key, so a key is never used for another's session. */
export function controlPath(t: SshTarget): string | undefined {
  if (!t.controlDir) return undefined;
  const id = createHash("sha256")
    .update(`${t.netns}\0${t.address}\0${t.user ?? "root"}\0${path.resolve(t.keyFile)}`)
    .digest("hex")
    .slice(0, 16);
  return path.join(t.controlDir, id);
}

export function sshArgs(t: SshTarget, command: string): string[] {
  const control = controlPath(t);
  return [
    "netns",
    "exec",
    t.netns,
    "ssh",
    "-i",
    t.keyFile,
    "-o",
    "BatchMode=yes",
    "-o",
    "IdentitiesOnly=yes",
    // Every VM of every run has fresh host keys: nothing to pin against in the lab.
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "LogLevel=ERROR",
    "-o",
    `ConnectTimeout=${t.connectTimeoutSeconds ?? 20}`,
    "-o",
    "ServerAliveInterval=5",
    "-o",
    "ServerAliveCountMax=3",
    ...(control ? ["-o", "ControlMaster=auto", "-o", `ControlPath=${control}`, "-o", "ControlPersist=120"] : []),
    `${t.user ?? "root"}@${t.address}`,
    command,
  ];
}

/**
 * Ends every shared connection under `controlDir` (each master exits on `-O exit` and
 * removes its socket) and the directory; returns what could not be ended.
 */
export async function closeSshMasters(controlDir: string): Promise<string[]> {
  if (!fs.existsSync(controlDir)) return [];
  const problems: string[] = [];
  for (const sock of fs.readdirSync(controlDir)) {
    const p = path.join(controlDir, sock);
    const r = await run(["ssh", "-o", `ControlPath=${p}`, "-O", "exit", "lab-vm"], { timeoutMs: 10_000 });
    if (r.code !== 0 && fs.existsSync(p) && !/No such file|Connection refused/.test(r.stderr))
      problems.push(`ssh master ${p}: ${r.stderr.trim()}`);
  }
  fs.rmSync(controlDir, { recursive: true, force: true });
  return problems;
}

/**
 * Ends the shared connection to one host, e.g. once it was told to reboot: a new command
 * would otherwise wait on the dead connection until ServerAlive gives up (15 s).
 */
export async function closeSshMaster(t: SshTarget): Promise<void> {
  const control = controlPath(t);
  if (control && fs.existsSync(control))
    await run(["ssh", "-o", `ControlPath=${control}`, "-O", "exit", "lab-vm"], { timeoutMs: 10_000 });
}

/** ssh's own failure (exit 255) before the command ran: worth another try on a busy host. */
const CONNECT_FAILURE =
  /timed out|Connection refused|banner exchange|No route to host|reset by peer|closed by remote host|master/i;

/**
 * Runs a command over SSH. Under emulation on a busy machine the handshake alone can take
 * many seconds, so connection failures are retried (bounded); pass retries = 0 for
 * commands that must not run twice.
 */
export async function ssh(t: SshTarget, command: string, timeoutMs = 60_000, retries = 2): Promise<RunResult> {
  for (let attempt = 0; ; attempt++) {
    const r = await run(["ip", ...sshArgs(t, command)], { timeoutMs });
    // A silent 255 is ssh's ServerAlive giving up (its message is below LogLevel=ERROR): a
    // guest that stalled, e.g. just after a resume while it catches up on its timers.
    const connectionLost = CONNECT_FAILURE.test(r.stderr) || r.stderr.trim() === "";
    if (r.code !== 255 || r.stdout !== "" || !connectionLost || attempt >= retries) return r;
  }
}

/** Runs a POSIX sh script on the VM, fed through stdin (nothing is written to its disk). */
export function sshScript(t: SshTarget, script: string, timeoutMs: number): Promise<RunResult> {
  return run(["ip", ...sshArgs(t, "sh -s")], { timeoutMs, input: script });
}

/** cloud-init's "finished" console line: the guest's uptime then, once it is there. */
export function cloudInitFinishedUptime(serialLog: string): number | undefined {
  if (!fs.existsSync(serialLog)) return undefined;
  return parseCloudInitFinished(fs.readFileSync(serialLog, "utf8"));
}

/** A guest that panicked will never finish: fail at once instead of waiting out the bound. */
export function kernelPanic(serialLog: string): string | undefined {
  if (!fs.existsSync(serialLog)) return undefined;
  return parseKernelPanic(fs.readFileSync(serialLog, "utf8"));
}
