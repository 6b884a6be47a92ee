"""Production shape from Python: an existing Scaleway private network (the hub) joined to one
office over WireGuard. Nothing of the network or its VPC is created or changed.

    pulumi package add https://github.com/OWNER/scaleway-wireguard-s2s@v0.1.0

generates the `pulumi_wg_s2s` SDK from the component's schema and installs it in the venv.
"""

import pulumi
import pulumi_wg_s2s as wg_s2s

config = pulumi.Config()

vpn = wg_s2s.SiteToSiteVpn(
    "wg-s2s",
    admin_cidrs=[config.require("adminCidr")],
    scaleway_site=wg_s2s.HubSiteArgs(
        private_network_id=config.require("privateNetworkId"),
        subnet=config.require("networkSubnet"),
        gateway_address=config.require("hubGatewayAddress"),
        test_host=False,
    ),
    remote_sites=[
        wg_s2s.RemoteSiteArgs(
            name="office",
            kind=wg_s2s.RemoteSiteKind.EXTERNAL,
            subnet="192.168.10.0/24",
            gateway_address="192.168.10.1",
            tunnel_address="172.16.0.3",
            public_ip=config.require("officePublicIp"),
            route_propagation=wg_s2s.RoutePropagation.STATIC,
        )
    ],
)

pulumi.export("hubPublicIp", vpn.gateway_public_ips["scaleway"])
# Secret: hand it to the office's operator (`pulumi stack output --show-secrets officeBundle`).
pulumi.export("officeBundle", vpn.external_site_bundles["office"])
# Pending until the office's operator has installed the bundle; then what `pulumi up` checked.
pulumi.export("officeNextStep", vpn.external_sites["office"])
pulumi.export("verification", vpn.verification)
