/** @tier unit */
import * as pulumi from "@pulumi/pulumi";
import fc from "fast-check";
import { hostAddress } from "../addressing/ipv4";
import { parseStackConfig } from "./parse";
import type { RemoteSiteConfig, StackConfig } from "./types";
import { ConfigError, formatIssue, type ConfigIssue } from "./errors";
import { loadStackConfig, validateStackConfig } from "./validation";
import { ecdsaLine, ed25519Line, rsaLine, text, wire } from "../testkit/sshKeys";

const ADMIN = { adminCidrs: ["203.0.113.7/32"] };

/** The defaults with only adminCidrs set: a hub and the simulated onprem spoke, valid. */
function base(): StackConfig {
  return parseStackConfig(ADMIN);
}

/** A valid external site to add next to the default simulated one. */
function external(overrides: Partial<RemoteSiteConfig> = {}): RemoteSiteConfig {
  return {
    name: "dc1",
    kind: "external",
    subnet: "10.20.0.0/16",
    gatewayAddress: "10.20.0.2",
    tunnelAddress: "172.16.0.3",
    publicIp: "198.51.100.4",
    routePropagation: "static",
    allowSpokeToSpoke: false,
    testHost: false,
    keyGeneration: 0,
    ...overrides,
  };
}

function withExternal(overrides: Partial<RemoteSiteConfig> = {}): (c: StackConfig) => void {
  return (c) => {
    c.remoteSites.push(external(overrides));
  };
}

describe("validateStackConfig on good configs", () => {
  it("finds nothing wrong with the defaults plus an admin CIDR", () => {
    expect(validateStackConfig(base())).toEqual([]);
    expect(loadStackConfig(ADMIN)).toEqual(base());
  });

  it("accepts an external site with the documented fields (negative control for the table below)", () => {
    const cfg = base();
    withExternal()(cfg);
    cfg.remoteSites.push(
      external({
        name: "dc2",
        subnet: "192.168.50.0/24",
        gatewayAddress: "192.168.50.1",
        tunnelAddress: "172.16.0.4",
        publicIp: "51.15.1.2",
        routePropagation: "dhcp",
        lanRouter: "192.168.50.254",
        testHostAddress: "192.168.50.10",
      }),
    );
    expect(validateStackConfig(cfg)).toEqual([]);
  });

  it("accepts real OpenSSH public keys of every common type, with or without comment", () => {
    const cfg = base();
    cfg.sshPublicKeys = [
      ed25519Line(),
      ed25519Line("a comment with spaces"),
      rsaLine(),
      ecdsaLine("P-256"),
      ecdsaLine("P-384"),
      ecdsaLine("P-521"),
    ];
    expect(validateStackConfig(cfg)).toEqual([]);
  });

  it("accepts the edges of every numeric range", () => {
    for (const tunnel of [
      { listenPort: 1, keepalive: 0, mtu: 1280 },
      { listenPort: 65535, keepalive: 65535, mtu: 1440 },
    ]) {
      const cfg = base();
      Object.assign(cfg, tunnel);
      expect(validateStackConfig(cfg)).toEqual([]);
    }
  });

  it("accepts Scaleway-built sites in 172.16/12 and larger prefixes, and .253 as the last usable address", () => {
    const cfg = base();
    cfg.tunnelCidr = "192.168.255.0/24";
    cfg.scalewaySite = {
      ...cfg.scalewaySite,
      subnet: "172.20.0.0/20",
      gatewayAddress: "172.20.15.253",
      testHostAddress: "172.20.0.2",
      tunnelAddress: "192.168.255.1",
    };
    cfg.remoteSites[0].tunnelAddress = "192.168.255.2";
    expect(validateStackConfig(cfg)).toEqual([]);
  });
});

type Mutation = (c: StackConfig) => void;
const remote0 = (c: StackConfig) => c.remoteSites[0];
const truncatedEd25519 = () => {
  const [type, blob] = ed25519Line().split(" ");
  return `${type} ${blob.slice(0, 40)}`; // still base64, length % 4 == 0, type intact, key cut short
};

// [what is wrong, mutation of the valid base, key that must be reported, text the fix must contain]
const BAD_INPUTS: [string, Mutation, string, string][] = [
  ["zone without its number", (c) => void (c.zone = "fr-par"), "zone", "pulumi config set zone fr-par-1"],
  ["zone in upper case", (c) => void (c.zone = "FR-PAR-1"), "zone", "fr-par-1"],
  ["zone as a region-less name", (c) => void (c.zone = "par1"), "zone", "fr-par-1"],
  [
    "no admin CIDR",
    (c) => void (c.adminCidrs = []),
    "adminCidrs",
    "pulumi config set --path 'adminCidrs[0]' 203.0.113.7/32",
  ],
  ["admin CIDR 0.0.0.0/0", (c) => void (c.adminCidrs = ["0.0.0.0/0"]), "adminCidrs[0]", "/32"],
  [
    "admin CIDR ::/0 second in the list",
    (c) => void (c.adminCidrs = ["203.0.113.7/32", "::/0"]),
    "adminCidrs[1]",
    "'adminCidrs[1]' 203.0.113.7/32",
  ],
  [
    "admin CIDR without prefix",
    (c) => void (c.adminCidrs = ["198.51.100.23"]),
    "adminCidrs[0]",
    "'adminCidrs[0]' 198.51.100.23/32",
  ],
  ["admin CIDR with host bits", (c) => void (c.adminCidrs = ["198.51.100.23/24"]), "adminCidrs[0]", "198.51.100.0/24"],
  ["admin CIDR far too wide", (c) => void (c.adminCidrs = ["64.0.0.0/2"]), "adminCidrs[0]", "/32"],
  ["admin CIDR in IPv6", (c) => void (c.adminCidrs = ["2001:db8::/32"]), "adminCidrs[0]", "203.0.113.7/32"],
  ["ssh key that is not a key", (c) => void (c.sshPublicKeys = ["hello world"]), "sshPublicKeys[0]", ".pub"],
  [
    "ssh key cut short",
    (c) => void (c.sshPublicKeys = [truncatedEd25519()]),
    "sshPublicKeys[0]",
    "cat ~/.ssh/id_ed25519.pub",
  ],
  [
    "ed25519 key data of the wrong size",
    (c) =>
      void (c.sshPublicKeys = [`ssh-ed25519 ${wire(text("ssh-ed25519"), Buffer.alloc(31, 7)).toString("base64")}`]),
    "sshPublicKeys[0]",
    ".pub",
  ],
  [
    "ssh key with a type that does not match its data",
    (c) => void (c.sshPublicKeys = [ed25519Line().replace("ssh-ed25519", "ssh-rsa")]),
    "sshPublicKeys[0]",
    ".pub",
  ],
  ["empty instance type", (c) => void (c.instanceType = ""), "instanceType", "pulumi config set instanceType DEV1-S"],
  ["blank image", (c) => void (c.image = "  "), "image", "pulumi config rm image"],
  ["listen port 0", (c) => void (c.listenPort = 0), "listenPort", "pulumi config set listenPort 52435"],
  ["listen port above 65535", (c) => void (c.listenPort = 70000), "listenPort", "52435"],
  ["listen port not whole", (c) => void (c.listenPort = 52435.5), "listenPort", "52435"],
  ["negative keepalive", (c) => void (c.keepalive = -1), "keepalive", "pulumi config set keepalive 25"],
  ["keepalive above 65535", (c) => void (c.keepalive = 65536), "keepalive", "25"],
  ["MTU of the underlay itself", (c) => void (c.mtu = 1500), "mtu", "pulumi config set mtu 1420"],
  ["MTU below IPv6's minimum", (c) => void (c.mtu = 1200), "mtu", "1420"],
  [
    "tunnel range without prefix",
    (c) => void (c.tunnelCidr = "172.16.0.0"),
    "tunnelCidr",
    "pulumi config set tunnelCidr 172.16.0.0/24",
  ],
  ["tunnel range with host bits", (c) => void (c.tunnelCidr = "172.16.0.1/24"), "tunnelCidr", "172.16.0.0/24"],
  ["tunnel range of public addresses", (c) => void (c.tunnelCidr = "8.8.8.0/24"), "tunnelCidr", "172.16.0.0/24"],
  ["tunnel range too small for the sites", (c) => void (c.tunnelCidr = "172.16.0.1/32"), "tunnelCidr", "larger range"],
  [
    "malformed hub subnet",
    (c) => void (c.scalewaySite.subnet = "192.168.0.0/33"),
    "scalewaySite.subnet",
    "pulumi config set --path 'scalewaySite.subnet'",
  ],
  [
    "hub subnet with host bits",
    (c) => void (c.scalewaySite.subnet = "192.168.0.5/24"),
    "scalewaySite.subnet",
    "'scalewaySite.subnet' 192.168.0.0/24",
  ],
  [
    "hub subnet inside 10/8",
    (c) =>
      void Object.assign(c.scalewaySite, {
        subnet: "10.1.0.0/24",
        gatewayAddress: "10.1.0.2",
        testHostAddress: "10.1.0.3",
      }),
    "scalewaySite.subnet",
    "192.168.0.0/16 or 172.16.0.0/12",
  ],
  [
    "simulated subnet outside RFC 1918",
    (c) =>
      void Object.assign(remote0(c), {
        subnet: "100.64.1.0/24",
        gatewayAddress: "100.64.1.2",
        testHostAddress: "100.64.1.3",
      }),
    "remoteSites[0].subnet",
    "192.168.0.0/16 or 172.16.0.0/12",
  ],
  [
    "hub subnet too small for Scaleway",
    (c) => void (c.scalewaySite.subnet = "192.168.0.0/30"),
    "scalewaySite.subnet",
    "/29 or larger",
  ],
  [
    "remote subnet equal to the hub's",
    (c) =>
      void Object.assign(remote0(c), {
        subnet: "192.168.0.0/24",
        gatewayAddress: "192.168.0.4",
        testHostAddress: "192.168.0.5",
      }),
    "remoteSites[0].subnet",
    "own range",
  ],
  [
    "remote subnet containing the hub's",
    (c) => void Object.assign(remote0(c), { subnet: "192.168.0.0/16" }),
    "remoteSites[0].subnet",
    "own range",
  ],
  [
    "external subnet overlapping the tunnel range",
    withExternal({ subnet: "172.16.0.0/16", gatewayAddress: "172.16.1.2" }),
    "remoteSites[1].subnet",
    "tunnelCidr",
  ],
  [
    "hub gateway outside its subnet",
    (c) => void (c.scalewaySite.gatewayAddress = "192.168.1.2"),
    "scalewaySite.gatewayAddress",
    "use an address from 192.168.0.2 to 192.168.0.253",
  ],
  [
    "hub gateway on .1 (reserved)",
    (c) => void (c.scalewaySite.gatewayAddress = "192.168.0.1"),
    "scalewaySite.gatewayAddress",
    "192.168.0.2 to 192.168.0.253",
  ],
  [
    "simulated test host on .254 (reserved)",
    (c) => void (remote0(c).testHostAddress = "192.168.1.254"),
    "remoteSites[0].testHostAddress",
    "192.168.1.2 to 192.168.1.253",
  ],
  [
    "simulated gateway on the network address",
    (c) => void (remote0(c).gatewayAddress = "192.168.1.0"),
    "remoteSites[0].gatewayAddress",
    "'remoteSites[0].gatewayAddress' 192.168.1.2",
  ],
  [
    "malformed test host address",
    (c) => void (c.scalewaySite.testHostAddress = "192.168.0"),
    "scalewaySite.testHostAddress",
    "'scalewaySite.testHostAddress' 192.168.0.3",
  ],
  [
    "test host on the gateway's address",
    (c) => void (c.scalewaySite.testHostAddress = "192.168.0.2"),
    "scalewaySite.testHostAddress",
    "192.168.0.3",
  ],
  [
    "simulated site without a test host",
    (c) => void delete remote0(c).testHostAddress,
    "remoteSites[0].testHostAddress",
    "'remoteSites[0].testHostAddress' 192.168.1.3",
  ],
  [
    "external gateway on its broadcast address",
    withExternal({ gatewayAddress: "10.20.255.255" }),
    "remoteSites[1].gatewayAddress",
    "10.20.0.1 to 10.20.255.254",
  ],
  [
    "external test host outside its subnet",
    withExternal({ testHostAddress: "10.21.0.5" }),
    "remoteSites[1].testHostAddress",
    "10.20.0.1 to 10.20.255.254",
  ],
  [
    "tunnel address outside the tunnel range",
    (c) => void (remote0(c).tunnelAddress = "172.17.0.2"),
    "remoteSites[0].tunnelAddress",
    "172.16.0.1 to 172.16.0.254",
  ],
  [
    "tunnel address on the range's network address",
    (c) => void (remote0(c).tunnelAddress = "172.16.0.0"),
    "remoteSites[0].tunnelAddress",
    "'remoteSites[0].tunnelAddress' 172.16.0.2",
  ],
  [
    "tunnel address on the range's broadcast address",
    (c) => void (c.scalewaySite.tunnelAddress = "172.16.0.255"),
    "scalewaySite.tunnelAddress",
    "'scalewaySite.tunnelAddress' 172.16.0.1",
  ],
  [
    "tunnel address shared by two sites",
    (c) => void (remote0(c).tunnelAddress = "172.16.0.1"),
    "remoteSites[0].tunnelAddress",
    "'remoteSites[0].tunnelAddress' 172.16.0.2",
  ],
  [
    "remote site named like the hub",
    (c) => void (remote0(c).name = "scaleway"),
    "remoteSites[0].name",
    "'remoteSites[0].name' scaleway-2",
  ],
  [
    "two remote sites with one name",
    withExternal({ name: "onprem" }),
    "remoteSites[1].name",
    "'remoteSites[1].name' onprem-2",
  ],
  [
    "site name with upper case and underscore",
    (c) => void (remote0(c).name = "On_Prem"),
    "remoteSites[0].name",
    "'remoteSites[0].name' on-prem",
  ],
  [
    "site name starting with a digit",
    (c) => void (c.scalewaySite.name = "1hub"),
    "scalewaySite.name",
    "'scalewaySite.name' hub",
  ],
  [
    "site name longer than 30 characters",
    (c) => void (remote0(c).name = "a".repeat(31)),
    "remoteSites[0].name",
    "a".repeat(30),
  ],
  ["empty site name", (c) => void (remote0(c).name = ""), "remoteSites[0].name", "'remoteSites[0].name' site1"],
  ["no remote site", (c) => void (c.remoteSites = []), "remoteSites", "'remoteSites[0].name' onprem"],
  [
    "vpc-route on an external site",
    withExternal({ routePropagation: "vpc-route" }),
    "remoteSites[1].routePropagation",
    "'remoteSites[1].routePropagation' static",
  ],
  [
    "dhcp on a simulated site",
    (c) => void (remote0(c).routePropagation = "dhcp"),
    "remoteSites[0].routePropagation",
    "'remoteSites[0].routePropagation' vpc-route",
  ],
  [
    "dhcp on the hub",
    (c) => void (c.scalewaySite.routePropagation = "dhcp"),
    "scalewaySite.routePropagation",
    "vpc-route",
  ],
  [
    "external site without public IP (dynamic far end) while keepalive is 0",
    (c: StackConfig) => {
      withExternal({ publicIp: undefined })(c);
      c.keepalive = 0;
    },
    "keepalive",
    "pulumi config set keepalive 25",
  ],
  [
    "dynamic far end with no source range for it",
    (c: StackConfig) => {
      withExternal({ publicIp: undefined })(c);
      c.dynamicPeerCidrs = [];
    },
    "dynamicPeerCidrs",
    "pulumi config set --path 'dynamicPeerCidrs[0]' 0.0.0.0/0",
  ],
  [
    "malformed dynamicPeerCidrs",
    (c: StackConfig) => (c.dynamicPeerCidrs = ["1.2.3.4/40"]),
    "dynamicPeerCidrs[0]",
    "dynamicPeerCidrs[0]",
  ],
  [
    "existing network id that is not an id",
    (c: StackConfig) => (c.scalewaySite.privateNetworkId = "my-network"),
    "scalewaySite.privateNetworkId",
    "pulumi config set --path 'scalewaySite.privateNetworkId'",
  ],
  [
    "existing network in another region than the zone",
    (c: StackConfig) => (c.scalewaySite.privateNetworkId = "nl-ams/11111111-2222-3333-4444-555555555555"),
    "scalewaySite.privateNetworkId",
    "pulumi config set scaleway:zone nl-ams-1",
  ],
  [
    "existing network on an external site",
    withExternal({ privateNetworkId: "11111111-2222-3333-4444-555555555555" }),
    "remoteSites[1].privateNetworkId",
    "pulumi config rm --path 'remoteSites[1].privateNetworkId'",
  ],
  [
    "the same existing network for two sites",
    (c: StackConfig) => {
      c.scalewaySite.privateNetworkId = "11111111-2222-3333-4444-555555555555";
      c.remoteSites[0].privateNetworkId = "fr-par/11111111-2222-3333-4444-555555555555";
    },
    "remoteSites[0].privateNetworkId",
    "pulumi config rm --path 'remoteSites[0].privateNetworkId'",
  ],
  [
    "test host asked for without its address",
    (c: StackConfig) => {
      delete c.scalewaySite.testHostAddress;
    },
    "scalewaySite.testHostAddress",
    "pulumi config set --path 'scalewaySite.testHost' false",
  ],
  [
    "testHost on an external site",
    withExternal({ testHost: true }),
    "remoteSites[1].testHost",
    "pulumi config rm --path 'remoteSites[1].testHost'",
  ],
  [
    "external site with a private public IP",
    withExternal({ publicIp: "192.168.77.1" }),
    "remoteSites[1].publicIp",
    "NAT's public IPv4",
  ],
  [
    "external site behind carrier-grade NAT",
    withExternal({ publicIp: "100.80.1.1" }),
    "remoteSites[1].publicIp",
    "NAT's public IPv4",
  ],
  [
    "external site with a malformed public IP",
    withExternal({ publicIp: "gw.example.com" }),
    "remoteSites[1].publicIp",
    "'remoteSites[1].publicIp'",
  ],
  [
    "public IP on a simulated site",
    (c) => void (remote0(c).publicIp = "51.15.1.2"),
    "remoteSites[0].publicIp",
    "pulumi config rm --path 'remoteSites[0].publicIp'",
  ],
  [
    "lanRouter without dhcp",
    withExternal({ lanRouter: "10.20.0.1" }),
    "remoteSites[1].lanRouter",
    "'remoteSites[1].routePropagation' dhcp",
  ],
  [
    "lanRouter outside the subnet",
    withExternal({ routePropagation: "dhcp", lanRouter: "10.30.0.1" }),
    "remoteSites[1].lanRouter",
    "10.20.0.1 to 10.20.255.254",
  ],
  [
    "lanRouter equal to the gateway",
    withExternal({ routePropagation: "dhcp", lanRouter: "10.20.0.2" }),
    "remoteSites[1].lanRouter",
    "'remoteSites[1].lanRouter' 10.20.0.1",
  ],
  [
    "negative key generation",
    (c) => void (c.scalewaySite.keyGeneration = -1),
    "scalewaySite.keyGeneration",
    "'scalewaySite.keyGeneration' 0",
  ],
  [
    "fractional key generation",
    (c) => void (remote0(c).keyGeneration = 1.5),
    "remoteSites[0].keyGeneration",
    "'remoteSites[0].keyGeneration' 2",
  ],
];

describe("validateStackConfig on bad inputs", () => {
  it("has a table of at least 25 distinct bad inputs", () => {
    expect(new Set(BAD_INPUTS.map(([what]) => what)).size).toBe(BAD_INPUTS.length);
    expect(BAD_INPUTS.length).toBeGreaterThanOrEqual(25);
  });

  it.each(BAD_INPUTS.map(([what, mutate, key, fix]) => ({ what, mutate, key, fix })))(
    "$what → $key",
    ({ mutate, key, fix: fixFragment }) => {
      const cfg = base();
      mutate(cfg);
      const issues = validateStackConfig(cfg);
      expect(issues).toContainEqual({ key, problem: expect.any(String), fix: expect.stringContaining(fixFragment) });
      // Every issue is actionable: a real problem text and a fix that shows the command to run.
      for (const issue of issues) {
        expect(issue.problem.length).toBeGreaterThan(10);
        expect(issue.fix).toMatch(/`pulumi config (set|rm) /);
      }
    },
  );

  it("says why 0.0.0.0/0 and ::/0 are refused", () => {
    const cfg = base();
    cfg.adminCidrs = ["0.0.0.0/0", "::/0"];
    const problems = validateStackConfig(cfg).map((i) => i.problem);
    expect(problems).toEqual([
      expect.stringContaining("whole internet"),
      expect.stringContaining("whole IPv6 internet"),
    ]);
  });

  it("explains the MTU bound instead of just stating it", () => {
    const cfg = base();
    cfg.mtu = 1441;
    const [mtu] = validateStackConfig(cfg);
    expect(mtu.problem).toContain("1440 = a 1500-byte underlay minus 60 bytes");
    expect(mtu.problem).toContain("IPv6 underlay");
  });

  it("names both sites when subnets overlap", () => {
    const cfg = base();
    cfg.remoteSites[0].subnet = "192.168.0.0/16";
    const overlap = validateStackConfig(cfg).find(
      (i) => i.key === "remoteSites[0].subnet" && /overlaps/.test(i.problem),
    );
    expect(overlap?.problem).toContain("scalewaySite.subnet (192.168.0.0/24)");
  });

  it("allows .1 on an external site's LAN (only Scaleway reserves it)", () => {
    const cfg = base();
    withExternal({ gatewayAddress: "10.20.0.1" })(cfg);
    expect(validateStackConfig(cfg)).toEqual([]);
    cfg.remoteSites[0].gatewayAddress = "192.168.1.1"; // same address class on a simulated site: refused
    expect(validateStackConfig(cfg).map((i) => i.key)).toEqual(["remoteSites[0].gatewayAddress"]);
  });

  it("never repeats a pasted private key in the issue", () => {
    const cfg = base();
    const pasted =
      "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----";
    cfg.sshPublicKeys = [pasted];
    const issues = validateStackConfig(cfg);
    expect(issues).toHaveLength(1);
    expect(issues[0].problem).toContain("PRIVATE key");
    expect(JSON.stringify(issues)).not.toContain("b3BlbnNzaC1rZXktdjEAAAAABG5vbmU");
  });

  it("reports several problems at once, each under its own key", () => {
    const cfg = base();
    cfg.zone = "paris";
    cfg.adminCidrs = [];
    cfg.listenPort = 0;
    cfg.mtu = 9000;
    cfg.scalewaySite.gatewayAddress = "192.168.0.255";
    cfg.remoteSites[0].name = "Bad Name";
    cfg.remoteSites[0].subnet = "192.168.0.0/24";
    withExternal({ publicIp: "10.1.2.3" })(cfg);
    const keys = validateStackConfig(cfg).map((i) => i.key);
    expect(keys).toEqual(
      expect.arrayContaining([
        "zone",
        "adminCidrs",
        "listenPort",
        "mtu",
        "scalewaySite.gatewayAddress",
        "remoteSites[0].name",
        "remoteSites[0].subnet",
        "remoteSites[1].publicIp",
      ]),
    );
  });

  it("reports a bad subnet once, not again as every address 'outside' it", () => {
    const cfg = base();
    cfg.remoteSites[0].subnet = "192.168.1.0/33";
    expect(validateStackConfig(cfg).map((i) => i.key)).toEqual(["remoteSites[0].subnet"]);
  });
});

describe("joining an existing private network", () => {
  it("accepts the network's own subnet even inside 10.0.0.0/8 (advice only for networks the stack creates)", () => {
    const cfg = base();
    cfg.scalewaySite = {
      ...cfg.scalewaySite,
      privateNetworkId: "fr-par/11111111-2222-3333-4444-555555555555",
      subnet: "10.42.0.0/24",
      gatewayAddress: "10.42.0.10",
      testHost: false,
    };
    delete cfg.scalewaySite.testHostAddress;
    expect(validateStackConfig(cfg)).toEqual([]);
    // Negative control: the same subnet on a network the stack would create is refused.
    const created = { ...cfg.scalewaySite, privateNetworkId: undefined };
    expect(validateStackConfig({ ...cfg, scalewaySite: created }).map((i) => i.key)).toEqual(["scalewaySite.subnet"]);
  });

  it("requires the subnet and the gateway's address to be stated, and defaults to no test host", () => {
    const attach = { privateNetworkId: "11111111-2222-3333-4444-555555555555" };
    expect(() => loadStackConfig({ ...ADMIN, scalewaySite: attach })).toThrow(
      /scalewaySite\.subnet: is required when joining an existing private network/,
    );
    expect(() => loadStackConfig({ ...ADMIN, scalewaySite: { ...attach, subnet: "172.20.16.0/22" } })).toThrow(
      /scalewaySite\.gatewayAddress: is required when joining an existing private network/,
    );
    const joined = { ...attach, subnet: "172.20.16.0/22", gatewayAddress: "172.20.16.10" };
    const hub = loadStackConfig({ ...ADMIN, scalewaySite: joined }).scalewaySite;
    expect([hub.testHost, hub.testHostAddress, hub.gatewayAddress]).toEqual([false, undefined, "172.20.16.10"]);
  });
});

describe("ConfigError and loadStackConfig", () => {
  const LINE = /^(\S+): (.+\.) Fix: (.+\.)$/;

  it("lists every issue as one `<key>: <problem> Fix: <fix>` line under a header", () => {
    const cfg = base();
    cfg.zone = "x";
    cfg.keepalive = -5;
    const issues = validateStackConfig(cfg);
    const error = new ConfigError(issues);
    const [header, ...lines] = error.message.split("\n");
    expect(header).toBe("Stack configuration has 2 problems (nothing was deployed):");
    expect(lines).toHaveLength(2);
    lines.forEach((line, i) => {
      const match = LINE.exec(line);
      expect(match).not.toBeNull();
      expect(match![1]).toBe(issues[i].key);
      expect(line).toBe(formatIssue(issues[i]));
    });
    expect(lines[0]).toMatch(/^zone: "x" is not a Scaleway zone; .* Fix: run `pulumi config set zone fr-par-1`/);
    expect(error.name).toBe("ConfigError");
    expect(error).toBeInstanceOf(Error);
  });

  it("is a pulumi RunError, so `pulumi up` shows the issue list without a stack trace", () => {
    expect(pulumi.RunError.isInstance(new ConfigError([{ key: "zone", problem: "p", fix: "f" }]))).toBe(true);
    expect(pulumi.RunError.isInstance(new Error("plain"))).toBe(false); // negative control
  });

  it("throws one ConfigError with all validation issues", () => {
    let caught: unknown;
    try {
      loadStackConfig({ zone: "x", mtu: "9000" });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).issues.map((i: ConfigIssue) => i.key)).toEqual(["zone", "adminCidrs", "mtu"]);
    for (const line of (caught as Error).message.split("\n").slice(1)) expect(line).toMatch(LINE);
  });

  it("uses the same ConfigError for parse problems", () => {
    expect(() => loadStackConfig({ ...ADMIN, listenPort: "fifty" })).toThrow(ConfigError);
    expect(() => loadStackConfig({ ...ADMIN, listenPort: "fifty" })).toThrow(
      /^listenPort: must be a number, got string "fifty"\. Fix: run `pulumi config set listenPort 52435`\.$/m,
    );
  });
});

describe("properties", () => {
  /** Hub plus 1-5 remote simulated sites, each on its own /24 of 192.168/16 with valid addresses. */
  const validTopology = fc
    .uniqueArray(fc.integer({ min: 0, max: 255 }), { minLength: 2, maxLength: 6 })
    .chain((octets) =>
      fc.record({
        octets: fc.constant(octets),
        hosts: fc.array(
          fc.tuple(fc.integer({ min: 2, max: 253 }), fc.integer({ min: 2, max: 253 })).filter(([g, t]) => g !== t),
          {
            minLength: octets.length,
            maxLength: octets.length,
          },
        ),
        tunnel: fc.uniqueArray(fc.integer({ min: 1, max: 254 }), {
          minLength: octets.length,
          maxLength: octets.length,
        }),
      }),
    )
    .map(({ octets, hosts, tunnel }) => {
      const cfg = base();
      const site = (i: number) => {
        const subnet = `192.168.${octets[i]}.0/24`;
        return {
          subnet,
          gatewayAddress: hostAddress(subnet, hosts[i][0]),
          testHostAddress: hostAddress(subnet, hosts[i][1]),
          tunnelAddress: `172.16.0.${tunnel[i]}`,
        };
      };
      cfg.scalewaySite = { ...cfg.scalewaySite, ...site(0) };
      cfg.remoteSites = octets
        .slice(1)
        .map((_, j) => ({ ...cfg.remoteSites[0], name: `site${j + 1}`, ...site(j + 1) }));
      return cfg;
    });

  it("any set of distinct /24s in 192.168/16 with valid addresses validates clean", () => {
    fc.assert(fc.property(validTopology, (cfg) => validateStackConfig(cfg).length === 0));
  });

  it("making two site subnets equal gives an overlap issue naming both keys", () => {
    fc.assert(
      fc.property(validTopology, fc.nat(), fc.nat(), (cfg, a, b) => {
        const sites = [cfg.scalewaySite, ...cfg.remoteSites];
        const keys = ["scalewaySite", ...cfg.remoteSites.map((_, i) => `remoteSites[${i}]`)];
        const i = a % sites.length;
        const j = b % sites.length;
        fc.pre(i !== j);
        const [first, second] = i < j ? [i, j] : [j, i];
        sites[second].subnet = sites[first].subnet;
        const overlap = validateStackConfig(cfg).find(
          (x) => x.key === `${keys[second]}.subnet` && x.problem.includes("overlaps"),
        );
        return overlap !== undefined && overlap.problem.includes(`${keys[first]}.subnet`);
      }),
    );
  });

  it("a Scaleway-built gateway is refused exactly on the two first and two last addresses", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), (offset) => {
        const cfg = base();
        cfg.scalewaySite.gatewayAddress = hostAddress("192.168.0.0/24", offset);
        cfg.scalewaySite.testHostAddress = offset === 3 ? "192.168.0.4" : "192.168.0.3";
        const refused = validateStackConfig(cfg).some((i) => i.key === "scalewaySite.gatewayAddress");
        return refused === [0, 1, 254, 255].includes(offset);
      }),
      { numRuns: 300 },
    );
  });

  it("any duplicated tunnel address is reported on the later site only", () => {
    fc.assert(
      fc.property(validTopology, (cfg) => {
        const last = cfg.remoteSites.length - 1;
        cfg.remoteSites[last].tunnelAddress = cfg.scalewaySite.tunnelAddress;
        const keys = validateStackConfig(cfg).map((i) => i.key);
        return keys.length === 1 && keys[0] === `remoteSites[${last}].tunnelAddress`;
      }),
    );
  });
});

describe("robustness", () => {
  // Values near the edges of every rule, plus junk: the validator must answer, never throw.
  const addressLike = fc.oneof(
    fc.constantFrom(
      "",
      "x",
      "192.168.0",
      "192.168.0.1",
      "192.168.1.2",
      "10.0.0.0",
      "255.255.255.255",
      "0.0.0.0",
      "172.16.0.1",
      "::1",
    ),
    fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join(".")),
  );
  const cidrLike = fc.oneof(
    fc.constantFrom(
      "",
      "0.0.0.0/0",
      "192.168.0.0/24",
      "192.168.0.0/16",
      "172.16.0.0/24",
      "10.0.0.0/8",
      "192.168.0.5/24",
      "1.2.3.4",
      "::/0",
    ),
    fc.tuple(addressLike, fc.integer({ min: 0, max: 33 })).map(([a, p]) => `${a}/${p}`),
  );
  const numberLike = fc.oneof(
    fc.integer({ min: -70000, max: 70000 }),
    fc.double({ noNaN: false }),
    fc.constantFrom(0, 1, 1280, 1440, 65535, 65536),
  );
  const remoteSite = fc.record(
    {
      name: fc.oneof(fc.constantFrom("onprem", "scaleway", "", "A", "a-"), fc.string({ maxLength: 40 })),
      kind: fc.constantFrom("simulated" as const, "external" as const),
      subnet: cidrLike,
      gatewayAddress: addressLike,
      testHostAddress: addressLike,
      tunnelAddress: addressLike,
      routePropagation: fc.constantFrom("vpc-route" as const, "dhcp" as const, "static" as const),
      publicIp: addressLike,
      lanRouter: addressLike,
      privateNetworkId: fc.oneof(fc.string(), fc.uuid()),
      testHost: fc.boolean(),
      allowSpokeToSpoke: fc.boolean(),
      keyGeneration: numberLike,
    },
    {
      requiredKeys: [
        "name",
        "kind",
        "subnet",
        "gatewayAddress",
        "tunnelAddress",
        "routePropagation",
        "allowSpokeToSpoke",
        "keyGeneration",
      ],
    },
  );
  const anyConfig = fc.record({
    zone: fc.string(),
    adminCidrs: fc.array(cidrLike, { maxLength: 3 }),
    sshPublicKeys: fc.array(fc.oneof(fc.string(), fc.constant("ssh-ed25519 AAAA")), { maxLength: 2 }),
    instanceType: fc.string(),
    image: fc.string(),
    testHostPublicIp: fc.boolean(),
    verify: fc.boolean(),
    listenPort: numberLike,
    keepalive: numberLike,
    mtu: numberLike,
    tunnelCidr: cidrLike,
    dynamicPeerCidrs: fc.array(cidrLike, { maxLength: 2 }),
    cockpit: fc.boolean(),
    alertEmails: fc.array(fc.oneof(fc.string(), fc.emailAddress()), { maxLength: 3 }),
    scalewaySite: fc.record({
      name: fc.string({ maxLength: 35 }),
      subnet: cidrLike,
      privateNetworkId: fc.option(fc.oneof(fc.string(), fc.uuid()), { nil: undefined }),
      testHost: fc.boolean(),
      gatewayAddress: addressLike,
      testHostAddress: addressLike,
      tunnelAddress: addressLike,
      routePropagation: fc.constantFrom("vpc-route" as const, "dhcp" as const, "static" as const),
      keyGeneration: numberLike,
      gateways: numberLike,
      secondGatewayAddress: fc.option(addressLike, { nil: undefined }),
    }),
    remoteSites: fc.array(remoteSite, { maxLength: 4 }),
  });

  it("validateStackConfig never throws, and every issue has a key, a problem and a fix", () => {
    fc.assert(
      fc.property(anyConfig, (cfg) => {
        const issues = validateStackConfig(cfg as StackConfig);
        return issues.every((i) => i.key.length > 0 && i.problem.length > 0 && i.fix.length > 0);
      }),
      { numRuns: 1000 },
    );
  });

  it("loadStackConfig throws nothing but ConfigError on arbitrary JSON input", () => {
    const keyed = fc.dictionary(
      fc.constantFrom("zone", "adminCidrs", "listenPort", "mtu", "scalewaySite", "remoteSites", "verify", "other"),
      fc.jsonValue(),
    );
    fc.assert(
      fc.property(keyed, (raw) => {
        try {
          loadStackConfig(raw);
        } catch (e) {
          return e instanceof ConfigError && e.issues.length > 0;
        }
        return true;
      }),
      { numRuns: 1000 },
    );
  });
});
