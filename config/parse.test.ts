/** @tier unit */
import { readFileSync } from "fs";
import { join } from "path";
import { parse as parseYaml } from "yaml";
import { ConfigError } from "./errors";
import { closest, parseStackConfig } from "./parse";
import {
  DEFAULT_REMOTE_SITES,
  DEFAULT_SCALEWAY_SITE,
  REMOTE_SITE_KEYS,
  SCALEWAY_SITE_KEYS,
  STACK_CONFIG_DEFAULTS,
  STACK_CONFIG_KEYS,
} from "./schema";
import { keySpecs } from "./schemaDocs";
import { loadStackConfig } from "./validation";
import type { StackConfig } from "./types";

const ADMIN = { adminCidrs: ["203.0.113.7/32"] };

/** Parses a stack with one remote site `b` (its required fields, plus `fields`); returns that site. */
function parseRemoteSite(fields: Record<string, unknown>) {
  const site = { name: "b", subnet: "192.168.7.0/24", gatewayAddress: "192.168.7.2", tunnelAddress: "172.16.0.9" };
  return parseStackConfig({ ...ADMIN, remoteSites: [{ ...site, ...fields }] }).remoteSites[0];
}

/** Runs parseStackConfig expecting a ConfigError; returns its issues. */
function parseIssues(raw: Record<string, unknown>) {
  try {
    parseStackConfig(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).issues;
  }
  throw new Error("expected parseStackConfig to throw a ConfigError");
}

describe("parseStackConfig defaults", () => {
  it("reproduce the seed topology, with gateways on .2 (Scaleway reserves .1)", () => {
    const cfg = parseStackConfig(ADMIN);
    const expected: StackConfig = {
      zone: "fr-par-1",
      adminCidrs: ["203.0.113.7/32"],
      sshPublicKeys: [],
      instanceType: "DEV1-S",
      image: "ubuntu_noble",
      testHostPublicIp: false,
      verify: true,
      dynamicPeerCidrs: ["0.0.0.0/0"],
      listenPort: 52435,
      keepalive: 25,
      mtu: 1420,
      tunnelCidr: "172.16.0.0/24",
      cockpit: false,
      alertEmails: [],
      scalewaySite: {
        name: "scaleway",
        subnet: "192.168.0.0/24",
        gatewayAddress: "192.168.0.2",
        testHost: true,
        testHostAddress: "192.168.0.3",
        tunnelAddress: "172.16.0.1",
        routePropagation: "vpc-route",
        keyGeneration: 0,
        gateways: 1,
      },
      remoteSites: [
        {
          name: "onprem",
          kind: "simulated",
          subnet: "192.168.1.0/24",
          gatewayAddress: "192.168.1.2",
          testHost: true,
          testHostAddress: "192.168.1.3",
          tunnelAddress: "172.16.0.2",
          routePropagation: "vpc-route",
          allowSpokeToSpoke: false,
          keyGeneration: 0,
        },
      ],
    };
    expect(cfg).toEqual(expected);
  });

  it("has no default admin CIDR: an empty config parses to an empty list (validation then refuses it)", () => {
    expect(parseStackConfig({}).adminCidrs).toEqual([]);
    expect(() => loadStackConfig({})).toThrow(/adminCidrs: .*0\.0\.0\.0\/0/);
  });

  it("returns copies: mutating a parsed config leaves the exported defaults intact", () => {
    const cfg = parseStackConfig(ADMIN);
    cfg.remoteSites[0].name = "changed";
    cfg.scalewaySite.name = "changed";
    cfg.sshPublicKeys.push("x");
    expect(DEFAULT_REMOTE_SITES[0].name).toBe("onprem");
    expect(DEFAULT_SCALEWAY_SITE.name).toBe("scaleway");
    expect(STACK_CONFIG_DEFAULTS.sshPublicKeys).toEqual([]);
    expect(parseStackConfig(ADMIN).remoteSites[0].name).toBe("onprem");
  });

  it("treats null like an absent key", () => {
    expect(parseStackConfig({ ...ADMIN, zone: null, remoteSites: null, scalewaySite: null })).toEqual(
      parseStackConfig(ADMIN),
    );
  });
});

describe("parseStackConfig coercion (Pulumi passes config as strings)", () => {
  it("accepts numbers and booleans spelled as strings", () => {
    const cfg = parseStackConfig({
      ...ADMIN,
      listenPort: "51820",
      keepalive: "0",
      mtu: "1380",
      verify: "false",
      testHostPublicIp: "true",
    });
    expect(cfg).toMatchObject({ listenPort: 51820, keepalive: 0, mtu: 1380 });
    expect(cfg.verify).toBe(false);
    expect(cfg.testHostPublicIp).toBe(true);
  });

  it("accepts lists and objects as JSON text, as config.get returns them", () => {
    const remoteSites = [
      {
        name: "dc1",
        kind: "external",
        subnet: "10.20.0.0/16",
        gatewayAddress: "10.20.0.2",
        tunnelAddress: "172.16.0.2",
        publicIp: "198.51.100.4",
        keyGeneration: "2",
      },
    ];
    const cfg = parseStackConfig({
      adminCidrs: JSON.stringify(["203.0.113.7/32", "198.51.100.0/24"]),
      remoteSites: JSON.stringify(remoteSites),
      scalewaySite: JSON.stringify({ name: "hub" }),
    });
    expect(cfg.adminCidrs).toEqual(["203.0.113.7/32", "198.51.100.0/24"]);
    expect(cfg.scalewaySite.name).toBe("hub");
    // The site as given, its number read from text, plus its defaults.
    expect(cfg.remoteSites).toEqual([
      {
        ...remoteSites[0],
        keyGeneration: 2,
        routePropagation: "static", // external sites have no VPC: static is their default
        allowSpokeToSpoke: false,
        testHost: false,
      },
    ]);
  });

  it("keeps non-integers for validation to judge rather than rounding them silently", () => {
    expect(parseStackConfig({ ...ADMIN, listenPort: "52435.5" }).listenPort).toBe(52435.5);
  });

  it("rejects numbers and booleans it cannot read, naming the key and showing the set command", () => {
    const issues = parseIssues({ ...ADMIN, listenPort: "5243x", verify: "yes", mtu: true, keepalive: "1e3" });
    expect(issues.map((i) => i.key)).toEqual(["verify", "listenPort", "keepalive", "mtu"]);
    expect(issues[0]).toMatchObject({
      problem: expect.stringContaining("true or false"),
      fix: expect.stringContaining("pulumi config set verify true"),
    });
    expect(issues[1].fix).toContain("pulumi config set listenPort 52435");
  });
});

describe("parseStackConfig site objects", () => {
  it("fills every missing scalewaySite field from the defaults", () => {
    expect(parseStackConfig({ ...ADMIN, scalewaySite: { name: "hub", keyGeneration: 3 } }).scalewaySite).toEqual({
      ...DEFAULT_SCALEWAY_SITE,
      name: "hub",
      keyGeneration: 3,
    });
  });

  it("moves the hub's default gateway and test host with its subnet (.2 and .3)", () => {
    const hub = parseStackConfig({ ...ADMIN, scalewaySite: { subnet: "172.20.8.0/22" } }).scalewaySite;
    expect(hub).toMatchObject({ subnet: "172.20.8.0/22", gatewayAddress: "172.20.8.2", testHostAddress: "172.20.8.3" });
    // Explicit addresses still win.
    const explicit = parseStackConfig({
      ...ADMIN,
      scalewaySite: { subnet: "172.20.8.0/22", gatewayAddress: "172.20.9.9" },
    }).scalewaySite;
    expect(explicit.gatewayAddress).toBe("172.20.9.9");
    expect(() => loadStackConfig({ ...ADMIN, scalewaySite: { subnet: "172.20.8.0/22" } })).not.toThrow();
  });

  it("defaults kind, routePropagation, allowSpokeToSpoke and keyGeneration of remote sites", () => {
    const site = parseRemoteSite({ testHostAddress: "192.168.7.3" });
    expect(site).toMatchObject({
      kind: "simulated",
      routePropagation: "vpc-route",
      allowSpokeToSpoke: false,
      keyGeneration: 0,
    });
  });

  it('leaves optional fields absent (not undefined-valued) and reads "" as not set', () => {
    // Except where "" would switch the deploy's shape (publicIp, privateNetworkId): config/hurried.test.ts.
    const site = parseRemoteSite({ testHostAddress: "" });
    expect(Object.keys(site)).not.toContain("publicIp");
    expect(Object.keys(site)).not.toContain("testHostAddress");
    expect(Object.keys(site)).not.toContain("lanRouter");
  });

  it("requires name, subnet, gatewayAddress and tunnelAddress on each remote site, with example values", () => {
    const issues = parseIssues({
      ...ADMIN,
      remoteSites: [{ kind: "simulated" }, { name: "x", subnet: "192.168.5.0/24" }],
    });
    // In the schema's order of the fields.
    expect(issues.map((i) => i.key)).toEqual([
      "remoteSites[0].name",
      "remoteSites[0].subnet",
      "remoteSites[0].gatewayAddress",
      "remoteSites[0].tunnelAddress",
      "remoteSites[1].gatewayAddress",
      "remoteSites[1].tunnelAddress",
    ]);
    for (const i of issues) expect(i.problem).toContain("required");
    // The example gateway follows the site's own subnet; the tunnel example follows its index.
    expect(issues[4].fix).toContain("pulumi config set --path 'remoteSites[1].gatewayAddress' 192.168.5.2");
    expect(issues[5].fix).toContain("pulumi config set --path 'remoteSites[1].tunnelAddress' 172.16.0.3");
  });

  it("rejects unknown keys inside site objects and suggests the closest known key", () => {
    const issues = parseIssues({
      ...ADMIN,
      scalewaySite: { gatewayAdress: "192.168.0.2" },
      remoteSites: [{ ...DEFAULT_REMOTE_SITES[0], publicIP: "198.51.100.4", colour: "blue" }],
    });
    expect(issues).toEqual([
      {
        key: "scalewaySite.gatewayAdress",
        problem: expect.stringContaining("did you mean `gatewayAddress`"),
        fix: expect.stringContaining("pulumi config rm --path 'scalewaySite.gatewayAdress'"),
      },
      {
        key: "remoteSites[0].publicIP",
        problem: expect.stringContaining("did you mean `publicIp`"),
        fix: expect.stringContaining("remoteSites[0].publicIp"),
      },
      {
        key: "remoteSites[0].colour",
        problem: expect.stringContaining("known: name, kind"),
        fix: expect.stringContaining("pulumi config rm"),
      },
    ]);
  });

  it("repeats a typed key as typed, even one holding the characters fixes are templated with", () => {
    const odd = 'colour\uE000run\uE001["x",1]\uE002\uE003';
    const [issue] = parseIssues({ ...ADMIN, scalewaySite: { [odd]: "blue" } });
    expect(issue.key).toBe(`scalewaySite.${odd}`);
    expect(issue.fix).toContain(`pulumi config rm --path 'scalewaySite.${odd}'`);
  });

  it("rejects unknown top-level keys but ignores other namespaces (scaleway:zone)", () => {
    const issues = parseIssues({ ...ADMIN, adminCidr: ["1.2.3.4/32"], "scaleway:zone": "fr-par-2" });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({
      key: "adminCidr",
      problem: expect.stringContaining("did you mean `adminCidrs`"),
    });
  });

  it("rejects unknown enum values with the nearest valid one", () => {
    const issues = parseIssues({
      ...ADMIN,
      remoteSites: [{ ...DEFAULT_REMOTE_SITES[0], kind: "extern", routePropagation: "vpc_route" }],
    });
    expect(issues.map((i) => [i.key, i.fix])).toEqual([
      ["remoteSites[0].kind", expect.stringContaining("'remoteSites[0].kind' external")],
      ["remoteSites[0].routePropagation", expect.stringContaining("'remoteSites[0].routePropagation' vpc-route")],
    ]);
  });

  it("rejects wrong shapes: list where an object goes, string items, non-list lists", () => {
    const issues = parseIssues({
      adminCidrs: "203.0.113.7/32",
      sshPublicKeys: [42],
      scalewaySite: ["hub"],
      remoteSites: [5],
      zone: 7,
    });
    expect(issues.map((i) => i.key)).toEqual([
      "zone",
      "adminCidrs",
      "sshPublicKeys[0]",
      "scalewaySite",
      "remoteSites[0]",
    ]);
    expect(issues[1]).toMatchObject({
      problem: expect.stringContaining("must be a list"),
      fix: expect.stringContaining("'adminCidrs[0]' 203.0.113.7/32"),
    });
    expect(issues[3].problem).toContain("must be an object");
  });

  it("reports every parse problem at once in a single ConfigError", () => {
    const issues = parseIssues({ listenPort: "x", verify: "maybe", remoteSites: [{ nmae: "a" }] });
    expect(issues.length).toBeGreaterThanOrEqual(6);
    expect(new Set(issues.map((i) => i.key)).size).toBe(issues.length);
  });
});

describe("the example stack", () => {
  it("Pulumi.dev.yaml loads without a single issue", () => {
    const stack = parseYaml(readFileSync(join(__dirname, "..", "Pulumi.dev.yaml"), "utf8")) as {
      config: Record<string, unknown>;
    };
    const prefix = "scaleway-wireguard-s2s:";
    // As index.ts hands it over: project keys without their namespace, structured values as JSON text.
    const raw = Object.fromEntries(
      Object.entries(stack.config)
        .filter(([key]) => key.startsWith(prefix))
        .map(([key, value]) => [
          key.slice(prefix.length),
          typeof value === "object" ? JSON.stringify(value) : String(value),
        ]),
    );
    expect(Object.keys(raw).length).toBeGreaterThan(0);
    const cfg = loadStackConfig(raw);
    expect(cfg.adminCidrs.length).toBeGreaterThan(0);
    expect(cfg.remoteSites.length).toBeGreaterThan(0);
  });
});

describe("exported key lists", () => {
  it("STACK_CONFIG_KEYS lists every top-level key once, and the reference documents each", () => {
    expect(new Set(STACK_CONFIG_KEYS).size).toBe(STACK_CONFIG_KEYS.length);
    expect(keySpecs().find((r) => r.key === "adminCidrs")).not.toHaveProperty("default");
  });

  it("every top-level key changes the parsed config (no key is accepted and ignored)", () => {
    const changed: Record<string, unknown> = {
      zone: "nl-ams-1",
      adminCidrs: ["198.51.100.1/32"],
      sshPublicKeys: ["ssh-ed25519 AAAA"],
      instanceType: "DEV1-M",
      image: "ubuntu_jammy",
      testHostPublicIp: true,
      verify: false,
      listenPort: 51820,
      keepalive: 10,
      mtu: 1380,
      tunnelCidr: "172.16.9.0/24",
      dynamicPeerCidrs: ["198.51.100.0/24"],
      cockpit: true,
      alertEmails: ["netops@example.com"],
      scalewaySite: { name: "hub" },
      remoteSites: [],
    };
    expect(Object.keys(changed).sort()).toEqual([...STACK_CONFIG_KEYS].sort());
    const base = JSON.stringify(parseStackConfig(ADMIN));
    for (const key of STACK_CONFIG_KEYS) {
      expect([key, JSON.stringify(parseStackConfig({ ...ADMIN, [key]: changed[key] })) !== base]).toEqual([key, true]);
    }
  });

  it("site key lists match what the parser accepts", () => {
    const hub = Object.fromEntries(
      SCALEWAY_SITE_KEYS.map((k) => [k, (DEFAULT_SCALEWAY_SITE as unknown as Record<string, unknown>)[k]]),
    );
    expect(() => parseStackConfig({ ...ADMIN, scalewaySite: hub })).not.toThrow();
    const remote = {
      ...DEFAULT_REMOTE_SITES[0],
      publicIp: "198.51.100.4",
      lanRouter: "192.168.1.1",
      isolatedLan: false,
      dnsServers: ["9.9.9.9"],
      fixedHosts: ["192.168.1.5"],
      bundleInstalled: true,
      bundleSshKeys: true,
      bundleCockpit: true,
      privateNetworkId: "11111111-2222-3333-4444-555555555555",
    };
    expect(Object.keys(remote).sort()).toEqual([...REMOTE_SITE_KEYS].sort());
    expect(() => parseStackConfig({ ...ADMIN, remoteSites: [remote] })).not.toThrow();
  });
});

describe("closest", () => {
  it("suggests near misses and stays quiet for unrelated words", () => {
    expect(closest("gatewayAdress", ["gatewayAddress", "subnet"])).toBe("gatewayAddress");
    expect(closest("SUBNET", ["gatewayAddress", "subnet"])).toBe("subnet");
    expect(closest("colour", ["gatewayAddress", "subnet"])).toBeUndefined();
  });
});
