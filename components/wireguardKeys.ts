/**
 * WireGuard keys kept in Pulumi state. A private key is 32 random bytes from
 * `random.RandomBytes` (a secret output that stays the same on every `pulumi up`); the
 * public key is X25519(private, basepoint), derived here with tweetnacl. Keys change only
 * when the site's `keyGeneration` changes: it is the RandomBytes' only keeper.
 */
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import nacl from "tweetnacl";
import { argumentPhrasing, ConfigError, TEMPLATE } from "../config/errors";
import { keyGenerationIssues } from "../config/validation";

const KEY_BYTES = 32;

/** `wg pubkey`: base64 private key in, base64 public key out. Clamping is done by scalarMult. */
export function wireGuardPublicKey(privateKeyBase64: string): string {
  const priv = Buffer.from(privateKeyBase64, "base64");
  if (priv.length !== KEY_BYTES) {
    throw new Error(`a WireGuard private key is ${KEY_BYTES} bytes of base64, got ${priv.length} bytes`);
  }
  return Buffer.from(nacl.scalarMult.base(new Uint8Array(priv))).toString("base64");
}

export interface WireGuardKeyPairArgs {
  /** Bump to rotate: a new generation replaces the RandomBytes and so the key. */
  generation: number;
}

/** A gateway's key pair. The private key is a secret; the public key is plain. */
export class WireGuardKeyPair extends pulumi.ComponentResource {
  /** Outputs other languages must receive as secrets (components/package.ts marks them in the schema). */
  static readonly secretOutputs = ["privateKey"] as const;

  /** Secret: the base64 private key (`wg genkey`). */
  public readonly privateKey: pulumi.Output<string>;
  /** The base64 public key (`wg pubkey`), to give to peers. */
  public readonly publicKey: pulumi.Output<string>;

  constructor(name: string, args: WireGuardKeyPairArgs, opts?: pulumi.ComponentResourceOptions) {
    checkGeneration("WireGuardKeyPair", args);
    super("wg-s2s:index:WireGuardKeyPair", name, {}, opts);
    const bytes = keyBytes(`${name}-private`, args, this);
    // RandomBytes marks base64 secret already; say so again so no refactor can lose it.
    this.privateKey = pulumi.secret(bytes.base64);
    // A public key derived from a secret inherits secrecy; it is meant to be shared.
    this.publicKey = pulumi.unsecret(bytes.base64.apply(wireGuardPublicKey));
    this.registerOutputs({ privateKey: this.privateKey, publicKey: this.publicKey });
  }
}

/** The preshared key of one tunnel (post-quantum hardening of the handshake). */
export class WireGuardPresharedKey extends pulumi.ComponentResource {
  static readonly secretOutputs = ["key"] as const;

  /** Secret: the base64 preshared key (`wg genpsk`). */
  public readonly key: pulumi.Output<string>;

  constructor(name: string, args: WireGuardKeyPairArgs, opts?: pulumi.ComponentResourceOptions) {
    checkGeneration("WireGuardPresharedKey", args);
    super("wg-s2s:index:WireGuardPresharedKey", name, {}, opts);
    const bytes = keyBytes(`${name}-bytes`, args, this);
    this.key = pulumi.secret(bytes.base64);
    this.registerOutputs({ key: this.key });
  }
}

/** A key's 32 random bytes, kept until the generation changes (their only keeper). */
function keyBytes(name: string, args: WireGuardKeyPairArgs, parent: pulumi.Resource): random.RandomBytes {
  return new random.RandomBytes(
    name,
    { length: KEY_BYTES, keepers: { generation: String(args.generation) } },
    { parent },
  );
}

/** The sites' keyGeneration rule, phrased for a caller; before super(), so nothing is declared. */
function checkGeneration(component: string, args: WireGuardKeyPairArgs): void {
  const issues = keyGenerationIssues("generation", args?.generation, TEMPLATE);
  if (issues.length > 0) throw new ConfigError(issues, argumentPhrasing(component));
}
