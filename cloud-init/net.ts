/**
 * Small IPv4 helpers over `ip-address`, plus the checks that keep spec values from
 * smuggling extra lines into the INI, shell and dnsmasq text we render.
 */
import { Address4 } from "ip-address";

function parseIpv4(value: string, what: string): Address4 {
  if (!Address4.isValid(value)) {
    throw new Error(`${what}: "${value}" is not an IPv4 address or CIDR`);
  }
  return new Address4(value);
}

/** "192.168.0.2/24" -> "192.168.0.2". Throws on anything else. */
export function hostAddress(addressWithPrefix: string, what = "address"): string {
  const parsed = parseIpv4(addressWithPrefix, what);
  if (!addressWithPrefix.includes("/")) {
    throw new Error(`${what}: "${addressWithPrefix}" needs a prefix length, e.g. 192.168.0.2/24`);
  }
  return parsed.addressMinusSuffix;
}

/** A bare IPv4 address (no prefix), as used for next hops. */
export function plainAddress(value: string, what = "address"): string {
  const parsed = parseIpv4(value, what);
  if (value.includes("/")) throw new Error(`${what}: "${value}" must be a bare address, without prefix`);
  return parsed.addressMinusSuffix;
}

/** Canonical network form: "192.168.1.7/24" -> "192.168.1.0/24". */
export function networkCidr(cidr: string, what = "CIDR"): string {
  const parsed = parseIpv4(cidr, what);
  return `${parsed.startAddress().addressMinusSuffix}/${parsed.subnetMask}`;
}

/** A CIDR that must already be in network form (routes, AllowedIPs, flows). */
export function strictCidr(cidr: string, what = "CIDR"): string {
  const canonical = networkCidr(cidr, what);
  if (!cidr.includes("/") || canonical !== cidr) {
    throw new Error(`${what}: "${cidr}" is not a network CIDR (expected e.g. ${canonical})`);
  }
  return cidr;
}

/** Dotted netmask of a CIDR: "192.168.1.0/24" -> "255.255.255.0". */
export function netmask(cidr: string): string {
  return parseIpv4(cidr, "CIDR").subnetMaskAddress().addressMinusSuffix;
}

/** True when `address` (bare or with prefix) lies inside `cidr`. */
export function cidrContains(cidr: string, address: string): boolean {
  return parseIpv4(address, "address").isInSubnet(parseIpv4(cidr, "CIDR"));
}

/** Numeric order of IPv4 CIDRs (address, then prefix length), for stable output. */
export function compareCidrs(a: string, b: string): number {
  const pa = parseIpv4(a, "CIDR");
  const pb = parseIpv4(b, "CIDR");
  const byAddress = pa.bigInt() < pb.bigInt() ? -1 : pa.bigInt() > pb.bigInt() ? 1 : 0;
  return byAddress !== 0 ? byAddress : pa.subnetMask - pb.subnetMask;
}

export function sortCidrs(cidrs: readonly string[]): string[] {
  return [...new Set(cidrs)].sort(compareCidrs);
}

const WIREGUARD_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

/** A 32-byte key in base64, as `wg` writes it. Never echoes the value in the error. */
export function assertWireGuardKey(key: string, what: string): string {
  if (!WIREGUARD_KEY.test(key)) throw new Error(`${what} is not a base64 WireGuard key (32 bytes)`);
  return key;
}

const SITE_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function assertSiteName(name: string, what = "site name"): string {
  if (!SITE_NAME.test(name)) throw new Error(`${what}: "${name}" is not a lower-case DNS label`);
  return name;
}

/** "host:port" or "[v6]:port" with no whitespace: the only shapes wg accepts. */
export function assertEndpoint(endpoint: string, what = "endpoint"): string {
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(endpoint)) {
    throw new Error(`${what}: "${endpoint}" is not host:port`);
  }
  const port = Number(endpoint.slice(endpoint.lastIndexOf(":") + 1));
  if (port < 1 || port > 65535) throw new Error(`${what}: port ${port} out of range`);
  return endpoint;
}

export function assertIntegerInRange(value: number, min: number, max: number, what: string): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${what}: ${value} is not an integer in ${min}..${max}`);
  }
  return value;
}
