/**
 * Drives the component package the way the Pulumi engine does, under the same mock runtime
 * as testkit/programRun.ts: the SDK's ComponentProvider (our WgS2sProvider) builds the
 * schema and constructs a component from inputs that went through the wire format, and the
 * state it answers with is serialised exactly as the provider server would send it (secrets
 * as secret values). No Pulumi CLI or engine involved: the gRPC server around the provider
 * and the generated SDKs are what this cannot reach.
 */
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { WgS2sProvider, PACKAGE_NAME } from "../components/package";
import { startMockRun, registeredUrns, type DeclaredResource, type ProgramRunOptions } from "./programRun";

export const PACKAGE_ROOT = path.resolve(__dirname, "..");

/** How the SDK serialises a secret: { [SIG_KEY]: SECRET_SIG, value }. */
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

let provider: WgS2sProvider | undefined;
/** One provider per process: its schema inference type-checks the package (seconds). */
export function packageProvider(): WgS2sProvider {
  provider ??= new WgS2sProvider(PACKAGE_ROOT);
  return provider;
}

export interface SchemaProperty {
  type?: string;
  $ref?: string;
  items?: SchemaProperty;
  additionalProperties?: SchemaProperty;
  plain?: boolean;
  secret?: boolean;
  description?: string;
}
export interface PackageSchema {
  name: string;
  resources: Record<
    string,
    {
      isComponent?: boolean;
      inputProperties: Record<string, SchemaProperty>;
      requiredInputs: string[];
      properties: Record<string, SchemaProperty>;
      required: string[];
    }
  >;
  types: Record<
    string,
    {
      type: string;
      properties?: Record<string, SchemaProperty>;
      required?: string[];
      enum?: { name: string; value: string }[];
    }
  >;
}

export async function packageSchema(): Promise<PackageSchema> {
  return JSON.parse(await packageProvider().getSchema());
}

export interface ConstructRun {
  resources: DeclaredResource[];
  urns: string[];
  /** The component's outputs as the provider server puts them on the wire. */
  wireState: Record<string, unknown>;
  /** Output names whose wire value is a secret. */
  secretOutputs: string[];
  /** Output values with secrets unwrapped (for the caller to handle with care). */
  outputs: Record<string, any>;
}

export interface ConstructOptions extends Omit<ProgramRunOptions, "config"> {
  /** Component name as the caller gives it; the stack program uses "wg-s2s". */
  name?: string;
  /** Component class name in the package, e.g. SiteToSiteVpn. */
  component: string;
  /** The caller's arguments, as JSON-like values. */
  inputs: Record<string, unknown>;
}

/** Constructs one component through the package's provider; throws what the provider throws. */
export async function constructThroughProvider(opts: ConstructOptions): Promise<ConstructRun> {
  const resources = await startMockRun({ ...opts, config: {} });
  // Over the wire, the inputs are a protobuf Struct: serialise and deserialise them as the
  // SDKs and the provider server do, so only what survives JSON reaches the constructor.
  const wireInputs = await pulumi.runtime.serializeProperties("inputs", opts.inputs);
  const inputs = pulumi.runtime.deserializeProperties(wireStruct(wireInputs));
  let result;
  try {
    result = await packageProvider().construct(
      opts.name ?? "wg-s2s",
      `${PACKAGE_NAME}:index:${opts.component}`,
      inputs,
      {},
    );
  } catch (err) {
    if (err && typeof err === "object") (err as any).declaredResources = [...resources];
    throw err;
  }
  const [wireState] = await pulumi.runtime.serializeResourceProperties("construct", result.state);
  await (pulumi.runtime as any).waitForRPCs?.();
  const secretOutputs = Object.keys(wireState)
    .filter((k) => isSecret(wireState[k]))
    .sort();
  const outputs = Object.fromEntries(Object.entries(wireState).map(([k, v]) => [k, unwrap(v)]));
  return { resources, urns: registeredUrns(), wireState, secretOutputs, outputs };
}

/** The Struct round trip `deserializeProperties` expects (it reads `.fields` through toJavaScript). */
function wireStruct(value: Record<string, unknown>): any {
  // google-protobuf's Struct, as the SDK's own server uses it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Struct } = require("google-protobuf/google/protobuf/struct_pb");
  return Struct.fromJavaScript(JSON.parse(JSON.stringify(value)));
}

export function isSecret(value: unknown): boolean {
  return !!value && typeof value === "object" && (value as any)[SIG_KEY] === SECRET_SIG;
}

function unwrap(value: unknown): any {
  if (isSecret(value)) return unwrap((value as any).value);
  if (Array.isArray(value)) return value.map(unwrap);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrap(v)]));
  }
  return value;
}

// ---------------------------------------------------------------------------------------
// The whole path over gRPC, as the engine drives it: plugin.ts runs as its own process and
// serves the provider protocol; this process plays the engine (log, root resource) and the
// resource monitor, which hands every registration to the same mocks as above. Loopback only.

/* eslint-disable @typescript-eslint/no-require-imports */
const grpc = require("@grpc/grpc-js");
const providerRpc = require("@pulumi/pulumi/proto/provider_grpc_pb");
const providerPb = require("@pulumi/pulumi/proto/provider_pb");
const resourceRpc = require("@pulumi/pulumi/proto/resource_grpc_pb");
const resourcePb = require("@pulumi/pulumi/proto/resource_pb");
const engineRpc = require("@pulumi/pulumi/proto/engine_grpc_pb");
const enginePb = require("@pulumi/pulumi/proto/engine_pb");
const statusPb = require("@pulumi/pulumi/proto/status_pb");
const errorsPb = require("@pulumi/pulumi/proto/errors_pb");
const { Empty } = require("google-protobuf/google/protobuf/empty_pb");
const { Struct } = require("google-protobuf/google/protobuf/struct_pb");
/* eslint-enable @typescript-eslint/no-require-imports */

export interface GrpcConstructRun {
  resources: DeclaredResource[];
  urn: string;
  /** Output names whose value came back as a secret. */
  secretOutputs: string[];
  outputs: Record<string, any>;
}

/** A gRPC server for the mock monitor and a stand-in engine; returns its address and a stop function. */
async function startEngineAndMonitor(): Promise<{ address: string; stop: () => void; logs: string[] }> {
  // The monitor of the current mock run (each construct starts a fresh one).
  const monitor = new Proxy({} as any, {
    get: (_t, method) => (pulumi.runtime as any).getMonitor()[method].bind((pulumi.runtime as any).getMonitor()),
  });
  const logs: string[] = [];
  const empty = (_call: unknown, cb: (e: null, r: unknown) => void) => cb(null, new Empty());
  const viaMonitor = (method: string) => (call: any, cb: any) => monitor[method](call.request, cb);
  const server = new grpc.Server();
  server.addService(resourceRpc.ResourceMonitorService, {
    getDeploymentInfo: viaMonitor("getDeploymentInfo"),
    supportsFeature: (call: any, cb: any) => {
      const resp = new resourcePb.SupportsFeatureResponse();
      // As the mock runtime in-process: everything but output values.
      resp.setHassupport(call.request.getId() !== "outputValues");
      cb(null, resp);
    },
    invoke: viaMonitor("invoke"),
    readResource: viaMonitor("readResource"),
    registerResource: viaMonitor("registerResource"),
    registerResourceOutputs: (call: any, cb: any) =>
      monitor.registerResourceOutputs(call.request, () => empty(call, cb)),
    registerStackTransform: empty,
    registerStackInvokeTransform: empty,
    registerResourceHook: empty,
    registerErrorHook: empty,
    registerPackage: viaMonitor("registerPackage"),
    signalAndWaitForShutdown: empty,
  });
  server.addService(engineRpc.EngineService, {
    log: (call: any, cb: any) => {
      logs.push(call.request.getMessage());
      cb(null, new Empty());
    },
    getRootResource: (_call: any, cb: any) => cb(null, new enginePb.GetRootResourceResponse()),
    setRootResource: (_call: any, cb: any) => cb(null, new enginePb.SetRootResourceResponse()),
    startDebugging: empty,
    requirePulumiVersion: (_call: any, cb: any) => cb(null, new enginePb.RequirePulumiVersionResponse()),
  });
  const port: number = await new Promise((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e: Error | null, p: number) =>
      e ? reject(e) : resolve(p),
    ),
  );
  return { address: `127.0.0.1:${port}`, stop: () => server.forceShutdown(), logs };
}

/**
 * Starts plugin.ts as Pulumi does (a process serving the provider protocol, told the engine's
 * address), and returns a client for it and a stop function that kills it by PID.
 */
export async function startPlugin(engineAddress: string): Promise<{ client: any; stop: () => Promise<void> }> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { spawn } = require("child_process");
  // One node process (tsx as a loader), so its PID is the server's.
  const child = spawn(process.execPath, ["--import", "tsx", "plugin.ts", engineAddress], {
    cwd: PACKAGE_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const stop = async () => {
    child.kill("SIGKILL");
    await exited;
  };
  try {
    const port = await new Promise<string>((resolve, reject) => {
      let out = "";
      let err = "";
      const timer = setTimeout(() => reject(new Error(`no port within 120 s; stderr: ${err}`)), 120_000);
      child.stderr.on("data", (d: Buffer) => (err += d));
      child.stdout.on("data", (d: Buffer) => {
        out += d;
        const m = /^(\d+)\s*$/m.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.once("exit", (code: number) => reject(new Error(`plugin exited (${code}) before serving: ${err}`)));
    });
    const client = new providerRpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    return {
      client,
      stop: async () => {
        client.close();
        await stop();
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Calls a unary method of the provider client; rejects with the gRPC error. */
export function rpcCall<T>(client: any, method: string, request: unknown): Promise<T> {
  return new Promise((resolve, reject) =>
    client[method](request, { deadline: Date.now() + 180_000 }, (e: Error | null, r: T) =>
      e ? reject(e) : resolve(r),
    ),
  );
}

export interface PluginSession {
  /** GetSchema over gRPC. */
  schema(): Promise<string>;
  /** Construct over gRPC, this process playing engine and (mock) monitor. */
  construct(opts: ConstructOptions): Promise<GrpcConstructRun>;
  stop(): Promise<void>;
}

/** plugin.ts running as Pulumi runs it, with this process as its engine and resource monitor. */
export async function startPluginSession(): Promise<PluginSession> {
  const host = await startEngineAndMonitor();
  let plugin: Awaited<ReturnType<typeof startPlugin>>;
  try {
    plugin = await startPlugin(host.address);
  } catch (err) {
    host.stop();
    throw err;
  }
  return {
    async schema() {
      const resp: any = await rpcCall(plugin.client, "getSchema", new providerPb.GetSchemaRequest());
      return resp.getSchema();
    },
    async construct(opts) {
      const resources = await startMockRun({ ...opts, config: {} });
      const req = new providerPb.ConstructRequest();
      req.setProject(pulumi.getProject());
      req.setStack(pulumi.getStack());
      req.setDryrun(false);
      req.setParallel(4);
      req.setMonitorendpoint(host.address);
      req.setType(`${PACKAGE_NAME}:index:${opts.component}`);
      req.setName(opts.name ?? "wg-s2s");
      req.setInputs(Struct.fromJavaScript(await pulumi.runtime.serializeProperties("inputs", opts.inputs)));
      let resp: any;
      try {
        resp = await rpcCall(plugin.client, "construct", req);
      } catch (err) {
        if (err && typeof err === "object") (err as any).declaredResources = [...resources];
        throw err;
      }
      const state = resp.getState().toJavaScript();
      const secretOutputs = Object.keys(state)
        .filter((k) => isSecret(state[k]))
        .sort();
      const outputs = Object.fromEntries(Object.entries(state).map(([k, v]) => [k, unwrap(v)]));
      return { resources, urn: resp.getUrn(), secretOutputs, outputs };
    },
    async stop() {
      await plugin.stop();
      host.stop();
    },
  };
}

/** The per-argument errors of a gRPC INVALID_ARGUMENT answer (the SDK's InputPropertiesError detail). */
export function propertyErrors(err: any): { propertyPath: string; reason: string }[] {
  const [bin] = err?.metadata?.get?.("grpc-status-details-bin") ?? [];
  if (!bin) return [];
  const status = statusPb.Status.deserializeBinary(new Uint8Array(bin));
  return status.getDetailsList().flatMap((any: any) => {
    const detail = any.unpack(errorsPb.InputPropertiesError.deserializeBinary, "pulumirpc.InputPropertiesError");
    return detail
      ? detail.getErrorsList().map((e: any) => ({ propertyPath: e.getPropertyPath(), reason: e.getReason() }))
      : [];
  });
}
