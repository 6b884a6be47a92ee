/** @tier program */
/**
 * The two-step external deploy under the mock runtime, running the real program (index.ts):
 * step 1 builds and checks what the stack owns and marks the external peer pending; step 2
 * (the user sets bundleInstalled once the operator installed the bundle) adds that peer's
 * checks without replacing any server. Also: the operator bundle never carries the deploy
 * key, and a misspelt top-level key reaches validation instead of being dropped.
 */
import { ADMIN_CIDRS, OFFICE_EXTERNAL_SITE } from "../testkit/fixtures";
import { DeclaredResource, ProgramRun, runProgram } from "../testkit/programRun";
import { DEFAULT_REMOTE_SITES } from "../config/schema";

const COMMAND = "command:remote:Command";
const SERVER = "scaleway:instance/server:Server";
const publicIps = { scaleway: "198.51.100.10", onprem: "198.51.100.11" };
const step = (bundleInstalled?: boolean) => ({
  adminCidrs: ADMIN_CIDRS,
  remoteSites: [
    { ...DEFAULT_REMOTE_SITES[0] },
    { ...OFFICE_EXTERNAL_SITE, ...(bundleInstalled === undefined ? {} : { bundleInstalled }) },
  ],
});
const names = (run: ProgramRun) =>
  run
    .ofType(COMMAND)
    .map((c) => c.name.replace("wg-s2s-verify-", ""))
    .sort();
const cmd = (run: ProgramRun, name: string): DeclaredResource =>
  run.ofType(COMMAND).find((c) => c.name === `wg-s2s-verify-${name}`)!;

describe("external sites deploy in two steps", () => {
  let step1: ProgramRun;
  let step2: ProgramRun;
  beforeAll(async () => {
    step1 = await runProgram({ config: step(), publicIps, keySeed: "two-step" });
    step2 = await runProgram({ config: step(true), publicIps, keySeed: "two-step" });
  });

  test("step 1 checks what the stack owns and leaves the external peer out", () => {
    const hub = cmd(step1, "scaleway-handshake").inputs.create as string;
    expect(hub).toContain(step1.outputs.publicKeys.onprem);
    expect(hub).not.toContain(step1.outputs.publicKeys.office);
    expect(names(step1)).not.toContain("office-ping");
    expect(step1.outputs.verification.office).toMatch(/^pending: office's operator has not installed the bundle/);
    expect(step1.outputs.externalSites.office).toMatchObject({
      status: "pending",
      next: "once the operator confirms: pulumi config set --path 'remoteSites[1].bundleInstalled' true && pulumi up",
    });
    expect(step1.outputs.externalSites.office.handTo).toContain("the operator of office (gateway 198.51.100.77)");
    expect(step1.outputs.externalSites.office.handTo).toContain("npm run -s bundle -- office ./office-bundle");
  });

  test("step 2 adds the external peer's handshake and ping", () => {
    const hub = cmd(step2, "scaleway-handshake").inputs.create as string;
    expect(hub).toContain(step2.outputs.publicKeys.office);
    expect(hub).toContain("office (public key");
    expect(names(step2)).toEqual([...names(step1), "office-ping"].sort());
    expect(cmd(step2, "office-ping").inputs.create).toContain("target=192.168.10.20");
    expect(step2.outputs.externalSites.office).toMatchObject({ status: "checked" });
    expect(step2.outputs.externalSites.office.next).toBeUndefined();
  });

  test("flipping bundleInstalled replaces nothing: user-data and bundles are identical", () => {
    const userData = (run: ProgramRun) => run.ofType(SERVER).map((s) => [s.name, s.inputs.userData]);
    expect(userData(step2)).toEqual(userData(step1));
    expect(step2.outputs.externalSiteBundles).toEqual(step1.outputs.externalSiteBundles);
  });

  test("a hub whose only peer is pending runs no handshake check (it could only time out)", async () => {
    const run = await runProgram({
      config: { adminCidrs: ADMIN_CIDRS, remoteSites: [{ ...OFFICE_EXTERNAL_SITE }] },
      publicIps,
      keySeed: "two-step",
    });
    expect(names(run)).toEqual(["scaleway-forwarding", "scaleway-gateway-cloud-init", "scaleway-test-host-cloud-init"]);
  });

  test("the operator bundle never holds the deploy key; the user's keys only when opted in", async () => {
    const userKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHuPOBF27KWNC7l8bc0sQHIuEQRYrCmuEGtkf3jyJXbQ ops@laptop";
    const deployBlob = (run: ProgramRun) => (run.outputs.deployPublicKey as string).trim().split(/\s+/)[1];
    const plain = await runProgram({
      config: { ...step(), sshPublicKeys: [userKey] },
      publicIps,
      keySeed: "two-step",
    });
    const files = Object.values(plain.operatorBundle("office")).join("\n");
    expect(deployBlob(plain)).toMatch(/^AAAA/);
    expect(files).not.toContain(deployBlob(plain));
    expect(files).not.toContain(userKey.split(" ")[1]);
    expect(plain.operatorBundle("office")["cloud-config.yaml"]).not.toMatch(/^(ssh_|disable_root)/m);
    // The deploy key is on the stack's own hosts, as before.
    expect(plain.userData("scaleway", "gateway")).toContain(deployBlob(plain));

    const optedIn = await runProgram({
      config: {
        ...step(),
        sshPublicKeys: [userKey],
        remoteSites: [step().remoteSites[0], { ...OFFICE_EXTERNAL_SITE, bundleSshKeys: true }],
      },
      publicIps,
      keySeed: "two-step",
    });
    const bundle = optedIn.operatorBundle("office");
    expect(bundle["cloud-config.yaml"]).toContain(userKey);
    expect(Object.values(bundle).join("\n")).not.toContain(deployBlob(optedIn));
    expect(bundle["README.txt"]).toContain("ssh-ed25519 ... ops@laptop");
  });

  test("a misspelt top-level key is refused with a did-you-mean, before any resource", async () => {
    const err = await runProgram({ config: { adminCidrs: ADMIN_CIDRS, verfy: false }, publicIps }).then(
      () => undefined,
      (e) => e,
    );
    expect(err?.message).toMatch(/verfy: is not a known key; did you mean `verify`\?/);
    expect(err?.message).toContain("pulumi config rm verfy");
    expect(err.declaredResources.filter((r: DeclaredResource) => r.custom)).toEqual([]);
  });
});
