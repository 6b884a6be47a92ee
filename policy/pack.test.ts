/** @tier program */
/**
 * The policy pack as the Pulumi CLI runs it: `run-policy-pack` (ts-node, type-checked) serves
 * index.ts over the analyzer gRPC protocol on 127.0.0.1, and this test plays the engine's part,
 * sending resources the way `pulumi preview` does (secrets and preview-time unknowns in their
 * wire form). This proves that the pack loads, that every policy is mandatory, and what the
 * analyzer really hands the policies: secrets arrive unwrapped, so secretness must be declared
 * with additionalSecretOutputs (see policies.ts).
 *
 * Needs the pack's own packages: `npm ci --prefix policy`.
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import { createRequire } from "module";
import * as path from "path";
import nacl from "tweetnacl";
import { runProgram } from "../testkit/programRun";
import { exampleStackConfig } from "./programViews";
import { RULES } from "./rules";

const POLICY_DIR = __dirname;
const RUN_POLICY_PACK = path.join(POLICY_DIR, "node_modules", "@pulumi", "pulumi", "cmd", "run-policy-pack");
// The engine's wire encoding (github.com/pulumi/pulumi sdk/go/common/resource/sig).
const SECRET_SIG = { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270" };
const UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const SERVER = "scaleway:instance/server:Server";
const SG = "scaleway:instance/securityGroup:SecurityGroup";
const PACK_START_TIMEOUT_MS = 120_000;

jest.setTimeout(PACK_START_TIMEOUT_MS + 60_000);

// Load gRPC and the protobuf classes from the pack's own @pulumi/pulumi, the copy its server uses.
const packRequire = createRequire(path.join(RUN_POLICY_PACK, "index.js"));
const havePackModules = fs.existsSync(RUN_POLICY_PACK);

interface Diagnostic {
  policy: string;
  level: number;
  message: string;
}

let pack: ChildProcess | undefined;
let client: any;
let pb: any;
let Struct: any;
let MANDATORY: number;

function call<T>(method: string, request: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: Date.now() + 30_000 }, (err: Error | null, res: T) =>
      err ? reject(err) : resolve(res),
    );
  });
}

async function analyze(
  type: string,
  name: string,
  props: Record<string, unknown>,
  additionalSecretOutputs: string[] = [],
): Promise<Diagnostic[]> {
  const options = new pb.AnalyzerResourceOptions();
  options.setAdditionalsecretoutputsList(additionalSecretOutputs);
  const req = new pb.AnalyzeRequest();
  req.setType(type);
  req.setName(name);
  req.setUrn(`urn:pulumi:dev::scaleway-wireguard-s2s::${type}::${name}`);
  req.setProperties(Struct.fromJavaScript(props));
  req.setOptions(options);
  const res: any = await call("analyze", req);
  return res.getDiagnosticsList().map((d: any) => ({
    policy: d.getPolicyname(),
    level: d.getEnforcementlevel(),
    message: d.getMessage(),
  }));
}

async function configure(policyConfig: Record<string, Record<string, unknown>>): Promise<void> {
  const req = new pb.ConfigureAnalyzerRequest();
  for (const [policy, props] of Object.entries(policyConfig)) {
    const c = new pb.PolicyConfig();
    c.setEnforcementlevel(MANDATORY);
    c.setProperties(Struct.fromJavaScript(props));
    req.getPolicyconfigMap().set(policy, c);
  }
  await call("configure", req);
}

/** Starts the pack like the CLI does and resolves with the port it prints. */
function startPack(): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUN_POLICY_PACK, "127.0.0.1:1", "."], {
      cwd: POLICY_DIR,
      stdio: ["ignore", "pipe", "pipe"],
    });
    pack = child;
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(
      () => reject(new Error(`policy pack did not start in ${PACK_START_TIMEOUT_MS} ms:\n${stderr}`)),
      PACK_START_TIMEOUT_MS,
    );
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdout?.on("data", (d: Buffer) => {
      stdout += d.toString();
      const m = /^(\d+)\s*$/m.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`policy pack exited with ${code}:\n${stderr}${stdout}`));
    });
  });
}

beforeAll(async () => {
  if (!havePackModules) {
    throw new Error("policy/node_modules is missing: run `npm ci --prefix policy` (the pack has its own packages).");
  }
  const grpc = packRequire("@grpc/grpc-js");
  pb = packRequire("@pulumi/pulumi/proto/analyzer_pb.js");
  const services = packRequire("@pulumi/pulumi/proto/analyzer_grpc_pb.js");
  Struct = packRequire("google-protobuf/google/protobuf/struct_pb.js").Struct;
  MANDATORY = pb.EnforcementLevel.MANDATORY;
  const port = await startPack();
  client = new services.AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
});

afterAll(() => {
  client?.close();
  if (pack && pack.exitCode === null) pack.kill("SIGTERM");
});

const testHostTags = ["wg-s2s", "wg-s2s-role:test-host"];

describe("the policy pack under the real analyzer protocol", () => {
  it("announces every rule as a mandatory policy", async () => {
    const info: any = await call(
      "getAnalyzerInfo",
      new (packRequire("google-protobuf/google/protobuf/empty_pb.js").Empty)(),
    );
    expect(info.getName()).toBe("scaleway-wireguard-s2s");
    const policies = info.getPoliciesList().map((p: any) => [p.getName(), p.getEnforcementlevel()]);
    expect(policies).toEqual(RULES.map((r) => [r.name, MANDATORY]));
  });

  it("rejects SSH from 0.0.0.0/0 with a mandatory diagnostic", async () => {
    const rules = [{ action: "accept", protocol: "TCP", port: 22, ipRange: "0.0.0.0/0" }];
    const diagnostics = await analyze(SG, "sg", { inboundDefaultPolicy: "drop", inboundRules: rules });
    expect(diagnostics).toEqual([
      { policy: "no-ssh-from-anywhere", level: MANDATORY, message: expect.stringMatching(/accepts SSH/) },
    ]);
  });

  it("secret user data arrives unwrapped: only additionalSecretOutputs satisfies the key rule", async () => {
    // A test host (no gateway tag), so the rule can only find the key by reading the text
    // through the secret wrapper: proof that the analyzer hands policies plain values.
    const key = Buffer.from(nacl.randomBytes(32)).toString("base64");
    const cloudConfig = `#cloud-config\nwrite_files:\n  - content: |\n      PrivateKey = ${key}\n`;
    const props = {
      tags: testHostTags,
      securityGroupId: "fr-par-1/sg",
      userData: { ...SECRET_SIG, value: { "cloud-init": cloudConfig } },
    };
    const without = await analyze(SERVER, "th", props);
    expect(without.map((d) => d.policy)).toEqual(["key-material-user-data-is-secret"]);
    expect(without[0].message).toMatch(/a private key was found/);
    expect(without[0].message).not.toContain(key);
    expect(await analyze(SERVER, "th", props, ["userData"])).toEqual([]);
  });

  it("judges preview-time unknowns: an unknown ipId is a public IP, an unknown peer address is skipped", async () => {
    const host = { tags: testHostTags, securityGroupId: UNKNOWN_STRING, ipId: UNKNOWN_STRING };
    expect((await analyze(SERVER, "th", host)).map((d) => d.policy)).toEqual(["test-host-without-public-ip"]);
    const rules = [{ action: "accept", protocol: "UDP", port: 52435, ipRange: UNKNOWN_STRING }];
    expect(await analyze(SG, "sg", { inboundDefaultPolicy: "drop", inboundRules: rules })).toEqual([]);
  });

  it("passes every resource of the example stack when user data is declared secret", async () => {
    const run = await runProgram({ config: exampleStackConfig() });
    const custom = run.resources.filter((r) => r.custom);
    expect(custom.filter((r) => r.type === SERVER)).toHaveLength(4);
    for (const r of custom) {
      // What the program must declare for CrossGuard: additionalSecretOutputs for its secret inputs.
      const secretTopLevel = [...new Set(r.secretInputs.map((p) => p.split(/[.[]/)[0]))];
      const diagnostics = await analyze(r.type, r.name, r.inputs, secretTopLevel);
      expect({ resource: r.name, diagnostics: diagnostics.map((d) => d.policy) }).toEqual({
        resource: r.name,
        diagnostics: [],
      });
    }
  });

  it("takes allowTestHostPublicIp from the policy config", async () => {
    const host = { tags: testHostTags, securityGroupId: "fr-par-1/sg", ipId: "fr-par-1/ip" };
    expect(await analyze(SERVER, "th", host)).toHaveLength(1);
    await configure({ "test-host-without-public-ip": { allowTestHostPublicIp: true } });
    expect(await analyze(SERVER, "th", host)).toEqual([]);
    await configure({});
    expect(await analyze(SERVER, "th", host)).toHaveLength(1);
  });
});
