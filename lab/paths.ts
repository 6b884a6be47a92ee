/** Where the lab keeps its per-run files (all under the repo's git-ignored .lab/). */
import * as path from "path";

export const REPO_ROOT = path.resolve(__dirname, "..");
export const LAB_HOME = process.env.LAB_HOME ?? path.join(REPO_ROOT, ".lab");
/**
 * Run ownership is machine-wide, not per checkout: network namespaces are machine-wide, and a
 * run from another clone (a CI run beside a developer's, two worktrees) would otherwise see
 * this run's namespaces as ownerless leftovers and delete them mid-run. Under /run, so it
 * goes when the namespaces do (at reboot).
 */
export const STATE_DIR = process.env.LAB_STATE_DIR ?? "/run/scaleway-wireguard-s2s/lab-state";
export const RUNS_DIR = path.join(LAB_HOME, "runs");
export const RESULTS_DIR = path.join(LAB_HOME, "results");

/** Per-run prefix: short enough for interface-name limits elsewhere, unique per run. */
export const PREFIX_PATTERN = /^wgl[0-9a-f]{4}$/;
