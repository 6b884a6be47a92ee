/** @tier unit */
/**
 * Each rule against resources built to pass and resources built to fail. Keys in the user-data
 * fixtures are generated here, at test time, and never printed: assertions compare booleans
 * and violation messages (which never quote user data).
 */
import nacl from "tweetnacl";
import {
  checkResources,
  containsKeyMaterial,
  coversPort,
  keyMaterialUserDataIsSecret,
  noSshFromAnywhere,
  ResourceView,
  RULES,
  serverHasSecurityGroup,
  testHostWithoutPublicIp,
  UNKNOWN,
  wireguardFromPeerAddressesOnly,
} from "./rules";

const SG = "scaleway:instance/securityGroup:SecurityGroup";
const SG_RULES = "scaleway:instance/securityGroupRules:SecurityGroupRules";
const SERVER = "scaleway:instance/server:Server";
const LEGACY_SERVER = "scaleway:index/instanceServer:InstanceServer";
const LEGACY_SG = "scaleway:index/instanceSecurityGroup:InstanceSecurityGroup";
const ALLOW = { allowTestHostPublicIp: true, dynamicPeerCidrs: [] };
const DENY = { allowTestHostPublicIp: false, dynamicPeerCidrs: [] };

const randomKey = (): string => Buffer.from(nacl.randomBytes(32)).toString("base64");

function group(inboundRules: unknown, extra: Record<string, unknown> = {}, type = SG): ResourceView {
  return { type, name: "hub-gw-sg", props: { inboundDefaultPolicy: "drop", inboundRules, ...extra } };
}

/** The gateway group the program intends: WireGuard from the peer's /32, SSH from an admin /24, ICMP. */
const goodGatewayRules = [
  { action: "accept", protocol: "UDP", port: 52435, ipRange: "51.15.1.2/32" },
  { action: "accept", protocol: "TCP", port: 22, ipRange: "203.0.113.0/24" },
  { action: "accept", protocol: "ICMP", ipRange: "0.0.0.0/0" },
];

function server(props: Record<string, unknown>, secretProps: string[] = [], type = SERVER): ResourceView {
  return { type, name: "hub-gw", props, secretProps };
}

const gatewayTags = ["wg-s2s", "wg-s2s-site:hub", "wg-s2s-role:gateway"];
const testHostTags = ["wg-s2s", "wg-s2s-site:hub", "wg-s2s-role:test-host"];

function wgConf(): string {
  return [
    "[Interface]",
    `PrivateKey = ${randomKey()}`,
    "ListenPort = 52435",
    "[Peer]",
    `PublicKey = ${randomKey()}`,
    `PresharedKey = ${randomKey()}`,
  ].join("\n");
}

function cloudConfigWith(content: string, encoding?: "b64"): string {
  const body = encoding === "b64" ? Buffer.from(content).toString("base64") : content;
  const indented = body
    .split("\n")
    .map((line) => `      ${line}`)
    .join("\n");
  return [
    "#cloud-config",
    "write_files:",
    "  - path: /etc/wireguard/wg0.conf",
    "    permissions: '0600'",
    ...(encoding ? [`    encoding: ${encoding}`] : []),
    "    content: |",
    indented,
  ].join("\n");
}

describe("coversPort", () => {
  it.each([
    [{ port: 22 }, true],
    [{ port: 2222 }, false],
    [{ portRange: "20-30" }, true],
    [{ portRange: "22-22" }, true],
    [{ portRange: "23-65535" }, false],
    [{ portRange: "1-21" }, false],
    [{}, true], // neither port nor range: every port
    [{ port: 0 }, true], // the provider's "unset" port
    [{ portRange: "not-a-range" }, true], // unparsable: cannot be proven to exclude 22
  ])("%j covers 22: %s", (rule, expected) => {
    expect(coversPort(rule, 22)).toBe(expected);
  });

  it("reports an unknown port as unknown", () => {
    expect(coversPort({ port: UNKNOWN }, 22)).toBe(UNKNOWN);
  });
});

describe("(a) no-ssh-from-anywhere", () => {
  it("accepts SSH from an admin range, WireGuard and ICMP rules", () => {
    expect(noSshFromAnywhere(group(goodGatewayRules), DENY)).toEqual([]);
  });

  it.each([
    ["TCP 22 from 0.0.0.0/0", { action: "accept", protocol: "TCP", port: 22, ipRange: "0.0.0.0/0" }],
    ["TCP 22 from ::/0", { action: "accept", protocol: "TCP", port: 22, ipRange: "::/0" }],
    ["a port range containing 22", { action: "accept", protocol: "TCP", portRange: "1-1024", ipRange: "0.0.0.0/0" }],
    ["protocol ANY, all ports", { action: "accept", protocol: "ANY", ipRange: "0.0.0.0/0" }],
    ["protocol ANY with port 22", { action: "accept", protocol: "ANY", port: 22, ipRange: "::/0" }],
    ["no protocol (provider default TCP)", { action: "accept", port: 22, ipRange: "0.0.0.0/0" }],
    ["no ipRange (applies to every address)", { action: "accept", protocol: "TCP", port: 22 }],
    ["lower-case fields", { action: "ACCEPT", protocol: "tcp", port: 22, ipRange: "0.0.0.0/0" }],
  ])("rejects %s", (_label, rule) => {
    const violations = noSshFromAnywhere(group([...goodGatewayRules, rule]), DENY);
    expect(violations).toHaveLength(1);
    expect(violations[0]).toMatch(/accepts SSH \(TCP 22\)/);
    expect(violations[0]).toMatch(/inboundRules\[3\]/);
  });

  it.each([
    ["a drop rule", { action: "drop", protocol: "TCP", port: 22, ipRange: "0.0.0.0/0" }],
    ["UDP 22", { action: "accept", protocol: "UDP", port: 22, ipRange: "0.0.0.0/0" }],
    ["another TCP port", { action: "accept", protocol: "TCP", port: 443, ipRange: "0.0.0.0/0" }],
    ["a range not containing 22", { action: "accept", protocol: "TCP", portRange: "80-443", ipRange: "0.0.0.0/0" }],
    ["a /1", { action: "accept", protocol: "TCP", port: 22, ipRange: "0.0.0.0/1" }],
  ])("lets %s through", (_label, rule) => {
    expect(noSshFromAnywhere(group([rule]), DENY)).toEqual([]);
  });

  it("rejects an accept-by-default group, also when the default is left unset", () => {
    expect(noSshFromAnywhere(group([], { inboundDefaultPolicy: "accept" }), DENY)[0]).toMatch(/inboundDefaultPolicy/);
    const unset = { type: SG, name: "sg", props: { inboundRules: [] } };
    expect(noSshFromAnywhere(unset, DENY)[0]).toMatch(/provider's default/);
  });

  it("checks SecurityGroupRules resources and the deprecated SecurityGroup alias", () => {
    const bad = [{ action: "accept", protocol: "TCP", port: 22, ipRange: "0.0.0.0/0" }];
    expect(noSshFromAnywhere({ type: SG_RULES, name: "rules", props: { inboundRules: bad } }, DENY)).toHaveLength(1);
    expect(noSshFromAnywhere(group(bad, {}, LEGACY_SG), DENY)).toHaveLength(1);
  });

  it("skips a rule whose source is unknown during preview, and ignores other resource types", () => {
    const unknownSource = [{ action: "accept", protocol: "TCP", port: 22, ipRange: UNKNOWN }];
    expect(noSshFromAnywhere(group(unknownSource), DENY)).toEqual([]);
    expect(noSshFromAnywhere(group(UNKNOWN), DENY)).toEqual([]);
    expect(noSshFromAnywhere(server({ inboundRules: [{ port: 22 }] }), DENY)).toEqual([]);
  });
});

describe("(b) wireguard-from-peer-addresses-only", () => {
  it("accepts UDP from single peer addresses (IPv4 /32, bare address, IPv6 /128)", () => {
    const rules = [
      { action: "accept", protocol: "UDP", port: 52435, ipRange: "51.15.1.2/32" },
      { action: "accept", protocol: "UDP", port: 52435, ipRange: "51.15.1.3" },
      { action: "accept", protocol: "UDP", port: 52435, ipRange: "2001:db8::7/128" },
      { action: "accept", protocol: "UDP", port: 52435, ip: "51.15.1.4" },
    ];
    expect(wireguardFromPeerAddressesOnly(group([...goodGatewayRules, ...rules]), DENY)).toEqual([]);
  });

  it.each([
    ["a /24", { action: "accept", protocol: "UDP", port: 52435, ipRange: "51.15.1.0/24" }, /256 addresses/],
    ["a /31", { action: "accept", protocol: "UDP", port: 52435, ipRange: "51.15.1.2/31" }, /2 addresses/],
    ["0.0.0.0/0", { action: "accept", protocol: "UDP", port: 52435, ipRange: "0.0.0.0/0" }, /2\^32 addresses/],
    ["an IPv6 /64", { action: "accept", protocol: "UDP", port: 52435, ipRange: "2001:db8::/64" }, /2\^64/],
    ["no ipRange", { action: "accept", protocol: "UDP", port: 52435 }, /any address/],
    ["protocol ANY from the admin /24", { action: "accept", protocol: "ANY", ipRange: "203.0.113.0/24" }, /256/],
    [
      "a malformed range",
      { action: "accept", protocol: "UDP", port: 52435, ipRange: "51.15.1.2/40" },
      /not an address/,
    ],
  ])("rejects UDP from %s", (_label, rule, message) => {
    const violations = wireguardFromPeerAddressesOnly(group([...goodGatewayRules, rule]), DENY);
    expect(violations).toHaveLength(1);
    expect(violations[0]).toMatch(message);
  });

  it("accepts UDP from exactly a range the policy config lists as dynamicPeerCidrs, and nothing wider", () => {
    const config = { ...DENY, dynamicPeerCidrs: ["0.0.0.0/0", "198.51.100.0/24"] };
    const open = { action: "accept", protocol: "UDP", port: 52435, ipRange: "0.0.0.0/0" };
    const isp = { action: "accept", protocol: "UDP", port: 52435, ipRange: "198.51.100.0/24" };
    expect(wireguardFromPeerAddressesOnly(group([...goodGatewayRules, open, isp]), config)).toEqual([]);
    // Negative controls: without the config it is refused; a range not listed is refused; ANY is never excused.
    expect(wireguardFromPeerAddressesOnly(group([...goodGatewayRules, open]), DENY)).toHaveLength(1);
    const other = { ...isp, ipRange: "198.51.0.0/16" };
    expect(wireguardFromPeerAddressesOnly(group([...goodGatewayRules, other]), config)[0]).toMatch(/dynamicPeerCidrs/);
    const any = { action: "accept", protocol: "ANY", ipRange: "0.0.0.0/0" };
    expect(wireguardFromPeerAddressesOnly(group([...goodGatewayRules, any]), config)).toHaveLength(1);
  });

  it("ignores TCP, ICMP and drop rules, and sources unknown during preview", () => {
    const rules = [
      { action: "accept", protocol: "TCP", port: 22, ipRange: "203.0.113.0/24" },
      { action: "accept", protocol: "ICMP", ipRange: "0.0.0.0/0" },
      { action: "drop", protocol: "UDP", ipRange: "0.0.0.0/0" },
      { action: "accept", protocol: "UDP", port: 52435, ipRange: UNKNOWN },
    ];
    expect(wireguardFromPeerAddressesOnly(group(rules), DENY)).toEqual([]);
  });

  it("rejects an accept-by-default group", () => {
    expect(
      wireguardFromPeerAddressesOnly(group(goodGatewayRules, { inboundDefaultPolicy: "accept" }), DENY),
    ).toHaveLength(1);
  });
});

describe("(c) server-has-security-group", () => {
  it("accepts a server with a security group id, known or still unknown", () => {
    expect(serverHasSecurityGroup(server({ securityGroupId: "fr-par-1/1111" }), DENY)).toEqual([]);
    expect(serverHasSecurityGroup(server({ securityGroupId: UNKNOWN }), DENY)).toEqual([]);
  });

  it.each([
    ["missing", {}],
    ["empty", { securityGroupId: "" }],
    ["null", { securityGroupId: null }],
  ])("rejects a server whose securityGroupId is %s", (_label, props) => {
    expect(serverHasSecurityGroup(server(props), DENY)[0]).toMatch(/no securityGroupId/);
    expect(serverHasSecurityGroup(server(props, [], LEGACY_SERVER), DENY)).toHaveLength(1);
  });

  it("ignores other resource types", () => {
    expect(serverHasSecurityGroup(group(goodGatewayRules), DENY)).toEqual([]);
  });
});

describe("containsKeyMaterial", () => {
  it("finds WireGuard private and preshared keys, in clear and base64-encoded", () => {
    expect(containsKeyMaterial(cloudConfigWith(wgConf()))).toBe(true);
    expect(containsKeyMaterial(cloudConfigWith(wgConf(), "b64"))).toBe(true);
    expect(containsKeyMaterial(`PresharedKey=${randomKey()}`)).toBe(true);
  });

  it("finds PEM and OpenSSH private keys", () => {
    const body = Buffer.from(nacl.randomBytes(96)).toString("base64");
    expect(containsKeyMaterial(`-----BEGIN OPENSSH PRIVATE KEY-----\n${body}\n-----END OPENSSH PRIVATE KEY-----`)).toBe(
      true,
    );
    expect(containsKeyMaterial(`-----BEGIN EC PRIVATE KEY-----\n${body}`)).toBe(true);
  });

  it("does not flag public keys, key names without a key, or unrelated base64", () => {
    expect(containsKeyMaterial(`[Peer]\nPublicKey = ${randomKey()}`)).toBe(false);
    expect(containsKeyMaterial("ssh_authorized_keys:\n  - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx user@host")).toBe(
      false,
    );
    expect(containsKeyMaterial("# PrivateKey = is written by the renderer")).toBe(false);
    expect(containsKeyMaterial(cloudConfigWith("net.ipv4.ip_forward = 1\n".repeat(5), "b64"))).toBe(false);
  });
});

describe("(d) key-material-user-data-is-secret", () => {
  const withKeys = () => ({ "cloud-init": cloudConfigWith(wgConf()) });

  it("accepts key-holding user data marked secret", () => {
    expect(
      keyMaterialUserDataIsSecret(server({ tags: testHostTags, userData: withKeys() }, ["userData"]), DENY),
    ).toEqual([]);
  });

  it("rejects key-holding user data that is not secret, found by content", () => {
    const violations = keyMaterialUserDataIsSecret(server({ tags: testHostTags, userData: withKeys() }), DENY);
    expect(violations).toHaveLength(1);
    expect(violations[0]).toMatch(/userData holds key material \(a private key was found\)/);
    // The message names the property, never its content.
    expect(violations[0]).not.toMatch(/PrivateKey/);
  });

  it("rejects the deprecated cloudInit property too", () => {
    const violations = keyMaterialUserDataIsSecret(
      server({ tags: testHostTags, cloudInit: cloudConfigWith(wgConf(), "b64") }),
      DENY,
    );
    expect(violations[0]).toMatch(/cloudInit holds key material/);
  });

  it("treats a gateway's user data as key material even while it is unknown", () => {
    expect(keyMaterialUserDataIsSecret(server({ tags: gatewayTags, userData: UNKNOWN }), DENY)[0]).toMatch(
      /WireGuard gateway/,
    );
    expect(
      keyMaterialUserDataIsSecret(server({ tags: gatewayTags, userData: { "cloud-init": UNKNOWN } }), DENY),
    ).toHaveLength(1);
    expect(keyMaterialUserDataIsSecret(server({ tags: gatewayTags, userData: UNKNOWN }, ["userData"]), DENY)).toEqual(
      [],
    );
  });

  it("lets key-free user data of a test host stay plain, and servers without user data", () => {
    const plain = { "cloud-init": cloudConfigWith(`[Peer]\nPublicKey = ${randomKey()}`) };
    expect(keyMaterialUserDataIsSecret(server({ tags: testHostTags, userData: plain }), DENY)).toEqual([]);
    expect(keyMaterialUserDataIsSecret(server({ tags: gatewayTags }), DENY)).toEqual([]);
  });
});

describe("(e) test-host-without-public-ip", () => {
  it("accepts a test host without public address and a gateway with one", () => {
    expect(testHostWithoutPublicIp(server({ tags: testHostTags, securityGroupId: "sg" }), DENY)).toEqual([]);
    expect(testHostWithoutPublicIp(server({ tags: gatewayTags, ipId: "fr-par-1/ip" }), DENY)).toEqual([]);
  });

  it.each([
    ["ipId", { ipId: "fr-par-1/ip" }],
    ["ipId unknown during preview (it is set)", { ipId: UNKNOWN }],
    ["ipIds", { ipIds: ["fr-par-1/ip"] }],
    ["enableDynamicIp", { enableDynamicIp: true }],
    ["publicIps", { publicIps: [{ id: "ip" }] }],
  ])("rejects a test host with %s", (label, props) => {
    const violations = testHostWithoutPublicIp(server({ tags: testHostTags, ...props }), DENY);
    expect(violations).toHaveLength(1);
    expect(violations[0]).toContain(label.split(" ")[0]);
  });

  it("allows the public IP when the policy config says so", () => {
    expect(testHostWithoutPublicIp(server({ tags: testHostTags, ipId: "fr-par-1/ip" }), ALLOW)).toEqual([]);
  });

  it("does not count empty or disabled public-IP settings", () => {
    const props = { tags: testHostTags, ipId: "", ipIds: [], enableDynamicIp: false, publicIps: [] };
    expect(testHostWithoutPublicIp(server(props), DENY)).toEqual([]);
  });

  it("rejects a server without a role tag, whatever the config", () => {
    expect(testHostWithoutPublicIp(server({ tags: ["wg-s2s"] }), ALLOW)[0]).toMatch(/no "wg-s2s-role:\*" tag/);
    expect(testHostWithoutPublicIp(server({}), DENY)).toHaveLength(1);
  });
});

describe("checkResources", () => {
  const good: ResourceView[] = [
    group(goodGatewayRules),
    server(
      { tags: gatewayTags, securityGroupId: "sg", ipId: "ip", userData: { "cloud-init": cloudConfigWith(wgConf()) } },
      ["userData"],
    ),
    server({ tags: testHostTags, securityGroupId: "sg2", userData: { "cloud-init": "#cloud-config\n{}" } }),
  ];

  it("finds nothing wrong with a compliant stack", () => {
    expect(checkResources(good)).toEqual([]);
  });

  it("names the rule and resource of each violation, one per broken rule", () => {
    const bad: ResourceView[] = [
      group([{ action: "accept", protocol: "TCP", port: 22, ipRange: "0.0.0.0/0" }]),
      group([{ action: "accept", protocol: "UDP", port: 52435, ipRange: "51.15.1.0/24" }]),
      server({ tags: gatewayTags, ipId: "ip", userData: { "cloud-init": cloudConfigWith(wgConf()) } }),
      server({ tags: testHostTags, securityGroupId: "sg", ipId: "ip2" }),
    ];
    const rulesHit = new Set(checkResources(bad).map((v) => v.rule));
    expect([...rulesHit].sort()).toEqual(RULES.map((r) => r.name).sort());
  });
});
