/**
 * OpenSSH public key lines built from real keys generated at test time (RFC 4253 wire format),
 * for the tests of the config's sshPublicKeys: fresh keys each run, so no key is checked in.
 */
import { generateKeyPairSync } from "crypto";
import nacl from "tweetnacl";

/** Length-prefixed fields, as OpenSSH encodes a public key blob. */
export function wire(...fields: Buffer[]): Buffer {
  return Buffer.concat(
    fields.flatMap((f) => {
      const length = Buffer.alloc(4);
      length.writeUInt32BE(f.length);
      return [length, f];
    }),
  );
}

export const text = (s: string): Buffer => Buffer.from(s, "latin1");

/** An unsigned big-endian integer as an SSH mpint: a leading zero byte keeps its top bit from reading as a sign. */
const mpint = (b: Buffer) => (b[0] & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);

const line = (type: string, blob: Buffer, comment: string) =>
  `${type} ${blob.toString("base64")}${comment === "" ? "" : ` ${comment}`}`;

export function ed25519Line(comment = "ops@laptop"): string {
  const publicKey = Buffer.from(nacl.sign.keyPair().publicKey);
  return line("ssh-ed25519", wire(text("ssh-ed25519"), publicKey), comment);
}

export function rsaLine(bits = 2048, comment = ""): string {
  const jwk = generateKeyPairSync("rsa", { modulusLength: bits }).publicKey.export({ format: "jwk" });
  const e = mpint(Buffer.from(jwk.e!, "base64url"));
  const n = mpint(Buffer.from(jwk.n!, "base64url"));
  return line("ssh-rsa", wire(text("ssh-rsa"), e, n), comment);
}

export function ecdsaLine(curve: "P-256" | "P-384" | "P-521", comment = "ci"): string {
  const name = { "P-256": "nistp256", "P-384": "nistp384", "P-521": "nistp521" }[curve];
  const jwk = generateKeyPairSync("ec", { namedCurve: curve }).publicKey.export({ format: "jwk" });
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, "base64url"), Buffer.from(jwk.y!, "base64url")]);
  return line(`ecdsa-sha2-${name}`, wire(text(`ecdsa-sha2-${name}`), text(name), point), comment);
}
