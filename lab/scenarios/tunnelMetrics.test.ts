/** @tier unit */
/** The rows `npm run lab` prints from a gateway's wg_s2s.prom, as the collector writes it. */
import { tunnelRows } from "./tunnelMetrics";

const PROM = `# HELP wg_s2s_peer_ping_up 1 when the peer's tunnel address answered.
# TYPE wg_s2s_peer_ping_up gauge
wg_s2s_peer_ping_up{site="scaleway",interface="wg0",peer="office",address="172.16.0.3"} 0
wg_s2s_peer_ping_up{site="scaleway",interface="wg0",peer="onprem",address="172.16.0.2"} 1
wg_s2s_peer_ping_rtt_seconds{site="scaleway",interface="wg0",peer="onprem",address="172.16.0.2"} 0.000412
wg_s2s_peer_latest_handshake_timestamp_seconds{site="scaleway",interface="wg0",peer="onprem"} 1765150000
wg_s2s_peer_latest_handshake_timestamp_seconds{site="scaleway",interface="wg0",peer="office"} 0
wg_s2s_peer_receive_bytes_total{site="scaleway",interface="wg0",peer="onprem"} 1480
wg_s2s_peer_transmit_bytes_total{site="scaleway",interface="wg0",peer="onprem"} 2368
wg_s2s_peer_endpoint_info{site="scaleway",interface="wg0",peer="onprem",endpoint="198.51.100.11:52435"} 1
`;

test("one row per tunnel: ping, RTT in ms, handshake age, bytes, endpoint; a never-shaken peer says so", () => {
  expect(tunnelRows("scaleway-gw", PROM, 1765150042)).toEqual([
    {
      gateway: "scaleway-gw",
      peer: "office",
      pingUp: false,
      rttMs: null,
      handshakeAgeSeconds: null,
      receiveBytes: null,
      transmitBytes: null,
      endpoint: null,
    },
    {
      gateway: "scaleway-gw",
      peer: "onprem",
      pingUp: true,
      rttMs: 0.41,
      handshakeAgeSeconds: 42,
      receiveBytes: 1480,
      transmitBytes: 2368,
      endpoint: "198.51.100.11:52435",
    },
  ]);
});
