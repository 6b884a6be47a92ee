/**
 * The Scaleway API stand-in's state (lab/standins/scalewayApi.ts) for an HA hub's two gateways:
 * A, the gateway under test (the metadata service answers for it), and B, which holds the
 * service IP and whose private NIC is the next hop of the routes given. One place for the pair
 * that the failover agent's test and the stand-in's own test both start from.
 */
import type { ScalewayApiState, StandInRoute } from "../lab/standins/scalewayApi";

export const SERVER_A = "aaaaaaaa-0000-4000-8000-000000000001";
export const SERVER_B = "bbbbbbbb-0000-4000-8000-000000000002";
export const NIC_A = "aaaaaaaa-0000-4000-8000-0000000000a1";
export const NIC_B = "bbbbbbbb-0000-4000-8000-0000000000b1";
/** The hub's private network. */
export const PN = "cccccccc-0000-4000-8000-000000000003";
export const VPC = "dddddddd-0000-4000-8000-000000000004";
/** The service IP. */
export const IP_ID = "eeeeeeee-0000-4000-8000-000000000005";

/** Gateways A and B, the service IP (203.0.113.10) on B, and `routes`. */
export function haPairState(opts: {
  token: string;
  routes: StandInRoute[];
  metadataLagsIps?: boolean;
}): ScalewayApiState {
  return {
    zone: "fr-par-1",
    region: "fr-par",
    token: opts.token,
    servers: [
      {
        id: SERVER_A,
        name: "hub-a",
        metadataSources: ["127.0.0.1"],
        ...(opts.metadataLagsIps !== undefined ? { metadataLagsIps: opts.metadataLagsIps } : {}),
        privateNics: [{ id: NIC_A, privateNetworkId: PN, macAddress: "02:00:00:00:00:0a" }],
      },
      {
        id: SERVER_B,
        name: "hub-b",
        metadataSources: [],
        privateNics: [{ id: NIC_B, privateNetworkId: PN, macAddress: "02:00:00:00:00:0b" }],
      },
    ],
    ips: [{ id: IP_ID, address: "203.0.113.10", serverId: SERVER_B, project: "p" }],
    routes: opts.routes,
  };
}
