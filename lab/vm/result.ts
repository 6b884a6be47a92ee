/** The VM lab's options, bounds and result shape (runVmLab in lab/vm/index.ts). */
import type { LabCheck, StandIn } from "../results";
import type { Accel } from "./qemu";

export interface VmLabTimeouts {
  imageBuildMs: number;
  /** Per VM, from qemu start to cloud-init's "finished" line. */
  cloudInitMs: number;
  /** From VM start to the first cross-site ping. */
  tunnelMs: number;
  /** From the reboot command to the tunnel carrying pings again. */
  rebootMs: number;
}

/**
 * Generous: under TCG on a busy 2-CPU machine four VMs took ~4 minutes just to reach
 * systemd's journal. On an idle machine cloud-init finishes in a few minutes.
 */
export const DEFAULT_TIMEOUTS: VmLabTimeouts = {
  imageBuildMs: 20 * 60_000,
  cloudInitMs: 25 * 60_000,
  tunnelMs: 30 * 60_000,
  rebootMs: 15 * 60_000,
};

export interface VmLabOptions {
  /**
   * Raw stack config (keys without the project prefix) and the gateways' public IPs.
   * Default: the namespace lab's default topology (lab/labConfig.ts), so both modes build
   * the same segments and addresses.
   */
  config?: Record<string, unknown>;
  publicIps?: Record<string, string>;
  /** "auto" (default): KVM when a probe boots a kernel with it, TCG otherwise. */
  accel?: "auto" | Accel;
  /**
   * Bulk TCP checks (iperf3, the path-MTU black hole and its MSS-clamp negative control).
   * Off by default: the namespace lab proves them on every run, and under TCG they cost
   * minutes of emulated CPU. `--throughput` turns them on.
   */
  throughput?: boolean;
  /** Reboot the hub gateway and require the tunnel to come back (default true). */
  reboot?: boolean;
  /** "guest": `systemctl reboot` inside (default); "reset": QMP system_reset, a hard reset. */
  rebootMethod?: "guest" | "reset";
  /** Deterministic mock keys (same seed, same keys), e.g. to compare two user-data versions. */
  keySeed?: string;
  /**
   * Negative controls only: replaces a host's user-data (e.g. with an earlier version's,
   * to show it fails where this one passes; lab/vm/old-user-data.ts). The in-guest SHA
   * check then compares against the replacement.
   */
  userDataFor?: (host: { site: string; role: string }, programUserData: string) => string;
  /** Where image builds and saved states are cached (default /var/cache/scaleway-wireguard-s2s/vm). */
  cacheRoot?: string;
  /**
   * Which hosts resume from a saved running state instead of booting (default
   * defaultHostStart in lab/vm/boot.ts: every test host but the hub's). `() => "boot"` boots
   * them all, as before saved states existed.
   */
  hostStart?: (host: { id: string; site: string; role: string }, hubSite: string) => "boot" | "saved-state";
  /** Parent of the per-run directory (default <repo>/.lab/vm). */
  runsRoot?: string;
  timeouts?: Partial<VmLabTimeouts>;
  /** One line per step (default: stderr). */
  log?: (line: string) => void;
}

export interface VmLabHostResult {
  name: string;
  site: string;
  role: string;
  privateAddress: string;
  publicAddress?: string;
  cloudInitStatus?: string;
  cloudInitErrors: string[];
  /** Guest uptime when cloud-init finished (from its console line). */
  cloudInitDoneUptimeSeconds?: number;
  /** Wall time from qemu start to cloud-init's finished line. */
  cloudInitDoneSeconds?: number;
  userDataSha256: string;
  guestUserDataSha256?: string;
  /**
   * "boot": booted from its kernel with this run's seed; "saved-state": resumed from a saved
   * running state (lab/vm/savedState.ts), then cloud-init re-run on this run's seed. Only
   * booted hosts' uptimes are boot figures.
   */
  start: "boot" | "saved-state";
  /** Key of the saved state it resumed from. */
  savedState?: string;
}

export interface VmLabResult {
  ok: boolean;
  prefix: string;
  runDir: string;
  resultFile: string;
  accel: Accel;
  accelReason: string;
  image: { key: string; dir: string; built: boolean; buildSeconds: number; packages: number };
  /** Saved states the run resumed hosts from, by host id; `built` when this run made it. */
  savedStates: Record<string, { key: string; built: boolean; buildSeconds: number }>;
  hosts: VmLabHostResult[];
  /** The operators' hosts (external sites' gateways): resumed from a saved state, running nothing of ours. */
  farEnds?: VmLabHostResult[];
  checks: LabCheck[];
  measurements: {
    imageSeconds: number;
    bootToTunnelSeconds?: number;
    pingRttMs: Record<string, number>;
    iperfBitsPerSecond?: number;
    iperfPmtuBlackholeBitsPerSecond?: number;
    rebootToTunnelSeconds?: number;
    /** Per gateway: guest uptime at its first WireGuard handshake (kernel log). */
    firstHandshakeUptimeSeconds: Record<string, number>;
    /** Per gateway: first handshake uptime / mean test-host cloud-init-done uptime. */
    handshakeToTestHostRatio: Record<string, number>;
    /** Per bundle form on the far-end VM: install.sh install began -> its check passed (ping across, handshake). */
    farEndInstallToCheckSeconds?: Record<string, number | undefined>;
    /** Seconds the run waited for the "beside" scenarios (the far ends') once the "spoke" phase beside them was done: their cost to the run. */
    farEndWaitSeconds?: number;
    totalSeconds: number;
  };
  /** What stands in for Scaleway (or differs from it), so the gap to the cloud is explicit. */
  standIns: StandIn[];
  cleanupProblems: string[];
  error?: string;
}

/** The one check-recording function of both labs (lab/scenarios/context.ts). */
export type { CheckFn } from "../scenarios/context";
