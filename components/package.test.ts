/** @tier program */
/**
 * The component package, tested like a provider: the SDK's own ComponentProvider (our
 * WgS2sProvider) infers the schema other languages' SDKs are generated from, and constructs
 * the components from wire-format inputs under the mock runtime. No Pulumi CLI here: the
 * gRPC server around the provider, `pulumi package add` and the generated SDKs are not run.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { markSecretOutputs, WgS2sProvider, type PackagedComponent } from "./package";
import { SiteToSiteVpn } from "./siteToSiteVpn";
import { wireGuardPublicKey } from "./wireguardKeys";
import { OFFICE_EXTERNAL_SITE, ONPREM_SITE } from "../testkit/fixtures";
import { REMOTE_SITE_KEYS, SCALEWAY_SITE_KEYS, STACK_CONFIG_KEYS } from "../config/schema";
import { REMOTE_SITE_KINDS, ROUTE_PROPAGATIONS } from "../config/types";
import { loadStackConfig } from "../config/validation";
import { mockResourceId, runProgram, startMockRun } from "../testkit/programRun";
import {
  constructThroughProvider,
  packageSchema,
  PACKAGE_ROOT,
  propertyErrors,
  startPluginSession,
  type PackageSchema,
  type PluginSession,
  type SchemaProperty,
} from "../testkit/providerRun";
import { plantedCopy } from "../testkit/plantedCopy";

const SLOW = 240_000; // the inference type-checks the package once per process (~15 s on a busy host)
const VPN = "wg-s2s:index:SiteToSiteVpn";

/** Every kind of resource: both Scaleway-built sites, an external office, test-host public IPs. */
const SETTINGS = {
  adminCidrs: ["203.0.113.7/32"],
  testHostPublicIp: true,
  remoteSites: [{ ...ONPREM_SITE, kind: "simulated" }, OFFICE_EXTERNAL_SITE],
};

/** A schema property as one short string: `string`, `string[]`, `map<string>`, `#HubSite`, plus `(input)`/`(secret)`. */
function shape(p: SchemaProperty): string {
  const base = p.$ref
    ? `#${p.$ref.split(":").pop()}`
    : p.type === "array"
      ? `${shape(p.items!)}[]`
      : p.type === "object" && p.additionalProperties
        ? `map<${shape(p.additionalProperties)}>`
        : p.type!;
  return base;
}

function flags(p: SchemaProperty, asInput: boolean): string {
  return [shape(p), asInput && !p.plain ? " (input)" : "", p.secret ? " (secret)" : ""].join("");
}

function describeResource(schema: PackageSchema, token: string) {
  const r = schema.resources[token];
  return {
    inputs: Object.fromEntries(Object.entries(r.inputProperties).map(([k, p]) => [k, flags(p, true)])),
    requiredInputs: r.requiredInputs,
    outputs: Object.fromEntries(Object.entries(r.properties).map(([k, p]) => [k, flags(p, false)])),
  };
}

function secretProperties(schema: PackageSchema, token: string): string[] {
  return Object.entries(schema.resources[token].properties)
    .filter(([, p]) => p.secret)
    .map(([k]) => k)
    .sort();
}

/** Outputs whose secrecy on the wire differs from the schema's, both ways. */
function secretMismatches(schemaSecrets: string[], wireSecrets: string[]): string[] {
  return [
    ...schemaSecrets
      .filter((k) => !wireSecrets.includes(k))
      .map((k) => `${k}: secret in the schema, plain on the wire`),
    ...wireSecrets
      .filter((k) => !schemaSecrets.includes(k))
      .map((k) => `${k}: secret on the wire, plain in the schema`),
  ];
}

/** Stack outputs published under another name by the component. */
const COMPONENT_NAME_OF_STACK_OUTPUT: Record<string, string> = { sshHostKeys: "hostPublicKeys" };

/** Stack outputs the component does not have, or has with another value. */
function stackOnlyOutputs(stack: Record<string, unknown>, component: Record<string, unknown>): string[] {
  return Object.entries(stack)
    .filter(([name, value]) => {
      const published = component[COMPONENT_NAME_OF_STACK_OUTPUT[name] ?? name];
      return JSON.stringify(published) !== JSON.stringify(value);
    })
    .map(([name]) => name);
}

describe("the schema the package publishes", () => {
  let schema: PackageSchema;
  beforeAll(async () => {
    schema = await packageSchema();
  }, SLOW);

  test("names the package wg-s2s and lists the components, nothing else", () => {
    expect(schema.name).toBe("wg-s2s");
    expect(Object.keys(schema.resources).sort()).toEqual([
      "wg-s2s:index:SiteToSiteVpn",
      "wg-s2s:index:WireGuardKeyPair",
      "wg-s2s:index:WireGuardPresharedKey",
    ]);
    for (const r of Object.values(schema.resources)) expect(r.isComponent).toBe(true);
  });

  test("SiteToSiteVpn: every input and output, its type, which are Inputs and which are secret", () => {
    expect(describeResource(schema, VPN)).toEqual({
      inputs: {
        zone: "string",
        adminCidrs: "string[]",
        sshPublicKeys: "string[]",
        instanceType: "string (input)",
        image: "string (input)",
        testHostPublicIp: "boolean",
        verify: "boolean",
        listenPort: "number",
        keepalive: "number",
        mtu: "number",
        tunnelCidr: "string",
        dynamicPeerCidrs: "string[]",
        cockpit: "boolean",
        alertEmails: "string[]",
        scalewaySite: "#HubSite",
        remoteSites: "#RemoteSite[]",
      },
      requiredInputs: ["adminCidrs"],
      outputs: {
        gatewayPublicIps: "map<string>",
        testHostPublicIps: "map<string>",
        publicKeys: "map<string>",
        deployPrivateKey: "string (secret)",
        deployPublicKey: "string",
        hostPublicKeys: "map<string>",
        externalSiteBundles: "map<map<string>> (secret)",
        privateNetworkIds: "map<string>",
        pingResults: "map<string>",
        tunnelAddresses: "map<string>",
        privateAddresses: "map<#SiteAddresses>",
        sshCommandsBySite: "map<#SiteAccess>",
        pingTest: "map<string>",
        externalSites: "map<#ExternalSiteStep>",
        verification: "map<string>",
      },
    });
    expect(schema.types["wg-s2s:index:ExternalSiteStep"].properties!.status.$ref).toBe(
      "#/types/wg-s2s:index:ExternalSiteStatus",
    );
  });

  test("the arguments mirror the stack's config keys, each documented", () => {
    const vpn = schema.resources[VPN];
    expect(Object.keys(vpn.inputProperties).sort()).toEqual([...STACK_CONFIG_KEYS].sort());
    const hub = schema.types["wg-s2s:index:HubSite"];
    const remote = schema.types["wg-s2s:index:RemoteSite"];
    expect(Object.keys(hub.properties!).sort()).toEqual([...SCALEWAY_SITE_KEYS].sort());
    expect(Object.keys(remote.properties!).sort()).toEqual([...REMOTE_SITE_KEYS].sort());
    expect(hub.required).toEqual([]);
    expect(remote.required).toEqual(["gatewayAddress", "name", "subnet", "tunnelAddress"]);
    for (const props of [vpn.inputProperties, vpn.properties, hub.properties!, remote.properties!]) {
      for (const [key, p] of Object.entries(props))
        expect([key, (p.description ?? "").length > 10]).toEqual([key, true]);
    }
    // Graph-shaping values are plain (known when the component plans); pass-through values are Inputs.
    expect(remote.properties!.kind).toMatchObject({ $ref: "#/types/wg-s2s:index:RemoteSiteKind", plain: true });
    expect(remote.properties!.subnet.plain).toBe(true);
  });

  test("kind and routePropagation are enums with exactly the values the config accepts", () => {
    const values = (name: string) => schema.types[`wg-s2s:index:${name}`].enum!.map((e) => e.value);
    expect(values("RoutePropagation")).toEqual([...ROUTE_PROPAGATIONS]);
    expect(values("RemoteSiteKind")).toEqual([...REMOTE_SITE_KINDS]);
  });

  test("the key components: private and preshared keys are secret, the public key is not", () => {
    expect(describeResource(schema, "wg-s2s:index:WireGuardKeyPair")).toEqual({
      inputs: { generation: "number" },
      requiredInputs: ["generation"],
      outputs: { privateKey: "string (secret)", publicKey: "string" },
    });
    expect(describeResource(schema, "wg-s2s:index:WireGuardPresharedKey").outputs).toEqual({
      key: "string (secret)",
    });
  });

  test("a secretOutputs name that is no output is refused (a typo would leave the real one plain)", () => {
    const typo: PackagedComponent = Object.assign(function () {} as any, {
      secretOutputs: ["deployPrivatekey"],
    });
    Object.defineProperty(typo, "name", { value: "SiteToSiteVpn" });
    expect(() => markSecretOutputs(structuredClone(schema) as any, [typo])).toThrow(/deployPrivatekey.*not an output/);
  });
});

describe("one repository, a program and a plugin", () => {
  test("Pulumi.yaml runs index.ts as the stack; package.json main and PulumiPlugin.yaml make plugin.ts the plugin", async () => {
    const read = (f: string) => fs.readFileSync(path.join(PACKAGE_ROOT, f), "utf8");
    const { parse } = await import("yaml");
    expect(parse(read("Pulumi.yaml"))).toMatchObject({ runtime: { name: "nodejs" }, main: "index.ts" });
    expect(parse(read("PulumiPlugin.yaml"))).toEqual({ runtime: "nodejs" });
    expect(JSON.parse(read("package.json")).main).toBe("plugin.ts");
    // The program is index.ts's export (a function Pulumi calls); plugin.ts exports no
    // component class, or Pulumi's plugin runner would start its own host without secrets.
    const program: any = await import("../index");
    expect(typeof (program.default ?? program)).toBe("function");
    expect(read("plugin.ts")).not.toMatch(/^export /m);
  });
});

describe("plugin.ts over the provider gRPC protocol, as the engine drives it", () => {
  // plugin.ts in its own process (as Pulumi launches it); this process plays the engine and
  // the resource monitor (the same mocks), all on loopback.
  let session: PluginSession;
  beforeAll(async () => {
    session = await startPluginSession();
  }, SLOW);
  afterAll(async () => {
    await session?.stop();
  });

  test(
    "GetSchema serves the schema above, secrets marked (what `pulumi package add` generates SDKs from)",
    async () => {
      expect(JSON.parse(await session.schema())).toEqual(await packageSchema());
    },
    SLOW,
  );

  test(
    "Construct declares the stack program's resources, inputs and secrets, and answers with secret outputs",
    async () => {
      const remote = await session.construct({
        component: "SiteToSiteVpn",
        inputs: SETTINGS,
        keySeed: "g",
        stack: "dev",
      });
      const program = await runProgram({ config: SETTINGS, keySeed: "g", stack: "dev" });
      const declared = (rs: typeof program.resources) =>
        rs.map((r) => JSON.stringify([r.type, r.name, r.inputs, r.secretInputs])).sort();
      expect(declared(remote.resources)).toEqual(declared(program.resources));
      expect(remote.urn).toBe("urn:pulumi:dev::scaleway-wireguard-s2s::wg-s2s:index:SiteToSiteVpn::wg-s2s");
      expect(remote.secretOutputs).toEqual(["deployPrivateKey", "externalSiteBundles"]);
      expect(remote.outputs.publicKeys).toEqual(program.outputs.publicKeys);
    },
    SLOW,
  );

  test(
    "bad arguments come back as INVALID_ARGUMENT with one error per argument path, nothing declared",
    async () => {
      const err = await session
        .construct({ component: "SiteToSiteVpn", inputs: { adminCidrs: ["0.0.0.0/0"], listenPort: 70000 } })
        .catch((e) => e);
      expect(err.code).toBe(3);
      expect(err.declaredResources).toEqual([]);
      expect(propertyErrors(err)).toEqual([
        {
          propertyPath: "adminCidrs[0]",
          reason:
            "0.0.0.0/0 would open SSH on every gateway to the whole internet. Fix: use your operator address as a /32: `adminCidrs[0]: 203.0.113.7/32`.",
        },
        {
          propertyPath: "listenPort",
          reason:
            "is 70000; a UDP port is a whole number from 1 to 65535. Fix: set the argument `listenPort` to 52435.",
        },
      ]);
    },
    SLOW,
  );
});

describe("constructing through the provider", () => {
  test(
    "declares the same resources, inputs, secrets and URNs as the stack program, and the URNs from before the package",
    async () => {
      const before: string[] = JSON.parse(
        fs.readFileSync(path.join(PACKAGE_ROOT, "tests/fixtures/urns-before-component-package.json"), "utf8"),
      ).urns;
      const viaProvider = await constructThroughProvider({
        component: "SiteToSiteVpn",
        inputs: SETTINGS,
        keySeed: "same",
        stack: "dev",
      });
      const program = await runProgram({ config: SETTINGS, keySeed: "same", stack: "dev" });
      const { registeredUrns } = await import("../testkit/programRun");
      const programUrns = registeredUrns();
      const declared = (rs: typeof program.resources) =>
        rs.map((r) => JSON.stringify([r.type, r.name, r.inputs, r.secretInputs])).sort();

      expect(viaProvider.resources.length).toBeGreaterThan(40);
      expect(declared(viaProvider.resources)).toEqual(declared(program.resources));
      expect(viaProvider.urns).toEqual(programUrns);
      // Names and parents as an existing stack has them: nothing would be replaced.
      // (office is an external site still pending its operator, bundleInstalled unset: its ping
      // check is declared only in step 2 of the external deploy; removing a check replaces nothing.)
      // Added since: one forwarding check per built gateway (a new check replaces nothing).
      const added = programUrns.filter((u) => !before.includes(u));
      expect(added.map((u) => u.slice(u.lastIndexOf("::") + 2)).sort()).toEqual([
        "wg-s2s-verify-onprem-forwarding",
        "wg-s2s-verify-scaleway-forwarding",
      ]);
      expect(programUrns.filter((u) => before.includes(u))).toEqual(
        before.filter((u) => !u.endsWith("::wg-s2s-verify-office-ping")),
      );
      // The outputs agree with the program's stack outputs built from the same component.
      expect(viaProvider.outputs.publicKeys).toEqual(program.outputs.publicKeys);
      expect(viaProvider.outputs.externalSiteBundles).toEqual(program.outputs.externalSiteBundles);
      expect(viaProvider.outputs.privateNetworkIds).toEqual({
        scaleway: mockResourceId("scaleway:network/privateNetwork:PrivateNetwork", "wg-s2s-scaleway-pn"),
        onprem: mockResourceId("scaleway:network/privateNetwork:PrivateNetwork", "wg-s2s-onprem-pn"),
      });
      // Every stack output is a component output, so a program in any language has it too.
      expect(stackOnlyOutputs(program.outputs, viaProvider.outputs)).toEqual([]);
      // Negative controls: an output the component lacks, and one whose value differs.
      expect(stackOnlyOutputs({ ...program.outputs, planted: 1 }, viaProvider.outputs)).toEqual(["planted"]);
      expect(
        stackOnlyOutputs({ ...program.outputs, pingTest: {} }, { ...viaProvider.outputs, pingTest: { onprem: "x" } }),
      ).toEqual(["pingTest"]);
    },
    SLOW,
  );

  test(
    "what the schema marks secret is secret on the wire, and only that",
    async () => {
      const schema = await packageSchema();
      const vpn = await constructThroughProvider({ component: "SiteToSiteVpn", inputs: SETTINGS, keySeed: "s" });
      expect(vpn.secretOutputs).toEqual(["deployPrivateKey", "externalSiteBundles"]);
      expect(secretMismatches(secretProperties(schema, VPN), vpn.secretOutputs)).toEqual([]);
      // Whatever holds key material (an SSH private key, a wg0.conf PrivateKey) is among them.
      for (const [name, value] of Object.entries(vpn.outputs)) {
        if (/PRIVATE KEY|PrivateKey = /.test(JSON.stringify(value)))
          expect([name, vpn.secretOutputs]).toEqual([name, expect.arrayContaining([name])]);
      }
      expect(vpn.outputs.deployPrivateKey).toMatch(/BEGIN OPENSSH PRIVATE KEY/);

      const pair = await constructThroughProvider({ component: "WireGuardKeyPair", inputs: { generation: 0 } });
      expect(secretMismatches(secretProperties(schema, "wg-s2s:index:WireGuardKeyPair"), pair.secretOutputs)).toEqual(
        [],
      );
      expect(wireGuardPublicKey(pair.outputs.privateKey)).toBe(pair.outputs.publicKey);
    },
    SLOW,
  );

  test(
    "bad arguments: every problem named by its argument path, a fix for the caller, nothing declared",
    async () => {
      const bad = {
        adminCidrs: ["0.0.0.0/0"],
        listenPort: 70000,
        remoteSites: [{ ...SETTINGS.remoteSites[1], kind: "extrnal", routePropagation: "dhcp" }],
      };
      const err = await constructThroughProvider({ component: "SiteToSiteVpn", inputs: bad }).catch((e) => e);
      expect(err.declaredResources).toEqual([]);
      expect(err.message.split("\n")).toEqual([
        "SiteToSiteVpn arguments have 1 problem (no resource was declared):",
        'remoteSites[0].kind: "extrnal" is not one of simulated, external. Fix: set the argument `remoteSites[0].kind` to external.',
      ]);
      // The engine gets them per argument path (InputPropertiesError), to print under the resource.
      expect(pulumi.InputPropertiesError.isInstance(err)).toBe(true);
      expect(err.errors).toEqual([
        {
          propertyPath: "remoteSites[0].kind",
          reason:
            '"extrnal" is not one of simulated, external. Fix: set the argument `remoteSites[0].kind` to external.',
        },
      ]);
      const fixed = { ...bad, remoteSites: [SETTINGS.remoteSites[1]] };
      const err2 = await constructThroughProvider({ component: "SiteToSiteVpn", inputs: fixed }).catch((e) => e);
      expect(err2.declaredResources).toEqual([]);
      expect(err2.message).toContain("SiteToSiteVpn arguments have 2 problems");
      expect(err2.message).toContain(
        "adminCidrs[0]: 0.0.0.0/0 would open SSH on every gateway to the whole internet. Fix: use your operator address as a /32: `adminCidrs[0]: 203.0.113.7/32`.",
      );
      expect(err2.message).toContain("listenPort: is 70000;");
      expect(err2.message).not.toContain("pulumi config");
    },
    SLOW,
  );

  test(
    "the key components check their generation too",
    async () => {
      const err = await constructThroughProvider({ component: "WireGuardKeyPair", inputs: { generation: -1 } }).catch(
        (e) => e,
      );
      expect(err.declaredResources).toEqual([]);
      expect(err.errors).toEqual([
        {
          propertyPath: "generation",
          reason:
            "is -1; it must be a whole number 0 or above (bump it by one to rotate the key). Fix: set the argument `generation` to 0.",
        },
      ]);
    },
    SLOW,
  );

  test("the stack program turns the same argument errors back into today's pulumi config hints", async () => {
    const bad = { adminCidrs: ["0.0.0.0/0"], listenPort: 70000 };
    const err = await runProgram({ config: bad }).catch((e) => e);
    expect(err.declaredResources).toEqual([]);
    let expected = "";
    try {
      loadStackConfig(bad);
    } catch (e) {
      expected = (e as Error).message;
    }
    expect(err.message).toBe(expected);
    expect(err.message).toContain("Fix: run `pulumi config set listenPort 52435`.");
  });
});

describe("Inputs pass through", () => {
  test("an instance type only known at deploy time reaches every server; a known bad one is refused", async () => {
    const resources = await startMockRun({ config: {}, keySeed: "i" });
    new SiteToSiteVpn("wg-s2s", {
      adminCidrs: ["203.0.113.7/32"],
      testHostPublicIp: true,
      instanceType: pulumi.output("PLAY2-NANO"),
    });
    await (pulumi.runtime as any).waitForRPCs?.();
    const servers = resources.filter((r) => r.type === "scaleway:instance/server:Server");
    expect(servers.map((s) => s.inputs.type)).toEqual(["PLAY2-NANO", "PLAY2-NANO", "PLAY2-NANO", "PLAY2-NANO"]);

    expect(() => new SiteToSiteVpn("bad", { adminCidrs: ["203.0.113.7/32"], instanceType: " " })).toThrow(
      /instanceType: " " is empty or contains spaces\. Fix: set the argument `instanceType` to DEV1-S, or leave `instanceType` unset for the default\./,
    );
  });
});

describe("planted mistakes", () => {
  test(
    "an argument type the schema inference cannot express fails the schema, naming the argument",
    async () => {
      const copy = plantedCopy([
        { file: "components/siteToSiteVpnArgs.ts", from: "listenPort?: number;", to: "listenPort?: number | string;" },
      ]);
      try {
        await expect(new WgS2sProvider(copy.dir).getSchema()).rejects.toThrow(
          /Union types are not supported for component 'SiteToSiteVpn' .*listenPort/,
        );
      } finally {
        copy.remove();
      }
    },
    SLOW,
  );

  test(
    "a public property the schema cannot type (the plan, were it not an accessor) fails the schema, naming it",
    async () => {
      const copy = plantedCopy([
        {
          file: "components/siteToSiteVpn.ts",
          from: "  /** The topology every resource was declared from (TypeScript only). */",
          to: "  public readonly planned?: TopologyPlan;\n  /** The topology every resource was declared from (TypeScript only). */",
        },
      ]);
      try {
        await expect(new WgS2sProvider(copy.dir).getSchema()).rejects.toThrow(
          /not supported for component .SiteToSiteVpn. output .SitePlan\.role./,
        );
      } finally {
        copy.remove();
      }
    },
    SLOW,
  );

  test(
    "an output marked secret in the schema but left plain in the component is caught",
    async () => {
      // Run the planted copy in its own process: it must load the planted modules, not these.
      const copy = plantedCopy([
        {
          file: "components/siteToSiteVpn.ts",
          from: "this.externalSiteBundles = pulumi.secret(pulumi.all(bundles));",
          // Secrecy would survive a mere missing pulumi.secret (the bundles derive from secret
          // keys); an explicit unsecret, as for public keys, is how it gets lost.
          to: "this.externalSiteBundles = pulumi.unsecret(pulumi.all(bundles));",
        },
      ]);
      try {
        const script = [
          'const { constructThroughProvider } = require("./testkit/providerRun");',
          `constructThroughProvider({ component: "SiteToSiteVpn", inputs: ${JSON.stringify(SETTINGS)}, keySeed: "p" })`,
          "  .then((r) => console.log(JSON.stringify(r.secretOutputs)));",
        ].join("\n");
        fs.writeFileSync(path.join(copy.dir, "probe.ts"), script);
        const out = execFileSync(path.join(PACKAGE_ROOT, "node_modules/.bin/tsx"), ["probe.ts"], {
          cwd: copy.dir,
          encoding: "utf8",
          timeout: SLOW - 10_000,
        });
        const wireSecrets: string[] = JSON.parse(out.trim().split("\n").pop()!);
        const schema = await packageSchema();
        expect(wireSecrets).toEqual(["deployPrivateKey"]);
        expect(secretMismatches(secretProperties(schema, VPN), wireSecrets)).toEqual([
          "externalSiteBundles: secret in the schema, plain on the wire",
        ]);
      } finally {
        copy.remove();
      }
    },
    SLOW,
  );

  test(
    "a secret output the schema forgets to mark is caught",
    async () => {
      const schema = await packageSchema();
      const unmarked: PackageSchema = structuredClone(schema);
      for (const p of Object.values(unmarked.resources[VPN].properties)) delete p.secret;
      const forgetful: PackagedComponent = Object.assign(function () {} as any, {
        secretOutputs: ["deployPrivateKey"],
      });
      Object.defineProperty(forgetful, "name", { value: "SiteToSiteVpn" });
      markSecretOutputs(unmarked as any, [forgetful]);
      const vpn = await constructThroughProvider({ component: "SiteToSiteVpn", inputs: SETTINGS, keySeed: "f" });
      expect(secretMismatches(secretProperties(unmarked, VPN), vpn.secretOutputs)).toEqual([
        "externalSiteBundles: secret on the wire, plain in the schema",
      ]);
    },
    SLOW,
  );
});
