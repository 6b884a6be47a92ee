/**
 * Runs the tunnel metrics collector (cloud-init/metrics/wg-s2s-metrics) against stand-ins
 * for the tools it calls (wg, ping, nft) and for /proc and /sys, with a PATH that holds
 * nothing else of the machine's but the basic tools the script needs, so a "missing"
 * tool is really missing. The stand-ins speak the output formats of wireguard-tools and
 * iputils-ping as they print them (checked against the real tools in the system tier).
 */
import { spawnSync } from "child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { collectorScript } from "../cloud-init/tunnelMetrics";

/** What the script runs besides wg, ping and nft. */
const BASIC_TOOLS = ["sh", "awk", "sed", "grep", "mktemp", "date", "cp", "mv", "mkdir", "rm", "cat", "sleep"];

export interface FakePeer {
  publicKey: string;
  /** Unix time; 0 = no handshake yet. */
  handshake: number;
  rx: number;
  tx: number;
  /** "(none)" as wg prints it, or host:port. */
  endpoint: string;
}

export interface CollectorWorld {
  /** Peers `wg show wg0` knows. */
  peers: FakePeer[];
  /** Tunnel addresses that answer a ping, with the average RTT in ms. */
  answering: Record<string, number>;
  tools: { wg: boolean; ping: boolean; nft: boolean };
  policyLoaded: boolean;
  forwarding: boolean;
  /** Whether wg0 exists, and whether it is up. */
  interface: "up" | "down" | "missing";
  /** Content of the HA agent's file, absent when undefined. */
  activeFile?: string;
}

export interface CollectorRun {
  status: number | null;
  stderr: string;
  /** The textfile written, or undefined. */
  textfile?: string;
  /** Files left in the output directory (only the .prom file expected). */
  outputDirectory: string[];
  /** Every argument vector the wg stand-in was called with. */
  wgCalls: string[][];
}

function executable(path: string, text: string): void {
  writeFileSync(path, text);
  chmodSync(path, 0o755);
}

function which(tool: string): string {
  for (const dir of ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]) if (existsSync(join(dir, tool))) return join(dir, tool);
  throw new Error(`${tool} is missing on this machine; the collector needs it`);
}

/**
 * Runs one collection with the given config text (placeholders OUTPUT and ACTIVE_FILE are
 * replaced by paths inside the scratch directory).
 */
export function runCollector(config: string, world: CollectorWorld): CollectorRun {
  const dir = mkdtempSync(join(tmpdir(), "wg-s2s-metrics-"));
  try {
    const bin = join(dir, "bin");
    mkdirSync(bin);
    for (const tool of BASIC_TOOLS) symlinkSync(which(tool), join(bin, tool));
    const wgLog = join(dir, "wg-calls");
    if (world.tools.wg) {
      const list = (field: (p: FakePeer) => string) => world.peers.map((p) => `${p.publicKey}\t${field(p)}`).join("\n");
      executable(
        join(bin, "wg"),
        [
          "#!/bin/sh",
          `printf '%s\\n' "$*" >>'${wgLog}'`,
          '[ "$1" = show ] && [ "$2" = wg0 ] || exit 1',
          `[ -e '${join(dir, "sys/class/net/wg0")}' ] || { echo 'Unable to access interface: No such device' >&2; exit 1; }`,
          "case $3 in",
          `latest-handshakes) printf '%s\\n' '${list((p) => String(p.handshake))}' ;;`,
          `transfer) printf '%s\\n' '${list((p) => `${p.rx}\t${p.tx}`)}' ;;`,
          `endpoints) printf '%s\\n' '${list((p) => p.endpoint)}' ;;`,
          "*) exit 1 ;;",
          "esac",
          "",
        ].join("\n"),
      );
    }
    if (world.tools.ping) {
      const cases = Object.entries(world.answering).map(
        ([address, ms]) =>
          `${address}) printf 'PING %s\\n\\n--- %s ping statistics ---\\n3 packets transmitted, 3 received, 0%% packet loss, time 405ms\\nrtt min/avg/max/mdev = 0.028/${ms}/0.050/0.009 ms\\n' "$address" "$address"; exit 0 ;;`,
      );
      executable(
        join(bin, "ping"),
        [
          "#!/bin/sh",
          "for address; do :; done",
          // Only across the tunnel: bound to wg0, or nothing answers.
          'case " $* " in *" -I wg0 "*) ;; *) exit 2 ;; esac',
          "case $address in",
          ...cases,
          "esac",
          `printf 'PING %s\\n\\n--- %s ping statistics ---\\n15 packets transmitted, 0 received, 100%% packet loss, time 2880ms\\n\\n' "$address" "$address"`,
          "exit 1",
          "",
        ].join("\n"),
      );
    }
    if (world.tools.nft) {
      executable(
        join(bin, "nft"),
        `#!/bin/sh\n[ "$*" = "list table inet wg_s2s" ] && exit ${world.policyLoaded ? 0 : 1}\nexit 1\n`,
      );
    }
    const proc = join(dir, "proc/sys/net/ipv4");
    mkdirSync(proc, { recursive: true });
    writeFileSync(join(proc, "ip_forward"), world.forwarding ? "1\n" : "0\n");
    if (world.interface !== "missing") {
      mkdirSync(join(dir, "sys/class/net/wg0"), { recursive: true });
      writeFileSync(join(dir, "sys/class/net/wg0/flags"), world.interface === "up" ? "0x1091\n" : "0x1090\n");
    }
    const activeFile = join(dir, "active");
    if (world.activeFile !== undefined) writeFileSync(activeFile, world.activeFile);
    const out = join(dir, "out");
    const configFile = join(dir, "metrics.conf");
    writeFileSync(
      configFile,
      config
        .replace(/^output .*$/m, `output ${join(out, "wg_s2s.prom")}`)
        .replace(/^active_file .*$/m, `active_file ${activeFile}`),
    );
    const script = join(dir, "wg-s2s-metrics");
    executable(script, collectorScript());
    const result = spawnSync(join(bin, "sh"), [script, configFile], {
      encoding: "utf8",
      timeout: 20000,
      env: { PATH: bin, WG_S2S_PROC: join(dir, "proc"), WG_S2S_SYS: join(dir, "sys") },
    });
    const textfilePath = join(out, "wg_s2s.prom");
    return {
      status: result.status,
      stderr: `${result.stderr ?? ""}${result.error ? String(result.error) : ""}`,
      textfile: existsSync(textfilePath) ? readFileSync(textfilePath, "utf8") : undefined,
      outputDirectory: existsSync(out) ? readdirSync(out).sort() : [],
      wgCalls: existsSync(wgLog)
        ? readFileSync(wgLog, "utf8")
            .split("\n")
            .filter(Boolean)
            .map((l) => l.split(" "))
        : [],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  /** Label names in the order written. */
  labelOrder: string[];
  value: number;
}

/** Samples of a text-format exposition (no escapes in our label values). */
export function parseSamples(text: string): Sample[] {
  return text
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (\S+)$/.exec(line);
      if (!m) throw new Error(`not a sample line with labels: ${line}`);
      const pairs = [...m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="([^"\\]*)"/g)];
      return {
        name: m[1],
        labels: Object.fromEntries(pairs.map((p) => [p[1], p[2]])),
        labelOrder: pairs.map((p) => p[1]),
        value: Number(m[3]),
      };
    });
}

export const PROMTOOL = "/usr/bin/promtool";

/** Why promtool cannot run here, or undefined. */
export function promtoolMissing(): string | undefined {
  return existsSync(PROMTOOL)
    ? undefined
    : `${PROMTOOL} is missing: apt-get install prometheus, or run npm run setup as root`;
}

/** `promtool check metrics` on an exposition (lints names, units, HELP and TYPE). */
export function promtoolCheckMetrics(text: string): { ok: boolean; output: string } {
  const result = spawnSync(PROMTOOL, ["check", "metrics"], { input: text, encoding: "utf8", timeout: 30000 });
  return { ok: result.status === 0, output: `${result.stdout ?? ""}${result.stderr ?? ""}` };
}
