/**
 * Runs a host's user-data with the machine's real cloud-init (22.4 here) inside the host.
 *
 * What a VM's boot does, and what the lab does instead:
 *  - the datasource: Scaleway's metadata service -> cloud-init's NoCloud seed
 *    (/var/lib/cloud/seed/nocloud/{user-data,meta-data}, inside the host's private /var);
 *  - `cloud-init schema -c` first (a VM does not, but an invalid file must stop the lab);
 *  - the three boot stages, for real: `cloud-init init`, `cloud-init modules --mode config`,
 *    `cloud-init modules --mode final`, with the module lists narrowed (99-lab.cfg in the
 *    host's private /etc) to the modules the lab can run inside a namespace:
 *      init: bootcmd, write-files; config: runcmd; final: write-files-deferred, scripts-user;
 *    network config is disabled (the lab wires the NICs) and the hostname preserved
 *    (the host has its own UTS namespace anyway);
 *  - `packages:` -> apt stand-in (checks the packages are installed on this machine),
 *    run between the config and final stages, where a VM installs them.
 * Top-level keys the lab does not apply (SSH keys, users...) are returned as `notApplied`.
 */
import { parse as parseYaml } from "yaml";
import type { LabHost } from "./host";
import { parseCloudInitResult } from "./parsers";

/** cloud-config keys the lab applies, and how. */
const APPLIED: Record<string, string> = {
  bootcmd: "cloud-init module bootcmd",
  write_files: "cloud-init modules write-files / write-files-deferred",
  runcmd: "cloud-init modules runcmd + scripts-user",
  packages: "apt stand-in: checked installed on this machine (dpkg-query)",
  package_update: "apt stand-in: no-op (nothing is installed)",
  package_upgrade: "apt stand-in: no-op",
  package_reboot_if_required: "apt stand-in: no-op",
};

/** Keys a VM applies that have no meaning in a namespace; listed in the report. */
const NOT_APPLIED_REASON: Record<string, string> = {
  ssh_authorized_keys: "no SSH server in lab hosts (reachability is checked with ping/iperf3 instead)",
  ssh_keys: "no SSH server in lab hosts",
  ssh_pwauth: "no SSH server in lab hosts",
  disable_root: "no SSH server in lab hosts",
  users: "lab hosts share the machine's users",
  hostname: "lab sets the hostname itself (own UTS namespace)",
  fqdn: "lab sets the hostname itself",
  timezone: "not relevant to networking",
  final_message: "cosmetic",
};

export const LAB_CLOUD_CFG = `# Written by the lab into this host's private /etc (never the machine's).
datasource_list: [NoCloud, None]
network: {config: disabled}
preserve_hostname: true
manage_etc_hosts: false
cloud_init_modules: [bootcmd, write-files]
cloud_config_modules: [runcmd]
cloud_final_modules: [write-files-deferred, scripts-user]
`;

export interface CloudConfigSummary {
  packages: string[];
  keys: string[];
  notApplied: { key: string; reason: string }[];
}

/** What the lab will do with a cloud-config (pure). */
export function summariseCloudConfig(userData: string): CloudConfigSummary {
  if (!userData.startsWith("#cloud-config")) throw new Error("user-data is not a #cloud-config document");
  const doc = (parseYaml(userData) ?? {}) as Record<string, unknown>;
  const keys = Object.keys(doc);
  const packages = ((doc.packages as unknown[]) ?? []).map((p) => (Array.isArray(p) ? String(p[0]) : String(p)));
  const notApplied = keys
    .filter((k) => !(k in APPLIED))
    .map((key) => ({ key, reason: NOT_APPLIED_REASON[key] ?? "not supported by the lab (module not run)" }));
  return { packages, keys, notApplied };
}

export interface StageTiming {
  stage: string;
  ms: number;
  ok: boolean;
}

export interface CloudInitResult {
  host: string;
  ok: boolean;
  schemaValid: boolean;
  stages: StageTiming[];
  missingPackages: string[];
  notApplied: { key: string; reason: string }[];
  /** cloud-init's own error list (/run/cloud-init/result.json). */
  errors: string[];
  /** Tail of /var/log/cloud-init-output.log when something failed. */
  outputTail?: string;
  startedAt: number;
  finishedAt: number;
}

/** Packages not installed on this machine (the apt stand-in's check). */
export async function missingPackages(host: LabHost, packages: string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const p of packages) {
    const r = await host.exec(["dpkg-query", "-W", "-f=${Status}", p]);
    if (r.code !== 0 || !r.stdout.includes("install ok installed")) missing.push(p);
  }
  return missing;
}

/**
 * Seed and run the user-data on a started host. Bounded: each stage gets `stageTimeoutMs`
 * (the final stage runs the runcmd, which waits for the private NIC, so it gets the most).
 */
export async function runUserData(
  host: LabHost,
  userData: string,
  opts: { instanceId: string; stageTimeoutMs?: number; finalTimeoutMs?: number },
): Promise<CloudInitResult> {
  const startedAt = Date.now();
  const summary = summariseCloudConfig(userData);
  const stages: StageTiming[] = [];
  const seed = "/var/lib/cloud/seed/nocloud";
  await host.writeFile(`${seed}/user-data`, userData, "0600");
  await host.writeFile(`${seed}/meta-data`, `instance-id: ${opts.instanceId}\nlocal-hostname: ${host.name}\n`);
  await host.writeFile("/etc/cloud/cloud.cfg.d/99-lab.cfg", LAB_CLOUD_CFG);

  const result: CloudInitResult = {
    host: host.name,
    ok: false,
    schemaValid: false,
    stages,
    missingPackages: [],
    notApplied: summary.notApplied,
    errors: [],
    startedAt,
    finishedAt: startedAt,
  };
  const stage = async (name: string, argv: string[], timeoutMs: number) => {
    const r = await host.exec(argv, { timeoutMs });
    const ok = r.code === 0 && !r.timedOut;
    stages.push({ stage: name, ms: r.ms, ok });
    if (!ok)
      result.errors.push(
        `${name}: ${r.timedOut ? "timed out" : `exit ${r.code}`} ${r.stderr.trim().split("\n").slice(-3).join(" | ")}`,
      );
    return ok;
  };
  const stageTimeout = opts.stageTimeoutMs ?? 30_000;
  result.schemaValid = await stage("schema", ["cloud-init", "schema", "-c", `${seed}/user-data`], stageTimeout);
  let ok = result.schemaValid;
  ok = ok && (await stage("init", ["cloud-init", "init"], stageTimeout));
  ok = ok && (await stage("config", ["cloud-init", "modules", "--mode", "config"], stageTimeout));
  if (ok) {
    result.missingPackages = await missingPackages(host, summary.packages);
    if (result.missingPackages.length) {
      result.errors.push(`apt stand-in: packages not installed on this machine: ${result.missingPackages.join(", ")}`);
      ok = false;
    }
  }
  ok = ok && (await stage("final", ["cloud-init", "modules", "--mode", "final"], opts.finalTimeoutMs ?? 120_000));
  const resultJson = await host.readFile("/run/cloud-init/result.json");
  if (resultJson) {
    try {
      const errs = parseCloudInitResult(resultJson).errors;
      result.errors.push(...errs.map((e) => `cloud-init: ${e}`));
      if (errs.length) ok = false;
    } catch {
      /* unreadable result file is reported through the stage exit codes */
    }
  }
  if (!ok)
    result.outputTail = ((await host.readFile("/var/log/cloud-init-output.log")) ?? "")
      .split("\n")
      .slice(-25)
      .join("\n");
  result.ok = ok;
  result.finishedAt = Date.now();
  return result;
}
