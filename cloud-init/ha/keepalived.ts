/**
 * keepalived.conf for one gateway of the HA hub: a VRRP election between the two gateways,
 * unicast over the private network (multicast and broadcast are rate-limited there), with
 * no virtual address (a private network has none: VPC routes and the flexible IP are moved
 * through the API by the agent instead). Pure; docs/ha.md explains the choices.
 *  - Both start BACKUP with nopreempt and the same base priority: a gateway that comes back
 *    never takes over from the active one by itself.
 *  - chk_holder (weight +HOLDER_WEIGHT): the gateway that holds the service IP has the
 *    higher priority, so when a partition heals and two masters meet, the one without the
 *    IP steps down and nothing moves.
 *  - chk_tunnel (weight 0: failing means FAULT): the tunnel matches the agent's state.
 *  - notify_*: the agent; FAULT and STOP take the tunnel down like BACKUP.
 *  - One host-scoped marker address on lo as the "virtual" address: keepalived reports an
 *    instance without any as a configuration error ("No VIP specified; at least one is
 *    sensible", vrrp_parser.c), which `keepalived -t` would fail on. It never leaves the
 *    host, and it shows which gateway keepalived made master (`ip addr show dev lo`).
 */
import { HA_PATHS } from "./agent";
import { assertIntegerInRange, assertSiteName, plainAddress } from "../guards";

export const HOLDER_WEIGHT = 50;

/** The marker address of a virtual router id: link-local, host scope, on lo. */
export function masterMarker(virtualRouterId: number): string {
  return `169.254.253.${virtualRouterId}`;
}

export interface KeepalivedSpec {
  /** This gateway's name (router_id), e.g. "hub-a". */
  name: string;
  /** The private NIC's interface name, resolved on the host (the name is not guaranteed on Scaleway). */
  interface: string;
  /** This gateway's and the other gateway's private addresses (bare). */
  ownAddress: string;
  peerAddress: string;
  /** 1-255, the same on both gateways and unique on the private network. */
  virtualRouterId: number;
  /** Same on both (default 100): the holder's weight decides, not the order of creation. */
  priority?: number;
  /** VRRP advertisement interval in seconds: a dead master is noticed after about 3 of them. */
  advertInterval?: number;
  agentPath?: string;
}

export function renderKeepalivedConf(spec: KeepalivedSpec): string {
  const name = assertSiteName(spec.name, "keepalived: name");
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(spec.interface)) {
    throw new Error(`keepalived: interface "${spec.interface}" is not an interface name`);
  }
  const own = plainAddress(spec.ownAddress, "keepalived: ownAddress");
  const peer = plainAddress(spec.peerAddress, "keepalived: peerAddress");
  if (own === peer)
    throw new Error(`keepalived: ownAddress and peerAddress are both ${own}: give each gateway its own`);
  const vrid = assertIntegerInRange(spec.virtualRouterId, 1, 255, "keepalived: virtualRouterId");
  const priority = assertIntegerInRange(spec.priority ?? 100, 1, 254 - HOLDER_WEIGHT, "keepalived: priority");
  const advert = assertIntegerInRange(spec.advertInterval ?? 1, 1, 10, "keepalived: advertInterval");
  const agent = spec.agentPath ?? HA_PATHS.agent;
  if (!/^\/[A-Za-z0-9._/-]+$/.test(agent))
    throw new Error(`keepalived: agentPath "${agent}" is not a plain absolute path`);
  return `# The HA hub's VRRP election (scaleway-wireguard-s2s). Unicast: multicast is rate-limited
# on Scaleway private networks. No virtual address: ${agent} moves the service IP and
# the VPC routes through Scaleway's API.
global_defs {
    router_id ${name}
    script_user root
    enable_script_security
}

vrrp_script chk_holder {
    script "${agent} check"
    interval 2
    timeout 5
    weight ${HOLDER_WEIGHT}
    rise 1
    fall 1
}

vrrp_script chk_tunnel {
    script "${agent} health"
    interval 2
    timeout 5
    rise 1
    fall 2
}

vrrp_instance wg_s2s_hub {
    state BACKUP
    nopreempt
    interface ${spec.interface}
    virtual_router_id ${vrid}
    priority ${priority}
    advert_int ${advert}
    unicast_src_ip ${own}
    unicast_peer {
        ${peer}
    }
    virtual_ipaddress {
        ${masterMarker(vrid)}/32 dev lo scope host
    }
    track_script {
        chk_holder
        chk_tunnel
    }
    notify_master "${agent} master"
    notify_backup "${agent} backup"
    notify_fault "${agent} backup"
    notify_stop "${agent} backup"
}
`;
}
