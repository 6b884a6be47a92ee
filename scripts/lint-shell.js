#!/usr/bin/env node
/**
 * Runs shellcheck on every shell script in the repository: tracked `*.sh` / `*.bash` files,
 * tracked files whose first line is a sh/bash shebang (e.g. `.ci/run`), and `.ci/run` itself
 * even before it is committed; and on the `sh`/`bash` code blocks of the documents a deployer
 * copies from (MARKDOWN), read as one bash script per document, in order, since they are run
 * in one shell one after the other. Plain Node, no dependencies, so it runs before `npm ci` too.
 *
 * Usage: node scripts/lint-shell.js   (from anywhere inside the repository)
 * Exit status: 0 all clean, 1 findings, 2 shellcheck or git missing / not a repository.
 */
"use strict";

const { spawnSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

const SHELL_EXTENSIONS = [".sh", ".bash"];
const SHEBANG = /^#!\s*(?:\/usr\/bin\/env\s+)?(?:\/\S*\/)?(?:ba|da|k)?sh\b/;
const ALWAYS_CHECKED = [".ci/run"];
/** Documents whose shell blocks are checked: the README and the deployer's docs. */
const MARKDOWN = /^(README\.md|docs\/[^/]+\.md)$/;
const SHELL_FENCE = /^\s*```(?:sh|bash|shell)\s*$/;
const FENCE = /^\s*```/;

/**
 * A document's shell blocks as one bash script whose line numbers are the document's: every
 * other line is blank, so shellcheck's `README.md:42` is line 42 of the README. Undefined
 * when the document has no shell block.
 */
function markdownShellScript(text) {
  const lines = text.split("\n");
  const script = lines.map(() => "");
  let inShell = false;
  let inOther = false;
  let found = false;
  lines.forEach((line, i) => {
    if (inShell || inOther) {
      if (FENCE.test(line)) inShell = inOther = false;
      else if (inShell) script[i] = line;
    } else if (SHELL_FENCE.test(line)) {
      inShell = found = true;
    } else if (FENCE.test(line)) {
      inOther = true;
    }
  });
  if (!found) return undefined;
  // Line 1 of a document is its title, never shell.
  script[0] = "# shellcheck shell=bash";
  return script.join("\n");
}

function fail(message, status) {
  console.error(`lint-shell: ${message}`);
  process.exit(status);
}

function repositoryRoot() {
  const result = spawnSync("git", ["rev-parse", "--show-toplevel"], { encoding: "utf8" });
  if (result.error) fail(`cannot run git (${result.error.message}); it lists the scripts to check.`, 2);
  if (result.status !== 0) fail(`not inside a git repository: ${result.stderr.trim()}`, 2);
  return result.stdout.trim();
}

function trackedFiles(root) {
  const result = spawnSync("git", ["ls-files", "-z"], { cwd: root, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) fail(`git ls-files failed: ${result.stderr.trim()}`, 2);
  return result.stdout.split("\0").filter(Boolean);
}

function hasShellShebang(file) {
  let fd;
  try {
    fd = fs.openSync(file, "r");
    const head = Buffer.alloc(128);
    const read = fs.readSync(fd, head, 0, head.length, 0);
    return SHEBANG.test(head.subarray(0, read).toString("utf8").split("\n")[0]);
  } catch {
    return false; // deleted in the work tree, or unreadable: nothing to check
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Shell scripts to check, relative to the repository root, sorted and without duplicates. */
function shellScripts(root) {
  const scripts = new Set();
  for (const file of trackedFiles(root)) {
    const absolute = path.join(root, file);
    if (!fs.existsSync(absolute)) continue;
    const ext = path.extname(file);
    if (SHELL_EXTENSIONS.includes(ext) || (ext === "" && hasShellShebang(absolute))) scripts.add(file);
  }
  for (const file of ALWAYS_CHECKED) if (fs.existsSync(path.join(root, file))) scripts.add(file);
  return [...scripts].sort();
}

/**
 * The documents' shell blocks, written under `dir` at the documents' own paths (so findings
 * name them); returns those paths.
 */
function markdownScripts(root, dir) {
  const written = [];
  for (const file of trackedFiles(root).filter((f) => MARKDOWN.test(f))) {
    const absolute = path.join(root, file);
    if (!fs.existsSync(absolute)) continue;
    const script = markdownShellScript(fs.readFileSync(absolute, "utf8"));
    if (script === undefined) continue;
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), script);
    written.push(file);
  }
  return written;
}

function shellcheck(cwd, files) {
  // -x with SCRIPTDIR: follow `source`d files relative to each script, as they run.
  return spawnSync("shellcheck", ["--external-sources", "--source-path=SCRIPTDIR", ...files], {
    cwd,
    stdio: "inherit",
  });
}

function main() {
  const root = repositoryRoot();
  const scripts = shellScripts(root);
  const blocksDir = fs.mkdtempSync(path.join(os.tmpdir(), "lint-shell-md-"));
  const runs = [];
  let documents;
  try {
    documents = markdownScripts(root, blocksDir);
    if (scripts.length > 0)
      runs.push({
        cwd: root,
        files: scripts,
        what: `the scripts above (checked ${scripts.length}: ${scripts.join(", ")})`,
      });
    if (documents.length > 0)
      runs.push({
        cwd: blocksDir,
        files: documents,
        what: `the shell blocks of ${documents.join(", ")} (lines as in the documents)`,
      });
    for (const run of runs) run.result = shellcheck(run.cwd, run.files);
  } finally {
    fs.rmSync(blocksDir, { recursive: true, force: true });
  }
  if (runs.length === 0) {
    console.log("lint-shell: no shell scripts found.");
    return;
  }
  for (const { result } of runs) {
    if (result.error && result.error.code === "ENOENT") {
      fail(
        "shellcheck is not installed. Install it (Debian/Ubuntu: sudo apt-get install shellcheck; " +
          "macOS: brew install shellcheck) or run `npm run setup`, then run this again.",
        2,
      );
    }
    if (result.error) fail(`cannot run shellcheck: ${result.error.message}`, 2);
  }
  const failed = runs.filter((run) => run.result.status !== 0).map((run) => run.what);
  if (failed.length > 0) fail(`shellcheck found problems in ${failed.join(" and ")}.`, 1);
  if (scripts.length > 0) console.log(`lint-shell: ${scripts.length} script(s) clean: ${scripts.join(", ")}`);
  if (documents.length > 0) console.log(`lint-shell: shell blocks clean in ${documents.join(", ")}`);
}

main();
