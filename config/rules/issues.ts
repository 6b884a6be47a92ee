/** Small helpers every rule module uses to phrase an issue. */
import { parseCidr, parseIpv4 } from "../../addressing/ipv4";
import { type ConfigIssue, type Phrasing } from "../errors";

export function cidrIssue(
  key: string,
  value: string,
  parsed: Exclude<ReturnType<typeof parseCidr>, { ok: true }>,
  example: string,
  p: Phrasing,
): ConfigIssue {
  if (parsed.reason === "host-bits") {
    return issue(key, `${parsed.message}.`, `write the network address: ${p.set(key, parsed.network)}`);
  }
  // A bare address most likely meant its /24.
  const guess = parseIpv4(value).ok ? `${value.split(".").slice(0, 3).join(".")}.0/24` : example;
  return issue(key, `${parsed.message}.`, `write a network as a.b.c.d/len: ${p.set(key, guess)}`);
}

export function isIntegerIn(value: number, min: number, max: number): boolean {
  return Number.isInteger(value) && value >= min && value <= max;
}

export function issue(key: string, problem: string, fix: string): ConfigIssue {
  return { key, problem, fix };
}

export function show(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
}
