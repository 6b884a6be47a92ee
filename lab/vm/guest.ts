/**
 * Talking to the VMs: SSH from the private network's stand-in namespace (it sits on the
 * same segment as the VM), and pure parsers for what the checks read back.
 */
import * as fs from "node:fs";
import { run, type RunResult } from "./exec";

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
    const r = await run("ip", sshArgs(t, command), timeoutMs);
    if (r.code !== 255 || r.stdout !== "" || !CONNECT_FAILURE.test(r.stderr) || attempt >= retries) return r;
  }
}

/** Runs a POSIX sh script on the VM, fed through stdin (nothing is written to its disk). */
export function sshScript(t: SshTarget, script: string, timeoutMs: number): Promise<RunResult> {
  return run("ip", sshArgs(t, "sh -s"), timeoutMs, script);
}

/** cloud-init writes this line to the console when its final stage ends. */
export const CLOUD_INIT_FINISHED = /Cloud-init v\. \S+ finished at .* Up ([\d.]+) seconds/;

export function cloudInitFinishedUptime(serialLog: string): number | undefined {
  if (!fs.existsSync(serialLog)) return undefined;
  const m = CLOUD_INIT_FINISHED.exec(fs.readFileSync(serialLog, "utf8"));
  return m ? Number(m[1]) : undefined;
}

/** A guest that panicked will never finish: fail at once instead of waiting out the bound. */
export function kernelPanic(serialLog: string): string | undefined {
  if (!fs.existsSync(serialLog)) return undefined;
  return /Kernel panic - not syncing: [^\r\n]*/.exec(fs.readFileSync(serialLog, "utf8"))?.[0];
}

export interface CloudInitResult {
  /** /run/cloud-init/result.json: v1.errors (empty when every module succeeded). */
  errors: string[];
  datasource?: string;
}

export function parseCloudInitResult(json: string): CloudInitResult {
  const parsed = JSON.parse(json);
  const v1 = parsed?.v1;
  if (!v1 || !Array.isArray(v1.errors)) throw new Error(`not a cloud-init result.json: ${json.slice(0, 200)}`);
  return { errors: v1.errors.map(String), datasource: v1.datasource ?? undefined };
}

/** `cloud-init status --long` -> its "status:" value (done, error, running, ...). */
export function parseCloudInitStatus(text: string): string | undefined {
  return /(?:^|\.|\n)status:\s*(\S+)/.exec(text)?.[1];
}

export interface PingStats {
  transmitted: number;
  received: number;
  lossPercent: number;
  rttAvgMs?: number;
}

export function parsePing(text: string): PingStats | undefined {
  const m = /(\d+) packets transmitted, (\d+) received.*?([\d.]+)% packet loss/.exec(text);
  if (!m) return undefined;
  const rtt = /= [\d.]+\/([\d.]+)\/[\d.]+\/[\d.]+ ms/.exec(text);
  return {
    transmitted: Number(m[1]),
    received: Number(m[2]),
    lossPercent: Number(m[3]),
    rttAvgMs: rtt ? Number(rtt[1]) : undefined,
  };
}

export interface IperfResult {
  receivedBitsPerSecond: number;
  retransmits?: number;
  seconds: number;
}

/** iperf3 -J client output. */
export function parseIperf(json: string): IperfResult {
  const parsed = JSON.parse(json);
  if (parsed.error) throw new Error(`iperf3: ${parsed.error}`);
  const recv = parsed?.end?.sum_received;
  if (!recv || typeof recv.bits_per_second !== "number") throw new Error("iperf3: no sum_received in output");
  return {
    receivedBitsPerSecond: recv.bits_per_second,
    retransmits: parsed.end?.sum_sent?.retransmits,
    seconds: recv.seconds,
  };
}
