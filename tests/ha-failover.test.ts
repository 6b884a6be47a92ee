/** @tier lab */
/**
 * The HA hub's failover in network namespaces of its own (lab/haLab.ts, not part of
 * `npm run lab`): two hub gateways with the same WireGuard identity, each running Debian's
 * keepalived with the rendered configuration and the agent as it ships; the Scaleway API
 * stand-in (named as such in every result) moving the service IP and the VPC routes; a far
 * end with a fixed address and one behind a NAT. One run of all the events, then a check
 * per event (among them the rolling replacement the stack's hand-over commands make, both
 * orders). Its figures also go to `npm run bench`.
 */
import * as fs from "fs";
import * as path from "path";
import {
  FAILOVER_AIM_S,
  FAILOVER_WORTH_PINGS,
  HANDOVER_WINDOW_S,
  NO_AGENT_WINDOW_S,
  haLabUnavailable,
  runHaLab,
  type HaLabResult,
  type RollingFigures,
} from "../lab/haLab";
import { LAB_HOME } from "../lab/paths";
import { describeUnless } from "../scripts/tier-skip";

const SERVICE_ENDPOINT = "203.0.113.10:51820";

function report(line: string): void {
  process.stdout.write(`[ha-failover, Scaleway API stand-in] ${line}\n`);
  fs.appendFileSync(path.join(LAB_HOME, "ha-failover-results.txt"), `${new Date().toISOString()} ${line}\n`);
}

describeUnless(haLabUnavailable())("HA hub failover (namespace lab, Scaleway API stand-in, real keepalived)", () => {
  let r: HaLabResult;
  beforeAll(async () => {
    r = await runHaLab({ log: (line) => process.stderr.write(`[ha lab] ${line}\n`) });
    const k = r.kill;
    const w = r.withoutHandover;
    report(
      `kill active -> standby tunnel up ${k.tunnelUpS ?? "never"} s; first ping through it from the fixed-IP far end ${k.firstPingFixedS ?? "none"} s, from the NATed far end ${k.firstPingNatedS ?? "none"} s (endpoints handed over: ${k.handoverApplied}); far ends see the hub at ${k.hubSeenByFixed} and ${k.hubSeenByNated}`,
    );
    report(
      `hand-over withheld -> tunnel up ${w.tunnelUpS ?? "never"} s; fixed-IP far end ${w.firstPingFixedS ?? "none"} s, NATed far end ${w.firstPingNatedS ?? `none within ${HANDOVER_WINDOW_S}`} s (back on its own after ${w.natedEventuallyS ?? "more than 57"} s)`,
    );
    for (const g of r.rolling) {
      report(
        `rolling replacement (gateway-a then gateway-b, drain/ready), ${g.activeAtStart} active at the start (${g.failovers} failover${g.failovers > 1 ? "s" : ""}): ${g.steps.map((s) => `${s.gateway} ${s.command} -> ${s.exitCode} in ${s.seconds} s`).join(", ")}; IP moves ${g.ipMoves}; endpoints applied per claim ${JSON.stringify(g.endpointsApplied)}; ended on ${g.settledOn}; fixed-IP far end longest gap ${g.fixed.longestGapS} s, lost ${g.fixed.lost} of ${g.fixed.sent}; NATed far end longest gap ${g.nated.longestGapS} s, lost ${g.nated.lost} of ${g.nated.sent}; ${g.wallS} s`,
      );
    }
    report(
      `partition: the standby MASTER after ${r.partition.challengerMasterS ?? "never"} s, settled after ${r.partition.settledS ?? "never within 60"} s on ${r.partition.winner}, IP moves ${r.partition.ipMovesDuring}; load ${r.load.before} -> ${r.load.after}; run ${r.wallS} s${r.error ? `; stopped: ${r.error}` : ""}`,
    );
  }, 20 * 60_000);

  it("A becomes active alone; B joins as standby", () => {
    expect(r.start.aActiveS).toBeDefined();
    expect(r.start.bStandby).toBe(true);
    expect(r.start.settledOnA).toBe(true);
    expect(r.start.ipMovesWhenBJoined).toBe(0);
  });

  it(`kill the active gateway: both far ends reach the hub LAN through the standby within ${FAILOVER_AIM_S} s; one switch`, () => {
    expect(r.kill.firstPingFixedS).toBeDefined();
    expect(r.kill.firstPingNatedS).toBeDefined();
    expect(r.kill.firstPingFixedS!).toBeLessThanOrEqual(FAILOVER_AIM_S);
    expect(r.kill.firstPingNatedS!).toBeLessThanOrEqual(FAILOVER_AIM_S);
    // The NATed far end's mapping came from the active, pulled while it ran.
    expect(r.kill.handoverApplied).toBe(2);
    expect(r.kill.settled).toBe(true);
    expect(r.kill.ipMoves).toBe(1);
  });

  it("after the failover the far ends see the hub at the service IP, not at the new active's management address", () => {
    expect(r.kill.hubSeenByFixed).toBe(SERVICE_ENDPOINT);
    expect(r.kill.hubSeenByNated).toBe(SERVICE_ENDPOINT);
    expect(r.withoutHandover.hubSeenByFixed).toBe(SERVICE_ENDPOINT);
  });

  it("the killed gateway comes back: it stays standby, nothing moves back", () => {
    expect(r.comeback.standby).toBe(true);
    expect(r.comeback.settledOnB).toBe(true);
    expect(r.comeback.ipMoves).toBe(0);
  });

  it(`negative control for the hand-over: without the pulled endpoints the NATed far end is not back within ${HANDOVER_WINDOW_S} s (the fixed-IP one still is)`, () => {
    expect(r.withoutHandover.handoverApplied).toBe(0);
    expect(r.withoutHandover.firstPingFixedS).toBeDefined();
    expect(r.withoutHandover.firstPingFixedS!).toBeLessThanOrEqual(FAILOVER_AIM_S);
    expect(r.withoutHandover.natedWithinWindow).toBe(false);
    expect(r.withoutHandover.ipMoves).toBe(1);
    expect(r.withoutHandover.settled).toBe(true);
  });

  it("partition of the private network between the gateways, then healed: one gateway ends with everything, at most one switch", () => {
    // The partition did make the standby MASTER (it claimed), so there was something to settle.
    expect(r.partition.challengerMasterS).toBeDefined();
    expect(r.partition.settledS).toBeDefined();
    expect(r.partition.ipMovesDuring).toBeLessThanOrEqual(1);
    expect(r.partition.settledAfterHeal).toBe(true);
    expect(r.partition.ipMovesAtHeal).toBe(0);
  });

  /** One rolling replacement's checks; `activeAtStart` decides how many failovers the fixed order makes. */
  function rolled(activeAtStart: "A" | "B"): void {
    const g: RollingFigures | undefined = r.rolling.find((x) => x.activeAtStart === activeAtStart);
    expect(g).toBeDefined();
    expect(g!.failovers).toBe(activeAtStart === "A" ? 2 : 1);
    // drain and ready on gateway-a, then on gateway-b, each exiting 0.
    expect(g!.steps.map((s) => `${s.gateway} ${s.command} ${s.exitCode}`)).toEqual([
      "A wg-s2s-ha drain 90 0",
      "A wg-s2s-ha ready 900 0",
      "B wg-s2s-ha drain 90 0",
      "B wg-s2s-ha ready 900 0",
    ]);
    // One gateway holds the IP, the routes and the only tunnel up; both far ends answer.
    expect(g!.settledOn).toBe("A");
    expect(g!.ipMoves).toBe(g!.failovers);
    // Every claim had the NATed far end's current endpoint to dial (pulled while standby).
    expect(g!.endpointsApplied).toEqual(Array(g!.failovers).fill(2));
    for (const far of [g!.fixed, g!.nated]) {
      expect(far.longestGapS).toBeLessThanOrEqual(FAILOVER_AIM_S);
      expect(far.lost).toBeLessThanOrEqual(g!.failovers * FAILOVER_WORTH_PINGS);
    }
  }

  it(`rolling replacement with gateway-b active (one failover): every hand-over command exits 0, one gateway ends with everything, each far end loses at most ${FAILOVER_AIM_S} s of pings, no gap longer`, () => {
    rolled("B");
  });

  it(`rolling replacement with gateway-a active (two failovers): every hand-over command exits 0, one gateway ends with everything, each far end loses at most 2 x ${FAILOVER_AIM_S} s of pings, no gap longer than ${FAILOVER_AIM_S} s`, () => {
    rolled("A");
  });

  it(`negative control: the same kill without the agent leaves the far ends down for ${NO_AGENT_WINDOW_S} s`, () => {
    expect(r.error).toBeUndefined();
    expect(r.noAgent.reached).toBe(false);
  });
});
