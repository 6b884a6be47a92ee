/**
 * Brings a gateway's tunnel up as soon as cloud-init's write_files has written its files,
 * instead of waiting for runcmd, which cloud-init runs only in its final stage, after the
 * whole config stage. Measured in the VM lab under software emulation, write_files (init
 * stage) comes some 20-30 s before runcmd (final stage) on a gateway's first boot.
 *
 * How: bootcmd runs every boot before write_files in the same init stage (cloud-init's
 * cloud_init_modules: seed_random, bootcmd, write_files, ...). On the first boot (the
 * firewall unit is not written yet) it asks systemd for a transient path unit watching a
 * marker that write_files writes right after the tunnel's files; the moment it exists,
 * every tunnel file before it is closed, and the transient service loads the units, starts
 * the firewall unit (forward policy, then forwarding: the same fail-closed order) and has
 * networkd create wg0. A oneshot that stays active, so the path unit triggers it once.
 *
 * An optimisation only: runcmd still does the same, idempotently. Where systemd is not PID
 * 1 (no /run/systemd/system, as in the namespace lab's hosts) or the unit already exists,
 * bootcmd does nothing. Nothing here reads or prints key material.
 */
import { PATHS, UNITS, fileEntry, type Command, type WriteFileEntry } from "./common";

/** What the transient service runs: the runcmd steps that put the tunnel up, in order. */
export const EARLY_TUNNEL_SCRIPT = `systemctl daemon-reload && systemctl start ${UNITS.firewall} && networkctl reload`;

/** bootcmd entry (shell form: it tests before it acts). */
export function earlyTunnelBootcmd(): Command {
  const run = [
    "systemd-run --quiet",
    `--unit=${UNITS.earlyTunnel}`,
    "--service-type=oneshot --property=RemainAfterExit=yes",
    `--path-property=PathExists=${PATHS.tunnelFilesWritten}`,
    `/bin/sh -c '${EARLY_TUNNEL_SCRIPT}'`,
  ].join(" ");
  return [
    "sh",
    "-c",
    `[ -d /run/systemd/system ] && [ ! -e ${PATHS.firewallUnit} ] && command -v systemd-run >/dev/null || exit 0; ` +
      `${run} || echo wg-s2s: no early tunnel start, runcmd brings the tunnel up >&2`,
  ];
}

/** The marker, written by write_files right after the tunnel's own files. */
export function tunnelFilesWrittenEntry(): WriteFileEntry {
  return fileEntry(
    PATHS.tunnelFilesWritten,
    "# Written by cloud-init after the WireGuard tunnel's files (scaleway-wireguard-s2s).\n" +
      `# On the first boot its appearance starts ${UNITS.earlyTunnel}.path's service: the tunnel comes up then.\n`,
  );
}
