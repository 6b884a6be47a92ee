/** Bounded process helpers: every command the VM lab runs has a timeout. */
import { execFile } from "node:child_process";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command; resolves with its exit code (never rejects on a non-zero exit). */
export function run(cmd: string, args: readonly string[], timeoutMs = 30_000, input?: string): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      { timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 64 * 1024 * 1024, encoding: "utf8" },
      (err, stdout, stderr) => {
        // A number is the exit status; a timeout kill has none (124, as timeout(1)); spawn errors 127.
        const code = err
          ? typeof (err as any).code === "number"
            ? (err as any).code
            : (err as any).killed
              ? 124
              : 127
          : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) || (err && code === 124 ? String(err) : "") });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Runs a command and throws, with its stderr, when it fails. */
export async function must(cmd: string, args: readonly string[], timeoutMs = 30_000): Promise<string> {
  const r = await run(cmd, args, timeoutMs);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value, at most `timeoutMs`; undefined on timeout. */
export async function waitFor<T>(
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 2000,
  /** Ends the wait early (undefined), e.g. once the run is being torn down. */
  stopped: () => boolean = () => false,
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (stopped()) return undefined;
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() + intervalMs > deadline) return undefined;
    await sleep(intervalMs);
  }
}
