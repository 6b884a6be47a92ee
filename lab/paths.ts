/** Where the lab keeps its per-run files (all under the repo's git-ignored .lab/). */
import * as path from "path";

export const REPO_ROOT = path.resolve(__dirname, "..");
export const LAB_HOME = process.env.LAB_HOME ?? path.join(REPO_ROOT, ".lab");
export const RUNS_DIR = path.join(LAB_HOME, "runs");
export const RESULTS_DIR = path.join(LAB_HOME, "results");

/** Per-run prefix: short enough for interface-name limits elsewhere, unique per run. */
export const PREFIX_PATTERN = /^wgl[0-9a-f]{4}$/;
