/**
 * The shell scripts `pulumi up` runs over SSH to prove the deployment works (see
 * TunnelVerification). Pure functions returning POSIX sh, so the local lab and the VM lab
 * run the very same text against their hosts. Each script is bounded, prints one line
 * saying what it checked, and on failure prints which step failed and where to look.
 *
 * Every value that reaches the text is either validated (keys, addresses, seconds) or
 * single-quoted, so a label can never turn into shell syntax.
 */
import { PATHS, UNITS } from "../cloud-init/common";
import { assertIntegerInRange, assertWireGuardKey, plainAddress } from "../cloud-init/guards";

export interface VerificationTimeouts {
  /** cloud-init on a fresh instance: packages, then the tunnel. */
  cloudInitSeconds: number;
  /** From cloud-init done to a WireGuard handshake with every peer. */
  handshakeSeconds: number;
  /**
   * From cloud-init done to the forward policy loaded: at once where the image ships nft;
   * on an image without it, after wg-s2s-extras.service installed nftables (it retries
   * every 2 minutes while the mirror does not answer).
   */
  forwardingSeconds: number;
  /**
   * Ping retries across the tunnel. VPC route changes "may take up to 30 minutes to
   * propagate" and reach a host at its next DHCP lease (docs-content vpc/how-to/manage-routing),
   * so the bound covers that, with lease renewals in between (PING_LEASE_RENEWAL).
   */
  pingSeconds: number;
}

/** While the ping fails: renew the local private NIC's DHCP lease every `everySeconds`, at most `max` times. */
export const PING_LEASE_RENEWAL = { everySeconds: 120, max: 15 } as const;

export const DEFAULT_VERIFICATION_TIMEOUTS: VerificationTimeouts = {
  cloudInitSeconds: 900,
  handshakeSeconds: 300,
  forwardingSeconds: 600,
  pingSeconds: 1800,
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
 * `wg show wg0 latest-handshakes` without wireguard-tools: the same "<public key><TAB>
 * <epoch seconds>" lines, read from the kernel over generic netlink (WG_CMD_GET_DEVICE,
 * include/uapi/linux/wireguard.h). Ubuntu's cloud image has python3 (cloud-init needs it)
 * but not wg(8), which the gateway installs only after the tunnel is up. Kernel
 * WireGuard only: wireguard-go answers on its own UAPI socket, and hosts with it have wg.
 * No backslashes in the text, so it survives the TypeScript template and sh quoting as is.
 */
export const KERNEL_HANDSHAKES_PY = `import base64, os, socket, struct, sys
NLM_F_REQUEST, NLM_F_DUMP, NLMSG_ERROR, NLMSG_DONE = 1, 0x300, 2, 3
def attrs(buf):
    off = 0
    while off + 4 <= len(buf):
        size, kind = struct.unpack_from("HH", buf, off)
        if size < 4:
            return
        yield kind & 0x3FFF, buf[off + 4:off + size]
        off += (size + 3) & ~3
def attr(kind, data):
    size = 4 + len(data)
    return struct.pack("HH", size, kind) + data + bytes((-size) % 4)
sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 16)
sock.bind((0, 0))
def request(what, family, flags, cmd, version, payload):
    body = struct.pack("BBH", cmd, version, 0) + payload
    sock.send(struct.pack("IHHII", 16 + len(body), family, NLM_F_REQUEST | flags, 1, 0) + body)
    replies = []
    while True:
        data, off = sock.recv(1 << 16), 0
        while off < len(data):
            size, kind = struct.unpack_from("IH", data, off)
            if kind == NLMSG_DONE:
                return replies
            if kind == NLMSG_ERROR:
                err = struct.unpack_from("i", data, off + 16)[0]
                if err:
                    sys.exit(what + ": " + os.strerror(-err))
                return replies
            replies.append(data[off + 20:off + size])
            off += (size + 3) & ~3
        if not flags & NLM_F_DUMP:
            return replies
family = [v for m in request("no kernel WireGuard", 0x10, 0, 3, 1, attr(2, b"wireguard" + bytes(1))) for k, v in attrs(m) if k == 1]
if not family:
    sys.exit("no kernel WireGuard (generic netlink family wireguard)")
for message in request("wg0", struct.unpack("H", family[0][:2])[0], NLM_F_DUMP, 0, 1, attr(2, b"wg0" + bytes(1))):
    for kind, peers in attrs(message):
        if kind != 8:
            continue
        for _, peer in attrs(peers):
            fields = dict(attrs(peer))
            seconds = struct.unpack("q", fields[6][:8])[0] if 6 in fields else 0
            print(base64.b64encode(fields[1]).decode() + chr(9) + str(seconds))
`;

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
# wg(8) when installed; otherwise the kernel, over netlink (the gateway installs
# wireguard-tools only after its tunnel is up, and not at all while the mirror is down).
kernel_handshakes=${shQuote(KERNEL_HANDSHAKES_PY)}
latest_handshakes() {
  if command -v wg >/dev/null 2>&1; then wg show wg0 latest-handshakes
  else python3 -c "$kernel_handshakes"
  fi
}
deadline=$(( $(date +%s) + ${seconds} ))
while :; do
  now=$(date +%s)
  if handshakes=$(latest_handshakes 2>&1); then
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
    fail "no recent handshake on $host after ${seconds}s with: \${missing}look at: networkctl status wg0; wg show wg0 (wireguard-tools); journalctl -u systemd-networkd; the peer's gateway; the security group's UDP rule"
  fi
  sleep 5
done
`;
}

/**
 * The gateway forwards under its policy: wg-s2s-firewall.service is active (it loaded the
 * forward policy, then switched forwarding on) and ip_forward is 1. Run once cloud-init
 * is done; waits up to `seconds` for the nftables safety net (see gatewayPackages). A
 * gateway whose policy did not load forwards nothing (it fails closed), so without this
 * check the ping would time out after half an hour with no word on why; this names the
 * unit and its last log lines.
 */
export function forwardingScript(host: string, seconds: number): string {
  boundSeconds(seconds, "forwarding wait");
  return `${header("forward policy loaded, forwarding on", host)}
deadline=$(( $(date +%s) + ${seconds} ))
while :; do
  state=$(systemctl is-active ${UNITS.firewall} 2>/dev/null)
  forward=$(cat /proc/sys/net/ipv4/ip_forward 2>/dev/null)
  if [ "$state" = active ] && [ "$forward" = 1 ]; then
    echo "forward policy loaded and forwarding on, on $host"
    exit 0
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then break; fi
  sleep 5
done
why=$(journalctl -u ${UNITS.firewall} -n 3 -o cat --no-pager 2>/dev/null | awk 'NR > 1 { printf "; " } { printf "%s", $0 }')
fail "forward policy not loaded on $host after ${seconds}s (${UNITS.firewall}: \${state:-unknown}; ip_forward=\${forward:-unknown}): it forwards nothing until the policy loads. \${why:+(last log: $why) }Look at: systemctl status ${UNITS.firewall}; command -v nft (package nftables); nft -c -f ${PATHS.forwardPolicy}"
`;
}

export interface PingRenewal {
  /** The pinging host's own private address: its interface is the one whose lease is renewed. */
  localAddress: string;
  everySeconds: number;
  max: number;
}

/**
 * The end-to-end test: ping the remote test host; retried while routes settle. With `renew`,
 * each `everySeconds` without success renews the DHCP lease of the interface holding
 * `localAddress` (`networkctl renew`, systemd-networkd as on Ubuntu), so VPC routes created
 * after the host's first lease arrive without waiting for its natural renewal. Bounded in
 * time (`seconds`) and count (`max`).
 */
export function pingScript(
  from: string,
  target: string,
  seconds: number,
  renew?: PingRenewal,
  /** Ping from this local address (a gateway pinging for a site without test host must leave from its LAN address: the far gateway forwards LAN-to-LAN flows only). */
  source?: string,
): string {
  boundSeconds(seconds, "ping");
  plainAddress(target, "pingScript: target");
  if (source !== undefined) plainAddress(source, "pingScript: source");
  const renewal = renew
    ? {
        local: plainAddress(renew.localAddress, "pingScript: localAddress"),
        every: boundSeconds(renew.everySeconds, "lease renewal interval"),
        max: assertIntegerInRange(renew.max, 0, 100, "lease renewals"),
      }
    : undefined;
  const renewBlock = renewal
    ? `
  if [ "$now" -ge "$next_renew" ] && [ "$renewals" -lt ${renewal.max} ]; then
    next_renew=$(( now + ${renewal.every} ))
    iface=$(ip -o -4 addr show | awk -v a=${renewal.local} '{ split($4, p, "/"); if (p[1] == a) { print $2; exit } }')
    if [ -z "$iface" ]; then
      note="; no interface holds ${renewal.local}, lease not renewed"
    elif command -v networkctl >/dev/null 2>&1 && timeout 30 networkctl renew "$iface" >/dev/null 2>&1; then
      renewals=$(( renewals + 1 ))
      echo "ping $host -> $target: no answer yet; renewed the DHCP lease of $iface ($renewals/${renewal.max}) for new VPC routes" >&2
    else
      note="; could not renew the DHCP lease of $iface (networkctl renew)"
    fi
  fi`
    : "";
  return `${header(`ping ${target}`, from)}
target=${target}
deadline=$(( $(date +%s) + ${seconds} ))
renewals=0
note=""${
    renewal
      ? `
next_renew=$(( $(date +%s) + ${renewal.every} ))`
      : ""
  }
while :; do
  if out=$(ping -c 3 -W 2 ${source !== undefined ? `-I ${source} ` : ""}"$target" 2>&1); then
    after=""
    if [ "$renewals" -gt 0 ]; then after=" (after $renewals DHCP lease renewal(s))"; fi
    echo "ping $host -> $target: $(printf '%s\\n' "$out" | grep -E 'packets transmitted|rtt' | tr '\\n' ' ')$after"
    exit 0
  fi
  now=$(date +%s)
  if [ "$now" -ge "$deadline" ]; then
    fail "$host cannot ping $target after ${seconds}s (last: $(printf '%s\\n' "$out" | grep -v '^$' | tail -n 1))\${note}; look at: ip route get $target (on $host); the VPC routes; nft list table inet wg_s2s (on both gateways); wg show wg0"
  fi${renewBlock}
  sleep 3
done
`;
}
