/**
 * Stand-in for systemd's `systemctl` inside a lab host (a network namespace has no
 * systemd as PID 1). The lab bundles this file and bind-mounts it over /usr/bin/systemctl
 * in every host, so the user-data's runcmd and the lab's fault injections drive units
 * exactly as they would on the VM.
 *
 * Understood: daemon-reload, enable/disable [--now], start, stop, restart, try-restart,
 * reload, reload-or-restart, is-active, is-enabled, is-failed, status, show -p ActiveState.
 * Units come from /etc/systemd/system, /run/systemd/system, /usr/local/lib/systemd/system
 * and /lib/systemd/system with drop-ins (<unit>.d/*.conf, <template>.d/*.conf). A start
 * pulls in Requires=/Wants=/BindsTo=/Requisite= and runs the transaction in After=/Before=
 * order; a unit whose required dependency failed is not started ("Dependency failed").
 * Types: oneshot (RemainAfterExit), simple/exec/notify/idle (backgrounded, PID recorded),
 * forking (waits for the parent; PIDFile= read). ExecStartPre/ExecStart/ExecStartPost,
 * ExecStop/ExecStopPost, ExecReload, Environment=, EnvironmentFile=, TimeoutStartSec=
 * (capped, so no start can hang the lab). Targets are no-ops that become active.
 *
 * Every action is appended to /run/lab-systemd/journal.log; state.json records active
 * units, main PIDs and the start sequence (the lab reads it to show ordering).
 */
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import {
  expandSpecifiers,
  mergeUnit,
  parseEnvironment,
  parseEnvironmentFile,
  parseExecLine,
  parseTimeSpan,
  parseUnitName,
  startOrder,
  unitList,
  value,
  values,
  type UnitSections,
} from "./units";

const STATE_DIR = process.env.LAB_SYSTEMD_STATE_DIR ?? "/run/lab-systemd";
const UNIT_PATH = (
  process.env.LAB_SYSTEMD_UNIT_PATH ??
  "/etc/systemd/system:/run/systemd/system:/usr/local/lib/systemd/system:/lib/systemd/system"
).split(":");
/** No start may take longer than this, whatever the unit says (the lab's waits are bounded). */
const MAX_START_SECONDS = Number(process.env.LAB_SYSTEMD_MAX_START ?? 180);

type ActiveState = "active" | "inactive" | "failed";
interface UnitState {
  state: ActiveState;
  mainPid?: number;
  enabled?: boolean;
  result?: string;
}
interface State {
  units: Record<string, UnitState>;
  sequence: { unit: string; action: string; at: string; result: string }[];
}

function loadState(): State {
  try {
    return JSON.parse(fs.readFileSync(path.join(STATE_DIR, "state.json"), "utf8")) as State;
  } catch {
    return { units: {}, sequence: [] };
  }
}

function saveState(s: State): void {
  fs.mkdirSync(STATE_DIR, { recursive: true });
  fs.writeFileSync(path.join(STATE_DIR, "state.json"), JSON.stringify(s, null, 2));
}

function log(line: string): void {
  fs.mkdirSync(STATE_DIR, { recursive: true });
  fs.appendFileSync(path.join(STATE_DIR, "journal.log"), `${new Date().toISOString()} ${line}\n`);
}

function readIf(p: string): string | null {
  try {
    return fs.readFileSync(p, "utf8");
  } catch {
    return null;
  }
}

/** Load a unit with its drop-ins; null when no unit file exists. */
export function loadUnit(full: string): UnitSections | null {
  const name = parseUnitName(full);
  let main: string | null = null;
  for (const dir of UNIT_PATH) {
    main = readIf(path.join(dir, name.full)) ?? (name.template ? readIf(path.join(dir, name.template)) : null);
    if (main !== null) break;
  }
  if (main === null) return null;
  // Drop-ins: template-level first, then instance-level; within each, file-name order, /etc last wins.
  const dropDirs = [...(name.template ? [`${name.template}.d`] : []), `${name.full}.d`];
  const byName = new Map<string, string>();
  for (const dd of dropDirs) {
    for (const dir of [...UNIT_PATH].reverse()) {
      let files: string[];
      try {
        files = fs.readdirSync(path.join(dir, dd)).filter((f) => f.endsWith(".conf"));
      } catch {
        continue;
      }
      for (const f of files) byName.set(`${dd}/${f}`, fs.readFileSync(path.join(dir, dd, f), "utf8"));
    }
  }
  const dropIns = [...byName.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, t]) => t);
  return mergeUnit(
    expandSpecifiers(main, name),
    dropIns.map((t) => expandSpecifiers(t, name)),
  );
}

function unitEnv(u: UnitSections, mainPid?: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const f of values(u, "Service", "EnvironmentFile")) {
    const optional = f.startsWith("-");
    const text = readIf(optional ? f.slice(1) : f);
    if (text === null && !optional) throw new Error(`EnvironmentFile ${f} missing`);
    Object.assign(env, parseEnvironmentFile(text ?? ""));
  }
  Object.assign(env, parseEnvironment(values(u, "Service", "Environment")));
  if (mainPid) env.MAINPID = String(mainPid);
  return env;
}

/** Run one Exec line to completion; returns true on success (or ignored failure). */
function runExec(unit: string, line: string, env: NodeJS.ProcessEnv, timeoutSec: number): boolean {
  const { command, ignoreFailure } = parseExecLine(line);
  log(`${unit}: exec ${command}`);
  const r = spawnSync("/bin/sh", ["-c", command], {
    env,
    encoding: "utf8",
    timeout: timeoutSec * 1000,
    killSignal: "SIGKILL",
  });
  const out = `${r.stdout ?? ""}${r.stderr ?? ""}`.trim();
  if (out) log(`${unit}: | ${out.split("\n").join(`\n${unit}: | `)}`);
  const ok = r.status === 0;
  if (!ok)
    log(
      `${unit}: command ${r.error ? `error ${r.error.message}` : `exited ${r.status}${r.signal ? ` (${r.signal})` : ""}`}${ignoreFailure ? " (ignored)" : ""}`,
    );
  return ok || ignoreFailure;
}

/** Alive and not a zombie (a reparented daemon's zombie may linger when PID 1 does not reap). */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = readIf(`/proc/${pid}/stat`);
  return stat !== null && !/^\d+ \(.*\) Z/.test(stat);
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function startOne(full: string, u: UnitSections | null, st: State): boolean {
  const cur = st.units[full] ?? { state: "inactive" };
  if (cur.state === "active") return true;
  const record = (state: ActiveState, result: string, mainPid?: number) => {
    st.units[full] = { ...cur, state, result, mainPid };
    st.sequence.push({ unit: full, action: "start", at: new Date().toISOString(), result });
    log(`${full}: ${result}`);
  };
  if (!u) {
    record("failed", "not-found");
    return false;
  }
  if (full.endsWith(".target")) {
    record("active", "started (target)");
    return true;
  }
  const type = value(u, "Service", "Type") ?? (values(u, "Service", "ExecStart").length ? "simple" : "oneshot");
  const timeout = Math.min(
    parseTimeSpan(value(u, "Service", "TimeoutStartSec") ?? value(u, "Service", "TimeoutSec")) ?? MAX_START_SECONDS,
    MAX_START_SECONDS,
  );
  let env: NodeJS.ProcessEnv;
  try {
    env = unitEnv(u);
  } catch (e) {
    record("failed", `environment: ${(e as Error).message}`);
    return false;
  }
  log(`${full}: starting (Type=${type})`);
  for (const pre of values(u, "Service", "ExecStartPre")) {
    if (!runExec(full, pre, env, timeout)) return (record("failed", "failed in ExecStartPre"), false);
  }
  const starts = values(u, "Service", "ExecStart");
  let mainPid: number | undefined;
  if (type === "oneshot") {
    for (const s of starts)
      if (!runExec(full, s, env, timeout)) return (record("failed", "failed in ExecStart"), false);
  } else if (type === "forking") {
    if (!starts.length || !runExec(full, starts[0], env, timeout))
      return (record("failed", "failed in ExecStart"), false);
    const pidFile = value(u, "Service", "PIDFile");
    if (pidFile) {
      for (let i = 0; i < 50 && !readIf(pidFile); i++) sleepMs(100);
      const pid = Number((readIf(pidFile) ?? "").trim());
      if (pid > 0) mainPid = pid;
    }
  } else {
    if (!starts.length) return (record("failed", "no ExecStart"), false);
    const { command } = parseExecLine(starts[0]);
    const logFd = fs.openSync(path.join(STATE_DIR, "journal.log"), "a");
    const child = spawn("/bin/sh", ["-c", `exec ${command}`], { env, detached: true, stdio: ["ignore", logFd, logFd] });
    child.unref();
    fs.closeSync(logFd);
    mainPid = child.pid;
    // A service that dies at once failed to start; notify-type services get a little longer to settle.
    sleepMs(type === "notify" ? 800 : 300);
    if (!mainPid || !pidAlive(mainPid)) return (record("failed", "main process exited at start"), false);
  }
  for (const post of values(u, "Service", "ExecStartPost")) {
    if (!runExec(full, post, unitEnv(u, mainPid), timeout)) return (record("failed", "failed in ExecStartPost"), false);
  }
  const remain = (value(u, "Service", "RemainAfterExit") ?? "no") === "yes";
  if (type === "oneshot" && !remain) {
    record("inactive", "finished (oneshot)");
    return true;
  }
  record("active", `started${mainPid ? ` (pid ${mainPid})` : ""}`, mainPid);
  return true;
}

function stopOne(full: string, st: State): boolean {
  const cur = st.units[full];
  if (!cur || cur.state !== "active") {
    if (cur) cur.state = "inactive";
    return true;
  }
  const u = loadUnit(full);
  let ok = true;
  if (u && !full.endsWith(".target")) {
    const env = unitEnv(u, cur.mainPid);
    const stops = values(u, "Service", "ExecStop");
    for (const s of stops) ok = runExec(full, s, env, 90) && ok;
    if (cur.mainPid && pidAlive(cur.mainPid)) {
      try {
        process.kill(cur.mainPid, "SIGTERM");
      } catch {
        /* gone */
      }
      for (let i = 0; i < 30 && pidAlive(cur.mainPid); i++) sleepMs(100);
      if (pidAlive(cur.mainPid)) process.kill(cur.mainPid, "SIGKILL");
    }
    for (const s of values(u, "Service", "ExecStopPost")) runExec(full, s, env, 90);
  }
  st.units[full] = { ...cur, state: "inactive", mainPid: undefined, result: "stopped" };
  st.sequence.push({
    unit: full,
    action: "stop",
    at: new Date().toISOString(),
    result: ok ? "stopped" : "stop failed",
  });
  log(`${full}: stopped`);
  return ok;
}

/** Start units as one transaction; returns the units that failed. */
function startTransaction(names: string[], st: State): string[] {
  const cache = new Map<string, UnitSections | null>();
  const load = (n: string) => {
    if (!cache.has(n)) cache.set(n, loadUnit(n));
    return cache.get(n)!;
  };
  const requested = new Set(names.map((n) => parseUnitName(n).full));
  let order: string[];
  try {
    order = startOrder(names, load);
  } catch (e) {
    log(`transaction refused: ${(e as Error).message}`);
    return [...requested];
  }
  log(`transaction: ${order.join(", ")}`);
  const failed = new Set<string>();
  for (const full of order) {
    const u = load(full);
    // A unit nobody requires that has no file (e.g. network-online.target on a minimal image) is just skipped.
    if (!u && !requested.has(full)) {
      const requiredBy = order.filter(
        (o) =>
          load(o) &&
          [...unitList(load(o)!, "Requires"), ...unitList(load(o)!, "BindsTo")]
            .map((x) => parseUnitName(x).full)
            .includes(full),
      );
      if (requiredBy.length === 0) {
        log(`${full}: not found, wanted only; skipped`);
        continue;
      }
    }
    const hardDeps = u
      ? [...unitList(u, "Requires"), ...unitList(u, "BindsTo"), ...unitList(u, "Requisite")].map(
          (x) => parseUnitName(x).full,
        )
      : [];
    const broken = hardDeps.filter((d) => failed.has(d));
    if (broken.length) {
      log(`${full}: Dependency failed (${broken.join(", ")})`);
      st.units[full] = { ...(st.units[full] ?? {}), state: "failed", result: "dependency" };
      st.sequence.push({
        unit: full,
        action: "start",
        at: new Date().toISOString(),
        result: `dependency failed: ${broken.join(", ")}`,
      });
      failed.add(full);
      continue;
    }
    if (!startOne(full, u, st)) failed.add(full);
    saveState(st);
  }
  return [...failed].filter((f) => requested.has(f) || order.includes(f));
}

function main(argv: string[]): number {
  const flags = argv.filter((a) => a.startsWith("-"));
  const args = argv.filter((a) => !a.startsWith("-"));
  const quiet = flags.includes("-q") || flags.includes("--quiet");
  const now = flags.includes("--now");
  const [cmd, ...names] = args;
  log(`systemctl ${argv.join(" ")}`);
  const st = loadState();
  const say = (s: string) => {
    if (!quiet) process.stdout.write(s + "\n");
  };
  const fullNames = names.map((n) => parseUnitName(n).full);
  const missing = fullNames.filter((n) => !loadUnit(n));
  const startAll = (): number => {
    if (missing.length) {
      process.stderr.write(`Failed to start ${missing.join(" ")}: Unit ${missing[0]} not found.\n`);
      saveState(st);
      return 5;
    }
    const failed = startTransaction(fullNames, st);
    saveState(st);
    if (failed.length) {
      process.stderr.write(`Job for ${failed.join(", ")} failed. See /run/lab-systemd/journal.log for details.\n`);
      return 1;
    }
    return 0;
  };
  switch (cmd) {
    case "daemon-reload":
    case "daemon-reexec":
    case "reset-failed":
      return 0;
    case "enable":
    case "reenable":
      for (const n of fullNames) st.units[n] = { ...(st.units[n] ?? { state: "inactive" }), enabled: true };
      saveState(st);
      if (missing.length) {
        process.stderr.write(`Failed to enable unit: Unit file ${missing[0]} does not exist.\n`);
        return 1;
      }
      return now ? startAll() : 0;
    case "disable":
      for (const n of fullNames) st.units[n] = { ...(st.units[n] ?? { state: "inactive" }), enabled: false };
      if (now) for (const n of fullNames) stopOne(n, st);
      saveState(st);
      return 0;
    case "start":
      return startAll();
    case "stop": {
      let ok = true;
      for (const n of fullNames) ok = stopOne(n, st) && ok;
      saveState(st);
      return ok ? 0 : 1;
    }
    case "restart":
    case "try-restart":
    case "reload-or-restart":
    case "force-reload": {
      const targets = cmd === "try-restart" ? fullNames.filter((n) => st.units[n]?.state === "active") : fullNames;
      for (const n of targets) stopOne(n, st);
      saveState(st);
      if (cmd === "try-restart") {
        const failed = startTransaction(targets, st);
        saveState(st);
        return failed.length ? 1 : 0;
      }
      return startAll();
    }
    case "reload": {
      for (const n of fullNames) {
        const u = loadUnit(n);
        const reloads = u ? values(u, "Service", "ExecReload") : [];
        if (!reloads.length) {
          process.stderr.write(`Failed to reload ${n}: Job type reload is not applicable for unit ${n}.\n`);
          return 1;
        }
        for (const r of reloads) if (!runExec(n, r, unitEnv(u!, st.units[n]?.mainPid), 90)) return 1;
      }
      return 0;
    }
    case "is-active":
    case "is-failed":
    case "is-enabled": {
      let all = true;
      for (const n of fullNames) {
        const s = st.units[n];
        if (cmd === "is-enabled") {
          say(s?.enabled ? "enabled" : "disabled");
          all = all && !!s?.enabled;
        } else {
          const state = s?.state ?? "inactive";
          say(state);
          all = all && (cmd === "is-active" ? state === "active" : state === "failed");
        }
      }
      return all ? 0 : cmd === "is-enabled" ? 1 : 3;
    }
    case "status":
    case "show": {
      for (const n of fullNames) {
        const s = st.units[n];
        say(
          cmd === "show"
            ? `ActiveState=${s?.state ?? "inactive"}\nMainPID=${s?.mainPid ?? 0}`
            : `● ${n}\n   Active: ${s?.state ?? "inactive"} (${s?.result ?? "dead"})`,
        );
      }
      return fullNames.every((n) => st.units[n]?.state === "active") ? 0 : 3;
    }
    default:
      process.stderr.write(`lab systemctl stand-in: unsupported command '${cmd ?? ""}'\n`);
      log(`unsupported command ${cmd}`);
      return 1;
  }
}

if (require.main === module) {
  let code = 1;
  try {
    code = main(process.argv.slice(2));
  } catch (e) {
    log(`internal error: ${(e as Error).stack}`);
    process.stderr.write(`lab systemctl stand-in: ${(e as Error).message}\n`);
  }
  process.exit(code);
}
