/** @tier system */
/**
 * The gateway's bootcmd that starts the tunnel right after write_files, run for real by
 * `sh` in a private mount namespace (unshare -m): an empty tmpfs over /run, and over
 * /etc/systemd/system, so the test decides whether systemd "is PID 1" (/run/systemd/system)
 * and whether the firewall unit exists, and a stand-in systemd-run on PATH records what it
 * was asked. Nothing reaches this machine's systemd, whether or not it runs one. The real
 * systemd-run, path unit and networkd are exercised in the VM lab (earlyTunnelCheck).
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EARLY_TUNNEL_SCRIPT, earlyTunnelBootcmd } from "./earlyTunnel";
import { PATHS, UNITS } from "./common";
import { requireRoot, shellcheck, withScratchDir } from "../testkit/cloudInit";

const [shell, dashC, script] = earlyTunnelBootcmd();

/** Runs the bootcmd; `systemd` and `firewallUnit` set up what the namespace shows it. */
function runBootcmd(opts: { systemd: boolean; firewallUnit: boolean }): { code: number | null; calls: string } {
  return withScratchDir((dir) => {
    const calls = join(dir, "calls");
    const fake = join(dir, "systemd-run");
    // TEST STAND-IN for systemd-run (never installed anywhere): records its arguments.
    writeFileSync(fake, `#!/bin/sh\nprintf '%s\\n' "$@" > ${calls}\n`);
    chmodSync(fake, 0o755);
    const setup = [
      "mount -t tmpfs none /run",
      opts.systemd ? "mkdir -p /run/systemd/system" : "",
      "mount -t tmpfs none /etc/systemd/system",
      opts.firewallUnit ? `touch ${PATHS.firewallUnit}` : "",
    ]
      .filter(Boolean)
      .join(" && ");
    const r = spawnSync(
      "unshare",
      ["-m", "--propagation", "private", "sh", "-c", `${setup} && exec "$@"`, "sh", shell, dashC, script],
      {
        env: { PATH: `${dir}:/usr/sbin:/usr/bin:/sbin:/bin` },
        encoding: "utf8",
        timeout: 20_000,
      },
    );
    return { code: r.status, calls: existsSync(calls) ? readFileSync(calls, "utf8") : "" };
  });
}

describe("early-tunnel bootcmd", () => {
  beforeAll(() => requireRoot("the early-tunnel bootcmd test (private mount namespaces)"));

  it("is one sh -c command that shellcheck accepts", () => {
    expect([shell, dashC]).toEqual(["sh", "-c"]);
    expect(shellcheck(script)).toEqual({ ok: true, output: "" });
  });

  it("on a first boot under systemd, asks for a oneshot path-triggered unit on the marker that runs runcmd's tunnel steps", () => {
    const r = runBootcmd({ systemd: true, firewallUnit: false });
    expect(r.code).toBe(0);
    expect(r.calls.trim().split("\n")).toEqual([
      "--quiet",
      `--unit=${UNITS.earlyTunnel}`,
      "--service-type=oneshot",
      "--property=RemainAfterExit=yes",
      `--path-property=PathExists=${PATHS.tunnelFilesWritten}`,
      "/bin/sh",
      "-c",
      EARLY_TUNNEL_SCRIPT,
    ]);
  });

  it("negative control: does nothing where systemd is not PID 1 (the namespace lab's hosts)", () => {
    const r = runBootcmd({ systemd: false, firewallUnit: false });
    expect(r).toEqual({ code: 0, calls: "" });
  });

  it("negative control: does nothing on later boots (the firewall unit is already written)", () => {
    const r = runBootcmd({ systemd: true, firewallUnit: true });
    expect(r).toEqual({ code: 0, calls: "" });
  });
});
