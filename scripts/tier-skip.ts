/**
 * For a suite that checks for itself whether it can run here (the labs: root,
 * /dev/net/tun, qemu, ...): `describeUnless(reason)` is jest's describe when reason is
 * undefined, else a describe whose tests are all declared skipped under a title that
 * scripts/tier-reporter.js reads the reason from. A suite that cannot run is reported as
 * SKIPPED with its reason, never as passed, and under CI it fails the run unless accepted
 * (TEST_SKIP_OK; see scripts/tier-reporter.js).
 */
export const SKIPPED_TITLE = /^SKIPPED \((.+?)\): /;

export function skippedTitle(reason: string, name: string): string {
  return `SKIPPED (${reason}): ${name}`;
}

export function describeUnless(reason: string | undefined): (name: string, fn: () => void) => void {
  if (reason === undefined) return describe;
  return (name, fn) => describe.skip(skippedTitle(reason, name), fn);
}
