/**
 * The shell scripts `pulumi up` runs over SSH to prove the deployment works (see
 * TunnelVerification). Pure functions returning POSIX sh, so the local lab and the VM lab
 * run the very same text against their hosts. Each script is bounded, prints one line
 * saying what it checked, and on failure prints which step failed and where to look.
 */

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

const header = (what: string) => `#!/bin/sh
# wg-s2s deploy verification: ${what}
set -u
fail() { echo "wg-s2s verification FAILED: $*" >&2; exit 1; }
`;

/** Waits for cloud-init to finish and fails if it reported any error. */
export function waitForCloudInitScript(host: string, seconds: number): string {
  return `${header(`cloud-init finished without errors on ${host}`)}
if ! command -v cloud-init >/dev/null 2>&1; then fail "no cloud-init on ${host}"; fi
timeout ${seconds} cloud-init status --wait >/dev/null 2>&1
status=$(cloud-init status 2>/dev/null | sed -n 's/^status: //p')
case "$status" in
  done) echo "cloud-init done on ${host}" ;;
  running|"") fail "cloud-init still running on ${host} after ${seconds}s; look at /var/log/cloud-init-output.log" ;;
  *) fail "cloud-init status '$status' on ${host}; look at: cloud-init status --long; /var/log/cloud-init-output.log" ;;
esac
`;
}

/** Waits until wg0 has a handshake younger than 3 minutes with every expected peer. */
export function handshakeScript(host: string, peerPublicKeys: string[], seconds: number): string {
  const peers = peerPublicKeys.map((k) => `'${k}'`).join(" ");
  return `${header(`WireGuard handshakes on ${host}`)}
deadline=$(( $(date +%s) + ${seconds} ))
while :; do
  now=$(date +%s)
  missing=""
  for peer in ${peers}; do
    last=$(wg show wg0 latest-handshakes 2>/dev/null | awk -v p="$peer" '$1 == p { print $2 }')
    if [ -z "$last" ] || [ "$last" -eq 0 ] || [ $(( now - last )) -gt 180 ]; then missing="$missing $peer"; fi
  done
  if [ -z "$missing" ]; then echo "wg0 on ${host}: recent handshake with ${peerPublicKeys.length} peer(s)"; exit 0; fi
  if [ "$now" -ge "$deadline" ]; then
    fail "no recent handshake on ${host} with:$missing after ${seconds}s; look at: wg show wg0; systemctl status wg-quick@wg0 wg-s2s-private-nic; the security group's UDP rule"
  fi
  sleep 5
done
`;
}

/** The seed's test: ping the remote test host; retried while routes settle. */
export function pingScript(from: string, target: string, seconds: number): string {
  return `${header(`ping ${target} from ${from}`)}
deadline=$(( $(date +%s) + ${seconds} ))
while :; do
  if out=$(ping -c 3 -W 2 ${target} 2>&1); then
    echo "ping ${from} -> ${target}: $(echo "$out" | grep -E 'packets transmitted|rtt' | tr '\\n' ' ')"
    exit 0
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    fail "${from} cannot ping ${target} after ${seconds}s; look at: ip route get ${target} (on ${from}); the VPC routes; nft list table inet wg_s2s (on both gateways); wg show wg0"
  fi
  sleep 3
done
`;
}
