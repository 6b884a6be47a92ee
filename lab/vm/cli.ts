/**
 * Standalone entry of the VM lab: `npx tsx lab/vm/cli.ts [--tcg|--kvm] [--no-reboot] [--hard-reset]`.
 * `npm run lab -- --vm` (lab/cli.ts) calls the same runVmLab. Exit code 0 only when every
 * check passed and cleanup left nothing behind.
 */
import { runVmLab } from "./index";

const args = new Set(process.argv.slice(2));
const accel = args.has("--tcg") ? "tcg" : args.has("--kvm") ? "kvm" : "auto";

runVmLab({ accel, reboot: !args.has("--no-reboot"), rebootMethod: args.has("--hard-reset") ? "reset" : "guest" })
  .then((r) => {
    const width = Math.max(...r.checks.map((c) => c.name.length));
    for (const c of r.checks) console.log(`${c.ok ? "PASS" : "FAIL"}  ${c.name.padEnd(width)}  ${c.detail}`);
    const m = r.measurements;
    console.log(
      [
        `accelerator ${r.accel}; image ${r.image.key} (${r.image.built ? "built" : "cached"}, ${m.imageSeconds.toFixed(0)} s)`,
        `boot to tunnel ${m.bootToTunnelSeconds?.toFixed(0) ?? "-"} s; reboot to tunnel ${m.rebootToTunnelSeconds?.toFixed(0) ?? "-"} s`,
        `iperf3 ${m.iperfBitsPerSecond ? (m.iperfBitsPerSecond / 1e6).toFixed(1) : "-"} Mbit/s (PMTU black hole: ${m.iperfPmtuBlackholeBitsPerSecond ? (m.iperfPmtuBlackholeBitsPerSecond / 1e6).toFixed(1) : "-"} Mbit/s)`,
        `total ${m.totalSeconds.toFixed(0)} s; ${r.ok ? "PASSED" : `FAILED${r.error ? `: ${r.error}` : ""}`}`,
        `result: ${r.resultFile}`,
      ].join("\n"),
    );
    process.exitCode = r.ok ? 0 : 1;
  })
  .catch((e) => {
    console.error(e);
    process.exitCode = 2;
  });
