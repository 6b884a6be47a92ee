#!/usr/bin/env node
/**
 * Runs shellcheck on every shell script in the repository: tracked `*.sh` / `*.bash` files,
 * tracked files whose first line is a sh/bash shebang (e.g. `.ci/run`), and `.ci/run` itself
 * even before it is committed. Plain Node, no dependencies, so it runs before `npm ci` too.
 *
 * Usage: node scripts/lint-shell.js   (from anywhere inside the repository)
 * Exit status: 0 all clean, 1 findings, 2 shellcheck or git missing / not a repository.
 */
"use strict";

const { spawnSync } = require("child_process");
const fs = require("fs");
const path = require("path");

const SHELL_EXTENSIONS = [".sh", ".bash"];
const SHEBANG = /^#!\s*(?:\/usr\/bin\/env\s+)?(?:\/\S*\/)?(?:ba|da|k)?sh\b/;
const ALWAYS_CHECKED = [".ci/run"];

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

function main() {
  const root = repositoryRoot();
  const scripts = shellScripts(root);
  if (scripts.length === 0) {
    console.log("lint-shell: no shell scripts found.");
    return;
  }
  // -x with SCRIPTDIR: follow `source`d files relative to each script, as they run.
  const result = spawnSync("shellcheck", ["--external-sources", "--source-path=SCRIPTDIR", ...scripts], {
    cwd: root,
    stdio: "inherit",
  });
  if (result.error && result.error.code === "ENOENT") {
    fail(
      "shellcheck is not installed. Install it (Debian/Ubuntu: sudo apt-get install shellcheck; " +
        "macOS: brew install shellcheck) or run `npm run setup`, then run this again.",
      2,
    );
  }
  if (result.error) fail(`cannot run shellcheck: ${result.error.message}`, 2);
  if (result.status !== 0) {
    fail(`shellcheck found problems in the scripts above (checked ${scripts.length}: ${scripts.join(", ")}).`, 1);
  }
  console.log(`lint-shell: ${scripts.length} script(s) clean: ${scripts.join(", ")}`);
}

main();
