/** @tier unit */
/**
 * Input from someone in a hurry: values that parse, and would deploy, but not what was meant
 * (an unset shell variable, an address left to a default that is taken, a copied example,
 * a range no far end can come from, two far ends at one address). Each is refused with its
 * key and a fix for that situation; each has a well-formed twin that passes, so a rule that
 * refuses everything would fail here too.
 */
import { ConfigError, formatIssue } from "./errors";
import { loadStackConfig } from "./validation";

const ADMIN = ["203.0.113.7/32"];
const NETWORK = "11111111-2222-3333-4444-555555555555";
const JOINED = { privateNetworkId: NETWORK, subnet: "172.20.16.0/22", gatewayAddress: "172.20.16.10" };
const OFFICE = {
  name: "office",
  kind: "external",
  subnet: "192.168.10.0/24",
  gatewayAddress: "192.168.10.2",
  tunnelAddress: "172.16.0.2",
};

/** Every issue of a config, one line each; [] when it loads. */
function problems(raw: Record<string, unknown>): string[] {
  try {
    loadStackConfig({ adminCidrs: ADMIN, ...raw });
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.issues.map(formatIssue);
  }
}

describe("an empty value from an unset shell variable never switches the deploy's shape", () => {
  test("an empty privateNetworkId is refused, not read as 'create a new network'", () => {
    expect(problems({ scalewaySite: { ...JOINED, privateNetworkId: "" } })).toEqual([
      expect.stringMatching(
        /^scalewaySite\.privateNetworkId: is empty \(set from an unset shell variable\?\); left empty it would create a new VPC and private network instead of joining yours\. Fix: .*`pulumi config rm --path 'scalewaySite\.privateNetworkId'` if that is what you meant/,
      ),
    ]);
    expect(problems({ scalewaySite: JOINED })).toEqual([]);
  });

  test("likewise on a simulated site", () => {
    const site = { ...OFFICE, kind: "simulated", subnet: "192.168.1.0/24", gatewayAddress: "192.168.1.2" };
    expect(problems({ remoteSites: [{ ...site, privateNetworkId: " " }] })).toEqual([
      expect.stringMatching(/^remoteSites\[0\]\.privateNetworkId: is empty/),
    ]);
  });

  test("an empty publicIp is refused, not read as 'a dynamic far end'", () => {
    expect(problems({ remoteSites: [{ ...OFFICE, publicIp: "" }] })).toEqual([
      expect.stringMatching(/^remoteSites\[0\]\.publicIp: is empty .* treat the far end as dynamic/),
    ]);
    expect(problems({ remoteSites: [OFFICE] })).toEqual([]);
    expect(problems({ remoteSites: [{ ...OFFICE, publicIp: "192.0.2.44" }] })).toEqual([]);
  });
});

describe("addresses on a network the stack joins are stated, never defaulted", () => {
  test("the hub's gatewayAddress, with why IPAM cannot choose it and how to find a free one", () => {
    const withoutGateway: Record<string, unknown> = { ...JOINED };
    delete withoutGateway.gatewayAddress;
    expect(problems({ scalewaySite: withoutGateway })).toEqual([
      expect.stringMatching(
        /^scalewaySite\.gatewayAddress: is required when joining an existing private network .* Scaleway's IPAM cannot pick one .* Fix: pick a free address .*scw ipam ip list.* `pulumi config set --path 'scalewaySite\.gatewayAddress' 172\.20\.16\.10`/,
      ),
    ]);
  });

  test("a test host asked for on a joined network needs its address too; without one, nothing is asked", () => {
    expect(problems({ scalewaySite: { ...JOINED, testHost: true } })).toEqual([
      expect.stringMatching(/^scalewaySite\.testHostAddress: is required when joining/),
    ]);
    expect(problems({ scalewaySite: { ...JOINED, testHost: true, testHostAddress: "172.20.16.11" } })).toEqual([]);
  });

  test("a testHostAddress carried over from the tutorial's stack file: the fix removes it", () => {
    const issues = problems({ scalewaySite: { ...JOINED, testHostAddress: "192.168.0.3" } });
    expect(issues).toEqual([
      expect.stringMatching(
        /^scalewaySite\.testHostAddress: 192\.168\.0\.3 is outside scalewaySite\.subnet .* Fix: remove it with `pulumi config rm --path 'scalewaySite\.testHostAddress'`: no test host is built/,
      ),
    ]);
    // Where a test host is built, the same mistake is fixed by moving the address.
    expect(problems({ scalewaySite: { testHostAddress: "192.168.5.3" } })).toEqual([
      expect.stringMatching(/^scalewaySite\.testHostAddress: .* Fix: use an address from 192\.168\.0\.2 to/),
    ]);
  });
});

describe("copied examples that were not filled in", () => {
  test("a placeholder is named as one, whatever the key", () => {
    expect(
      problems({
        adminCidrs: ["<your public IPv4>/32"],
        remoteSites: [{ ...OFFICE, publicIp: "<office public IPv4>" }],
      }),
    ).toEqual([
      expect.stringMatching(/^adminCidrs\[0\]: still holds the placeholder <your public IPv4> from an example\./),
      expect.stringMatching(/^remoteSites\[0\]\.publicIp: still holds the placeholder <office public IPv4>/),
    ]);
  });
});

describe("peer source ranges a far end's public address can never come from", () => {
  const dynamic = { remoteSites: [OFFICE] };

  test.each([
    ["192.168.0.0/16", "private, RFC 1918"],
    ["10.20.0.0/16", "private, RFC 1918"],
    ["100.64.0.0/10", "carrier-grade NAT"],
    ["100.72.0.0/16", "carrier-grade NAT"],
  ])("%s (%s) is refused", (cidr, what) => {
    expect(problems({ ...dynamic, dynamicPeerCidrs: [cidr] })).toEqual([
      expect.stringContaining(`dynamicPeerCidrs[0]: ${cidr} lies in`),
    ]);
    expect(problems({ ...dynamic, dynamicPeerCidrs: [cidr] })[0]).toContain(what);
  });

  test("a site's own LAN, even a public one, is refused", () => {
    const publicLan = { ...OFFICE, subnet: "198.18.0.0/24", gatewayAddress: "198.18.0.2" };
    expect(problems({ remoteSites: [publicLan], dynamicPeerCidrs: ["198.18.0.0/25"] })).toEqual([
      expect.stringContaining("dynamicPeerCidrs[0]: 198.18.0.0/25 lies in remoteSites[0].subnet (198.18.0.0/24)"),
    ]);
  });

  test("an ISP's public range and the default pass", () => {
    expect(problems({ ...dynamic, dynamicPeerCidrs: ["192.0.2.0/24", "0.0.0.0/0"] })).toEqual([]);
  });

  test("set where no far end is dynamic, it has no meaning: the fix removes it", () => {
    expect(
      problems({ remoteSites: [{ ...OFFICE, publicIp: "192.0.2.44" }], dynamicPeerCidrs: ["192.0.2.0/24"] }),
    ).toEqual([
      expect.stringMatching(
        /^dynamicPeerCidrs: is set, but every remote site has a known address .* Fix: remove it with `pulumi config rm dynamicPeerCidrs`/,
      ),
    ]);
  });
});

describe("two far ends at one public address", () => {
  const second = {
    ...OFFICE,
    name: "branch",
    subnet: "192.168.20.0/24",
    gatewayAddress: "192.168.20.2",
    tunnelAddress: "172.16.0.3",
  };

  const twoFarEnds = (first: string, other: string) =>
    problems({
      remoteSites: [
        { ...OFFICE, publicIp: first },
        { ...second, publicIp: other },
      ],
    });

  test("is refused on the second, with the behind-one-NAT way out", () => {
    expect(twoFarEnds("192.0.2.44", "192.0.2.44")).toEqual([
      expect.stringMatching(
        /^remoteSites\[1\]\.publicIp: is 192\.0\.2\.44, already remoteSites\[0\]\.publicIp; .* `pulumi config rm --path 'remoteSites\[1\]\.publicIp'` and `pulumi config rm --path 'remoteSites\[0\]\.publicIp'`/,
      ),
    ]);
    expect(twoFarEnds("192.0.2.44", "192.0.2.45")).toEqual([]);
  });
});
