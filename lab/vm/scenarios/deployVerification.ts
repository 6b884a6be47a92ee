/**
 * The deploy-verification scripts `pulumi up` runs over SSH (rendering/verificationScripts.ts),
 * the very same text, run against the VMs: cloud-init on every host, forwarding under the
 * loaded policy and handshakes on every gateway, and the seed's ping from the hub's test
 * host to every spoke's.
 */
import type { StackConfig } from "../../../config/types";
import { sshScript } from "../guest";
import { gateways, type VmScenario } from "./context";

export async function deployVerificationChecks(
  s: VmScenario,
  program: { config: StackConfig; outputs: Record<string, any> },
): Promise<void> {
  const scripts = await import("../../../rendering/verificationScripts");
  const { planTopology } = await import("../../../planning/topology");
  const topology = planTopology(program.config);
  const publicKeys: Record<string, string> = program.outputs.publicKeys ?? {};
  const t = {
    ...scripts.DEFAULT_VERIFICATION_TIMEOUTS,
    cloudInitSeconds: 300,
    handshakeSeconds: 240,
    pingSeconds: 120,
  };
  // Each script runs on its own VM: the hosts work at once, and the checks are recorded in
  // a fixed order afterwards.
  const runScript = async (name: string, host: (typeof s.hosts)[number], script: string, seconds: number) => {
    const r = await sshScript(s.target(host), script, (seconds + 60) * 1000);
    const said = (r.code === 0 ? r.stdout : r.stderr || r.stdout).trim().split("\n").pop() ?? "";
    return { name: `deploy verification: ${name}`, ok: r.code === 0, detail: said || `exit ${r.code}` };
  };
  const record = (results: { name: string; ok: boolean; detail: string }[]) => {
    for (const c of results) s.check(c.name, c.ok, c.detail);
  };
  record(
    await Promise.all(
      s.hosts.map((host) => {
        const label = `${host.site} ${host.role === "gateway" ? "gateway" : "test host"}`;
        return runScript(
          `cloud-init on ${host.id}`,
          host,
          scripts.waitForCloudInitScript(label, t.cloudInitSeconds),
          t.cloudInitSeconds,
        );
      }),
    ),
  );
  const perGateway = await Promise.all(
    gateways(s).map(async (gw) => {
      const forwarding = await runScript(
        `forwarding on ${gw.id}`,
        gw,
        scripts.forwardingScript(`${gw.site} gateway`, 30),
        30,
      );
      const site = topology.sites.find((x) => x.name === gw.site);
      // As `pulumi up` does: peers whose operator has yet to install the bundle are left out.
      const awaitsOperator = (name: string) => topology.sites.find((x) => x.name === name)?.awaitsOperator === true;
      const peers = (site?.peers ?? [])
        .filter((p) => !awaitsOperator(p.name))
        .map((p) => publicKeys[p.name])
        .filter((k): k is string => typeof k === "string");
      const handshakes = await runScript(
        `handshakes on ${gw.id}`,
        gw,
        scripts.handshakeScript(`${gw.site} gateway`, peers, t.handshakeSeconds),
        t.handshakeSeconds,
      );
      return [forwarding, handshakes];
    }),
  );
  record(perGateway.flat());
  for (const spoke of topology.spokes.filter((x) => x.onScaleway && x.testHostAddress)) {
    record([
      await runScript(
        `ping ${s.hubTest.id} -> ${spoke.name} test host`,
        s.hubTest,
        scripts.pingScript(`${topology.hub.name} test host`, spoke.testHostAddress!, t.pingSeconds),
        t.pingSeconds,
      ),
    ]);
  }
}
