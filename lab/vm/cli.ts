/**
 * The VM lab's command line: `npm run lab -- --vm [--tcg|--kvm] [--no-reboot] [--hard-reset] [--throughput]`
 * (lab/cli.ts calls vmLabMain), or standalone `npx tsx lab/vm/cli.ts [same flags]`.
 * Exit code 0 only when every check passed and cleanup left nothing behind.
 */
import { runVmLab } from "./index";

export interface VmLabCliOptions {
  accel: "auto" | "tcg" | "kvm";
  reboot: boolean;
  hardReset: boolean;
  /** Also the bulk-TCP checks (iperf3, PMTU black hole, MSS negative control). */
  throughput?: boolean;
}

export async function vmLabMain(o: VmLabCliOptions): Promise<number> {
  try {
    const r = await runVmLab({
      accel: o.accel,
      reboot: o.reboot,
      rebootMethod: o.hardReset ? "reset" : "guest",
      throughput: o.throughput ?? false,
    });
    const width = Math.max(...r.checks.map((c) => c.name.length));
    for (const c of r.checks) console.log(`${c.ok ? "PASS" : "FAIL"}  ${c.name.padEnd(width)}  ${c.detail}`);
    const m = r.measurements;
    console.log(
      [
        `accelerator ${r.accel}; image ${r.image.key} (${r.image.built ? "built" : "cached"}, ${m.imageSeconds.toFixed(0)} s)`,
        `boot to tunnel ${m.bootToTunnelSeconds?.toFixed(0) ?? "-"} s; reboot to tunnel ${m.rebootToTunnelSeconds?.toFixed(0) ?? "-"} s`,
        `first handshake (guest uptime) ${JSON.stringify(m.firstHandshakeUptimeSeconds)}; / test hosts' cloud-init done: ${JSON.stringify(m.handshakeToTestHostRatio)}`,
        `iperf3 ${m.iperfBitsPerSecond ? (m.iperfBitsPerSecond / 1e6).toFixed(1) : "-"} Mbit/s (PMTU black hole: ${m.iperfPmtuBlackholeBitsPerSecond ? (m.iperfPmtuBlackholeBitsPerSecond / 1e6).toFixed(1) : "-"} Mbit/s)`,
        `total ${m.totalSeconds.toFixed(0)} s; ${r.ok ? "PASSED" : `FAILED${r.error ? `: ${r.error}` : ""}`}`,
        `result: ${r.resultFile}`,
      ].join("\n"),
    );
    return r.ok ? 0 : 1;
  } catch (e) {
    console.error(e);
    return 2;
  }
}

if (require.main === module) {
  const args = new Set(process.argv.slice(2));
  void vmLabMain({
    accel: args.has("--tcg") ? "tcg" : args.has("--kvm") ? "kvm" : "auto",
    reboot: !args.has("--no-reboot"),
    hardReset: args.has("--hard-reset"),
    throughput: args.has("--throughput"),
  }).then((code) => (process.exitCode = code));
}
