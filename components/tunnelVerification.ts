import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { ScalewaySite } from "./scalewaySite";
import type { TopologyPlan } from "../planning/topology";
import {
  DEFAULT_VERIFICATION_TIMEOUTS,
  forwardingScript,
  handshakeScript,
  PING_LEASE_RENEWAL,
  pingScript,
  VerificationTimeouts,
  waitForCloudInitScript,
} from "../rendering/verificationScripts";

export interface TunnelVerificationArgs {
  plan: TopologyPlan;
  sites: Record<string, ScalewaySite>;
  gatewayPublicIps: Record<string, pulumi.Output<string>>;
  /** Site name -> WireGuard public key. */
  publicKeys: Record<string, pulumi.Output<string>>;
  /** `site/role` -> pinned SSH host public key (injected through cloud-init). */
  hostPublicKeys: Record<string, pulumi.Output<string>>;
  deployPrivateKey: pulumi.Output<string>;
  timeouts?: VerificationTimeouts;
}

/**
 * After the instances exist, proves over SSH that the deployment works: cloud-init
 * finished on every Scaleway host, every gateway forwards under its loaded policy and has
 * a fresh handshake with each peer, and
 * the hub's test host pings each remote test host (the end-to-end test). Any failure fails
 * `pulumi up` with the step and what to look at. Host keys are pinned: each host's SSH
 * key pair is generated in state and installed by cloud-init, so a man in the middle is
 * refused instead of trusted on first use. Test hosts are reached through their gateway.
 */
export class TunnelVerification extends pulumi.ComponentResource {
  /** Site name -> the ping test's summary line. */
  public readonly pingResults: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: TunnelVerificationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("wg-s2s:index:TunnelVerification", name, {}, opts);
    const t = args.timeouts ?? DEFAULT_VERIFICATION_TIMEOUTS;
    const { plan } = args;

    // Bounded: ~60 dials of up to 15 s while the instance boots.
    const dial = { user: "root", privateKey: args.deployPrivateKey, dialErrorLimit: 60, perDialTimeout: 15 };
    const gatewayConnection = (site: string) => ({
      ...dial,
      host: args.gatewayPublicIps[site],
      hostKey: args.hostPublicKeys[`${site}/gateway`],
    });
    const testHostConnection = (site: string) => ({
      ...dial,
      host: plan.sites.find((s) => s.name === site)!.testHostAddress!,
      hostKey: args.hostPublicKeys[`${site}/test-host`],
      proxy: gatewayConnection(site),
    });
    const run = (
      id: string,
      connection: command.types.input.remote.ConnectionArgs,
      script: pulumi.Input<string>,
      triggers: pulumi.Input<string>[],
      dependsOn: pulumi.Resource[],
    ) =>
      new command.remote.Command(
        `${name}-${id}`,
        { connection, create: script, triggers, logging: "stdoutAndStderr" },
        // Nothing to undo on destroy; re-run whenever a server is replaced.
        { parent: this, dependsOn },
      );

    const built = plan.sites.filter((s) => s.onScaleway);
    const cloudInitDone: Record<string, command.remote.Command[]> = {};
    for (const site of built) {
      const s = args.sites[site.name];
      cloudInitDone[site.name] = [
        run(
          `${site.name}-gateway-cloud-init`,
          gatewayConnection(site.name),
          waitForCloudInitScript(`${site.name} gateway`, t.cloudInitSeconds),
          s.gateways.map((g) => g.server.id),
          s.gateways.map((g) => g.privateNic),
        ),
      ];
      if (s.testHost) {
        cloudInitDone[site.name].push(
          run(
            `${site.name}-test-host-cloud-init`,
            testHostConnection(site.name),
            waitForCloudInitScript(`${site.name} test host`, t.cloudInitSeconds),
            [s.testHost.server.id],
            [s.testHost.privateNic, ...s.gateways.map((g) => g.privateNic)],
          ),
        );
      }
    }

    // Every gateway we built forwards under its policy; a policy that did not load fails
    // here with the unit's log, instead of after the ping's half-hour wait.
    const forwarding = built.map((site) =>
      run(
        `${site.name}-forwarding`,
        gatewayConnection(site.name),
        forwardingScript(`${site.name} gateway`, t.forwardingSeconds),
        args.sites[site.name].gateways.map((g) => g.server.id),
        cloudInitDone[site.name].slice(0, 1),
      ),
    );

    // External peers whose operator has not installed the bundle yet are left out: their
    // gateway cannot shake hands before this very `pulumi up` hands out its bundle (step 1
    // of the two-step external deploy; the `externalSites` output lists them as pending).
    const checkable = (name: string) => !plan.sites.find((s) => s.name === name)!.awaitsOperator;
    const handshakes: command.remote.Command[] = [];
    for (const site of built) {
      const expected = site.peers.filter((p) => checkable(p.name));
      if (expected.length === 0) continue;
      // Named peers, so a failure says which site is silent, not only which key.
      const peers = expected.map((p) => args.publicKeys[p.name].apply((publicKey) => ({ name: p.name, publicKey })));
      const script = pulumi.all(peers).apply((ps) => handshakeScript(`${site.name} gateway`, ps, t.handshakeSeconds));
      // A handshake needs both ends up: wait for the peers' cloud-init too where we built them.
      const after = [site.name, ...expected.map((p) => p.name)].flatMap((n) => cloudInitDone[n]?.slice(0, 1) ?? []);
      handshakes.push(
        run(
          `${site.name}-handshake`,
          gatewayConnection(site.name),
          script,
          args.sites[site.name].gateways.map((g) => g.server.id),
          after,
        ),
      );
    }

    const pings: Record<string, pulumi.Output<string>> = {};
    // From the hub's test host; a hub without one (e.g. joined to an existing network)
    // pings from its gateway, leaving from the gateway's LAN address.
    const hubSite = args.sites[plan.hub.name];
    const fromTestHost = hubSite.testHost !== undefined;
    for (const spoke of plan.spokes.filter((s) => s.testHostAddress)) {
      if (spoke.awaitsOperator) {
        pings[spoke.name] = pulumi.output(`pending: ${spoke.name}'s operator has not installed the bundle yet`);
        continue;
      }
      const ping = run(
        `${spoke.name}-ping`,
        fromTestHost ? testHostConnection(plan.hub.name) : gatewayConnection(plan.hub.name),
        fromTestHost
          ? pingScript(`${plan.hub.name} test host`, spoke.testHostAddress!, t.pingSeconds, {
              localAddress: plan.hub.testHostAddress!,
              ...PING_LEASE_RENEWAL,
            })
          : pingScript(
              `${plan.hub.name} gateway`,
              spoke.testHostAddress!,
              t.pingSeconds,
              { localAddress: plan.hub.gatewayAddress, ...PING_LEASE_RENEWAL },
              plan.hub.gatewayAddress,
            ),
        [(hubSite.testHost ?? hubSite.gateway).server.id],
        [...handshakes, ...forwarding, ...Object.values(cloudInitDone).flat()],
      );
      pings[spoke.name] = ping.stdout.apply((o) => (o ?? "").trim());
    }
    this.pingResults = pulumi.all(pings);
    this.registerOutputs({ pingResults: this.pingResults });
  }
}
