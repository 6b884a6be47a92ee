/** @tier unit */
/**
 * The HA gateway's boot-time pieces that are not the agent: the script that names the private
 * NIC in keepalived's configuration (run against a stand-in `ip` printing what `ip -4 -o addr`
 * prints on an instance), and the units' order.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { shellcheck, withScratchDir } from "../../testkit/cloudInit";
import { HA_FILES, HA_KEEPALIVED_CONF_SCRIPT, PRIVATE_INTERFACE_PLACEHOLDER, haGatewayParts } from "./hubGateway";
import { renderKeepalivedConf } from "./keepalived";
import type { GatewayHaSpec } from "../../planning/specs";

const IP_OUTPUT = `1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
2: ens2    inet 51.15.0.7/32 scope global ens2\\       valid_lft forever preferred_lft forever
3: ens5    inet 192.168.0.4/24 metric 100 brd 192.168.0.255 scope global dynamic ens5\\       valid_lft 3000sec preferred_lft 3000sec
4: ens6    inet 192.168.0.44/24 scope global ens6\\       valid_lft forever preferred_lft forever
`;

const SPEC: GatewayHaSpec = {
  name: "gateway-a",
  ownAddress: "192.168.0.2",
  peerAddress: "192.168.0.4",
  virtualRouterId: 52,
  zone: "fr-par-1",
  region: "fr-par",
  serviceIpId: "11111111-1111-4111-8111-111111111111",
  serviceIpAddress: "51.15.0.9",
  privateNetworkId: "22222222-2222-4222-8222-222222222222",
  vpcId: "33333333-3333-4333-8333-333333333333",
  routeTag: "wg-s2s-ha:11111111-1111-4111-8111-111111111111",
  apiSecretKey: "44444444-4444-4444-8444-444444444444",
};

/** Runs the script with its two paths moved into `dir` and `ip` answering IP_OUTPUT. */
function runScript(dir: string, address: string): { status: number | null; conf?: string; stderr: string } {
  const template = path.join(dir, "keepalived.conf.in");
  const conf = path.join(dir, "keepalived.conf");
  const script = HA_KEEPALIVED_CONF_SCRIPT.split(HA_FILES.keepalivedTemplate)
    .join(template)
    .split(HA_FILES.keepalivedConf)
    .join(conf);
  fs.writeFileSync(path.join(dir, "script"), script, { mode: 0o755 });
  fs.writeFileSync(path.join(dir, "ip"), `#!/bin/sh\nprintf '%s' '${IP_OUTPUT}'\n`, { mode: 0o755 });
  fs.writeFileSync(
    template,
    renderKeepalivedConf({
      name: "gateway-b",
      interface: PRIVATE_INTERFACE_PLACEHOLDER,
      ownAddress: "192.168.0.4",
      peerAddress: "192.168.0.2",
      virtualRouterId: 52,
    }),
  );
  const r = spawnSync("sh", [path.join(dir, "script"), address], {
    encoding: "utf8",
    env: { PATH: `${dir}:/usr/bin:/bin` },
  });
  return { status: r.status, conf: fs.existsSync(conf) ? fs.readFileSync(conf, "utf8") : undefined, stderr: r.stderr };
}

describe("keepalived's configuration on an HA gateway", () => {
  test("the script passes shellcheck", () => {
    const r = shellcheck(HA_KEEPALIVED_CONF_SCRIPT);
    expect(r).toEqual({ ok: true, output: "" });
  });

  test("names the interface that holds the gateway's address, and nothing else changes", () =>
    withScratchDir((dir) => {
      const r = runScript(dir, "192.168.0.4");
      expect(r.status).toBe(0);
      const template = fs.readFileSync(path.join(dir, "keepalived.conf.in"), "utf8");
      expect(r.conf).toBe(template.replace(`interface ${PRIVATE_INTERFACE_PLACEHOLDER}\n`, "interface ens5\n"));
      expect(r.conf).not.toContain(PRIVATE_INTERFACE_PLACEHOLDER);
    }));

  test("negative control: no interface holds the address (192.168.0.44 is not .4) -> fails, writes nothing", () =>
    withScratchDir((dir) => {
      const r = runScript(dir, "192.168.0.40");
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/no interface holds 192\.168\.0\.40/);
      expect(r.conf).toBeUndefined();
    }));

  test("keepalived waits for that script, which waits for the private NIC", () => {
    const parts = haGatewayParts(SPEC, 52435);
    const file = (p: string) => parts.files.find((f) => f.path === p)!.content;
    expect(file(HA_FILES.keepalivedDropIn)).toMatch(
      /^Requires=wg-s2s-ha-config\.service\nAfter=wg-s2s-ha-config\.service$/m,
    );
    expect(file(HA_FILES.configUnit)).toMatch(/^After=wg-s2s-private-nic\.service$/m);
    expect(file(HA_FILES.configUnit)).toMatch(
      /^ExecStart=\/usr\/local\/sbin\/wg-s2s-ha-keepalived-conf 192\.168\.0\.2$/m,
    );
    expect(parts.files.find((f) => f.path === "/etc/wg-s2s/ha-api-key")!.permissions).toBe("0600");
  });

  test("refuses an API key that is not one, without echoing it", () => {
    expect(() => haGatewayParts({ ...SPEC, apiSecretKey: "pasted\nsomething-secret" }, 52435)).toThrow(
      /^ha gateway: apiSecretKey is not an IAM secret key \(a UUID\)$/,
    );
  });
});
