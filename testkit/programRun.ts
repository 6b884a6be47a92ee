/**
 * Runs the real program (index.ts and its components) offline under the Pulumi SDK's mock
 * runtime, and returns what it declared: every resource with its inputs, the stack outputs
 * (secrets unwrapped, for the caller to handle with care), and which inputs were secret.
 *
 * The tests, the lab (which feeds each host the user-data `pulumi up` would send), the
 * policy tests and the benchmarks all use this one runner. The mocks stand in for the
 * providers: they return what Scaleway would (the addresses asked for, ids) and model
 * `random.RandomBytes` faithfully enough to test key stability: a value depends only on
 * the resource's name and its keepers, so it changes exactly when the provider would
 * replace it.
 */
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/types";
import { loadStackConfig } from "../config/validation";
import program from "../index";

export const PROJECT = "scaleway-wireguard-s2s";
/** How the SDK serialises a secret in resource inputs: { [SIG_KEY]: SECRET_VALUE, value }. */
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";

export interface ProgramRunOptions {
  /** Raw stack config keys, as in Pulumi.<stack>.yaml without the project prefix. */
  config: Record<string, unknown>;
  /** Site name -> public IPv4 for that gateway's instance.Ip (default 198.51.100.10, .11, ...). */
  publicIps?: Record<string, string>;
  /** Deterministic keys when set (same seed, same keys); crypto-random otherwise. */
  keySeed?: string;
  stack?: string;
  /**
   * Existing private networks the provider's getPrivateNetwork returns, by the id the config
   * names (what a real Scaleway project holds). An id not listed fails the read, as it would.
   */
  existingNetworks?: Record<string, { subnet: string; vpcId: string; region?: string }>;
  /** VPCs whose routing is off (getVpc reports enableRouting false); every other VPC routes. */
  vpcsWithoutRouting?: string[];
  /**
   * The Scaleway provider's environment variables as the program sees them; the ones not
   * given are unset for the run, so a deployer's own shell never changes a test's outcome.
   */
  env?: Partial<Record<(typeof PROVIDER_ENV)[number], string>>;
}

/** The environment variables the program reads (index.ts, as the Scaleway provider does). */
export const PROVIDER_ENV = ["SCW_DEFAULT_ZONE", "SCW_DEFAULT_REGION"] as const;

export interface DeclaredResource {
  type: string;
  name: string;
  /** The id the mock gave it (what other resources' inputs refer to). */
  id: string;
  custom: boolean;
  /** Inputs with secrets unwrapped. */
  inputs: Record<string, any>;
  /** Dotted paths of inputs that were secret, e.g. "userData". */
  secretInputs: string[];
  state: Record<string, any>;
  /** Resource options as the SDK sent them to the engine. */
  options: { replaceOnChanges: string[]; ignoreChanges: string[]; deleteBeforeReplace: boolean; dependsOn: string[] };
}

export interface ProgramRun {
  config: StackConfig;
  resources: DeclaredResource[];
  outputs: Record<string, any>;
  /** Export names whose value was secret. */
  secretOutputs: string[];
  userData(siteName: string, role: "gateway" | "test-host"): string;
  operatorBundle(siteName: string): Record<string, string>;
  /** The custom resources of one type. */
  ofType(type: string): DeclaredResource[];
}

const sshKeyCache = new Map<string, { priv: string; pub: string }>();

/** A real Ed25519 key in OpenSSH format (the lab and VMs use it), memoised per seed and name. */
function openSshKey(cacheKey: string): { priv: string; pub: string } {
  const hit = sshKeyCache.get(cacheKey);
  if (hit) return hit;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wgs2s-key-"));
  try {
    const file = path.join(dir, "k");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", file]);
    const pair = {
      priv: fs.readFileSync(file, "utf8"),
      pub: fs.readFileSync(`${file}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ") + "\n",
    };
    sshKeyCache.set(cacheKey, pair);
    return pair;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function unwrapSecrets(value: any, at: string, secretPaths: string[]): any {
  if (Array.isArray(value)) return value.map((v, i) => unwrapSecrets(v, `${at}[${i}]`, secretPaths));
  if (value && typeof value === "object") {
    if (value[SIG_KEY] === SECRET_VALUE) {
      secretPaths.push(at);
      return unwrapSecrets(value.value, at, []);
    }
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v, at ? `${at}.${k}` : k, secretPaths)]),
    );
  }
  return value;
}

/** A UUID derived from a name: stable across runs, like a resource's id in state. */
export function mockUuid(name: string): string {
  const h = crypto.createHash("sha256").update(name).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * The id the mocks give a resource. Scaleway's are UUIDs with their locality, as the provider
 * writes them ("fr-par-1/<uuid>" zonal, "fr-par/<uuid>" regional) for the resources whose ids
 * reach a gateway (the HA agent refuses anything else); other resources get "<name>-id".
 */
export function mockResourceId(type: string, name: string): string {
  const zonal = ["scaleway:instance/ip:Ip"];
  const regional = ["scaleway:network/privateNetwork:PrivateNetwork", "scaleway:network/vpc:Vpc"];
  if (zonal.includes(type)) return `fr-par-1/${mockUuid(name)}`;
  if (regional.includes(type)) return `fr-par/${mockUuid(name)}`;
  return `${name}-id`;
}

/** The mock project every resource lands in, as the provider's default project would. */
export const MOCK_PROJECT_ID = mockUuid("project");

function siteOf(resourceName: string, suffix: string): string | undefined {
  const m = resourceName.match(new RegExp(`^wg-s2s-(.+)-${suffix}$`));
  return m?.[1];
}

function makeMocks(opts: ProgramRunOptions, resources: DeclaredResource[]) {
  let nextPublic = 10;
  let nextTestHostPublic = 100;
  let nextMac = 1;
  const bytesFor = (name: string, keepers: unknown, length: number): Buffer =>
    opts.keySeed !== undefined
      ? crypto
          .createHash("sha512")
          .update(`${opts.keySeed}\0${name}\0${JSON.stringify(keepers ?? {})}`)
          .digest()
          .subarray(0, length)
      : crypto.randomBytes(length);

  return {
    newResource(args: { type: string; name: string; inputs: any; custom?: boolean }) {
      const secretInputs: string[] = [];
      const inputs = unwrapSecrets(args.inputs, "", secretInputs);
      let state: Record<string, any> = { ...inputs };
      const id = mockResourceId(args.type, args.name);
      switch (args.type) {
        case "random:index/randomBytes:RandomBytes": {
          const b = bytesFor(args.name, inputs.keepers, inputs.length);
          state = { ...inputs, base64: b.toString("base64"), hex: b.toString("hex") };
          break;
        }
        case "tls:index/privateKey:PrivateKey": {
          const k = openSshKey(`${opts.keySeed ?? crypto.randomUUID()}\0${args.name}`);
          state = { ...inputs, privateKeyOpenssh: k.priv, publicKeyOpenssh: k.pub };
          break;
        }
        case "scaleway:instance/ip:Ip": {
          const gwSite = siteOf(args.name, "gateway-ip");
          const address =
            (gwSite && opts.publicIps?.[gwSite]) ??
            (gwSite ? `198.51.100.${nextPublic++}` : `198.51.100.${nextTestHostPublic++}`);
          state = { ...inputs, address, prefix: `${address}/32`, projectId: MOCK_PROJECT_ID };
          break;
        }
        case "scaleway:observability/source:Source":
          state = { ...inputs, pushUrl: `https://${mockUuid(args.name)}.metrics.cockpit.fr-par.scw.cloud` };
          break;
        case "scaleway:observability/token:Token":
          // Cockpit returns the token's secret key once, at creation.
          state = { ...inputs, secretKey: `mock-cockpit-token-${mockUuid(`${args.name}-secret`)}` };
          break;
        case "scaleway:iam/apiKey:ApiKey":
          // The provider returns the secret key once, at creation; a UUID.
          state = { ...inputs, accessKey: "SCWMOCKACCESSKEY000", secretKey: mockUuid(`${args.name}-secret`) };
          break;
        case "command:remote:Command":
          // Nothing runs under mocks; the lab runs the same scripts against real hosts.
          state = { ...inputs, stdout: "not run (mock runtime)", stderr: "" };
          break;
        case "scaleway:instance/privateNic:PrivateNic":
          state = { ...inputs, macAddress: `02:00:00:00:00:${(nextMac++).toString(16).padStart(2, "0")}` };
          break;
      }
      resources.push({
        type: args.type,
        name: args.name,
        id,
        custom: args.custom !== false,
        inputs,
        secretInputs,
        state,
        options: optionsSeen.get(`${args.type}::${args.name}`) ?? {
          replaceOnChanges: [],
          ignoreChanges: [],
          deleteBeforeReplace: false,
          dependsOn: [],
        },
      });
      return { id, state };
    },
    call(args: { token: string; inputs: any }) {
      if (args.token === "scaleway:network/getPrivateNetwork:getPrivateNetwork") {
        const id = String(args.inputs.privateNetworkId ?? "");
        const pn = opts.existingNetworks?.[id];
        if (!pn) throw new Error(`private network ${id} not found (mock Scaleway project)`);
        const region = pn.region ?? args.inputs.region ?? "fr-par";
        return {
          id: `${region}/${id.replace(/^.*\//, "")}`,
          privateNetworkId: id,
          region,
          vpcId: pn.vpcId,
          ipv4Subnets: [{ subnet: pn.subnet }],
          ipv6Subnets: [],
          tags: [],
        };
      }
      if (args.token === "scaleway:network/getVpc:getVpc") {
        const id = String(args.inputs.vpcId ?? "");
        return {
          id,
          vpcId: id,
          region: args.inputs.region ?? "fr-par",
          enableRouting: !(opts.vpcsWithoutRouting ?? []).includes(id),
          enableCustomRoutesPropagation: true,
          tags: [],
        };
      }
      return args.inputs;
    },
  };
}

async function resolveOutput(v: unknown): Promise<{ value: any; secret: boolean }> {
  if (pulumi.Output.isInstance(v)) {
    const secret = await (v as any).isSecret;
    const value = await new Promise((resolve) => (v as any).apply(resolve));
    return { value, secret };
  }
  if (v && typeof v === "object" && !Array.isArray(v)) {
    const entries = await Promise.all(Object.entries(v).map(async ([k, x]) => [k, await resolveOutput(x)] as const));
    return {
      value: Object.fromEntries(entries.map(([k, r]) => [k, r.value])),
      secret: entries.some(([, r]) => r.secret),
    };
  }
  return { value: v, secret: false };
}

/**
 * Pulumi passes every config value as a string; objects and lists as JSON. Keys are the
 * project's unless namespaced (`scaleway:zone`), as in a stack file.
 */
export function toPulumiConfig(config: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(config).map(([k, v]) => [
      k.includes(":") ? k : `${PROJECT}:${k}`,
      typeof v === "string" ? v : JSON.stringify(v),
    ]),
  );
}

/** Sets the provider's environment for one run; returns what restores the caller's. */
function withProviderEnv(env: ProgramRunOptions["env"] = {}): () => void {
  const saved = PROVIDER_ENV.map((name) => [name, process.env[name]] as const);
  for (const name of PROVIDER_ENV) {
    if (env[name] === undefined) delete process.env[name];
    else process.env[name] = env[name];
  }
  return () => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}

/**
 * One mocks object per process, delegating to the current run. Under jest, a later run's
 * fresh SDK copy can still reach the monitor registered by an earlier one (they share the
 * sandbox's global store), so the handler, not the monitor, is what changes between runs.
 */
let currentMocks: ReturnType<typeof makeMocks> | undefined;

/**
 * The mocks' newResource sees inputs only; the options (replaceOnChanges, ignoreChanges,
 * dependsOn) travel in the engine request, so the mock monitor's registerResource is wrapped
 * to note them first. dependsOn is kept as resource names (the last URN segment).
 */
const optionsSeen = new Map<string, DeclaredResource["options"]>();
function noteOptionsOnMonitor(): void {
  const monitor = (pulumi.runtime as any).getMonitor?.();
  if (!monitor || monitor.__wgS2sNotesOptions || typeof monitor.registerResource !== "function") return;
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, callback: any) => {
    optionsSeen.set(`${req.getType()}::${req.getName()}`, {
      replaceOnChanges: req.getReplaceonchangesList?.() ?? [],
      ignoreChanges: req.getIgnorechangesList?.() ?? [],
      deleteBeforeReplace: Boolean(req.getDeletebeforereplace?.()),
      dependsOn: (req.getDependenciesList?.() ?? []).map((urn: string) => urn.slice(urn.lastIndexOf("::") + 2)),
    });
    return register(req, callback);
  };
  monitor.__wgS2sNotesOptions = true;
}
const dispatchingMocks = {
  newResource: (args: any) => currentMocks!.newResource(args),
  call: (args: any) => currentMocks!.call(args),
};

let currentResources: DeclaredResource[] = [];

/** What the current (or last) run has declared so far, e.g. after it failed inside an apply. */
export function declaredSoFar(): readonly DeclaredResource[] {
  return currentResources;
}

/**
 * Points the mock runtime at a fresh run (opts.config as the stack's config) and returns the
 * list it records declared resources into. runProgram and testkit/providerRun.ts share it.
 */
export async function startMockRun(opts: ProgramRunOptions): Promise<DeclaredResource[]> {
  const resources: DeclaredResource[] = [];
  currentResources = resources;
  currentMocks = makeMocks(opts, resources);
  await pulumi.runtime.setMocks(dispatchingMocks as any, PROJECT, opts.stack ?? "lab", false);
  pulumi.runtime.setAllConfig(toPulumiConfig(opts.config));
  optionsSeen.clear();
  noteOptionsOnMonitor();
  return resources;
}

/** URNs of every resource registered with the mock monitor in this process, sorted. */
export function registeredUrns(): string[] {
  const monitor = (pulumi.runtime as any).getMonitor?.();
  return [...(monitor?.resources?.keys() ?? [])].sort();
}

export async function runProgram(opts: ProgramRunOptions): Promise<ProgramRun> {
  // One SDK instance and one loaded program per process: index.ts exports the program as
  // a function, so each run calls it again rather than reloading modules.
  const resources = await startMockRun(opts);
  let mod: Record<string, any>;
  const restoreEnv = withProviderEnv(opts.env);
  try {
    mod = await program();
  } catch (err) {
    // Callers (tests) check that a bad config declared nothing at all.
    if (err && typeof err === "object") (err as any).declaredResources = [...resources];
    throw err;
  } finally {
    restoreEnv();
  }
  const outputs: Record<string, any> = {};
  const secretOutputs: string[] = [];
  for (const [name, v] of Object.entries(mod)) {
    const r = await resolveOutput(v);
    outputs[name] = r.value;
    if (r.secret) secretOutputs.push(name);
  }
  await (pulumi.runtime as any).waitForRPCs?.();

  // The project's keys only: the zone the resources went to is in their inputs (config/zone.ts).
  const config: StackConfig = loadStackConfig(opts.config);
  const ofType = (type: string) => resources.filter((r) => r.type === type);
  return {
    config,
    resources,
    outputs,
    secretOutputs,
    ofType,
    userData(siteName, role) {
      const server = ofType("scaleway:instance/server:Server").find(
        (r) => r.inputs.tags?.includes(`wg-s2s-site:${siteName}`) && r.inputs.tags?.includes(`wg-s2s-role:${role}`),
      );
      if (!server) throw new Error(`no ${role} server for site ${siteName}`);
      return server.inputs.userData["cloud-init"];
    },
    operatorBundle(siteName) {
      const bundle = outputs.externalSiteBundles?.[siteName];
      if (!bundle) throw new Error(`no operator bundle for site ${siteName} (is it an external site?)`);
      return bundle;
    },
  };
}
