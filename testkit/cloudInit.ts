/**
 * Test support for the renderers (not used at run time): realistic specs with keys
 * generated at test time, masking of every secret before anything is snapshotted or
 * printed, and wrappers around the real tools (cloud-init, shellcheck, nft, dnsmasq).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import nacl from "tweetnacl";
import { parse as parseYaml } from "yaml";
import type { RoutePropagation } from "../config/types";
import type { GatewaySpec, TestHostSpec } from "../planning/specs";

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64");

/** Every secret or key generated for a fixture, by the label that replaces it when masked. */
export class KeyRing {
  private readonly labels = new Map<string, string>();

  private remember(value: string, label: string): string {
    this.labels.set(value, label);
    return value;
  }

  /** A WireGuard key pair; both halves are masked, so snapshots never depend on randomness. */
  wireguardKeyPair(name: string): { privateKey: string; publicKey: string } {
    const pair = nacl.box.keyPair();
    return {
      privateKey: this.remember(b64(pair.secretKey), `<privateKey:${name}>`),
      publicKey: this.remember(b64(pair.publicKey), `<publicKey:${name}>`),
    };
  }

  presharedKey(name: string): string {
    return this.remember(b64(nacl.randomBytes(32)), `<presharedKey:${name}>`);
  }

  /** Stand-in OpenSSH host key text; only its shape matters to the renderer. */
  sshHostKey(name: string): { privateKeyOpenssh: string; publicKeyOpenssh: string } {
    const body = b64(nacl.randomBytes(96));
    const privateKeyOpenssh = `-----BEGIN OPENSSH PRIVATE KEY-----\n${body}\n-----END OPENSSH PRIVATE KEY-----\n`;
    const publicKeyOpenssh = `ssh-ed25519 ${b64(nacl.randomBytes(32))} ${name}`;
    this.remember(body, `<sshHostPrivateKey:${name}>`);
    this.remember(publicKeyOpenssh, `<sshHostPublicKey:${name}>`);
    return { privateKeyOpenssh, publicKeyOpenssh };
  }

  secrets(): string[] {
    return [...this.labels.entries()].filter(([, label]) => !label.startsWith("<publicKey")).map(([value]) => value);
  }

  /** Replaces every generated key in `text` by its label. */
  mask(text: string): string {
    let masked = text;
    for (const [value, label] of this.labels) masked = masked.split(value).join(label);
    return masked;
  }
}

export const DEPLOY_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeDeployKeyForRendererTestsOnly0000000 deploy";

/** Two sites: hub "par" (192.168.0.0/24) and one remote site "onprem" (192.168.1.0/24). */
export function hubGatewaySpec(keys: KeyRing, routePropagation: RoutePropagation = "vpc-route"): GatewaySpec {
  const hub = keys.wireguardKeyPair("par");
  const spoke = keys.wireguardKeyPair("onprem");
  return {
    siteName: "par",
    privateAddress: "192.168.0.2/24",
    wireguard: {
      privateKey: hub.privateKey,
      address: "172.16.0.1/32",
      listenPort: 52435,
      mtu: 1420,
      peers: [
        {
          name: "onprem",
          publicKey: spoke.publicKey,
          presharedKey: keys.presharedKey("par-onprem"),
          allowedIps: ["192.168.1.0/24", "172.16.0.2/32"],
        },
      ],
    },
    forwardFlows: [
      { from: "192.168.0.0/24", to: "192.168.1.0/24" },
      { from: "192.168.1.0/24", to: "192.168.0.0/24" },
    ],
    metrics: { active: true, probes: [{ peer: "onprem", address: "172.16.0.2" }] },
    routePropagation,
    privateNicTimeoutSeconds: 180,
    sshAuthorizedKeys: [DEPLOY_KEY],
  };
}

/** The remote site's gateway, dialling the hub; `lanRouter` only for "dhcp". */
export function spokeGatewaySpec(keys: KeyRing, routePropagation: RoutePropagation, lanRouter?: string): GatewaySpec {
  const spoke = keys.wireguardKeyPair("onprem");
  const hub = keys.wireguardKeyPair("par");
  const spec: GatewaySpec = {
    siteName: "onprem",
    privateAddress: "192.168.1.2/24",
    wireguard: {
      privateKey: spoke.privateKey,
      address: "172.16.0.2/32",
      listenPort: 52435,
      mtu: 1420,
      peers: [
        {
          name: "par",
          publicKey: hub.publicKey,
          presharedKey: keys.presharedKey("par-onprem"),
          endpoint: "198.51.100.10:52435",
          allowedIps: ["192.168.0.0/24", "172.16.0.1/32"],
          persistentKeepalive: 25,
        },
      ],
    },
    forwardFlows: [
      { from: "192.168.1.0/24", to: "192.168.0.0/24" },
      { from: "192.168.0.0/24", to: "192.168.1.0/24" },
    ],
    metrics: { active: true, probes: [{ peer: "par", address: "172.16.0.1" }] },
    routePropagation,
    privateNicTimeoutSeconds: 180,
    sshAuthorizedKeys: [DEPLOY_KEY],
    sshHostKey: keys.sshHostKey("onprem-gw"),
  };
  if (routePropagation === "dhcp") {
    spec.dhcp = {
      subnet: "192.168.1.0/24",
      rangeStart: "192.168.1.100",
      rangeEnd: "192.168.1.200",
      leaseTime: "12h",
      routes: [{ destination: "192.168.0.0/24", via: "192.168.1.2" }],
      ...(lanRouter ? { lanRouter } : {}),
    };
  }
  return spec;
}

export function testHostSpec(keys: KeyRing, routePropagation: RoutePropagation): TestHostSpec {
  return {
    siteName: "onprem",
    privateAddress: "192.168.1.3/24",
    routePropagation,
    staticRoutes: routePropagation === "static" ? [{ destination: "192.168.0.0/24", via: "192.168.1.2" }] : [],
    privateNicTimeoutSeconds: 120,
    sshAuthorizedKeys: [DEPLOY_KEY],
    sshHostKey: keys.sshHostKey("onprem-test"),
  };
}

/** A scratch directory removed by `cleanup`, for files handed to real tools. */
export function withScratchDir<T>(run: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "wg-s2s-cloud-init-"));
  try {
    return run(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function requireTool(path: string, packageName: string): void {
  if (!existsSync(path)) {
    throw new Error(
      `${path} is missing: install it (apt-get install ${packageName}); these tests never skip silently. CI installs it.`,
    );
  }
}

export async function withScratchDirAsync<T>(run: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "wg-s2s-cloud-init-"));
  try {
    return await run(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface ToolResult {
  ok: boolean;
  /** Tool output with every known secret masked. */
  output: string;
}

function runTool(keys: KeyRing | undefined, command: string, args: string[], input?: string): ToolResult {
  const result = spawnSync(command, args, { encoding: "utf8", input, timeout: 30000 });
  const output = `${result.stdout ?? ""}${result.stderr ?? ""}${result.error ? String(result.error) : ""}`;
  return { ok: result.status === 0, output: keys ? keys.mask(output) : output };
}

export const CLOUD_INIT = "/usr/bin/cloud-init";

/** `cloud-init schema -c FILE` on a rendered document. */
export function cloudInitSchema(document: string, keys?: KeyRing): ToolResult {
  requireTool(CLOUD_INIT, "cloud-init");
  return withScratchDir((dir) => {
    const file = join(dir, "user-data.yaml");
    writeFileSync(file, document, { mode: 0o600 });
    const result = runTool(keys, CLOUD_INIT, ["schema", "-c", file]);
    // 22.4 exits 0 on success and prints "Valid cloud-config"; any "error" is a failure.
    return { ok: result.ok && /Valid cloud-config/.test(result.output), output: result.output };
  });
}

export const SHELLCHECK = "/usr/bin/shellcheck";

export function shellcheck(script: string): ToolResult {
  requireTool(SHELLCHECK, "shellcheck");
  return runTool(undefined, SHELLCHECK, ["--shell=sh", "--severity=style", "-"], script);
}

export const DNSMASQ = "/usr/sbin/dnsmasq";

/** dnsmasq's own syntax check of a config file (does not start a server). */
export function dnsmasqTest(config: string): ToolResult {
  requireTool(DNSMASQ, "dnsmasq");
  return withScratchDir((dir) => {
    const file = join(dir, "dnsmasq.conf");
    writeFileSync(file, config);
    return runTool(undefined, DNSMASQ, ["--test", `--conf-file=${file}`]);
  });
}

export const NFT = "/usr/sbin/nft";

let namespaceCounter = 0;

/**
 * Runs `run` with `count` fresh network namespaces, always deleted afterwards. They are
 * linked to nothing but each other (by the test itself): no path to the root namespace.
 */
function addNamespaces(count: number): string[] {
  requireRoot("this test");
  const names: string[] = [];
  try {
    for (let i = 0; i < count; i += 1) {
      const ns = `wgs2s-ci-${process.pid}-${(namespaceCounter += 1)}`;
      execFileSync("ip", ["netns", "add", ns]);
      names.push(ns);
    }
  } catch (error) {
    deleteNamespaces(names);
    throw error;
  }
  return names;
}

function deleteNamespaces(names: readonly string[]): void {
  for (const ns of names) execFileSync("ip", ["netns", "delete", ns]);
}

export function withNamespaces<T>(count: number, run: (names: string[]) => T): T {
  const names = addNamespaces(count);
  try {
    return run(names);
  } finally {
    deleteNamespaces(names);
  }
}

export async function withNamespacesAsync<T>(count: number, run: (names: string[]) => Promise<T>): Promise<T> {
  const names = addNamespaces(count);
  try {
    return await run(names);
  } finally {
    deleteNamespaces(names);
  }
}

export function withNetns<T>(run: (ns: string) => T): T {
  return withNamespaces(1, ([ns]) => run(ns));
}

export function inNetns(ns: string, command: string, args: string[], input?: string): ToolResult {
  return runTool(undefined, "ip", ["netns", "exec", ns, command, ...args], input);
}

/** `sh -c script` inside a namespace; throws with the output when it fails. */
export function shInNetns(ns: string, script: string): string {
  const result = inNetns(ns, "sh", ["-c", script]);
  if (!result.ok) throw new Error(`in ${ns}: ${script}\n${result.output}`);
  return result.output;
}

/** The parts of a rendered cloud-config the tests look at. */
export interface ParsedCloudConfig {
  raw: Record<string, unknown>;
  files: Map<string, { path: string; content: string; owner: string; permissions: string }>;
  runcmd: string[][];
  packages: string[] | undefined;
}

export function parseCloudConfig(text: string): ParsedCloudConfig {
  if (!text.startsWith("#cloud-config\n")) throw new Error("rendered user-data does not start with #cloud-config");
  const raw = parseYaml(text) as Record<string, unknown>;
  const entries = (raw.write_files ?? []) as { path: string; content: string; owner: string; permissions: string }[];
  const files = new Map(entries.map((entry) => [entry.path, entry]));
  if (files.size !== entries.length) throw new Error("write_files lists a path twice");
  return {
    raw,
    files,
    runcmd: (raw.runcmd ?? []) as string[][],
    packages: raw.packages as string[] | undefined,
  };
}

/** Index of the first runcmd entry whose joined words contain `needle`; -1 when absent. */
export function commandIndex(runcmd: string[][], needle: string): number {
  return runcmd.findIndex((command) => command.join(" ").includes(needle));
}

/** Something shaped like a WireGuard key left unmasked. */
export const WIREGUARD_KEY_SHAPE = /[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=/;

export function requireRoot(what: string): void {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) {
    throw new Error(
      `${what} needs root (network namespaces); run the tests as root, as CI does. Not skipping silently.`,
    );
  }
}

export const SYSTEMD_ANALYZE = "/usr/bin/systemd-analyze";

/**
 * `systemd-analyze verify` on unit files (not drop-ins). It only warns about unknown keys,
 * so any output counts as a finding, except that our own scripts are not installed here.
 */
export function systemdVerify(units: { path: string; content: string }[]): ToolResult {
  requireTool(SYSTEMD_ANALYZE, "systemd");
  return withScratchDir((dir) => {
    const files = units.map((unit) => {
      const file = join(dir, basename(unit.path));
      writeFileSync(file, unit.content);
      return file;
    });
    const result = runTool(undefined, SYSTEMD_ANALYZE, ["verify", ...files]);
    const findings = result.output
      .split("\n")
      .filter((line) => line.trim() !== "")
      .filter((line) => !/Command \/usr\/local\/sbin\/wg-s2s-[a-z-]+ is not executable/.test(line));
    return { ok: findings.length === 0, output: findings.join("\n") };
  });
}
