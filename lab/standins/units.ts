/**
 * Pure helpers for the systemctl stand-in: systemd unit-file parsing with drop-in merge
 * semantics, specifier expansion, and the start order of a transaction. Only the parts of
 * systemd.unit(5)/systemd.service(5) the lab's hosts use; anything else is kept verbatim
 * and ignored by the executor.
 */

/** section -> key -> values (a key may repeat; an empty assignment resets the list). */
export type UnitSections = Record<string, Record<string, string[]>>;

/** Join backslash continuations, drop comments and blank lines. */
function logicalLines(text: string): string[] {
  const out: string[] = [];
  let pending = "";
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (pending === "" && (line.startsWith("#") || line.startsWith(";"))) continue;
    if (line.endsWith("\\")) {
      pending += line.slice(0, -1) + " ";
      continue;
    }
    const full = (pending + line).trim();
    pending = "";
    if (full) out.push(full);
  }
  if (pending.trim()) out.push(pending.trim());
  return out;
}

/** Parse one unit file (or drop-in) into `into`, applying systemd's reset-on-empty rule. */
export function parseUnitInto(text: string, into: UnitSections = {}): UnitSections {
  let section = "";
  for (const line of logicalLines(text)) {
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      section = header[1];
      into[section] ??= {};
      continue;
    }
    const eq = line.indexOf("=");
    if (eq <= 0 || !section) continue;
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    const keys = (into[section] ??= {});
    if (value === "") keys[key] = [];
    else (keys[key] ??= []).push(value);
  }
  return into;
}

/** Merge a unit with its drop-ins, in the order given (later wins / appends). */
export function mergeUnit(main: string, dropIns: string[]): UnitSections {
  const sections = parseUnitInto(main);
  for (const d of dropIns) parseUnitInto(d, sections);
  return sections;
}

export function values(u: UnitSections, section: string, key: string): string[] {
  return u[section]?.[key] ?? [];
}

/** Last value of a key (systemd's rule for single-valued settings). */
export function value(u: UnitSections, section: string, key: string): string | undefined {
  const v = values(u, section, key);
  return v.length ? v[v.length - 1] : undefined;
}

/** Space-separated unit lists (Requires=a b, After=c) flattened. */
export function unitList(u: UnitSections, key: string): string[] {
  return values(u, "Unit", key).flatMap((v) => v.split(/\s+/).filter(Boolean));
}

export interface UnitName {
  full: string;
  /** "wg-quick" for wg-quick@wg0.service. */
  prefix: string;
  /** "wg0" for wg-quick@wg0.service; undefined for a non-template unit. */
  instance?: string;
  suffix: string;
  /** File name of the template, e.g. "wg-quick@.service". */
  template?: string;
}

/** Normalise a name ("wg-quick@wg0" -> "wg-quick@wg0.service") and split it. */
export function parseUnitName(name: string): UnitName {
  const known = /\.(service|target|socket|timer|path|mount|device|slice|scope)$/;
  const full = known.test(name) ? name : `${name}.service`;
  const dot = full.lastIndexOf(".");
  const base = full.slice(0, dot);
  const suffix = full.slice(dot + 1);
  const at = base.indexOf("@");
  if (at < 0) return { full, prefix: base, suffix };
  return {
    full,
    prefix: base.slice(0, at),
    instance: base.slice(at + 1),
    suffix,
    template: `${base.slice(0, at)}@.${suffix}`,
  };
}

/** Unescape systemd's instance escaping for %I ("-" is "/", \xNN is a byte). */
function unescapeInstance(s: string): string {
  return s.replace(/\\x([0-9a-fA-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))).replace(/-/g, "/");
}

/** Expand the specifiers the lab's units use: %i %I %n %N %p %%. */
export function expandSpecifiers(text: string, name: UnitName): string {
  return text.replace(/%([iInNp%])/g, (_, c: string) => {
    switch (c) {
      case "i":
        return name.instance ?? "";
      case "I":
        return unescapeInstance(name.instance ?? "");
      case "n":
        return name.full;
      case "N":
        return name.full.slice(0, name.full.lastIndexOf("."));
      case "p":
        return name.prefix;
      default:
        return "%";
    }
  });
}

/** Environment= assignments: `A=b "C=d e" F=`. */
export function parseEnvironment(assignments: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of assignments) {
    for (const m of line.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)) {
      const word = m[1] ?? m[2] ?? m[3];
      const eq = word.indexOf("=");
      if (eq > 0) env[word.slice(0, eq)] = word.slice(eq + 1);
    }
  }
  return env;
}

/** EnvironmentFile= content: KEY=VALUE lines, optional quotes, # comments. */
export function parseEnvironmentFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith(";")) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    env[m[1]] = m[2].replace(/^"(.*)"$/, "$1").replace(/^'(.*)'$/, "$1");
  }
  return env;
}

export interface ExecLine {
  /** Command line for /bin/sh -c (prefix characters removed). */
  command: string;
  /** "-" prefix: a failing command does not fail the unit. */
  ignoreFailure: boolean;
}

/** Strip systemd's Exec prefixes (-, @, +, !, !!, :). */
export function parseExecLine(line: string): ExecLine {
  let i = 0;
  let ignoreFailure = false;
  while (i < line.length && "-@+!:".includes(line[i])) {
    if (line[i] === "-") ignoreFailure = true;
    i++;
  }
  return { command: line.slice(i).trim(), ignoreFailure };
}

/** Seconds from a systemd time span ("90", "90s", "2min", "1min 30s", "infinity"); undefined = no bound. */
export function parseTimeSpan(span: string | undefined): number | undefined {
  if (span === undefined) return undefined;
  const s = span.trim();
  if (s === "infinity" || s === "0") return undefined;
  let total = 0;
  let matched = false;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)\s*(ms|s|sec|seconds?|m|min|minutes?|h|hr|hours?)?/g)) {
    matched = true;
    const n = Number(m[1]);
    const unit = m[2] ?? "s";
    if (unit === "ms") total += n / 1000;
    else if (/^(m|min|minutes?)$/.test(unit)) total += n * 60;
    else if (/^(h|hr|hours?)$/.test(unit)) total += n * 3600;
    else total += n;
  }
  return matched ? total : undefined;
}

/**
 * Start order for a transaction: requested units plus their Requires=/Wants=/BindsTo=/
 * Requisite= closure, sorted so that every unit starts after the units it is ordered
 * After= (or that are ordered Before= it). Ties keep discovery order (dependencies first).
 * Throws on an ordering cycle, as systemd would refuse such a transaction.
 */
export function startOrder(requested: string[], load: (name: string) => UnitSections | null): string[] {
  const units = new Map<string, UnitSections | null>();
  const discovery: string[] = [];
  const visit = (name: string, depth: number) => {
    const full = parseUnitName(name).full;
    if (units.has(full) || depth > 20) return;
    const u = load(full);
    units.set(full, u);
    if (u)
      for (const dep of [
        ...unitList(u, "Requires"),
        ...unitList(u, "BindsTo"),
        ...unitList(u, "Requisite"),
        ...unitList(u, "Wants"),
      ])
        visit(dep, depth + 1);
    discovery.push(full);
  };
  for (const r of requested) visit(r, 0);

  const inSet = new Set(discovery);
  const before = new Map<string, Set<string>>(discovery.map((n) => [n, new Set<string>()])); // n -> units that must start first
  for (const n of discovery) {
    const u = units.get(n);
    if (!u) continue;
    for (const a of unitList(u, "After")) {
      const full = parseUnitName(a).full;
      if (inSet.has(full)) before.get(n)!.add(full);
    }
    for (const b of unitList(u, "Before")) {
      const full = parseUnitName(b).full;
      if (inSet.has(full)) before.get(full)!.add(n);
    }
  }
  const order: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const place = (n: string, chain: string[]) => {
    if (state.get(n) === "done") return;
    if (state.get(n) === "visiting") throw new Error(`ordering cycle: ${[...chain, n].join(" -> ")}`);
    state.set(n, "visiting");
    for (const first of discovery.filter((d) => before.get(n)!.has(d))) place(first, [...chain, n]);
    state.set(n, "done");
    order.push(n);
  };
  for (const n of discovery) place(n, []);
  return order;
}
