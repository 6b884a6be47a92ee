/**
 * This repository as a Pulumi component package ("source-based plugin": `pulumi package add
 * <repo url>` from Python, Go, C#, YAML, ...). The SDK's ComponentProvider infers the
 * package schema from the TypeScript types of the exported components (their `args`
 * interface and public properties) and constructs them on request; plugin.ts serves it.
 *
 * One addition to the SDK's provider: the inference has no notion of secrets, so the
 * schema would present private keys and operator bundles as plain strings. Each component
 * lists its secret outputs (`static secretOutputs`) and the schema marks them
 * `secret: true`, so generated SDKs treat them as secrets too. The values themselves are
 * secret Outputs either way (components/package.test.ts checks both agree).
 *
 * The package is named `wg-s2s`, the prefix the components' type tokens have always had, so
 * a component constructed from another language gets the same URNs as in this program.
 */
import * as pulumi from "@pulumi/pulumi";
import type { ConstructResult } from "@pulumi/pulumi/provider";
import { ComponentProvider, type ComponentResourceConstructor } from "@pulumi/pulumi/provider/experimental";
import { ConfigError, formatIssue } from "../config/errors";
import { SiteToSiteVpn } from "./siteToSiteVpn";
import { WireGuardKeyPair, WireGuardPresharedKey } from "./wireguardKeys";

export const PACKAGE_NAME = "wg-s2s";

/** A component class as the provider sees it, with the outputs it must keep secret. */
export interface PackagedComponent {
  new (name: string, args: never, opts?: pulumi.ComponentResourceOptions): pulumi.ComponentResource;
  readonly name: string;
  readonly secretOutputs: readonly string[];
}

/** The components other languages can construct. */
export const COMPONENTS: readonly PackagedComponent[] = [SiteToSiteVpn, WireGuardKeyPair, WireGuardPresharedKey];

interface SchemaProperty {
  secret?: boolean;
  [key: string]: unknown;
}
interface PackageSchema {
  name: string;
  resources: Record<string, { properties?: Record<string, SchemaProperty> }>;
  [key: string]: unknown;
}

/** Marks each component's `secretOutputs` secret in the schema; a name with no output is an error. */
export function markSecretOutputs(schema: PackageSchema, components: readonly PackagedComponent[]): PackageSchema {
  for (const component of components) {
    const token = `${schema.name}:index:${component.name}`;
    const properties = schema.resources[token]?.properties ?? {};
    for (const output of component.secretOutputs) {
      const property = properties[output];
      if (!property)
        throw new Error(`${component.name}.secretOutputs names "${output}", which is not an output of ${token}`);
      property.secret = true;
    }
  }
  return schema;
}

/** The SDK's ComponentProvider, with secret outputs marked in the schema it serves. */
export class WgS2sProvider extends ComponentProvider {
  private readonly packaged: readonly PackagedComponent[];
  private marked?: string;

  /** `dirname`: the package root (package.json, tsconfig.json), where the inference starts. */
  constructor(dirname: string, components: readonly PackagedComponent[] = COMPONENTS) {
    // The SDK types constructors with `args: any`; ours each take their own args type.
    super({ name: PACKAGE_NAME, dirname, components: components as unknown as ComponentResourceConstructor[] });
    this.packaged = components;
  }

  /**
   * Argument errors go back to the engine as `InputPropertiesError`, one entry per argument
   * path, which the CLI prints under the resource; the message is the whole issue list.
   */
  override async construct(
    name: string,
    type: string,
    inputs: pulumi.Inputs,
    options: pulumi.ComponentResourceOptions,
  ): Promise<ConstructResult> {
    try {
      return await super.construct(name, type, inputs, options);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      throw new pulumi.InputPropertiesError({
        message: err.message,
        errors: err.issues.map((issue) => ({
          propertyPath: issue.key,
          reason: formatIssue(issue).slice(issue.key.length + 2),
        })),
      });
    }
  }

  override async getSchema(): Promise<string> {
    this.marked ??= JSON.stringify(markSecretOutputs(JSON.parse(await super.getSchema()), this.packaged));
    return this.marked;
  }
}
