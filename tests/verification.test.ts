/** @tier program */
/**
 * Deploy verification wiring under mocks: which SSH checks `pulumi up` runs, against which
 * host, through which jump host, with which pinned host key, and that the deploy key is a
 * secret in every one of them. The scripts themselves run for real in
 * rendering/verificationScripts.test.ts and against the VM lab.
 */
import { DeclaredResource, ProgramRun, runProgram } from "../testkit/programRun";

const COMMAND = "command:remote:Command";
const config = { adminCidrs: ["203.0.113.7/32"] };
const publicIps = { scaleway: "198.51.100.10", onprem: "198.51.100.11" };

describe("deploy verification", () => {
  let run: ProgramRun;
  const cmd = (name: string): DeclaredResource => {
    const r = run.ofType(COMMAND).find((c) => c.name === `wg-s2s-verify-${name}`);
    if (!r)
      throw new Error(
        `no command ${name}: ${run
          .ofType(COMMAND)
          .map((c) => c.name)
          .join(", ")}`,
      );
    return r;
  };
  beforeAll(async () => {
    run = await runProgram({ config, publicIps, keySeed: "verify" });
  });

  test("checks cloud-init on every host, forwarding and a handshake on every gateway, and the ping test", () => {
    expect(
      run
        .ofType(COMMAND)
        .map((c) => c.name.replace("wg-s2s-verify-", ""))
        .sort(),
    ).toEqual([
      "onprem-forwarding",
      "onprem-gateway-cloud-init",
      "onprem-handshake",
      "onprem-ping",
      "onprem-test-host-cloud-init",
      "scaleway-forwarding",
      "scaleway-gateway-cloud-init",
      "scaleway-handshake",
      "scaleway-test-host-cloud-init",
    ]);
  });

  test("gateways are reached directly, as root, with their pinned host key", () => {
    const c = cmd("scaleway-gateway-cloud-init").inputs.connection;
    expect(c).toMatchObject({
      host: "198.51.100.10",
      user: "root",
      hostKey: run.outputs.sshHostKeys["scaleway/gateway"],
    });
    expect(c.hostKey).toMatch(/^ssh-ed25519 /);
  });

  test("test hosts are reached through their own gateway, both host keys pinned", () => {
    const c = cmd("onprem-test-host-cloud-init").inputs.connection;
    expect(c).toMatchObject({ host: "192.168.1.3", hostKey: run.outputs.sshHostKeys["onprem/test-host"] });
    expect(c.proxy).toMatchObject({
      host: "198.51.100.11",
      user: "root",
      hostKey: run.outputs.sshHostKeys["onprem/gateway"],
    });
  });

  test("the ping runs on the hub's test host towards the remote test host", () => {
    const ping = cmd("onprem-ping").inputs;
    expect(ping.connection.host).toBe("192.168.0.3");
    expect(ping.create).toContain("192.168.1.3");
    expect(ping.triggers).toEqual(["wg-s2s-scaleway-test-host-id"]);
  });

  test("the forwarding check runs on each gateway after its cloud-init, and the ping waits for it", () => {
    const f = cmd("scaleway-forwarding");
    expect(f.inputs.connection).toMatchObject({ host: "198.51.100.10", user: "root" });
    expect(f.inputs.create).toContain("systemctl is-active wg-s2s-firewall.service");
    expect(f.options.dependsOn).toContain("wg-s2s-verify-scaleway-gateway-cloud-init");
    expect(cmd("onprem-ping").options.dependsOn).toEqual(
      expect.arrayContaining(["wg-s2s-verify-scaleway-forwarding", "wg-s2s-verify-onprem-forwarding"]),
    );
  });

  test("the handshake check names the peer and its public key", () => {
    const script = cmd("scaleway-handshake").inputs.create as string;
    expect(script).toContain(run.outputs.publicKeys.onprem);
    expect(script).toContain("onprem");
  });

  test("the deploy key is secret in every command and never in a script", () => {
    const deployKey = run.outputs.deployPrivateKey as string;
    expect(deployKey).toMatch(/BEGIN OPENSSH PRIVATE KEY/);
    for (const c of run.ofType(COMMAND)) {
      expect(c.secretInputs.some((p) => p === "connection" || p.startsWith("connection."))).toBe(true);
      expect(c.inputs.create).not.toContain(deployKey.trim().split("\n")[1]);
    }
  });

  test("verify=false declares no command and says so in the output", async () => {
    const off = await runProgram({ config: { ...config, verify: false }, publicIps, keySeed: "verify" });
    expect(off.ofType(COMMAND)).toEqual([]);
    // Keyed by remote site, as when the checks run.
    expect(Object.keys(off.outputs.verification)).toEqual(off.config.remoteSites.map((s) => s.name));
    for (const result of Object.values(off.outputs.verification)) expect(result).toBe("skipped: verify is false");
  });
});
