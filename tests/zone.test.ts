/** @tier program */
/**
 * Where the stack deploys: the Scaleway provider's own zone (`scaleway:zone`, else
 * `SCW_DEFAULT_ZONE`), which the project's `zone` key may repeat but never contradict.
 * Each refusal comes before any resource, names the keys involved and a fix for where the
 * value came from. The environment is the one each run states (testkit/programRun.ts
 * unsets the rest), so a deployer's own SCW_DEFAULT_ZONE cannot decide these tests.
 */
import { ADMIN_CIDRS } from "../testkit/fixtures";
import { declaredSoFar, runProgram, type ProgramRun, type ProgramRunOptions } from "../testkit/programRun";

const SERVER = "scaleway:instance/server:Server";
const VPC = "scaleway:network/vpc:Vpc";

/** The zones of every server and the regions of every VPC the run declared. */
function placement(run: ProgramRun): { zones: string[]; regions: string[] } {
  const unique = (values: string[]) => [...new Set(values)];
  return {
    zones: unique(run.ofType(SERVER).map((r) => r.inputs.zone)),
    regions: unique(run.ofType(VPC).map((r) => r.inputs.region)),
  };
}

async function refusal(opts: Omit<ProgramRunOptions, "config"> & { config: Record<string, unknown> }) {
  try {
    await runProgram({ ...opts, config: { adminCidrs: ADMIN_CIDRS, ...opts.config } });
  } catch (err) {
    return { message: (err as Error).message, declared: declaredSoFar().length };
  }
  throw new Error("the run was not refused");
}

describe("the zone comes from the Scaleway provider's settings", () => {
  test("nothing set: the provider's own default, fr-par-1", async () => {
    const run = await runProgram({ config: { adminCidrs: ADMIN_CIDRS } });
    expect(placement(run)).toEqual({ zones: ["fr-par-1"], regions: ["fr-par"] });
  });

  test("scaleway:zone alone moves every resource (the README's step that used to be ignored)", async () => {
    const run = await runProgram({ config: { adminCidrs: ADMIN_CIDRS, "scaleway:zone": "nl-ams-1" } });
    expect(placement(run)).toEqual({ zones: ["nl-ams-1"], regions: ["nl-ams"] });
  });

  test("SCW_DEFAULT_ZONE when scaleway:zone is not set; scaleway:zone first when both are", async () => {
    const fromEnv = await runProgram({ config: { adminCidrs: ADMIN_CIDRS }, env: { SCW_DEFAULT_ZONE: "pl-waw-2" } });
    expect(placement(fromEnv)).toEqual({ zones: ["pl-waw-2"], regions: ["pl-waw"] });
    const both = await runProgram({
      config: { adminCidrs: ADMIN_CIDRS, "scaleway:zone": "fr-par-2" },
      env: { SCW_DEFAULT_ZONE: "pl-waw-2" },
    });
    expect(placement(both).zones).toEqual(["fr-par-2"]);
  });

  test("the project's zone key, agreeing with the provider or alone, is used", async () => {
    const agreeing = await runProgram({
      config: { adminCidrs: ADMIN_CIDRS, zone: "nl-ams-2", "scaleway:zone": "nl-ams-2" },
    });
    expect(placement(agreeing).zones).toEqual(["nl-ams-2"]);
    const alone = await runProgram({ config: { adminCidrs: ADMIN_CIDRS, zone: "fr-par-2" } });
    expect(placement(alone).zones).toEqual(["fr-par-2"]);
  });
});

describe("contradictory or hurried zone settings are refused before any resource", () => {
  test("a project zone that disagrees with scaleway:zone names both, and the fix removes the override", async () => {
    const r = await refusal({ config: { zone: "fr-par-1", "scaleway:zone": "nl-ams-1" } });
    expect(r.declared).toBe(0);
    expect(r.message).toContain("zone: is fr-par-1, but the Scaleway provider's zone (scaleway:zone) is nl-ams-1");
    expect(r.message).toContain(
      "`pulumi config rm zone` to deploy to nl-ams-1, or `pulumi config set scaleway:zone fr-par-1`",
    );
  });

  test("against SCW_DEFAULT_ZONE the fix is phrased for the shell", async () => {
    const r = await refusal({ config: { zone: "fr-par-1" }, env: { SCW_DEFAULT_ZONE: "pl-waw-1" } });
    expect(r.message).toContain("(SCW_DEFAULT_ZONE) is pl-waw-1");
    expect(r.message).toContain("`export SCW_DEFAULT_ZONE=fr-par-1`");
  });

  test("a region where a zone belongs is refused under the provider's key", async () => {
    const r = await refusal({ config: { "scaleway:zone": "fr-par" } });
    expect(r.declared).toBe(0);
    expect(r.message).toMatch(
      /^scaleway:zone: "fr-par" is not a Scaleway zone.* Fix: `pulumi config set scaleway:zone fr-par-1`/m,
    );
  });

  test("an empty project zone (an unset shell variable) is refused with `pulumi config rm zone`", async () => {
    const r = await refusal({ config: { zone: "", "scaleway:zone": "nl-ams-1" } });
    expect(r.message).toMatch(
      /^zone: is empty .* Fix: `pulumi config rm zone` to deploy to nl-ams-1 \(scaleway:zone\)/m,
    );
  });

  test("a provider region that is not the zone's is refused, naming both", async () => {
    const r = await refusal({ config: { "scaleway:zone": "nl-ams-1", "scaleway:region": "fr-par" } });
    expect(r.message).toContain("scaleway:region: is fr-par, but the stack's zone nl-ams-1 is in region nl-ams");
    expect(r.message).toContain("`pulumi config rm scaleway:region` (the region follows the zone)");
    const fromEnv = await refusal({ config: { "scaleway:zone": "nl-ams-1" }, env: { SCW_DEFAULT_REGION: "fr-par" } });
    expect(fromEnv.message).toContain("`unset SCW_DEFAULT_REGION`");
  });

  test("joining a network of another region points at the provider's zone key", async () => {
    const r = await refusal({
      config: {
        scalewaySite: {
          privateNetworkId: "nl-ams/11111111-2222-3333-4444-555555555555",
          subnet: "172.20.16.0/22",
          gatewayAddress: "172.20.16.10",
        },
      },
    });
    expect(r.declared).toBe(0);
    expect(r.message).toContain("is in region nl-ams, but zone fr-par-1 puts the gateway in region fr-par");
    expect(r.message).toContain("`pulumi config set scaleway:zone nl-ams-1`");
  });
});
