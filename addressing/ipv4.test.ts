/** @tier unit */
import fc from "fast-check";
import {
  addressCount,
  contains,
  firstUsable,
  hostAddress,
  ipv4ToNumber,
  isPrivate,
  isPrivateCidr,
  isPublicUnicast,
  isSubnetOf,
  isValidCidr,
  lastAddress,
  lastUsable,
  networkAddress,
  numberToIpv4,
  overlaps,
  parseCidr,
  parseIpv4,
  prefixLength,
  scalewayAssignableRange,
  scalewayReservedAddresses,
} from "./ipv4";

/** A canonical CIDR: random address masked to a random prefix. */
function cidrFrom(value: number, prefix: number): string {
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return `${numberToIpv4((value & mask) >>> 0)}/${prefix}`;
}
const anyAddressNumber = fc.integer({ min: 0, max: 0xffffffff });
const anyCidr = fc.tuple(anyAddressNumber, fc.integer({ min: 0, max: 32 })).map(([v, p]) => cidrFrom(v, p));
const anyAddress = anyAddressNumber.map(numberToIpv4);

describe("parseCidr", () => {
  it("accepts canonical networks", () => {
    expect(parseCidr("192.168.0.0/24")).toEqual({
      ok: true,
      cidr: { network: "192.168.0.0", prefix: 24, text: "192.168.0.0/24" },
    });
    expect(parseCidr("0.0.0.0/0").ok).toBe(true);
    expect(parseCidr("203.0.113.7/32").ok).toBe(true);
  });

  it("rejects host bits with a distinct reason and the network that was probably meant", () => {
    const result = parseCidr("192.168.0.5/24");
    expect(result).toMatchObject({ ok: false, reason: "host-bits", network: "192.168.0.0/24" });
  });

  it.each([
    ["192.168.0.0", "/32"], // bare address: the message tells how to write it
    ["192.168.0.0/33", "0-32"],
    ["192.168.0.0/024", "not an IPv4 CIDR"],
    ["192.168.000.0/24", "leading zeros"],
    ["256.1.1.0/24", "0-255"],
    ["192.168.0/24", "four numbers"],
    [" 192.168.0.0/24", "not an IPv4 CIDR"],
    ["192.168.0.0/24 ", "not an IPv4 CIDR"],
    ["192.168.0.0/", "not an IPv4 CIDR"],
    ["fd00::/64", "not an IPv4 CIDR"],
    ["", "not an IPv4 CIDR"],
  ])("rejects %j as malformed (%s)", (text, fragment) => {
    const result = parseCidr(text);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reason).toBe("malformed");
    expect(result.message).toContain(fragment);
  });

  it("property: every canonical CIDR parses back to itself", () => {
    fc.assert(
      fc.property(anyCidr, (cidr) => {
        const result = parseCidr(cidr);
        return result.ok && result.cidr.text === cidr && `${result.cidr.network}/${result.cidr.prefix}` === cidr;
      }),
    );
  });

  it("property: an address with bits beyond the prefix is reported as host-bits, suggesting its network", () => {
    fc.assert(
      fc.property(anyAddressNumber, fc.integer({ min: 0, max: 31 }), (value, prefix) => {
        const network = cidrFrom(value, prefix);
        fc.pre(network !== `${numberToIpv4(value)}/${prefix}`);
        const result = parseCidr(`${numberToIpv4(value)}/${prefix}`);
        return !result.ok && result.reason === "host-bits" && result.network === network;
      }),
    );
  });
});

describe("parseIpv4", () => {
  it("accepts dotted quads and rejects everything else", () => {
    expect(parseIpv4("192.168.0.2")).toEqual({ ok: true, address: "192.168.0.2" });
    for (const bad of ["192.168.0.2/32", "192.168.0", "192.168.0.256", "192.168.0.02", "::1", "host.example", ""]) {
      expect(parseIpv4(bad).ok).toBe(false);
    }
  });

  it("property: numbers and dotted quads round-trip", () => {
    fc.assert(
      fc.property(anyAddressNumber, (n) => ipv4ToNumber(numberToIpv4(n)) === n && parseIpv4(numberToIpv4(n)).ok),
    );
  });
});

describe("block arithmetic", () => {
  it("knows the parts of a /24", () => {
    expect(networkAddress("192.168.1.0/24")).toBe("192.168.1.0");
    expect(prefixLength("192.168.1.0/24")).toBe(24);
    expect(addressCount("192.168.1.0/24")).toBe(256);
    expect(lastAddress("192.168.1.0/24")).toBe("192.168.1.255");
    expect(firstUsable("192.168.1.0/24")).toBe("192.168.1.1");
    expect(lastUsable("192.168.1.0/24")).toBe("192.168.1.254");
    expect(hostAddress("192.168.0.0/24", 2)).toBe("192.168.0.2");
    expect(hostAddress("192.168.0.0/24", -1)).toBe("192.168.0.255");
    expect(hostAddress("172.16.0.0/22", 256)).toBe("172.16.1.0");
  });

  it("treats /31 and /32 as all-usable (RFC 3021)", () => {
    expect([firstUsable("10.0.0.0/31"), lastUsable("10.0.0.0/31")]).toEqual(["10.0.0.0", "10.0.0.1"]);
    expect([firstUsable("10.0.0.7/32"), lastUsable("10.0.0.7/32")]).toEqual(["10.0.0.7", "10.0.0.7"]);
  });

  it("refuses host numbers outside the block and invalid CIDRs", () => {
    expect(() => hostAddress("192.168.0.0/24", 256)).toThrow(RangeError);
    expect(() => hostAddress("192.168.0.0/24", -257)).toThrow(RangeError);
    expect(() => hostAddress("192.168.0.0/24", 1.5)).toThrow(RangeError);
    expect(() => contains("192.168.0.5/24", "192.168.0.1")).toThrow(TypeError);
    expect(() => contains("192.168.0.0/24", "192.168.0")).toThrow(TypeError);
  });

  it("property: host addresses round-trip and stay inside their block", () => {
    const blockAndIndex = fc
      .tuple(anyAddressNumber, fc.integer({ min: 8, max: 32 }))
      .chain(([v, p]) => fc.tuple(fc.constant(cidrFrom(v, p)), fc.integer({ min: 0, max: 2 ** (32 - p) - 1 })));
    fc.assert(
      fc.property(blockAndIndex, ([cidr, n]) => {
        const address = hostAddress(cidr, n);
        const size = addressCount(cidr);
        return (
          contains(cidr, address) &&
          ipv4ToNumber(address) - ipv4ToNumber(networkAddress(cidr)) === n &&
          hostAddress(cidr, n - size) === address
        );
      }),
    );
  });
});

describe("contains / overlaps", () => {
  it("answers the seed's questions", () => {
    expect(contains("192.168.0.0/24", "192.168.0.2")).toBe(true);
    expect(contains("192.168.0.0/24", "192.168.1.2")).toBe(false);
    expect(overlaps("192.168.0.0/24", "192.168.1.0/24")).toBe(false);
    expect(overlaps("192.168.0.0/16", "192.168.1.0/24")).toBe(true);
    expect(overlaps("172.16.0.0/24", "172.16.0.0/12")).toBe(true);
    expect(overlaps("172.16.0.0/24", "172.16.1.0/24")).toBe(false);
    expect(isSubnetOf("192.168.1.0/24", "192.168.0.0/16")).toBe(true);
    expect(isSubnetOf("192.168.0.0/16", "192.168.1.0/24")).toBe(false);
  });

  it("property: overlaps is symmetric and reflexive", () => {
    fc.assert(fc.property(anyCidr, anyCidr, (a, b) => overlaps(a, b) === overlaps(b, a) && overlaps(a, a)));
  });

  it("property: a CIDR contains its network and last address, and nothing just outside", () => {
    fc.assert(
      fc.property(anyCidr, (cidr) => {
        const first = ipv4ToNumber(networkAddress(cidr));
        const last = ipv4ToNumber(lastAddress(cidr));
        const before = first > 0 ? !contains(cidr, numberToIpv4(first - 1)) : true;
        const after = last < 0xffffffff ? !contains(cidr, numberToIpv4(last + 1)) : true;
        return contains(cidr, numberToIpv4(first)) && contains(cidr, numberToIpv4(last)) && before && after;
      }),
    );
  });

  it("property: contains(a, x) and a ⊆ b imply contains(b, x)", () => {
    // b is built as a shorter prefix of a, so the implication is actually exercised.
    const nested = fc
      .tuple(anyAddressNumber, fc.integer({ min: 0, max: 32 }), fc.integer({ min: 0, max: 32 }))
      .map(([v, p, q]) => ({ a: cidrFrom(v, Math.max(p, q)), b: cidrFrom(v, Math.min(p, q)) }));
    fc.assert(
      fc.property(nested, anyAddress, ({ a, b }, x) => {
        if (!isSubnetOf(a, b)) return false;
        return !contains(a, x) || contains(b, x);
      }),
    );
    fc.assert(fc.property(nested, ({ a, b }) => contains(b, networkAddress(a)) && contains(b, lastAddress(a))));
  });

  // Brute force on a small universe (10.0.0.0/26, 64 addresses, prefixes 26-32) so the
  // model "some address lies in both" can be computed exactly.
  const small = fc
    .tuple(fc.integer({ min: 0, max: 63 }), fc.integer({ min: 26, max: 32 }))
    .map(([v, p]) => cidrFrom(ipv4ToNumber("10.0.0.0") + v, p));
  const universe = Array.from({ length: 64 }, (_, i) => `10.0.0.${i}`);

  it("property: overlaps(a, b) iff some address is in both (brute-force model)", () => {
    let seenTrue = 0;
    let seenFalse = 0;
    fc.assert(
      fc.property(small, small, (a, b) => {
        const model = universe.some((x) => contains(a, x) && contains(b, x));
        if (model) seenTrue++;
        else seenFalse++;
        return overlaps(a, b) === model;
      }),
      { numRuns: 500 },
    );
    // Negative control: the generator must produce both answers, or the property says nothing.
    expect(seenTrue).toBeGreaterThan(20);
    expect(seenFalse).toBeGreaterThan(20);
  });

  it("property: isSubnetOf(a, b) iff every address of a is in b (brute-force model)", () => {
    fc.assert(
      fc.property(
        small,
        small,
        (a, b) => isSubnetOf(a, b) === universe.filter((x) => contains(a, x)).every((x) => contains(b, x)),
      ),
      { numRuns: 500 },
    );
  });
});

describe("Scaleway reserved addresses", () => {
  it("are .0 .1 .254 .255 in a /24 and the assignable range is .2-.253", () => {
    expect(scalewayReservedAddresses("192.168.0.0/24")).toEqual([
      "192.168.0.0",
      "192.168.0.1",
      "192.168.0.254",
      "192.168.0.255",
    ]);
    expect(scalewayAssignableRange("192.168.0.0/24")).toEqual({ first: "192.168.0.2", last: "192.168.0.253" });
    expect(scalewayReservedAddresses("172.16.32.0/22")).toEqual([
      "172.16.32.0",
      "172.16.32.1",
      "172.16.35.254",
      "172.16.35.255",
    ]);
  });

  it("leave nothing in a /30 or longer", () => {
    expect(scalewayAssignableRange("192.168.0.0/30")).toBeUndefined();
    expect(scalewayReservedAddresses("192.168.0.0/31")).toEqual(["192.168.0.0", "192.168.0.1"]);
    expect(scalewayReservedAddresses("192.168.0.7/32")).toEqual(["192.168.0.7"]);
    expect(scalewayAssignableRange("192.168.0.0/29")).toEqual({ first: "192.168.0.2", last: "192.168.0.5" });
  });

  it("property: four distinct reserved addresses inside the subnet, disjoint from the assignable range", () => {
    const subnet = fc.tuple(anyAddressNumber, fc.integer({ min: 8, max: 29 })).map(([v, p]) => cidrFrom(v, p));
    fc.assert(
      fc.property(subnet, (s) => {
        const reserved = scalewayReservedAddresses(s);
        const range = scalewayAssignableRange(s)!;
        const lo = ipv4ToNumber(range.first);
        const hi = ipv4ToNumber(range.last);
        return (
          reserved.length === 4 &&
          new Set(reserved).size === 4 &&
          reserved.every((r) => contains(s, r) && (ipv4ToNumber(r) < lo || ipv4ToNumber(r) > hi)) &&
          hi - lo + 1 === addressCount(s) - 4
        );
      }),
    );
  });
});

describe("address classes", () => {
  it("isPrivate is RFC 1918 exactly", () => {
    for (const a of ["10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1"]) expect(isPrivate(a)).toBe(true);
    for (const a of ["172.32.0.1", "100.64.0.1", "8.8.8.8", "192.169.0.1"]) expect(isPrivate(a)).toBe(false);
    expect(isPrivateCidr("192.168.0.0/24")).toBe(true);
    expect(isPrivateCidr("172.0.0.0/8")).toBe(false); // straddles 172.16/12
  });

  it.each([
    ["51.15.10.20", true],
    ["8.8.8.8", true],
    // RFC 5737 documentation ranges: accepted on purpose, the lab's stand-in public addresses.
    ["192.0.2.10", true],
    ["198.51.100.10", true],
    ["203.0.113.10", true],
    ["10.1.2.3", false],
    ["172.20.0.1", false],
    ["192.168.1.1", false],
    ["127.0.0.1", false],
    ["169.254.1.1", false],
    ["224.0.0.5", false],
    ["0.1.2.3", false],
    ["100.64.0.1", false],
    ["100.127.255.254", false],
    ["240.0.0.1", false],
    ["255.255.255.255", false],
  ])("isPublicUnicast(%s) = %s", (address, expected) => {
    expect(isPublicUnicast(address)).toBe(expected);
  });

  it("isValidCidr agrees with parseCidr", () => {
    expect(isValidCidr("192.168.0.0/24")).toBe(true);
    expect(isValidCidr("192.168.0.1/24")).toBe(false);
  });
});
