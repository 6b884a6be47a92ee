/**
 * A negative control recorded by hand (it needs a checkout of a version whose user-data
 * installed packages at boot): the VM lab with the gateways' user-data of a given checkout, on the
 * same image with no reachable repository. That user-data installed wireguard-tools and
 * nftables with cloud-init's apt step and started `wg-quick@wg0`: here it must fail.
 *
 *   sudo npx tsx lab/vm/old-user-data.ts /path/to/old/checkout [tunnel-wait-seconds]
 *
 * The old checkout's own program run (mock runtime, same key seed, so the same keys and
 * deploy key) renders the gateways' user-data; everything else is this checkout's lab.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { runVmLab } from "./index";
import { defaultLabConfig } from "../labConfig";

async function main(): Promise<number> {
  const [checkout, waitArg] = process.argv.slice(2);
  if (!checkout) {
    console.error("usage: old-user-data.ts OLD_CHECKOUT [TUNNEL_WAIT_SECONDS]");
    return 2;
  }
  const keySeed = "old-user-data-control";
  const { config, publicIps } = defaultLabConfig();
  // testkit/programRun since the layout move, harness/programRun before it.
  const module = ["testkit", "harness"]
    .map((dir) => path.resolve(checkout, dir, "programRun.ts"))
    .find((f) => fs.existsSync(f));
  if (!module) throw new Error(`${checkout}: no testkit/ or harness/programRun.ts`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const old = require(module) as typeof import("../../testkit/programRun");
  const oldProgram = await old.runProgram({ config, publicIps, keySeed });
  const r = await runVmLab({
    accel: "tcg",
    keySeed,
    reboot: false,
    timeouts: { tunnelMs: Number(waitArg ?? 360) * 1000 },
    userDataFor: (h, ud) => (h.role === "gateway" ? oldProgram.userData(h.site, h.role) : ud),
  });
  for (const c of r.checks) console.log(`${c.ok ? "PASS" : "FAIL"}  ${c.name}  ${c.detail}`);
  for (const h of r.hosts)
    console.log(`${h.name}: cloud-init ${h.cloudInitStatus ?? "?"}; errors: ${h.cloudInitErrors.join("; ") || "none"}`);
  console.log(
    `${r.ok ? "PASSED (the control did NOT fail)" : `FAILED as expected${r.error ? `: ${r.error}` : ""}`}; result: ${r.resultFile}`,
  );
  return r.ok ? 1 : 0;
}

void main().then((code) => (process.exitCode = code));
