/** @tier unit */
/**
 * The GitHub workflows: schema-valid (action-validator, through scripts/lint-workflows.js, which
 * must also reject broken copies), wired as the README promises, and their shell snippets do
 * what they say (the destroy confirmation, the policy config derived from the stack config).
 * Every secret and variable they read is documented in .github/SECRETS.md.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";
import * as semver from "semver";

const ROOT = path.resolve(__dirname, "..");
const WORKFLOWS = path.join(ROOT, ".github", "workflows");
const LINT = path.join(__dirname, "lint-workflows.js");

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  steps: Step[];
  env?: Record<string, string>;
  if?: string;
}
interface Workflow {
  on: Record<string, any>;
  env?: Record<string, string>;
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
}

const text = (name: string) => fs.readFileSync(path.join(WORKFLOWS, name), "utf8");
const workflow = (name: string) => parse(text(name)) as Workflow;
const steps = (wf: Workflow) => Object.values(wf.jobs).flatMap((j) => j.steps);
const runs = (wf: Workflow) => steps(wf).map((s) => s.run ?? "");
const stepNamed = (wf: Workflow, name: string) => {
  const step = steps(wf).find((s) => s.name === name);
  if (!step?.run) throw new Error(`no run step named "${name}"`);
  return step.run;
};

const temps: string[] = [];
afterAll(() => {
  for (const d of temps) fs.rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "workflows-test-"));
  temps.push(d);
  return d;
}

function lint(files: string[] = []) {
  const r = spawnSync(process.execPath, [LINT, ...files], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe("workflow files", () => {
  it("are valid GitHub workflows (action-validator)", () => {
    const r = lint();
    expect(r.out).toContain("3 file(s) valid");
    expect(r.status).toBe(0);
  });

  // Negative controls: each is a real workflow with one mistake GitHub would reject.
  it.each([
    [
      "a misspelt step key",
      "test.yml",
      (t: string) => t.replace("with:\n          node-version", "wiht:\n          node-version"),
    ],
    ["a job without runs-on", "preview.yml", (t: string) => t.replace("    runs-on: ubuntu-24.04\n", "")],
    ["an unknown input type", "destroy.yml", (t: string) => t.replace("type: string", "type: strng")],
    [
      "an unknown trigger shape",
      "test.yml",
      (t: string) => t.replace("  pull_request:\n", "  pull_request: yes-please\n"),
    ],
  ])("rejects %s", (_label, file, breakIt) => {
    const broken = breakIt(text(file));
    expect(broken).not.toEqual(text(file));
    const target = path.join(tempDir(), file);
    fs.writeFileSync(target, broken);
    const r = lint([target]);
    expect(r.status).toBe(1);
    expect(r.out).toContain(`${target} is invalid`);
  });

  it("pin every action to a current major version", () => {
    const uses = ["test.yml", "preview.yml", "destroy.yml"].flatMap((f) =>
      steps(workflow(f)).flatMap((s) => (s.uses ? [s.uses] : [])),
    );
    expect(uses.length).toBeGreaterThan(0);
    for (const u of uses) expect(u).toMatch(/^(actions\/checkout@v7|actions\/setup-node@v7|pulumi\/actions@v7)$/);
  });
});

it("install the Scaleway plugin version that package.json pins", () => {
  const pinned = (JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as any).dependencies[
    "@pulumiverse/scaleway"
  ];
  const declared = [
    workflow("preview.yml").env?.SCALEWAY_PLUGIN_VERSION,
    workflow("destroy.yml").jobs.destroy.env?.SCALEWAY_PLUGIN_VERSION,
  ];
  expect(declared).toEqual([`v${pinned}`, `v${pinned}`]);
});

describe("test.yml", () => {
  const wf = workflow("test.yml");

  it("runs on pushes to main and on pull requests", () => {
    expect(Object.keys(wf.on)).toEqual(expect.arrayContaining(["push", "pull_request"]));
  });

  it("runs .ci/run (set-up, lint, every tier in a fresh environment) as root, on Node.js 22", () => {
    const commands = runs(wf).filter(Boolean);
    expect(commands).toEqual(['sudo -E env "PATH=$PATH" CI=true bash .ci/run']);
    const node = steps(wf).find((s) => s.uses?.startsWith("actions/setup-node"));
    expect(node?.with).toMatchObject({ "node-version": 22, cache: "npm" });
  });
});

it("every workflow that sets up Node.js asks for a major package.json's engines accept (setup-node takes its latest)", () => {
  const engines = (JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as any).engines.node;
  const versions = ["test.yml", "preview.yml", "destroy.yml"].flatMap((f) =>
    steps(workflow(f)).flatMap((s) => (s.uses?.startsWith("actions/setup-node") ? [s.with?.["node-version"]] : [])),
  );
  expect(versions).toEqual([22, 22, 22]);
  for (const v of versions) expect([v, semver.intersects(`${v}.x`, engines)]).toEqual([v, true]);
  // Negative control: a major the engines refuse (23) does not pass the same check.
  expect(semver.intersects("23.x", engines)).toBe(false);
});

describe("preview.yml", () => {
  const wf = workflow("preview.yml");
  const job = Object.values(wf.jobs)[0];
  const preview = steps(wf).find((s) => s.uses?.startsWith("pulumi/actions") && s.with?.command === "preview");

  it("previews pull requests with the policy pack and comments the result", () => {
    expect(Object.keys(wf.on)).toEqual(["pull_request"]);
    expect(wf.permissions).toMatchObject({ "pull-requests": "write" });
    expect(preview?.with).toMatchObject({
      "stack-name": "${{ env.PULUMI_STACK }}",
      "comment-on-pr": true,
      policyPacks: "policy",
      "cloud-url": "${{ vars.PULUMI_BACKEND_URL }}",
    });
    expect(wf.env?.PULUMI_STACK).toBe("${{ vars.PULUMI_STACK || 'dev' }}");
  });

  it("installs the policy pack's own packages and the pulumiverse plugin", () => {
    expect(runs(wf).join("\n")).toContain("npm ci --no-audit --no-fund --prefix policy");
    expect(runs(wf).join("\n")).toContain("--server github://api.github.com/pulumiverse");
  });

  it("takes the backend, passphrase and Scaleway credentials from secrets", () => {
    expect(job.env).toMatchObject({
      PULUMI_CONFIG_PASSPHRASE: "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}",
      AWS_ACCESS_KEY_ID: "${{ secrets.SCW_ACCESS_KEY }}",
      AWS_SECRET_ACCESS_KEY: "${{ secrets.SCW_SECRET_KEY }}",
      SCW_ACCESS_KEY: "${{ secrets.SCW_ACCESS_KEY }}",
      SCW_SECRET_KEY: "${{ secrets.SCW_SECRET_KEY }}",
      SCW_DEFAULT_PROJECT_ID: "${{ secrets.SCW_DEFAULT_PROJECT_ID }}",
    });
    expect(job.if).toContain("github.event.pull_request.head.repo.full_name == github.repository");
  });

  it("derives the policy config from the stack's testHostPublicIp", () => {
    const script = stepNamed(wf, "Policy pack config from the stack config");
    const configFor = (stackYaml: string | undefined) => {
      const dir = tempDir();
      if (stackYaml !== undefined) fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), stackYaml);
      const out = path.join(dir, "policy-config.json");
      const r = spawnSync("bash", ["-euo", "pipefail", "-c", script], {
        cwd: dir,
        encoding: "utf8",
        // No inherited stdin: bash sources /etc/bash.bashrc when stdin is a socket (as it is
        // under some test harnesses), and Debian's reads an unset PS1 under `set -u`.
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, PULUMI_STACK: "dev", RUNNER_TEMP: dir, NODE_PATH: path.join(ROOT, "node_modules") },
      });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      return JSON.parse(fs.readFileSync(out, "utf8"));
    };
    const allowed = (v: any) => v["test-host-without-public-ip"].allowTestHostPublicIp;
    expect(allowed(configFor("config:\n  scaleway-wireguard-s2s:testHostPublicIp: true\n"))).toBe(true);
    expect(allowed(configFor('config:\n  scaleway-wireguard-s2s:testHostPublicIp: "true"\n'))).toBe(true);
    expect(allowed(configFor("config:\n  scaleway-wireguard-s2s:zone: fr-par-1\n"))).toBe(false);
    expect(allowed(configFor(undefined))).toBe(false);
  });
});

describe("destroy.yml", () => {
  const wf = workflow("destroy.yml");
  const all = steps(wf);
  const confirmIndex = all.findIndex((s) => s.name === "Check the confirmation");
  const destroyIndex = all.findIndex((s) => s.uses?.startsWith("pulumi/actions") && s.with?.command === "destroy");

  it("runs only by hand, asking for the stack name twice", () => {
    expect(Object.keys(wf.on)).toEqual(["workflow_dispatch"]);
    const inputs = wf.on.workflow_dispatch.inputs;
    expect(inputs.stack).toMatchObject({ required: true, type: "string" });
    expect(inputs.confirm).toMatchObject({ required: true, type: "string" });
    expect(all[destroyIndex].with).toMatchObject({ "stack-name": "${{ inputs.stack }}" });
    expect(confirmIndex).toBeGreaterThanOrEqual(0);
    expect(confirmIndex).toBeLessThan(destroyIndex);
  });

  it.each([
    ["dev", "dev", 0],
    ["dev", "prod", 1],
    ["dev", "", 1],
    ["dev; rm -rf ~", "dev; rm -rf ~", 1], // not a stack name: refused before anything runs
    ["org/project/dev", "org/project/dev", 0],
  ])("the confirmation step with stack %j and confirmation %j exits %i", (stack, confirm, status) => {
    const step = all[confirmIndex];
    expect(step.env).toEqual({ STACK: "${{ inputs.stack }}", CONFIRM: "${{ inputs.confirm }}" });
    const r = spawnSync("bash", ["-e", "-c", step.run!], {
      encoding: "utf8",
      env: { PATH: process.env.PATH, STACK: stack, CONFIRM: confirm },
    });
    expect(r.status).toBe(status);
    if (status !== 0) expect(r.stdout).toMatch(/::error::/);
  });
});

describe(".github/SECRETS.md", () => {
  it("documents every secret and variable the workflows read", () => {
    const doc = fs.readFileSync(path.join(ROOT, ".github", "SECRETS.md"), "utf8");
    const used = new Set<string>();
    for (const f of fs.readdirSync(WORKFLOWS)) {
      for (const m of text(f).matchAll(/\b(secrets|vars)\.([A-Z0-9_]+)/g)) used.add(m[2]);
    }
    expect([...used].sort()).toEqual([
      "PULUMI_BACKEND_URL",
      "PULUMI_CONFIG_PASSPHRASE",
      "PULUMI_STACK",
      "SCW_ACCESS_KEY",
      "SCW_DEFAULT_PROJECT_ID",
      "SCW_SECRET_KEY",
    ]);
    for (const name of used) expect(doc).toContain(`\`${name}\``);
  });
});
