/** Rules about who and what reaches the hosts: zone, admin CIDRs, SSH keys, instance type and image names. */
import { Address6 } from "ip-address";
import { addressCount, overlaps, parseCidr, parseIpv4, unionSize } from "../../addressing/ipv4";
import { type ConfigIssue, type Phrasing } from "../errors";
import { textProblem } from "../fields";
import { PROVIDER_DEFAULT_ZONE, STACK_CONFIG_DEFAULTS } from "../schema";
import { issue, show } from "./issues";

export const ZONE = /^[a-z]{2}-[a-z]{3}-[1-9]$/;

/** Region from zone: fr-par-1 -> fr-par. */
export function regionOfZone(zone: string): string {
  return zone.replace(/-[0-9]+$/, "");
}

/** Where the default instance type can be had (Scaleway's availability; revisit with the default), for a fix that moves the stack. */
export const ZONES_OFFERING_DEFAULT_TYPE = `${STACK_CONFIG_DEFAULTS.instanceType} is offered in fr-par-1/2, nl-ams-1/2, pl-waw-1/2`;

export function checkZone(zone: string, p: Phrasing): ConfigIssue[] {
  if (ZONE.test(zone)) return [];
  return [
    issue(
      "zone",
      `${show(zone)} is not a Scaleway zone; zones look like fr-par-1 (region fr-par, zone 1).`,
      `${p.run("zone", PROVIDER_DEFAULT_ZONE)} (${ZONES_OFFERING_DEFAULT_TYPE})`,
    ),
  ];
}

const ADMIN_EXAMPLE = "203.0.113.7/32";

export function checkAdminCidrs(adminCidrs: string[], p: Phrasing): ConfigIssue[] {
  if (adminCidrs.length === 0) {
    return [
      issue(
        "adminCidrs",
        "is not set; SSH to the gateways is allowed only from these CIDRs and this program never falls back to 0.0.0.0/0.",
        `add your own public IPv4 as a /32: ${p.set("adminCidrs[0]", ADMIN_EXAMPLE)}`,
      ),
    ];
  }
  return adminCidrs.flatMap((cidr, i): ConfigIssue[] => {
    const key = `adminCidrs[${i}]`;
    const yourAddress = `use your operator address as a /32: ${p.set(key, ADMIN_EXAMPLE)}`;
    if (cidr.includes(":")) {
      const everything = Address6.isValid(cidr) && new Address6(cidr).subnetMask === 0 && cidr.includes("/");
      return [
        issue(
          key,
          everything
            ? `${cidr} would open SSH on every gateway to the whole IPv6 internet.`
            : `${show(cidr)} is IPv6; the gateways have only a public IPv4 address, so SSH arrives over IPv4.`,
          yourAddress,
        ),
      ];
    }
    const parsed = parseCidr(cidr);
    if (!parsed.ok) {
      const single = parseIpv4(cidr).ok ? `${cidr}/32` : ADMIN_EXAMPLE;
      if (parsed.reason === "host-bits") {
        const address = cidr.split("/")[0];
        return [
          issue(
            key,
            `${parsed.message}.`,
            `write the network ${p.set(key, parsed.network)}, or ${p.set(key, `${address}/32`)} if you meant that one address`,
          ),
        ];
      }
      return [issue(key, `${parsed.message}.`, `${p.run(key, single)}`)];
    }
    if (parsed.cidr.prefix === 0) {
      return [issue(key, `${cidr} would open SSH on every gateway to the whole internet.`, yourAddress)];
    }
    if (parsed.cidr.prefix < 8) {
      return [
        issue(
          key,
          `${cidr} spans ${addressCount(cidr).toLocaleString("en")} addresses; that is SSH open to a large part of the internet.`,
          yourAddress,
        ),
      ];
    }
    const special = NOT_INTERNET.find((block) => overlaps(cidr, block.cidr));
    if (special) {
      return [
        issue(
          key,
          `${cidr} overlaps ${special.cidr} (${special.what}); SSH reaches the gateways over their public IPv4, so the security group only ever sees internet source addresses and this entry admits no one you intend (or, for a NATed range, everyone behind some other NAT).`,
          yourAddress,
        ),
      ];
    }
    return [];
  });
}

/** Ranges no SSH client on the internet comes from (RFC 6890 special-purpose blocks). */
export const NOT_INTERNET: readonly { cidr: string; what: string }[] = [
  { cidr: "0.0.0.0/8", what: "'this network'" },
  { cidr: "10.0.0.0/8", what: "private, RFC 1918" },
  { cidr: "100.64.0.0/10", what: "carrier-grade NAT" },
  { cidr: "127.0.0.0/8", what: "loopback" },
  { cidr: "169.254.0.0/16", what: "link-local, and Scaleway's metadata and VPC-router addresses" },
  { cidr: "172.16.0.0/12", what: "private, RFC 1918" },
  { cidr: "192.168.0.0/16", what: "private, RFC 1918" },
  { cidr: "224.0.0.0/4", what: "multicast" },
  { cidr: "240.0.0.0/4", what: "reserved, and broadcast" },
];

/** Most addresses adminCidrs may admit together: one /8. Each entry is capped the same way. */
const ADMIN_MAX_ADDRESSES = 2 ** 24;

/** Entries that pass one by one can still open SSH to the internet together (256 /8s, or two /1s). */
export function checkAdminCidrsTogether(adminCidrs: string[], p: Phrasing): ConfigIssue[] {
  const valid = adminCidrs.filter((c) => !c.includes(":") && parseCidr(c).ok);
  if (valid.length < 2) return [];
  const total = unionSize(valid);
  if (total <= ADMIN_MAX_ADDRESSES) return [];
  return [
    issue(
      "adminCidrs",
      `together admits ${total.toLocaleString("en")} addresses (${((total / 2 ** 32) * 100).toFixed(1)}% of IPv4); SSH would be open to a large part of the internet even though no single entry is.`,
      `list only the networks you administer from, e.g. ${p.remove("adminCidrs")} then ${p.set("adminCidrs[0]", ADMIN_EXAMPLE)}`,
    ),
  ];
}

const SSH_KEY_TYPES = [
  "ssh-ed25519",
  "ssh-rsa",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "sk-ssh-ed25519@openssh.com",
  "sk-ecdsa-sha2-nistp256@openssh.com",
];

export function checkSshPublicKeys(keys: string[], p: Phrasing): ConfigIssue[] {
  return keys.flatMap((text, i): ConfigIssue[] => {
    const key = `sshPublicKeys[${i}]`;
    const fix = `paste one line of a .pub file (e.g. \`cat ~/.ssh/id_ed25519.pub\`): ${p.set(key, "'ssh-ed25519 AAAA... you@laptop'")}`;
    if (/PRIVATE KEY/.test(text)) {
      // Never echo the value: it is a secret that just landed in plain-text stack config.
      return [
        issue(
          key,
          "holds a PRIVATE key. Only public keys belong here, and stack config is stored in plain text, so treat that key as exposed.",
          `${p.removeIt(key)}, replace the key pair, then add its .pub line`,
        ),
      ];
    }
    const lines = text.split(/\r\n|[\n\r\u2028\u2029\u0085]/).map((l) => l.trim());
    if (lines.filter((l) => l !== "").length > 1) {
      // A second key after a line break would be a second authorized key nobody listed.
      return [
        issue(
          key,
          `holds ${lines.filter((l) => l !== "").length} lines; each entry must be exactly one public key, so a line break cannot add a key nobody reviewed.`,
          `give each key its own entry: ${p.set(key, "'<first line>'")} and ${p.set(`sshPublicKeys[${keys.length}]`, "'<second line>'")}`,
        ),
      ];
    }
    const textIssue = textProblem(text.trim(), MAX_SSH_KEY_LENGTH);
    if (textIssue) return [issue(key, textIssue, fix)];
    const problem = sshPublicKeyProblem(text.trim());
    if (problem) return [issue(key, `${show(text)} is not an OpenSSH public key: ${problem}.`, fix)];
    const bits = rsaModulusBits(text.trim());
    if (bits !== undefined && bits < 2048) {
      return [
        issue(
          key,
          `is a ${bits}-bit RSA key; OpenSSH refuses RSA keys under 1024 bits and keys under 2048 bits are breakable (NIST SP 800-131A).`,
          `make a new key, e.g. \`ssh-keygen -t ed25519\`, then ${p.set(key, '"$(cat ~/.ssh/id_ed25519.pub)"')}`,
        ),
      ];
    }
    const blob = text.trim().split(/\s+/).slice(0, 2).join(" ");
    const earlier = keys.findIndex((other) => other.trim().split(/\s+/).slice(0, 2).join(" ") === blob);
    if (earlier < i) {
      return [issue(key, `is the same key as sshPublicKeys[${earlier}].`, `remove the copy with ${p.remove(key)}`)];
    }
    return [];
  });
}

/** The longest OpenSSH public key line accepted: a 16384-bit RSA key is about 2,800 characters. */
const MAX_SSH_KEY_LENGTH = 4096;

/** Bit length of an ssh-rsa key's modulus, or undefined for other key types. */
function rsaModulusBits(line: string): number | undefined {
  const [type, blob] = line.split(/\s+/);
  if (type !== "ssh-rsa") return undefined;
  const fields = sshWireFields(Buffer.from(blob, "base64"));
  const n = fields?.[2];
  if (!n) return 0;
  let at = 0;
  while (at < n.length && n[at] === 0) at++;
  if (at === n.length) return 0;
  return (n.length - at - 1) * 8 + (32 - Math.clz32(n[at]));
}

/**
 * Undefined when `text` is "<type> <base64 blob> [comment]" and the blob is well formed:
 * a run of uint32-length-prefixed fields that fills it exactly, the first naming the same
 * type (an ed25519 key then holds exactly 32 bytes). That catches truncated or mixed pastes.
 */
function sshPublicKeyProblem(text: string): string | undefined {
  const [type, blob] = text.split(/\s+/);
  if (!SSH_KEY_TYPES.includes(type))
    return `it must start with one of ${SSH_KEY_TYPES.slice(0, 3).join(", ")}, ecdsa-sha2-*`;
  if (!blob || !/^[A-Za-z0-9+/]+={0,2}$/.test(blob) || blob.length % 4 !== 0)
    return "the key data after the type is not base64";
  const fields = sshWireFields(Buffer.from(blob, "base64"));
  if (!fields || fields.length < 2 || fields[0].toString("latin1") !== type) {
    return `the key data does not hold a complete ${type} key (truncated or corrupted paste?)`;
  }
  if (type === "ssh-ed25519" && fields[1].length !== 32)
    return "an ed25519 key holds 32 bytes (truncated or corrupted paste?)";
  return undefined;
}

/** Splits SSH wire-format data into its length-prefixed fields; undefined if the lengths don't add up. */
function sshWireFields(bytes: Buffer): Buffer[] | undefined {
  const fields: Buffer[] = [];
  let at = 0;
  while (at < bytes.length && fields.length < 16) {
    if (at + 4 > bytes.length) return undefined;
    const length = bytes.readUInt32BE(at);
    if (at + 4 + length > bytes.length) return undefined;
    fields.push(bytes.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  return at === bytes.length ? fields : undefined;
}

/** Scaleway commercial types: DEV1-S, PRO2-XXS, GP1-XS, STARDUST1-S, PLAY2-PICO, POP2-HC-2C-4G... */
export const INSTANCE_TYPE = /^[A-Z0-9]+(?:-[A-Z0-9]+){1,4}$/i;

/** Image labels (ubuntu_noble), UUIDs, or zone/UUID. */
export const IMAGE =
  /^(?:[a-z0-9]+(?:[_.-][a-z0-9]+)*|(?:[a-z]{2}-[a-z]{3}-[1-9]\/)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

export function checkNonEmpty(key: string, value: string, example: string, p: Phrasing, shape: RegExp): ConfigIssue[] {
  if (value.trim() === "" || /\s/.test(value)) {
    return [
      issue(
        key,
        `${show(value)} is empty or contains spaces.`,
        `${p.run(key, example)}, or ${p.remove(key)} for the default`,
      ),
    ];
  }
  if (shape.test(value)) return [];
  return [
    issue(
      key,
      `${show(value)} is not a Scaleway ${key === "image" ? `image label or UUID (e.g. ${STACK_CONFIG_DEFAULTS.image})` : `instance type (e.g. ${STACK_CONFIG_DEFAULTS.instanceType})`}; it names a resource input, so only letters, digits and - _ . / are accepted.`,
      `${p.run(key, example)}, or ${p.remove(key)} for the default`,
    ),
  ];
}
