/**
 * IPv4 address and CIDR helpers on top of `ip-address`. Pure functions, no Pulumi.
 *
 * Two kinds of entry points:
 *  - `parseCidr` / `parseIpv4` never throw; they say *why* a string is rejected, so the
 *    validator can turn the reason into a message with a fix.
 *  - Everything else takes strings that are already known to be valid (the validator runs
 *    first) and throws a TypeError on bad input: a bad string there is a programming error.
 *
 * Only canonical spellings are accepted ("192.168.0.0/24", not "192.168.000.0/024" or a
 * bare "192.168.0.0"): these strings end up in wg0.conf, nft rules and Scaleway resources,
 * and one spelling per network keeps diffs and comparisons honest.
 */
import { Address4 } from "ip-address";

export interface Ipv4Cidr {
  /** Network address, e.g. "192.168.0.0". */
  readonly network: string;
  readonly prefix: number;
  /** Canonical text, e.g. "192.168.0.0/24". */
  readonly text: string;
}

export type CidrParseResult =
  | { ok: true; cidr: Ipv4Cidr }
  | { ok: false; reason: "malformed"; message: string }
  /** Valid syntax, but bits are set after the prefix (192.168.0.5/24). `network` is what was probably meant. */
  | { ok: false; reason: "host-bits"; message: string; network: string };

export type Ipv4ParseResult = { ok: true; address: string } | { ok: false; message: string };

const DOTTED_QUAD = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const CIDR_SHAPE = /^([0-9.]+)\/(0|[1-9]\d?)$/;

/**
 * `parse` with its results memoised (and frozen): validation asks about the same few strings
 * many times (pairwise overlaps), and parsing through ip-address costs tens of microseconds.
 * The cache starts over when it holds 4096 strings.
 */
function memoised<R extends object>(parse: (text: string) => R): (text: string) => R {
  const cache = new Map<string, R>();
  return (text) => {
    const cached = cache.get(text);
    if (cached) return cached;
    if (cache.size >= 4096) cache.clear();
    const result = Object.freeze(parse(text)) as R;
    cache.set(text, result);
    return result;
  };
}

const parseIpv4Memoised = memoised(parseIpv4Uncached);
const parseCidrMemoised = memoised(parseCidrUncached);

/** Parses a dotted-quad IPv4 address (no prefix). Rejects leading zeros, which some tools read as octal. */
export function parseIpv4(text: string): Ipv4ParseResult {
  return parseIpv4Memoised(text);
}

function parseIpv4Uncached(text: string): Ipv4ParseResult {
  if (typeof text !== "string" || !DOTTED_QUAD.test(text)) {
    return {
      ok: false,
      message: `${show(text)} is not an IPv4 address (expected four numbers 0-255, like 192.168.0.2)`,
    };
  }
  let address: Address4;
  try {
    address = new Address4(text);
  } catch {
    return {
      ok: false,
      message: `${show(text)} is not an IPv4 address (each of the four numbers must be 0-255, without leading zeros)`,
    };
  }
  // ip-address already refuses leading zeros, so what passed is the canonical spelling.
  return { ok: true, address: address.correctForm() };
}

/** Parses "a.b.c.d/len". Host bits set after the prefix get their own reason and a suggested network. */
export function parseCidr(text: string): CidrParseResult {
  return parseCidrMemoised(text);
}

function parseCidrUncached(text: string): CidrParseResult {
  const shape = typeof text === "string" ? CIDR_SHAPE.exec(text) : null;
  if (!shape) {
    const hint =
      typeof text === "string" && parseIpv4(text).ok
        ? ` (a single address is written ${text}/32)`
        : " (expected a network like 192.168.0.0/24)";
    return { ok: false, reason: "malformed", message: `${show(text)} is not an IPv4 CIDR${hint}` };
  }
  const [, addressText, prefixText] = shape;
  const address = parseIpv4(addressText);
  if (!address.ok)
    return { ok: false, reason: "malformed", message: `${show(text)} is not an IPv4 CIDR: ${address.message}` };
  const prefix = Number(prefixText);
  if (prefix > 32) {
    return {
      ok: false,
      reason: "malformed",
      message: `${show(text)} is not an IPv4 CIDR: the prefix length must be 0-32`,
    };
  }
  const parsed = new Address4(text);
  const network = parsed.startAddress().correctForm();
  if (network !== addressText) {
    return {
      ok: false,
      reason: "host-bits",
      network: `${network}/${prefix}`,
      message: `${show(text)} has host bits set: the /${prefix} network containing ${addressText} is ${network}/${prefix}`,
    };
  }
  return { ok: true, cidr: Object.freeze({ network, prefix, text }) };
}

export function isValidCidr(text: string): boolean {
  return parseCidr(text).ok;
}

export function isValidIpv4(text: string): boolean {
  return parseIpv4(text).ok;
}

/** The address as an unsigned 32-bit integer. */
export function ipv4ToNumber(address: string): number {
  const parsed = parseIpv4(address);
  if (!parsed.ok) throw new TypeError(parsed.message);
  return parsed.address.split(".").reduce((value, octet) => value * 256 + Number(octet), 0);
}

export function numberToIpv4(value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new TypeError(`${value} is not an IPv4 address number (0 to 2^32-1)`);
  }
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join(".");
}

export function networkAddress(cidr: string): string {
  return toCidr(cidr).network;
}

export function prefixLength(cidr: string): number {
  return toCidr(cidr).prefix;
}

/** How many addresses the block holds, network and broadcast included (2^(32-prefix)). */
export function addressCount(cidr: string): number {
  return 2 ** (32 - toCidr(cidr).prefix);
}

/** First and last address of the block as numbers, for arithmetic over many blocks. */
export function cidrRange(cidr: string): { first: number; last: number } {
  const block = toCidr(cidr);
  const first = ipv4ToNumber(block.network);
  return { first, last: first + 2 ** (32 - block.prefix) - 1 };
}

/** The last address of the block (the broadcast address when prefix <= 30). */
export function lastAddress(cidr: string): string {
  return new Address4(toCidr(cidr).text).endAddress().correctForm();
}

/**
 * The n-th address of the block counting from the network address (n = 0); negative n
 * counts back from the last address (n = -1). hostAddress("192.168.0.0/24", 2) = "192.168.0.2".
 * Throws a RangeError when n falls outside the block.
 */
export function hostAddress(cidr: string, n: number): string {
  const block = toCidr(cidr);
  const size = 2 ** (32 - block.prefix);
  if (!Number.isInteger(n) || n >= size || n < -size) {
    throw new RangeError(`${cidr} has ${size} addresses; there is no address number ${n}`);
  }
  const offset = n >= 0 ? n : size + n;
  return numberToIpv4(ipv4ToNumber(block.network) + offset);
}

/**
 * First address a host may use. /31 (RFC 3021) and /32 have no network/broadcast
 * address, so every address there is usable.
 */
export function firstUsable(cidr: string): string {
  return hostAddress(cidr, toCidr(cidr).prefix >= 31 ? 0 : 1);
}

export function lastUsable(cidr: string): string {
  return hostAddress(cidr, toCidr(cidr).prefix >= 31 ? -1 : -2);
}

/**
 * Addresses Scaleway keeps for itself in every Private Network subnet: the first two and
 * the last two (docs-content ipam/how-to/reserve-ip). In a /24: .0 .1 .254 .255.
 * Sorted ascending, without duplicates (a /31 or /32 is entirely reserved).
 */
export function scalewayReservedAddresses(subnet: string): string[] {
  const size = addressCount(subnet);
  const offsets = [...new Set([0, 1, size - 2, size - 1].filter((o) => o >= 0 && o < size))].sort((a, b) => a - b);
  return offsets.map((o) => hostAddress(subnet, o));
}

/** The range of addresses a resource may get in a Scaleway subnet, or undefined when none is left (/30 and longer). */
export function scalewayAssignableRange(subnet: string): { first: string; last: string } | undefined {
  if (addressCount(subnet) <= 4) return undefined;
  return { first: hostAddress(subnet, 2), last: hostAddress(subnet, -3) };
}

export function contains(cidr: string, address: string): boolean {
  const { first, last } = cidrRange(cidr);
  const value = ipv4ToNumber(address);
  return first <= value && value <= last;
}

/** Every address of `inner` is in `outer`. */
export function isSubnetOf(inner: string, outer: string): boolean {
  const a = cidrRange(inner);
  const b = cidrRange(outer);
  return b.first <= a.first && a.last <= b.last;
}

/** Two blocks share at least one address. (For CIDR blocks that means one contains the other.) */
export function overlaps(a: string, b: string): boolean {
  const x = cidrRange(a);
  const y = cidrRange(b);
  return x.first <= y.last && y.first <= x.last;
}

/** RFC 1918: 10/8, 172.16/12, 192.168/16. */
export function isPrivate(address: string): boolean {
  return toAddress(address).isPrivate();
}

/** Every address of the block is RFC 1918. */
export function isPrivateCidr(cidr: string): boolean {
  return ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"].some((block) => isSubnetOf(cidr, block));
}

/**
 * An address a WireGuard peer could plausibly have on the internet: not RFC 1918,
 * loopback, link-local, multicast, 0/8 ("this network"), 100.64/10 (carrier-grade NAT),
 * or 240/4 (reserved, includes 255.255.255.255).
 * The documentation ranges 192.0.2/24, 198.51.100/24 and 203.0.113/24 (RFC 5737) ARE
 * accepted on purpose: the local lab uses them as stand-in public addresses, and they
 * never appear on the real internet, so accepting them cannot mis-route anything.
 */
export function isPublicUnicast(address: string): boolean {
  const a = toAddress(address);
  return !(
    a.isPrivate() ||
    a.isLoopback() ||
    a.isLinkLocal() ||
    a.isMulticast() ||
    a.isHostInSubnet(new Address4("0.0.0.0/8")) ||
    a.isCGNAT() ||
    a.isReserved() ||
    a.isBroadcast()
  );
}

// ---------------------------------------------------------------------------------------
// Lenient forms for rendered text: they accept any spelling `ip-address` parses (an address
// with host bits and a prefix, say) and throw naming `what`.

export function lenientCidr(value: string, what: string): Address4 {
  if (!Address4.isValid(value)) throw new TypeError(`${what}: "${value}" is not an IPv4 address or CIDR`);
  return new Address4(value);
}

/** Canonical network form: "192.168.1.7/24" -> "192.168.1.0/24". */
export function networkCidr(cidr: string, what = "CIDR"): string {
  const parsed = lenientCidr(cidr, what);
  return `${parsed.startAddress().addressMinusSuffix}/${parsed.subnetMask}`;
}

/** Dotted netmask of a CIDR: "192.168.1.0/24" -> "255.255.255.0". */
export function netmask(cidr: string): string {
  return lenientCidr(cidr, "CIDR").subnetMaskAddress().addressMinusSuffix;
}

/** True when `address` (bare or with prefix) lies inside `cidr`. */
export function cidrContains(cidr: string, address: string): boolean {
  return lenientCidr(address, "address").isInSubnet(lenientCidr(cidr, "CIDR"));
}

/** Numeric order of IPv4 CIDRs (address, then prefix length), for stable output. */
export function compareCidrs(a: string, b: string): number {
  const pa = lenientCidr(a, "CIDR");
  const pb = lenientCidr(b, "CIDR");
  const byAddress = pa.bigInt() < pb.bigInt() ? -1 : pa.bigInt() > pb.bigInt() ? 1 : 0;
  return byAddress !== 0 ? byAddress : pa.subnetMask - pb.subnetMask;
}

export function sortCidrs(cidrs: readonly string[]): string[] {
  return [...new Set(cidrs)].sort(compareCidrs);
}

function toCidr(text: string): Ipv4Cidr {
  const result = parseCidr(text);
  if (!result.ok) throw new TypeError(result.message);
  return result.cidr;
}

function toAddress(text: string): Address4 {
  const result = parseIpv4(text);
  if (!result.ok) throw new TypeError(result.message);
  return new Address4(result.address);
}

function show(value: unknown): string {
  if (typeof value !== "string") return `${JSON.stringify(value) ?? String(value)}`;
  return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
}

/**
 * The DHCP pool of a LAN: the longest run of addresses that holds none of `configured`
 * (gateway, LAN router, test host, fixed hosts), inside the hosts of `subnet`. In a LAN
 * of 32 addresses or more the first nine hosts are left out, for the static
 * infrastructure LANs usually keep there. Ties go to the higher run. Undefined when
 * no address is free. Addresses outside the subnet in `configured` are ignored.
 */
export function dhcpPool(
  subnet: string,
  configured: readonly string[],
): { start: string; end: string; size: number } | undefined {
  const { first, last } = cidrRange(subnet);
  if (last - first < 2) return undefined; // /31 and /32: no room for a pool beside the gateway
  const lowest = last - first + 1 >= 32 ? first + 10 : first + 1;
  const highest = last - 1;
  const taken = [...new Set(configured.map(ipv4ToNumber))]
    .filter((n) => n >= lowest && n <= highest)
    .sort((a, b) => a - b);
  let best: { start: number; end: number } | undefined;
  let start = lowest;
  for (const n of [...taken, highest + 1]) {
    const end = n - 1;
    if (end >= start && (!best || end - start >= best.end - best.start)) best = { start, end };
    start = n + 1;
  }
  return best && { start: numberToIpv4(best.start), end: numberToIpv4(best.end), size: best.end - best.start + 1 };
}

/** How many distinct addresses a set of CIDR blocks covers together (overlaps counted once). */
export function unionSize(cidrs: readonly string[]): number {
  const ranges = cidrs.map(cidrRange).sort((a, b) => a.first - b.first);
  let total = 0;
  let current: { first: number; last: number } | undefined;
  for (const r of ranges) {
    if (current && r.first <= current.last + 1) {
      current.last = Math.max(current.last, r.last);
    } else {
      if (current) total += current.last - current.first + 1;
      current = { ...r };
    }
  }
  if (current) total += current.last - current.first + 1;
  return total;
}
