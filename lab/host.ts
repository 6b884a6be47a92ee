/**
 * A lab host: one network namespace plus a private mount and UTS namespace, so that
 * everything the host's user-data writes lands in its own directory and nothing touches
 * the machine's /etc, /usr, /var, /root, /run or /tmp.
 *
 * Layout inside the host (what its processes see):
 *   /etc /usr /var /root  overlayfs: the machine's tree below, <dir>/ovl/<d>/up above (writes go there)
 *   /run /tmp             bind mounts of <dir>/run and <dir>/tmp (empty at boot, like a VM)
 *   /usr/bin/systemctl    bind mount of the lab's systemctl stand-in (see standins/systemctl.ts)
 *
 * A "holder" process (`sleep infinity`) keeps the mount namespace alive; every command
 * enters it with nsenter. Cleanup kills every PID in the host's network namespace.
 */
import * as fs from "fs";
import * as path from "path";
import { addNetns } from "./netns";
import { LAB_HOME } from "./paths";
import { pollUntil, run, spawnBackground, type BackgroundProcess, type RunOptions, type RunResult } from "./proc";

/** The environment a host's commands run with: what systemd gives a boot-time service. */
export const HOST_ENV: NodeJS.ProcessEnv = {
  PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  HOME: "/root",
  LANG: "C.UTF-8",
  TERM: "dumb",
};

const OVERLAID = ["etc", "usr", "var", "root"] as const;

// The host's private /run and /tmp would hide the lab's own files (the systemctl stand-in,
// seeds) when the checkout itself lives under /tmp or /run, as a CI clone may: the lab's
// directory is parked on a mount point inside the host first and put back at the same path.
const HOLDER_SCRIPT = `set -e
H="$1"; SHIM="$2"; NAME="$3"; LAB="$4"
for d in ${OVERLAID.join(" ")}; do
  mkdir -p "$H/ovl/$d/up" "$H/ovl/$d/wk"
  mount -t overlay "lab-$d" -o "lowerdir=/$d,upperdir=$H/ovl/$d/up,workdir=$H/ovl/$d/wk" "/$d"
done
PARK=/var/lib/wg-s2s-lab-home
case "$LAB" in /tmp/*|/run/*) mkdir -p "$PARK"; mount --bind "$LAB" "$PARK" ;; *) PARK="" ;; esac
mkdir -p "$H/run/lock" "$H/tmp"
chmod 1777 "$H/tmp"
mount --bind "$H/run" /run
mount --bind "$H/tmp" /tmp
if [ -n "$PARK" ]; then mkdir -p "$LAB"; mount --bind "$PARK" "$LAB"; fi
if [ -n "$SHIM" ]; then mount --bind "$SHIM" /usr/bin/systemctl; fi
hostname "$NAME"
echo lab-host-ready
exec sleep infinity
`;

export interface HostOptions {
  /** Short host id, also its hostname (e.g. "scaleway-gw"). */
  name: string;
  /** Network namespace name (carries the run prefix). */
  ns: string;
  /** Per-host directory on the machine. */
  dir: string;
  /** Executable bound over /usr/bin/systemctl inside the host; omit for no stand-in. */
  systemctlShim?: string;
}

export class LabHost {
  readonly name: string;
  readonly ns: string;
  readonly dir: string;
  private holder?: BackgroundProcess;

  constructor(private readonly opts: HostOptions) {
    this.name = opts.name;
    this.ns = opts.ns;
    this.dir = opts.dir;
  }

  /** Create the namespaces and mounts. The network namespace must not exist yet. */
  async start(): Promise<void> {
    fs.mkdirSync(path.join(this.dir, "run"), { recursive: true });
    await addNetns(this.ns);
    this.holder = spawnBackground([
      "ip",
      "netns",
      "exec",
      this.ns,
      "unshare",
      "--uts",
      "--",
      "sh",
      "-c",
      HOLDER_SCRIPT,
      "lab-holder",
      this.dir,
      this.opts.systemctlShim ?? "",
      this.name,
      LAB_HOME,
    ]);
    const ready = await pollUntil(
      async () => this.holder!.output().includes("lab-host-ready") || this.holder!.exited(),
      10_000,
      50,
    );
    if (ready === null || this.holder.exited()) {
      throw new Error(`host ${this.name}: mount namespace setup failed: ${this.holder.output().trim()}`);
    }
  }

  get holderPid(): number {
    if (!this.holder) throw new Error(`host ${this.name} not started`);
    return this.holder.pid;
  }

  /** argv to run a command inside this host (net + mount + uts namespaces). */
  enterArgv(argv: string[]): string[] {
    return ["nsenter", "-t", String(this.holderPid), "-m", "-n", "-u", "--", ...argv];
  }

  exec(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    return run(this.enterArgv(argv), { env: HOST_ENV, ...opts });
  }

  execOk(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    return this.exec(argv, { ...opts, check: true });
  }

  /** `sh -c script` inside the host. */
  sh(script: string, opts: RunOptions = {}): Promise<RunResult> {
    return this.exec(["sh", "-c", script], opts);
  }

  spawn(argv: string[]): BackgroundProcess {
    return spawnBackground(this.enterArgv(argv), HOST_ENV);
  }

  /** Write a file at a path as the host sees it. */
  async writeFile(hostPath: string, content: string, mode = "0644"): Promise<void> {
    await this.execOk(
      ["sh", "-c", 'mkdir -p "$(dirname "$1")" && cat > "$1" && chmod "$2" "$1"', "w", hostPath, mode],
      {
        input: content,
      },
    );
  }

  /** Read a file at a path as the host sees it (null when absent). */
  async readFile(hostPath: string): Promise<string | null> {
    const r = await this.exec(["cat", hostPath]);
    return r.code === 0 ? r.stdout : null;
  }

  /** Machine path of the host's /run (readable without entering the host). */
  get runDir(): string {
    return path.join(this.dir, "run");
  }
}
