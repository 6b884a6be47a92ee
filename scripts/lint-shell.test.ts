/** @tier unit */
/**
 * scripts/lint-shell.js against throw-away git repositories: it finds the scripts (by extension,
 * by shebang, and .ci/run even untracked), passes clean ones, fails on shellcheck findings, and
 * says what to do when shellcheck is missing.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const SCRIPT = path.join(__dirname, "lint-shell.js");

function tempRepo(files: Record<string, string>, untracked: Record<string, string> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lint-shell-"));
  const write = (entries: Record<string, string>) => {
    for (const [name, text] of Object.entries(entries)) {
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      fs.writeFileSync(path.join(dir, name), text, { mode: 0o755 });
    }
  };
  write(files);
  spawnSync("git", ["init", "-q"], { cwd: dir });
  spawnSync("git", ["add", "."], { cwd: dir });
  write(untracked);
  return dir;
}

function lint(cwd: string, env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(process.execPath, [SCRIPT], { cwd, env, encoding: "utf8", timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const CLEAN = '#!/usr/bin/env bash\nset -euo pipefail\necho "hello ${1:-world}"\n';
// SC2086: unquoted variable; SC2164: cd without a failure branch.
const DIRTY = "#!/bin/sh\ncd $1\nrm -rf $1/tmp\n";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe("scripts/lint-shell.js", () => {
  it("checks *.sh, shebang scripts and an untracked .ci/run, and passes clean ones", () => {
    const dir = tempRepo({ "a.sh": CLEAN, "tools/run-me": CLEAN, "notes.txt": "cd $1\n" }, { ".ci/run": CLEAN });
    dirs.push(dir);
    const r = lint(dir);
    expect(r.status).toBe(0);
    expect(r.out).toContain("3 script(s) clean: .ci/run, a.sh, tools/run-me");
  });

  it("fails on shellcheck findings, naming the rule and the file", () => {
    const dir = tempRepo({ "a.sh": CLEAN, "bin/deploy": DIRTY });
    dirs.push(dir);
    const r = lint(dir);
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/SC2086/);
    expect(r.out).toContain("bin/deploy");
    expect(r.out).toContain("shellcheck found problems");
  });

  it("ignores untracked scripts other than .ci/run", () => {
    const dir = tempRepo({ "a.sh": CLEAN }, { "scratch.sh": DIRTY });
    dirs.push(dir);
    expect(lint(dir).status).toBe(0);
  });

  it("explains how to install shellcheck when it is missing", () => {
    const dir = tempRepo({ "a.sh": CLEAN });
    dirs.push(dir);
    // A PATH with git but without shellcheck.
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), "lint-shell-bin-"));
    dirs.push(bin);
    const git = spawnSync("sh", ["-c", "command -v git"], { encoding: "utf8" }).stdout.trim();
    fs.symlinkSync(git, path.join(bin, "git"));
    const r = lint(dir, { ...process.env, PATH: bin });
    expect(r.status).toBe(2);
    expect(r.out).toMatch(/shellcheck is not installed.*apt-get install shellcheck/);
  });

  it("checks the sh blocks of README.md and docs/*.md as one script per document, at the document's line numbers", () => {
    const readme = '# Title\n\nText.\n\n```sh\nSTACK=dev\n```\n\n```text\ncd $1\n```\n\n```sh\necho "$STACK"\n```\n';
    const clean = tempRepo({ "README.md": readme, "lab/NOTES.md": "```sh\ncd $1\n```\n" });
    dirs.push(clean);
    const ok = lint(clean);
    expect(ok.status).toBe(0);
    expect(ok.out).toContain("shell blocks clean in README.md");

    // SC2086 (unquoted expansion) on line 8 of the planted deploy.md.
    const dirty = tempRepo({
      "README.md": readme,
      "docs/deploy.md": "# Deploy\n\n```sh\necho start\n```\n\n```bash\nrm -rf $HOME/tmp\n```\n",
    });
    dirs.push(dirty);
    const r = lint(dirty);
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/In docs\/deploy\.md line 8:[\s\S]*SC2086/);
    expect(r.out).toContain("shell blocks of README.md, docs/deploy.md");
  });

  it("refuses to run outside a git repository", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lint-shell-nogit-"));
    dirs.push(dir);
    const r = lint(dir, { ...process.env, GIT_CEILING_DIRECTORIES: path.dirname(dir) });
    expect(r.status).toBe(2);
    expect(r.out).toContain("not inside a git repository");
  });
});
