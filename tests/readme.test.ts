/** @tier program */
/**
 * The README and docs/ as a deployer uses them, without the Pulumi CLI: every stack file
 * they show is one of examples/stacks/ (and every one of those is shown), runs through the
 * program under the mock runtime once its placeholders are filled in, and is refused before
 * any resource while they are not; every `pulumi stack output NAME` names an output; every
 * `npm run NAME` a script; the SSH block writes a private key only it can read and a
 * known_hosts that pins every host; every shell block passes shellcheck (scripts/lint-shell.js).
 * Each check is also run on a planted mistake, which it must catch.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";
import { declaredSoFar, PROJECT, runProgram, type ProgramRun } from "../testkit/programRun";

const ROOT = path.resolve(__dirname, "..");
const STACKS = path.join(ROOT, "examples/stacks");
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), "utf8");

/** The documents a deployer reads, by path from the repository root. */
const DOCUMENTS = ["README.md", ...fs.readdirSync(path.join(ROOT, "docs")).map((f) => `docs/${f}`)].filter((f) =>
  f.endsWith(".md"),
);

interface Block {
  file: string;
  line: number;
  lang: string;
  text: string;
}

function codeBlocks(file: string, markdown: string): Block[] {
  const blocks: Block[] = [];
  let open: (Block & { indent: number }) | undefined;
  markdown.split("\n").forEach((line, i) => {
    const fence = /^(\s*)```(\S*)\s*$/.exec(line);
    if (open) {
      if (fence) {
        blocks.push({ file: open.file, line: open.line, lang: open.lang, text: open.text });
        open = undefined;
        // A block inside a list item is indented like its fence; the text is what is under it.
      } else open.text += `${line.slice(Math.min(open.indent, line.search(/\S|$/)))}\n`;
    } else if (fence) open = { file, line: i + 1, lang: fence[2], text: "", indent: fence[1].length };
  });
  return blocks;
}

/** YAML blocks shaped like a stack file (a `config:` map with this project's keys). */
function stackFileBlocks(file: string, markdown: string): Block[] {
  return codeBlocks(file, markdown).filter((b) => {
    if (b.lang !== "yaml") return false;
    const config = (parse(b.text) as { config?: Record<string, unknown> } | null)?.config;
    return !!config && Object.keys(config).some((k) => k.startsWith(`${PROJECT}:`));
  });
}

const NETWORK_ID = "11111111-2222-3333-4444-555555555555";
/** What a deployer puts in place of each placeholder of the stack files. */
const FILLED: Record<string, string> = {
  "<your public IPv4>": "203.0.113.7",
  "<network id>": NETWORK_ID,
  "<network subnet>": "172.20.16.0/22",
  "<free address of the subnet>": "172.20.16.10",
  "<branch router's public IPv4>": "192.0.2.44",
};
const EXISTING_NETWORKS = {
  [`fr-par/${NETWORK_ID}`]: { subnet: "172.20.16.0/22", vpcId: "fr-par/99999999-8888-7777-6666-555555555555" },
};

function fill(text: string): string {
  return Object.entries(FILLED).reduce((t, [placeholder, value]) => t.split(placeholder).join(value), text);
}

/** A stack file's config as the program receives it: project keys unprefixed, others as they are. */
function stackConfig(text: string): Record<string, unknown> {
  const config = (parse(text) as { config: Record<string, unknown> }).config;
  return Object.fromEntries(Object.entries(config).map(([k, v]) => [k.replace(`${PROJECT}:`, ""), v]));
}

async function runStackFile(text: string): Promise<ProgramRun> {
  return runProgram({ config: stackConfig(text), existingNetworks: EXISTING_NETWORKS, keySeed: "readme" });
}

async function refusal(text: string): Promise<{ message: string; declared: number }> {
  try {
    await runStackFile(text);
  } catch (err) {
    return { message: (err as Error).message, declared: declaredSoFar().length };
  }
  throw new Error("the stack file was not refused");
}

const stackFiles = fs
  .readdirSync(STACKS)
  .filter((f) => f.endsWith(".yaml"))
  .map((f) => ({ name: f, text: fs.readFileSync(path.join(STACKS, f), "utf8") }));
const shownBlocks = DOCUMENTS.flatMap((file) => stackFileBlocks(file, read(file)));

describe("stack files: examples/stacks/, as the README shows them", () => {
  test("the README shows every stack file verbatim, and docs/ show no stack file that is not one", () => {
    expect(stackFiles.map((f) => f.name).sort()).toEqual([
      "existing-network-office.yaml",
      "hub-branch-office.yaml",
      "tutorial.yaml",
    ]);
    const readmeBlocks = shownBlocks.filter((b) => b.file === "README.md").map((b) => b.text.trim());
    for (const file of stackFiles)
      expect([file.name, readmeBlocks.includes(file.text.trim())]).toEqual([file.name, true]);
    const known = stackFiles.map((f) => f.text.trim());
    for (const b of shownBlocks)
      expect([`${b.file}:${b.line}`, known.includes(b.text.trim())]).toEqual([`${b.file}:${b.line}`, true]);
  });

  test.each(stackFiles.map((f) => [f.name, f.text]))("%s, filled in, deploys under mocks", async (name, text) => {
    const run = await runStackFile(fill(text));
    const kinds = Object.fromEntries(run.config.remoteSites.map((s) => [s.name, s.kind]));
    const built = run.ofType("scaleway:instance/server:Server").length;
    const vpcs = run.ofType("scaleway:network/vpc:Vpc").length;
    expect({ name, kinds, built, vpcs, bundles: Object.keys(run.outputs.externalSiteBundles).sort() }).toEqual(
      {
        "tutorial.yaml": { name, kinds: { onprem: "simulated" }, built: 4, vpcs: 2, bundles: [] },
        "existing-network-office.yaml": { name, kinds: { office: "external" }, built: 1, vpcs: 0, bundles: ["office"] },
        "hub-branch-office.yaml": {
          name,
          kinds: { branch: "external", office: "external" },
          built: 2,
          vpcs: 1,
          bundles: ["branch", "office"],
        },
      }[name],
    );
  });

  test.each(stackFiles.map((f) => [f.name, f.text]))(
    "%s, copied without filling in, is refused naming every placeholder, before any resource",
    async (_name, text) => {
      const placeholders = Object.keys(FILLED).filter((p) => text.includes(p));
      expect(placeholders.length).toBeGreaterThan(0);
      const { message, declared } = await refusal(text);
      expect(declared).toBe(0);
      for (const p of placeholders) expect(message).toContain(`still holds the placeholder ${p}`);
    },
  );

  test("every block the README and docs show runs (a planted broken block is caught)", async () => {
    for (const b of shownBlocks) await runStackFile(fill(b.text));
    const tutorial = stackFiles.find((f) => f.name === "tutorial.yaml")!.text.trim();
    const readme = read("README.md");
    expect(readme).toContain(tutorial);
    const planted = readme.replace(
      tutorial,
      tutorial.replace("gatewayAddress: 192.168.1.2", "gatewayAdress: 192.168.1.2"),
    );
    const [broken] = stackFileBlocks("README.md", planted).filter((b) => b.text.includes("gatewayAdress"));
    expect((await refusal(fill(broken.text))).message).toContain("remoteSites[0].gatewayAdress: is not a known key");
  });

  test("no shipped stack file carries an SSH key (a planted one is found)", () => {
    const shipped = [
      ...fs.readdirSync(ROOT).filter((f) => /^Pulumi\..+\.yaml$/.test(f)),
      ...stackFiles.map((f) => `examples/stacks/${f.name}`),
    ];
    const sshKeys = (text: string) => text.match(/\b(?:ssh-(?:ed25519|rsa)|ecdsa-sha2-\S+) AAAA\S+/g) ?? [];
    expect(shipped).toContain("Pulumi.dev.yaml");
    for (const file of shipped) expect([file, sshKeys(read(file))]).toEqual([file, []]);
    expect(
      sshKeys(`${read("Pulumi.dev.yaml")}\n    - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDpI you@laptop\n`),
    ).toHaveLength(1);
  });
});

describe("the shell blocks pass shellcheck", () => {
  test("scripts/lint-shell.js, as `npm run lint` runs it, finds the README's blocks clean (its own tests plant a finding)", () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, "scripts/lint-shell.js")], { cwd: ROOT, encoding: "utf8" });
    expect([r.status, r.stderr]).toEqual([0, ""]);
    expect(r.stdout).toMatch(/^lint-shell: shell blocks clean in README\.md, /m);
  });
});

describe("the commands the README names exist", () => {
  let outputs: string[];
  beforeAll(async () => {
    const hub = stackFiles.find((f) => f.name === "hub-branch-office.yaml")!;
    outputs = Object.keys((await runStackFile(fill(hub.text))).outputs);
  });

  const namedOutputs = (text: string) =>
    [...text.matchAll(/pulumi stack output((?:\s+--[\w-]+)*)\s+([A-Za-z]\w*)/g)].map((m) => m[2]);
  const namedScripts = (text: string) => [...text.matchAll(/npm run(?:\s+-s)?\s+([\w:-]+)/g)].map((m) => m[1]);

  test("every `pulumi stack output NAME` is an output of the stack (a planted name is caught)", () => {
    // docs/component.md's examples are programs of their own, with outputs of their own.
    for (const file of DOCUMENTS.filter((f) => f !== "docs/component.md")) {
      const missing = namedOutputs(read(file)).filter((name) => !outputs.includes(name));
      expect([file, missing]).toEqual([file, []]);
    }
    expect(namedOutputs(read("README.md"))).toEqual(expect.arrayContaining(["deployPrivateKey", "pingTest"]));
    expect(namedOutputs("pulumi stack output --json tunnelAddrs").filter((n) => !outputs.includes(n))).toEqual([
      "tunnelAddrs",
    ]);
  });

  test("every `npm run NAME` is a script of package.json (a planted name is caught)", () => {
    const scripts = Object.keys(JSON.parse(read("package.json")).scripts);
    for (const file of [...DOCUMENTS, "CONTRIBUTING.md"]) {
      const missing = namedScripts(read(file)).filter((name) => !scripts.includes(name));
      expect([file, missing]).toEqual([file, []]);
    }
    expect(namedScripts("npm run labs").filter((n) => !scripts.includes(n))).toEqual(["labs"]);
  });
});

describe("the SSH block: a private key file only you can read, a known_hosts that pins every host", () => {
  const block = codeBlocks("README.md", read("README.md")).find((b) => b.text.includes("wg-s2s-known_hosts"))!;
  let dir: string;
  let run: ProgramRun;

  /** Runs `script` with a stand-in `pulumi` that answers `stack output` from the mock run. */
  function runWithOutputs(script: string): { status: number | null; stderr: string } {
    const bin = path.join(dir, "bin");
    fs.mkdirSync(bin, { recursive: true });
    fs.writeFileSync(path.join(dir, "outputs.json"), JSON.stringify(run.outputs));
    fs.writeFileSync(
      path.join(bin, "pulumi"),
      [
        "#!/bin/sh",
        `all="${path.join(dir, "outputs.json")}"`,
        '[ "$1 $2" = "stack output" ] || exit 2',
        "shift 2",
        'name=""; for a in "$@"; do case "$a" in --*) ;; *) name="$a" ;; esac; done',
        'if [ -z "$name" ]; then cat "$all"; elif [ "$name" = deployPrivateKey ]; then jq -r .deployPrivateKey "$all"; else jq ".$name" "$all"; fi',
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
    const r = spawnSync("bash", ["--norc", "--noprofile", "-euo", "pipefail", "-c", script], {
      cwd: dir,
      encoding: "utf8",
      env: { PATH: `${bin}:${process.env.PATH}`, HOME: dir },
    });
    return { status: r.status, stderr: r.stderr };
  }

  beforeAll(async () => {
    const tutorial = stackFiles.find((f) => f.name === "tutorial.yaml")!;
    run = await runStackFile(fill(tutorial.text));
  });
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "readme-ssh-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("writes the deploy key 0600 and a known_hosts line per host, as ssh-keygen reads them", () => {
    expect(runWithOutputs(block.text)).toEqual({ status: 0, stderr: "" });
    expect(fs.statSync(path.join(dir, "wg-s2s-deploy.key")).mode & 0o777).toBe(0o600);
    const knownHosts = path.join(dir, "wg-s2s-known_hosts");
    const hosts: Record<string, string> = {
      "scaleway/gateway": run.outputs.gatewayPublicIps.scaleway,
      "scaleway/test-host": "192.168.0.3",
      "onprem/gateway": run.outputs.gatewayPublicIps.onprem,
      "onprem/test-host": "192.168.1.3",
    };
    expect(Object.keys(run.outputs.sshHostKeys).sort()).toEqual(Object.keys(hosts).sort());
    for (const [site, host] of Object.entries(hosts)) {
      const found = spawnSync("ssh-keygen", ["-F", host, "-f", knownHosts], { encoding: "utf8" });
      expect([site, found.status, found.stdout]).toEqual([
        site,
        0,
        expect.stringContaining(run.outputs.sshHostKeys[site].trim()),
      ]);
    }
  });

  test("negative control: without its umask line the key file is readable by others", () => {
    expect(runWithOutputs(`umask 022\n${block.text.replace("umask 077\n", "")}`).status).toBe(0);
    expect(fs.statSync(path.join(dir, "wg-s2s-deploy.key")).mode & 0o077).not.toBe(0);
  });
});
