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
