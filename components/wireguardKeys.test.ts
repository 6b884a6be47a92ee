/** @tier unit */
import { execFileSync } from "child_process";
import nacl from "tweetnacl";
import { wireGuardPublicKey } from "./wireguardKeys";

const hex = (h: string) => Buffer.from(h, "hex").toString("base64");

describe("wireGuardPublicKey", () => {
  // RFC 7748 section 6.1 (X25519 Diffie-Hellman test vectors).
  test.each([
    [
      "Alice",
      "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
      "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
    ],
    [
      "Bob",
      "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
      "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
    ],
  ])("matches the RFC 7748 vector for %s", (_who, priv, pub) => {
    expect(wireGuardPublicKey(hex(priv))).toBe(hex(pub));
  });

  test("a wrong private key gives a different public key (negative control)", () => {
    const alice = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    const flipped = Buffer.from(alice, "base64");
    flipped[5] ^= 1;
    expect(wireGuardPublicKey(flipped.toString("base64"))).not.toBe(
      hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"),
    );
  });

  test("rejects keys that are not 32 bytes", () => {
    expect(() => wireGuardPublicKey(Buffer.alloc(31).toString("base64"))).toThrow(/32 bytes/);
  });

  test("agrees with `wg pubkey` on random keys, including unclamped ones", () => {
    let wg: string;
    try {
      wg = execFileSync("sh", ["-c", "command -v wg"]).toString().trim();
    } catch {
      throw new Error(
        "`wg` (Debian package wireguard-tools) is missing: run `npm run setup` or apt-get install wireguard-tools",
      );
    }
    for (let i = 0; i < 20; i++) {
      // Raw random bytes are deliberately left unclamped: `wg` and scalarMult must clamp alike.
      const priv = Buffer.from(nacl.randomBytes(32)).toString("base64");
      const expected = execFileSync(wg, ["pubkey"], { input: priv + "\n" })
        .toString()
        .trim();
      expect(wireGuardPublicKey(priv)).toBe(expected);
    }
  });
});
