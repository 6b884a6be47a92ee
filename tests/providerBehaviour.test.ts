/** @tier program */
/**
 * What the provider's source says, checked on the resources the real program
 * declares under mocks:
 * - root volume set explicitly (l_ssd, 20 GB on DEV1-S), not the provider's SBS default;
 * - the test host's private NIC waits for the site's VPC routes, so its first lease has them;
 * - `ssh-host-fingerprints`, which Scaleway adds to user-data itself, and `pulumi refresh`
 *   bringing it into state, never replace a server; a changed cloud-config still does;
 * - the provider stays pinned below the private-NIC delete bug.
 *
 * The replacement check is a model of the engine's documented rules (ignoreChanges: the old
 * value is kept at that path; replaceOnChanges: a change at, under or above the path forces
 * replacement), applied to the options the program really sends (captured from the mock
 * monitor) and to provider-shaped state. The real engine/provider diff needs a Scaleway
 * account; options that replace a server on any userData change serve as negative control.
 */
import * as fs from "fs";
import * as path from "path";
import { DeclaredResource, ProgramRun, runProgram } from "../testkit/programRun";
import { ADMIN_CIDRS } from "../testkit/fixtures";
import { plannedAction } from "../testkit/engineDiff";

const SERVER = "scaleway:instance/server:Server";
const config = { adminCidrs: ADMIN_CIDRS };

/** What a `pulumi refresh` reads back: the inputs plus the entry Scaleway adds to user-data. */
function refreshedState(server: DeclaredResource): Record<string, unknown> {
  return {
    ...server.inputs,
    userData: {
      ...server.inputs.userData,
      "ssh-host-fingerprints": "256 SHA256:3bq0fM7tS2PqS+9aHcPF6n1rPT5YQ9VC2lpp8qzL0uY root@scw (ED25519)\n",
    },
  };
}

describe("provider behaviour", () => {
  let run: ProgramRun;
  beforeAll(async () => {
    run = await runProgram({ config, keySeed: "provider" });
  });
  const servers = () => run.ofType(SERVER);

  test("every server sets its root volume: local SSD, 20 GB (DEV1-S)", () => {
    expect(servers().length).toBe(4);
    for (const s of servers()) expect(s.inputs.rootVolume).toEqual({ volumeType: "l_ssd", sizeInGb: 20 });
  });

  test("the test host's private NIC is created after the site's VPC routes", () => {
    for (const site of ["scaleway", "onprem"]) {
      const routes = run
        .ofType("scaleway:network/route:Route")
        .filter((r) => r.name.startsWith(`wg-s2s-${site}-route-`))
        .map((r) => r.name);
      expect(routes.length).toBe(1);
      const nic = run
        .ofType("scaleway:instance/privateNic:PrivateNic")
        .find((n) => n.name === `wg-s2s-${site}-test-host-nic`)!;
      expect(nic.options.dependsOn).toEqual(expect.arrayContaining(routes));
      // and the gateway's NIC is the routes' next hop, so it necessarily comes first
      const route = run.ofType("scaleway:network/route:Route").find((r) => r.name === routes[0])!;
      expect(route.inputs.nexthopResourceId).toBe(`wg-s2s-${site}-gateway-nic-id`);
    }
  });

  test("servers send the narrowed replace/ignore options to the engine", () => {
    for (const s of servers()) {
      expect(s.options.replaceOnChanges).toEqual(['userData["cloud-init"]']);
      expect(s.options.ignoreChanges).toEqual(['userData["ssh-host-fingerprints"]']);
      expect(s.options.deleteBeforeReplace).toBe(true);
    }
  });

  test("after a refresh, ssh-host-fingerprints in state neither replaces nor updates a server", () => {
    for (const s of servers()) {
      expect([s.name, plannedAction(refreshedState(s), s.inputs, s.options)]).toEqual([s.name, "same"]);
    }
  });

  test("negative control: replaceOnChanges userData would replace every server", () => {
    const replacing = { replaceOnChanges: ["userData"], ignoreChanges: [] };
    for (const s of servers()) expect(plannedAction(refreshedState(s), s.inputs, replacing)).toBe("replace");
  });

  test("a changed cloud-config still replaces the server", async () => {
    const rotated = await runProgram({
      config: { ...config, scalewaySite: { keyGeneration: 1 } },
      keySeed: "provider",
    });
    const before = servers().find((s) => s.name === "wg-s2s-scaleway-gateway")!;
    const after = rotated.ofType(SERVER).find((s) => s.name === "wg-s2s-scaleway-gateway")!;
    expect(after.inputs.userData["cloud-init"]).not.toBe(before.inputs.userData["cloud-init"]);
    expect(plannedAction(refreshedState(before), after.inputs, after.options)).toBe("replace");
  });

  test("the provider is pinned to 1.54.0 (terraform-provider-scaleway 2.80), below the private-NIC delete bug", () => {
    const root = path.join(__dirname, "..");
    const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
    // An exact version, not a range: 2.81 to 2.82.0 fail to delete a private NIC attached to a
    // server (HTTP 412; terraform-provider-scaleway issue #4338, fixed by PR #4354).
    expect(pkg.dependencies["@pulumiverse/scaleway"]).toBe("1.54.0");
    const lock = JSON.parse(fs.readFileSync(path.join(root, "package-lock.json"), "utf8"));
    expect(lock.packages["node_modules/@pulumiverse/scaleway"].version).toBe("1.54.0");
    expect(fs.readFileSync(path.join(root, "README.md"), "utf8")).toMatch(/#4338/);
  });
});
