/**
 * Child processes for the lab: every command has a time bound, and every background
 * process is tracked by PID so cleanup can end exactly what the lab started.
 */
import { spawn, type ChildProcess } from "child_process";
import * as fs from "fs";

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  ms: number;
}

export interface RunOptions {
  /** Hard bound; the process (group) gets SIGKILL when it passes. Default 30 s. */
  timeoutMs?: number;
  input?: string;
  env?: NodeJS.ProcessEnv;
  /** Throw when the exit code is not 0 (the error message carries stderr). */
  check?: boolean;
}

export class CommandError extends Error {
  constructor(
    readonly argv: string[],
    readonly result: RunResult,
  ) {
    super(
      `${argv.join(" ")} -> ${result.timedOut ? "timed out" : `exit ${result.code}`}: ${(result.stderr || result.stdout).trim().slice(-800)}`,
    );
  }
}

/** Run a command to completion (bounded). Never uses a shell. */
export function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      env: opts.env ?? process.env,
      stdio: ["pipe", "pipe", "pipe"],
      // Own process group, so a timeout kills the command and whatever it forked in the foreground.
      detached: true,
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child, "SIGKILL");
    }, timeoutMs);
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d) => (stderr += d));
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      const result: RunResult = { code, stdout, stderr, timedOut, ms: Date.now() - started };
      if (opts.check && (code !== 0 || timedOut)) reject(new CommandError(argv, result));
      else resolve(result);
    });
    child.stdin!.on("error", () => undefined);
    child.stdin!.end(opts.input ?? "");
  });
}

/** Run and require exit 0. */
export function runOk(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  return run(argv, { ...opts, check: true });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

export interface BackgroundProcess {
  pid: number;
  child: ChildProcess;
  /** Everything written so far to stdout+stderr (bounded to the last 64 KiB). */
  output(): string;
  exited(): boolean;
  /** Resolves when the process has exited, or after `ms` (returns false then). */
  waitExit(ms: number): Promise<boolean>;
  /** SIGTERM, then SIGKILL after a grace period. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

/** Start a long-running process; the caller must stop() it (cleanup also kills by PID). */
export function spawnBackground(argv: string[], env?: NodeJS.ProcessEnv): BackgroundProcess {
  const child = spawn(argv[0], argv.slice(1), {
    env: env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  if (child.pid === undefined) throw new Error(`could not start ${argv[0]}`);
  let out = "";
  const append = (d: Buffer) => {
    out = (out + d.toString()).slice(-65536);
  };
  child.stdout!.on("data", append);
  child.stderr!.on("data", append);
  let done = false;
  const exitPromise = new Promise<void>((resolve) =>
    child.on("exit", () => {
      done = true;
      resolve();
    }),
  );
  child.on("error", () => {
    done = true;
  });
  const waitExit = async (ms: number) => {
    if (done) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)));
    const result = await Promise.race([exitPromise.then(() => true), timeout]);
    clearTimeout(timer);
    return result;
  };
  return {
    pid: child.pid,
    child,
    output: () => out,
    exited: () => done,
    waitExit,
    async stop(graceMs = 2000) {
      if (done) return;
      killGroup(child, "SIGTERM");
      if (!(await waitExit(graceMs))) {
        killGroup(child, "SIGKILL");
        await waitExit(1000);
      }
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Poll `probe` every `intervalMs` until it returns true or `timeoutMs` passes. Returns elapsed ms or null. */
export async function pollUntil(
  probe: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 200,
): Promise<number | null> {
  const started = Date.now();
  const maxRounds = Math.ceil(timeoutMs / Math.max(intervalMs, 1)) + 1;
  for (let round = 0; round < maxRounds; round++) {
    if (await probe()) return Date.now() - started;
    if (Date.now() - started >= timeoutMs) break;
    await sleep(intervalMs);
  }
  return null;
}

/**
 * Poll `check` until it returns a value, at most `timeoutMs`; undefined on timeout or once
 * `stopped()` says the run is being torn down. The value form of pollUntil (the VM lab
 * polls for a boot id, an uptime, a time to first ping).
 */
export async function waitFor<T>(
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 2000,
  stopped: () => boolean = () => false,
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  const maxRounds = Math.ceil(timeoutMs / Math.max(intervalMs, 1)) + 1;
  for (let round = 0; round < maxRounds; round++) {
    if (stopped()) return undefined;
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() + intervalMs > deadline) return undefined;
    await sleep(intervalMs);
  }
  return undefined;
}

/** True when a PID names a live process (signal 0 probe). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    // A zombie is dead for our purposes (PID 1 of some sandboxes does not reap).
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}
