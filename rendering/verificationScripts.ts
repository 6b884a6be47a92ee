/**
 * The shell scripts `pulumi up` runs over SSH to prove the deployment works (see
 * TunnelVerification). Pure functions returning POSIX sh, so the local lab and the VM lab
 * run the very same text against their hosts. Each script is bounded, prints one line
 * saying what it checked, and on failure prints which step failed and where to look.
 *
 * Every value that reaches the text is either validated (keys, addresses, seconds) or
 * single-quoted, so a label can never turn into shell syntax.
 */
import { assertIntegerInRange, assertWireGuardKey, plainAddress } from "../cloud-init/guards";

export interface VerificationTimeouts {
  /** cloud-init on a fresh instance: packages, then the tunnel. */
  cloudInitSeconds: number;
  /** From cloud-init done to a WireGuard handshake with every peer. */
  handshakeSeconds: number;
  /** Ping retries across the tunnel (routes may still be propagating). */
  pingSeconds: number;
}

export const DEFAULT_VERIFICATION_TIMEOUTS: VerificationTimeouts = {
  cloudInitSeconds: 900,
  handshakeSeconds: 300,
  pingSeconds: 120,
};

/** A peer the handshake check expects; a bare string is a public key with no site name. */
export type HandshakePeer = string | { name: string; publicKey: string };

/** A handshake older than this (seconds) no longer counts: WireGuard rekeys every 2 minutes. */
export const HANDSHAKE_MAX_AGE_SECONDS = 180;

/** POSIX single-quoting: the text reaches the script as one literal word. */
export function shQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

const boundSeconds = (seconds: number, what: string) => assertIntegerInRange(seconds, 1, 86400, `${what} seconds`);

const header = (what: string, host: string) => `#!/bin/sh
# wg-s2s deploy verification: ${what.replace(/\n/g, " ")}
set -u
host=${shQuote(host)}
fail() { echo "wg-s2s verification FAILED: $*" >&2; exit 1; }
`;

/**
 * Waits for cloud-init to finish and fails if it reported an error. `cloud-init status`
 * exits 2 for "done with recoverable errors" (cloud-init >= 23.4, e.g. a deprecated key):
 * that passes, with a note, since the instance did converge.
 */
export function waitForCloudInitScript(host: string, seconds: number): string {
  boundSeconds(seconds, "cloud-init wait");
  return `${header("cloud-init finished without errors", host)}
if ! command -v cloud-init >/dev/null 2>&1; then fail "no cloud-init command on $host"; fi
timeout ${seconds} cloud-init status --wait >/dev/null 2>&1
rc=0
report=$(timeout 60 cloud-init status 2>&1) || rc=$?
status=$(printf '%s\\n' "$report" | sed -n 's/^status: //p' | head -n 1)
case "$status" in
  done)
    if [ "$rc" -eq 2 ]; then
      echo "cloud-init done on $host (with recoverable errors; see: cloud-init status --long)"
    else
      echo "cloud-init done on $host"
    fi ;;
  running|"not run"|"not started")
    fail "cloud-init not finished on $host after ${seconds}s (status: $status); look at: /var/log/cloud-init-output.log" ;;
  "")
    fail "cloud-init status gave no status on $host (exit $rc); look at: cloud-init status --long; /var/log/cloud-init.log" ;;
  *)
    fail "cloud-init status '$status' on $host; look at: cloud-init status --long; /var/log/cloud-init-output.log" ;;
esac
`;
}

function peerLine(peer: HandshakePeer, index: number): string {
  const { name, publicKey } = typeof peer === "string" ? { name: "", publicKey: peer } : peer;
  // Validated, so the awk match can succeed and a typo fails here, not after the timeout.
  assertWireGuardKey(publicKey, `handshakeScript: public key of peer ${name || `#${index + 1}`}`);
  const label = name ? `${name} (public key ${publicKey})` : `public key ${publicKey}`;
  return `${publicKey} ${label.replace(/[^A-Za-z0-9+/=(). -]/g, "?")}`;
}

/**
 * Waits until wg0 has a handshake younger than HANDSHAKE_MAX_AGE_SECONDS with every
 * expected peer. Public keys are not secret; naming the peer's site makes the failure
 * message point at the other end of the tunnel.
 */
export function handshakeScript(host: string, peers: HandshakePeer[], seconds: number): string {
  boundSeconds(seconds, "handshake wait");
  if (peers.length === 0) throw new Error("handshakeScript: no peers to check");
  const lines = peers.map(peerLine).join("\n");
  return `${header("WireGuard handshakes", host)}
# One line per expected peer: "<public key> <label>".
peers=${shQuote(lines)}
deadline=$(( $(date +%s) + ${seconds} ))
while :; do
  now=$(date +%s)
  if handshakes=$(wg show wg0 latest-handshakes 2>&1); then
    missing=$(printf '%s\\n' "$peers" | while read -r key label; do
      last=$(printf '%s\\n' "$handshakes" | awk -v p="$key" '$1 == p { print $2 }')
      if [ -z "$last" ]; then echo "$label: not a peer of wg0;"
      elif [ "$last" -eq 0 ]; then echo "$label: never;"
      elif [ $(( now - last )) -gt ${HANDSHAKE_MAX_AGE_SECONDS} ]; then echo "$label: last $(( now - last ))s ago;"
      fi
    done | tr '\\n' ' ')
  else
    missing="wg0 is not up ($(printf '%s\\n' "$handshakes" | head -n 1)); "
  fi
  if [ -z "$missing" ]; then echo "wg0 on $host: recent handshake with ${peers.length} peer(s)"; exit 0; fi
  if [ "$now" -ge "$deadline" ]; then
    fail "no recent handshake on $host after ${seconds}s with: \${missing}look at: wg show wg0; systemctl status wg-quick@wg0 wg-s2s-private-nic; the peer's gateway; the security group's UDP rule"
  fi
  sleep 5
done
`;
}

/** The seed's test: ping the remote test host; retried while routes settle. */
export function pingScript(from: string, target: string, seconds: number): string {
  boundSeconds(seconds, "ping");
  plainAddress(target, "pingScript: target");
  return `${header(`ping ${target}`, from)}
target=${target}
deadline=$(( $(date +%s) + ${seconds} ))
while :; do
  if out=$(ping -c 3 -W 2 "$target" 2>&1); then
    echo "ping $host -> $target: $(printf '%s\\n' "$out" | grep -E 'packets transmitted|rtt' | tr '\\n' ' ')"
    exit 0
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    fail "$host cannot ping $target after ${seconds}s (last: $(printf '%s\\n' "$out" | grep -v '^$' | tail -n 1)); look at: ip route get $target (on $host); the VPC routes; nft list table inet wg_s2s (on both gateways); wg show wg0"
  fi
  sleep 3
done
`;
}
