/**
 * One builder per cache entry on the machine (the image, a saved state): several clones and
 * runs share /var/cache/scaleway-wireguard-s2s/vm, and two builds of one key would waste
 * minutes and race on the rename. The lock is a directory `<entry>.lock` holding the
 * builder's pid; a lock whose holder is dead is taken over.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { pidAlive, sleep } from "../proc";

/**
 * Waits (bounded) until this process holds the lock of `entryDir`, or until `ready()` says
 * another builder finished it meanwhile. Returns true when the lock is held (release it
 * with releaseCacheLock), false when the entry is ready.
 */
export async function takeCacheLock(
  entryDir: string,
  ready: () => boolean,
  timeoutMs: number,
  what: string,
): Promise<boolean> {
  const lock = `${entryDir}.lock`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (ready()) return false;
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, "pid"), String(process.pid));
      return true;
    } catch {
      const holder = Number(fs.readFileSync(path.join(lock, "pid"), { encoding: "utf8", flag: "a+" }) || "0");
      if (holder && !pidAlive(holder)) {
        fs.rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`${what}: another build holds ${lock} for too long`);
      await sleep(2000);
    }
  }
}

export function releaseCacheLock(entryDir: string): void {
  fs.rmSync(`${entryDir}.lock`, { recursive: true, force: true });
}
