/**
 * `npm run lab [-- --sites N] [-- --faults]`: build the whole topology in network
 * namespaces from the program's own user-data and run the seed's tests.
 * `npm run lab -- --vm`: the same topology as real VMs (lab/vm/).
 * Exit codes: 0 all checks as expected, 1 some check not as expected, 2 cannot run here
 * (or a usage error).
 */
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { LabCannotRun, runLab } from "./run";

async function main(): Promise<number> {
  const program = new Command()
    .name("npm run lab --")
    .description("Site-to-site WireGuard lab in network namespaces, built from the program's own user-data.")
    .option(
      "--sites <n>",
      "hub + N generated remote sites (one external dhcp, spoke-to-spoke pairs) instead of the default topology",
      (v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1 || n > 64)
          throw new InvalidArgumentError("an integer from 1 to 64 is needed.");
        return n;
      },
    )
    .option("--faults", "also run the faults and negative controls", false)
    .option(
      "--production",
      "the production scenario instead: hub joined to an existing network with an unconfigured workload, a NATed dynamic-IP office (networkd bundle) whose address changes, a netplan far end",
      false,
    )
    .option(
      "--tunnels-only",
      "only boot and the hub<->spoke ping test (no iperf3/MTU/spoke probes): what the bench times",
      false,
    )
    .option(
      "--two-step",
      "external sites deploy in two steps: pulumi up's checks before the operators install their bundles, then with bundleInstalled",
      false,
    )
    .option("--keep", "keep the run directory (host files, logs) under .lab/runs for debugging", false)
    .option(
      "--iperf-seconds <s>",
      "duration of each iperf3 transfer",
      (v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1 || n > 30)
          throw new InvalidArgumentError("an integer from 1 to 30 is needed.");
        return n;
      },
      3,
    )
    .option("--json <file>", "write the results JSON here (default .lab/results/<prefix>.json)")
    .option("--vm", "run the topology as real virtual machines (qemu, systemd, kernel WireGuard) instead", false)
    .option("--tcg", "with --vm: force software emulation", false)
    .option("--kvm", "with --vm: force KVM", false)
    .option("--no-reboot", "with --vm: skip the gateway reboot check")
    .option("--hard-reset", "with --vm: reboot the gateway with a hard reset instead of from inside", false)
    .option("--throughput", "with --vm: also the bulk-TCP checks (iperf3, PMTU black hole, MSS clamp)", false)
    .exitOverride();
  try {
    program.parse(process.argv);
  } catch (e) {
    // Usage errors (commander already printed the message) and --help.
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    throw e;
  }
  const o = program.opts<{
    sites?: number;
    faults: boolean;
    production: boolean;
    keep: boolean;
    iperfSeconds: number;
    json?: string;
    tunnelsOnly: boolean;
    twoStep: boolean;
    vm: boolean;
    tcg: boolean;
    kvm: boolean;
    reboot: boolean;
    hardReset: boolean;
    throughput: boolean;
  }>();
  if (o.vm) {
    const { vmLabMain } = await import("./vm/cli");
    return vmLabMain({
      accel: o.tcg ? "tcg" : o.kvm ? "kvm" : "auto",
      reboot: o.reboot,
      hardReset: o.hardReset,
      throughput: o.throughput,
    });
  }
  try {
    if (o.production) {
      const { runProduction } = await import("./scenarios/production");
      const r = await runProduction({ keep: o.keep, resultsFile: o.json });
      return r.ok ? 0 : 1;
    }
    const r = await runLab({
      sites: o.sites,
      faults: o.faults,
      keep: o.keep,
      iperfSeconds: o.iperfSeconds,
      resultsFile: o.json,
      tunnelsOnly: o.tunnelsOnly,
      twoStep: o.twoStep,
    });
    return r.ok ? 0 : 1;
  } catch (e) {
    if (e instanceof LabCannotRun) {
      console.error(`lab: ${e.message}`);
      if (e.missingPackages.length)
        console.error(
          `lab: install with: apt-get install ${e.missingPackages.join(" ")}  (or: node scripts/ensure-setup.js)`,
        );
      return 2;
    }
    throw e;
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
