/** Pure cloud-init renderers: plain specs in, byte-stable text out. No Pulumi here. */
export { renderGatewayCloudConfig, renderGatewayFiles, gatewayPackages, gatewayCommands } from "./gateway";
export type { GatewayFiles } from "./gateway";
export { renderTestHostCloudConfig } from "./testHost";
export { renderOperatorBundle, lanRoutes, BUNDLE_FILES } from "./operatorBundle";
export type { OperatorBundleOptions } from "./operatorBundle";
export { renderWireGuardConfig, tunnelRoutes } from "./wireguard";
export { renderForwardPolicy, renderFirewallUnit, NFT_TABLE } from "./firewall";
export type { ForwardPolicySpec } from "./firewall";
export { renderSysctlConfig } from "./sysctl";
export { renderDnsmasqConfig, classlessRoutes } from "./dnsmasq";
export { renderStaticRoutesScript } from "./staticRoutes";
export { WAIT_PRIVATE_NIC_SCRIPT } from "./privateNic";
export { PATHS, UNITS, WG_INTERFACE } from "./common";
export type * from "./types";
