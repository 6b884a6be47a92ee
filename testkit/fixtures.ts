/**
 * Config fixtures shared by the tests that run the program: one place for the sites they
 * deploy, so a change to the config model is made once.
 */

/** An operator's address (TEST-NET-3): the program refuses to run without adminCidrs. */
export const ADMIN_CIDRS = ["203.0.113.7/32"];

/**
 * The simulated `onprem` spoke as a user writes it: the program's default remote site
 * (config/schema.ts), spelled out for the tests that list it beside other sites.
 */
export const ONPREM_SITE = Object.freeze({
  name: "onprem",
  subnet: "192.168.1.0/24",
  gatewayAddress: "192.168.1.2",
  testHostAddress: "192.168.1.3",
  tunnelAddress: "172.16.0.2",
});

/** An external office LAN whose DHCP its gateway owns, keeping the LAN's own router. */
export const OFFICE_EXTERNAL_SITE = Object.freeze({
  name: "office",
  kind: "external",
  subnet: "192.168.10.0/24",
  gatewayAddress: "192.168.10.1",
  testHostAddress: "192.168.10.20",
  tunnelAddress: "172.16.0.3",
  publicIp: "198.51.100.77",
  routePropagation: "dhcp",
  lanRouter: "192.168.10.254",
});

/**
 * The hub's private network as the lab's VPC-router stand-in sees it: the gateway and test
 * host leases and one custom route to the remote LAN via the gateway. Only the fields the
 * stand-in reads; shared by its unit and on-the-wire tests.
 */
export const VPC_ROUTER_HUB_SITE = Object.freeze({
  index: 0,
  name: "scaleway",
  kind: "hub",
  subnet: "192.168.0.0/24",
  vpcRouter: {
    privateNic: { name: "ens5", address: "192.168.0.1/24" },
    leases: [
      { mac: "02:00:00:00:00:01", address: "192.168.0.2", host: "scaleway-gw" },
      { mac: "02:00:00:00:00:02", address: "192.168.0.3", host: "scaleway-th" },
    ],
    customRoutes: [{ destination: "192.168.1.0/24", nexthop: "192.168.0.2", resource: "r" }],
  },
});
