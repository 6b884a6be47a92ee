/**
 * Talking to the VMs: SSH from the private network's stand-in namespace (it sits on the
 * same segment as the VM), and the serial console. What comes back is parsed by
 * lab/parsers.ts, shared with the namespace lab.
 */
import * as fs from "node:fs";
import { parseCloudInitFinished, parseKernelPanic } from "../parsers";
import { run, type RunResult } from "../proc";

export interface SshTarget {
  /** Namespace the client runs in (on the VM's segment). */
  netns: string;
  address: string;
  keyFile: string;
  user?: string;
}

export function sshArgs(t: SshTarget, command: string): string[] {
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
    "ConnectTimeout=20",
    "-o",
    "ServerAliveInterval=5",
    "-o",
    "ServerAliveCountMax=3",
    `${t.user ?? "root"}@${t.address}`,
    command,
  ];
}

/** ssh's own failure (exit 255) before the command ran: worth another try on a busy host. */
const CONNECT_FAILURE =
  /timed out|Connection refused|banner exchange|No route to host|reset by peer|closed by remote host/i;

/**
 * Runs a command over SSH. Under emulation on a busy machine the handshake alone can take
 * many seconds, so connection failures are retried (bounded); pass retries = 0 for
 * commands that must not run twice.
 */
export async function ssh(t: SshTarget, command: string, timeoutMs = 60_000, retries = 2): Promise<RunResult> {
  for (let attempt = 0; ; attempt++) {
    const r = await run(["ip", ...sshArgs(t, command)], { timeoutMs });
    if (r.code !== 255 || r.stdout !== "" || !CONNECT_FAILURE.test(r.stderr) || attempt >= retries) return r;
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
