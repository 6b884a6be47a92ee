#!/usr/bin/env node
/**
 * Validates every GitHub Actions workflow (.github/workflows/*.yml|yaml) and any action.yml
 * under .github/ against GitHub's schemas with action-validator (@action-validator/cli, a
 * devDependency). Its CLI takes one file per run, hence this loop.
 *
 * Usage: node scripts/lint-workflows.js [file ...]   (default: all of them)
 * Exit status: 0 all valid, 1 a file is invalid, 2 action-validator missing or nothing to check.
 */
"use strict";

const { spawnSync } = require("child_process");
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..");

function workflowFiles() {
  const found = [];
  const walk = (dir) => {
    if (!fs.existsSync(dir)) return;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/\.ya?ml$/.test(entry.name)) {
        const inWorkflows = path.relative(path.join(root, ".github", "workflows"), full).split(path.sep).length === 1;
        if (inWorkflows || /^action\.ya?ml$/.test(entry.name)) found.push(path.relative(root, full));
      }
    }
  };
  walk(path.join(root, ".github"));
  return found.sort();
}

function validatorBin() {
  const bin = path.join(root, "node_modules", ".bin", "action-validator");
  if (!fs.existsSync(bin)) {
    console.error("lint-workflows: action-validator is not installed; run `npm ci` (it is a devDependency).");
    process.exit(2);
  }
  return bin;
}

function main() {
  const files = process.argv.length > 2 ? process.argv.slice(2) : workflowFiles();
  if (files.length === 0) {
    console.error("lint-workflows: no workflow files found under .github/workflows.");
    process.exit(2);
  }
  const bin = validatorBin();
  const invalid = [];
  for (const file of files) {
    const result = spawnSync(bin, [file], { cwd: root, encoding: "utf8" });
    if (result.status !== 0) {
      invalid.push(file);
      console.error(`lint-workflows: ${file} is invalid:\n${(result.stderr || result.stdout).trim()}`);
    }
  }
  if (invalid.length > 0) {
    console.error(`lint-workflows: ${invalid.length} of ${files.length} file(s) invalid: ${invalid.join(", ")}`);
    process.exit(1);
  }
  console.log(`lint-workflows: ${files.length} file(s) valid: ${files.join(", ")}`);
}

main();
