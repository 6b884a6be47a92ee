/** @tier unit */
import { parse } from "yaml";
import { renderMetaData, renderNetworkConfig, scalewayMac } from "./seed";

describe("NoCloud seed", () => {
  it("meta-data carries instance id, hostname and the lab's keys", () => {
    const md = parse(renderMetaData({ instanceId: "wgvm0-a", hostname: "a", publicKeys: ["ssh-ed25519 AAAA lab"] }));
    expect(md).toEqual({ "instance-id": "wgvm0-a", "local-hostname": "a", "public-keys": ["ssh-ed25519 AAAA lab"] });
  });

  it("network-config: DHCP on the private NIC, static public address, both matched by MAC", () => {
    const nc = parse(
      renderNetworkConfig([
        { id: "public", mac: "52:54:00:00:01:02", pciSlot: 2, staticAddress: "198.51.100.10/24" },
        { id: "private", mac: "02:00:00:00:00:01", pciSlot: 5 },
      ]),
    );
    expect(nc).toEqual({
      version: 2,
      ethernets: {
        ens2: { match: { macaddress: "52:54:00:00:01:02" }, addresses: ["198.51.100.10/24"], "accept-ra": false },
        ens5: { match: { macaddress: "02:00:00:00:00:01" }, dhcp4: true },
      },
    });
  });

  it("MACs survive YAML 1.1 (PyYAML), where unquoted 52:54:00:00:04:02 is a base-60 integer", () => {
    const text = renderNetworkConfig([
      { id: "public", mac: "52:54:00:00:04:02", pciSlot: 2, staticAddress: "198.51.100.10/24" },
      { id: "private", mac: "02:00:00:00:00:04", pciSlot: 5 },
    ]);
    const nc = parse(text, { version: "1.1" });
    expect(nc.ethernets.ens2.match.macaddress).toBe("52:54:00:00:04:02");
    expect(nc.ethernets.ens5.match.macaddress).toBe("02:00:00:00:00:04");
    // Negative control: the same document without quotes is misread under 1.1.
    expect(typeof parse(text.replace(/"/g, ""), { version: "1.1" }).ethernets.ens2.match.macaddress).toBe("number");
  });

  it("MACs follow Scaleway's 02:00:00 prefix and reject out-of-range indexes", () => {
    expect(scalewayMac(3, 1)).toBe("02:00:00:00:03:01");
    expect(() => scalewayMac(256, 0)).toThrow();
  });
});
