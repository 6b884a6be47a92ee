/**
 * The shape of a configuration problem and how it is shown: every issue names the key (as
 * typed for `pulumi config set --path`) and a runnable fix. Shared by parsing and validation,
 * which both report through it; it imports nothing, so neither depends on the other for it.
 */
/** One problem with the configuration, phrased for the person who has to fix it. */
export interface ConfigIssue {
  /** The key as typed for `pulumi config set --path`, e.g. `remoteSites[1].subnet`. */
  key: string;
  problem: string;
  fix: string;
}

/** Thrown with every problem found, so one `pulumi up` shows them all. */
export class ConfigError extends Error {
  readonly issues: ConfigIssue[];
  /**
   * Marks this as a `pulumi.RunError` (the SDK duck-types on this flag), so `pulumi up`
   * prints just the issue list, without a stack trace, and this file needs no Pulumi import.
   */
  readonly __pulumiRunError = true;

  constructor(issues: ConfigIssue[]) {
    super(formatIssues(issues));
    this.name = "ConfigError";
    this.issues = issues;
  }
}

/** `<key>: <problem> Fix: <fix>` */
export function formatIssue(issue: ConfigIssue): string {
  return `${issue.key}: ${sentence(issue.problem)} Fix: ${sentence(issue.fix)}`;
}

export function formatIssues(issues: ConfigIssue[]): string {
  const count = issues.length === 1 ? "1 problem" : `${issues.length} problems`;
  return [`Stack configuration has ${count} (nothing was deployed):`, ...issues.map(formatIssue)].join("\n");
}

/** The command that sets `key` (nested keys need `--path`, quoted for the shell). */
export function setCommand(key: string, value: string | number | boolean): string {
  const nested = key.includes(".") || key.includes("[");
  return nested ? `\`pulumi config set --path '${key}' ${value}\`` : `\`pulumi config set ${key} ${value}\``;
}

export function removeCommand(key: string): string {
  const nested = key.includes(".") || key.includes("[");
  return nested ? `\`pulumi config rm --path '${key}'\`` : `\`pulumi config rm ${key}\``;
}

function sentence(text: string): string {
  const trimmed = text.trim();
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}
