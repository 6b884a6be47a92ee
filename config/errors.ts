/**
 * The shape of a configuration problem and how it is shown: every issue names the key and a
 * runnable fix. Shared by parsing and validation, which both report through it; it imports
 * nothing, so neither depends on the other for it.
 *
 * The same rules serve two audiences, which differ only in how a fix is phrased: the stack
 * (`pulumi config set --path 'remoteSites[0].subnet' ...`) and a program that constructs the
 * `SiteToSiteVpn` component (set the argument `remoteSites[0].subnet` to ...). Argument paths
 * and config keys are spelled the same on purpose (the component's arguments mirror the
 * stack's keys), so an issue's `key` is valid for both; only the `Phrasing` changes.
 */
/** One problem with the configuration, phrased for the person who has to fix it. */
export interface ConfigIssue {
  /** The key as typed for `pulumi config set --path` (or the argument path), e.g. `remoteSites[1].subnet`. */
  key: string;
  problem: string;
  fix: string;
}

/** How fixes name an action on a key; the rules compose these into sentences. */
export interface Phrasing {
  /** What the issue list is about, with its verb, for the heading: "Stack configuration has". */
  readonly subject: string;
  /** What did not happen because of the problems, for its heading. */
  readonly consequence: string;
  /** Imperative: "run `pulumi config set k v`" / "set `k` to v". */
  run(key: string, value: string | number | boolean): string;
  /** Noun phrase, after "e.g." or ":": "`pulumi config set k v`" / "`k: v`". */
  set(key: string, value: string | number | boolean): string;
  /** Noun phrase for removal, after "or": "`pulumi config rm k`" / "leave `k` unset". */
  remove(key: string): string;
  /** Imperative removal: "remove it with `pulumi config rm k`" / "leave `k` unset". */
  removeIt(key: string): string;
  /** Imperative removal of an unknown key: "run `pulumi config rm k`" / "remove `k`". */
  runRemove(key: string): string;
  /** Noun phrase moving every resource to `zone`: the stack sets the provider's own key, a caller its argument. */
  setZone(zone: string): string;
}

/** The stack's phrasing: every fix is a `pulumi config` command the user can paste. */
export const CONFIG_PHRASING: Phrasing = Object.freeze({
  subject: "Stack configuration has",
  consequence: "nothing was deployed",
  run: (key: string, value: string | number | boolean) => `run ${setCommand(key, value)}`,
  set: setCommand,
  remove: removeCommand,
  removeIt: (key: string) => `remove it with ${removeCommand(key)}`,
  runRemove: (key: string) => `run ${removeCommand(key)}`,
  // The provider's key, which the stack's zone follows (config/zone.ts); the project's
  // `zone` key is only an override that must agree with it.
  setZone: (zone: string) => `\`pulumi config set scaleway:zone ${zone}\``,
});

/**
 * A caller's phrasing, for `new SiteToSiteVpn(name, args)` in any language: the argument
 * path and its value. Values keep the stack's spelling (the same JSON in every SDK).
 */
export function argumentPhrasing(component: string): Phrasing {
  return Object.freeze({
    subject: `${component} arguments have`,
    consequence: "no resource was declared",
    run: (key: string, value: string | number | boolean) => `set the argument \`${key}\` to ${value}`,
    set: (key: string, value: string | number | boolean) => `\`${key}: ${value}\``,
    remove: (key: string) => `leave \`${key}\` unset`,
    removeIt: (key: string) => `leave \`${key}\` unset`,
    runRemove: (key: string) => `remove the argument \`${key}\``,
    setZone: (zone: string) => `\`zone: ${zone}\``,
  });
}

/**
 * Fixes written for no audience yet: each action on a key is kept as a marker (verb and
 * arguments) that `phrase` turns into either audience's words. The rules and the parser
 * write their fixes this way once; a ConfigError can then be shown to the stack or to a
 * component's caller without finding its problems again.
 */
const OPEN = "\uE000";
const SEP = "\uE001";
const CLOSE = "\uE002";
/** Stands for the issue's own key, in a fix written before the key's full path is known (a field's own checks). */
export const THIS_KEY = "\uE003";
const MARKER = /\uE000(\w+)\uE001([^\uE002]*)\uE002/g;

type Action = "run" | "set" | "remove" | "removeIt" | "runRemove" | "setZone";

function marker(action: Action, ...args: (string | number | boolean)[]): string {
  // A value that holds a marker character (user input can) is escaped, so it reads back as itself.
  const json = JSON.stringify(args).replace(/[\uE000-\uE003]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
  return `${OPEN}${action}${SEP}${json}${CLOSE}`;
}

export const TEMPLATE: Phrasing = Object.freeze({
  subject: "Configuration has",
  consequence: "nothing was declared",
  run: (key: string, value: string | number | boolean) => marker("run", key, value),
  set: (key: string, value: string | number | boolean) => marker("set", key, value),
  remove: (key: string) => marker("remove", key),
  removeIt: (key: string) => marker("removeIt", key),
  runRemove: (key: string) => marker("runRemove", key),
  setZone: (zone: string) => marker("setZone", zone),
});

/** The issue with its fix in `p`'s words (an issue written in words already is returned as is). */
export function phrase(issue: ConfigIssue, p: Phrasing): ConfigIssue {
  const fix = issue.fix.replace(MARKER, (_, action: Action, json: string) => {
    const args = (JSON.parse(json) as (string | number | boolean)[]).map((arg) =>
      typeof arg === "string" && arg.startsWith(THIS_KEY) ? issue.key + arg.slice(THIS_KEY.length) : arg,
    );
    return (p[action] as (...a: (string | number | boolean)[]) => string)(...args);
  });
  return fix === issue.fix ? issue : { ...issue, fix };
}

/** Thrown with every problem found, so one `pulumi up` shows them all. */
export class ConfigError extends Error {
  /** The issues, fixes in `phrasing`'s words. */
  readonly issues: ConfigIssue[];
  readonly phrasing: Phrasing;
  /**
   * Marks this as a `pulumi.RunError` (the SDK duck-types on this flag), so `pulumi up`
   * prints just the issue list, without a stack trace, and this file needs no Pulumi import.
   */
  readonly __pulumiRunError = true;
  /** The issues as written, fixes as TEMPLATE markers where they were written that way. */
  private readonly written: ConfigIssue[];

  constructor(issues: ConfigIssue[], phrasing: Phrasing = CONFIG_PHRASING) {
    const phrased = issues.map((issue) => phrase(issue, phrasing));
    super(formatIssues(phrased, phrasing));
    this.name = "ConfigError";
    this.issues = phrased;
    this.phrasing = phrasing;
    this.written = issues;
  }

  /** The same problems, phrased for another audience (itself when its fixes were written in words already). */
  rephrased(phrasing: Phrasing): ConfigError {
    const templated = this.written.some((issue, i) => issue !== this.issues[i]);
    if (phrasing === this.phrasing || !templated) return this;
    return new ConfigError(this.written, phrasing);
  }
}

/** `<key>: <problem> Fix: <fix>` */
export function formatIssue(issue: ConfigIssue): string {
  return `${issue.key}: ${sentence(issue.problem)} Fix: ${sentence(issue.fix)}`;
}

export function formatIssues(issues: ConfigIssue[], phrasing: Phrasing = CONFIG_PHRASING): string {
  const count = issues.length === 1 ? "1 problem" : `${issues.length} problems`;
  return [`${phrasing.subject} ${count} (${phrasing.consequence}):`, ...issues.map(formatIssue)].join("\n");
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
