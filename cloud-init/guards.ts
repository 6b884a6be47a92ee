/**
 * Renderer preconditions: the checks that keep spec values from smuggling extra lines into
 * the INI, shell and dnsmasq text we render. Validation (config/validation.ts) rejects bad
 * input with a fix long before this; these throw only on a programming error.
 */
import { SITE_NAME_PATTERN } from "../config/schema";
import { lenientCidr, networkCidr } from "../addressing/ipv4";

/** The address part of an interface address: "192.168.0.2/24" -> "192.168.0.2". Throws on anything else. */
export function addressPart(addressWithPrefix: string, what = "address"): string {
  const parsed = lenientCidr(addressWithPrefix, what);
  if (!addressWithPrefix.includes("/")) {
    throw new Error(`${what}: "${addressWithPrefix}" needs a prefix length, e.g. 192.168.0.2/24`);
  }
  return parsed.addressMinusSuffix;
}

/** A bare IPv4 address (no prefix), as used for next hops. */
export function plainAddress(value: string, what = "address"): string {
  const parsed = lenientCidr(value, what);
  if (value.includes("/")) throw new Error(`${what}: "${value}" must be a bare address, without prefix`);
  return parsed.addressMinusSuffix;
}

/** A CIDR that must already be in network form (routes, AllowedIPs, flows). */
export function strictCidr(cidr: string, what = "CIDR"): string {
  const canonical = networkCidr(cidr, what);
  if (!cidr.includes("/") || canonical !== cidr) {
    throw new Error(`${what}: "${cidr}" is not a network CIDR (expected e.g. ${canonical})`);
  }
  return cidr;
}

const WIREGUARD_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

/** A 32-byte key in base64, as `wg` writes it. Never echoes the value in the error. */
export function assertWireGuardKey(key: string, what: string): string {
  if (!WIREGUARD_KEY.test(key)) throw new Error(`${what} is not a base64 WireGuard key (32 bytes)`);
  return key;
}

export function assertSiteName(name: string, what = "site name"): string {
  if (!SITE_NAME_PATTERN.test(name)) throw new Error(`${what}: "${name}" is not a lower-case DNS label`);
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
