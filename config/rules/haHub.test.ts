/** @tier unit */
/**
 * The HA hub's keys (`scalewaySite.gateways`, `secondGatewayAddress`): the defaults, and each
 * refusal naming the key with a fix that fits, before any resource is declared.
 */
import { loadStackConfig } from "../validation";
import { refusalLines } from "../../testkit/configRefusal";

const ADMIN = { adminCidrs: ["203.0.113.7/32"] };

/** Every "key: problem" line of the refusal, or [] when the config loads. */

describe("scalewaySite.gateways", () => {
  it("defaults to one gateway, with no second address", () => {
    const hub = loadStackConfig(ADMIN).scalewaySite;
    expect([hub.gateways, hub.secondGatewayAddress]).toEqual([1, undefined]);
  });

  it("2: the second gateway takes .4 of the subnet, moving with it", () => {
    expect(loadStackConfig({ ...ADMIN, scalewaySite: { gateways: 2 } }).scalewaySite.secondGatewayAddress).toBe(
      "192.168.0.4",
    );
    const moved = loadStackConfig({ ...ADMIN, scalewaySite: { gateways: 2, subnet: "192.168.50.0/24" } });
    expect(moved.scalewaySite.secondGatewayAddress).toBe("192.168.50.4");
    // As Pulumi passes it: a string.
    expect(loadStackConfig({ ...ADMIN, scalewaySite: { gateways: "2" } }).scalewaySite.gateways).toBe(2);
  });

  it("refuses any other count, with the two that work", () => {
    const [line, ...rest] = refusalLines({ scalewaySite: { gateways: 3 } });
    expect(rest).toEqual([]);
    expect(line).toMatch(/^scalewaySite\.gateways: is 3; the hub has one gateway, or two for an HA hub/);
    expect(line).toMatch(/pulumi config set --path 'scalewaySite\.gateways' 2/);
    expect(refusalLines({ scalewaySite: { gateways: 0 } })[0]).toMatch(/^scalewaySite\.gateways: is 0/);
  });

  it("refuses static route propagation with two gateways: a host's route names one of them", () => {
    const [line, ...rest] = refusalLines({ scalewaySite: { gateways: 2, routePropagation: "static" } });
    expect(rest).toEqual([]);
    expect(line).toMatch(/^scalewaySite\.routePropagation: is static, but an HA hub moves its routes/);
    expect(line).toMatch(/pulumi config set --path 'scalewaySite\.routePropagation' vpc-route/);
    // Negative control: static with one gateway is fine.
    expect(refusalLines({ scalewaySite: { routePropagation: "static" } })).toEqual([]);
  });

  it("refuses a second address without a second gateway", () => {
    const [line] = refusalLines({ scalewaySite: { secondGatewayAddress: "192.168.0.4" } });
    expect(line).toMatch(/^scalewaySite\.secondGatewayAddress: is set, but the hub has one gateway/);
    expect(line).toMatch(/pulumi config rm --path 'scalewaySite\.secondGatewayAddress'/);
  });

  it("refuses a second address the gateway or the test host holds, or one outside the subnet, suggesting a free one", () => {
    expect(refusalLines({ scalewaySite: { gateways: 2, secondGatewayAddress: "192.168.0.2" } })).toEqual([
      expect.stringMatching(
        /^scalewaySite\.secondGatewayAddress: is 192\.168\.0\.2, the same address as scalewaySite\.gatewayAddress.*'scalewaySite\.secondGatewayAddress' 192\.168\.0\.4`/,
      ),
    ]);
    expect(refusalLines({ scalewaySite: { gateways: 2, secondGatewayAddress: "192.168.0.3" } })[0]).toMatch(
      /same address as scalewaySite\.testHostAddress/,
    );
    expect(refusalLines({ scalewaySite: { gateways: 2, gatewayAddress: "192.168.0.4" } })[0]).toMatch(
      /^scalewaySite\.secondGatewayAddress: is 192\.168\.0\.4, the same address as scalewaySite\.gatewayAddress.*192\.168\.0\.5`/,
    );
    expect(refusalLines({ scalewaySite: { gateways: 2, secondGatewayAddress: "10.0.0.4" } })[0]).toMatch(
      /^scalewaySite\.secondGatewayAddress: 10\.0\.0\.4 is outside scalewaySite\.subnet/,
    );
    expect(refusalLines({ scalewaySite: { gateways: 2, secondGatewayAddress: "192.168.0.1" } })[0]).toMatch(
      /is reserved by Scaleway/,
    );
  });

  it("joining an existing network: the second address must be stated too", () => {
    const joined = {
      privateNetworkId: "11111111-2222-3333-4444-555555555555",
      subnet: "172.20.16.0/22",
      gatewayAddress: "172.20.16.10",
      gateways: 2,
    };
    expect(refusalLines({ scalewaySite: joined })).toEqual([
      expect.stringMatching(
        /^scalewaySite\.secondGatewayAddress: is required when joining an existing private network/,
      ),
    ]);
    expect(refusalLines({ scalewaySite: { ...joined, secondGatewayAddress: "172.20.16.11" } })).toEqual([]);
  });
});
