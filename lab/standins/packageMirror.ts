/**
 * Package-mirror stand-in: a flat Debian repository (`deb [trusted=yes] http://ADDR/ ./`)
 * serving the exact .deb files fetched on this machine (lab/vm/debs.ts) for the packages a
 * VM's user-data installs that its image lacks, and nothing else.
 *
 * What it serves is the dependency closure of those packages computed by apt itself against
 * the image's package list (packages.txt of the image's cache directory): apt on this
 * machine, with this machine's Debian lists but a dpkg status that is the image's (every
 * package of packages.txt at its version, its record taken from this machine's lists by
 * `apt-cache show name=version`), simulates `install --no-install-recommends` (the extras
 * script's own command) and names what it would install. A version the lists no longer
 * have keeps a bare record (name, version, no dependencies) and is reported.
 *
 * The index is ours: each record is the package's own control file (`dpkg-deb -f`) plus
 * Filename, Size and SHA256 of the file served; Release lists the Packages file's SHA256
 * and is not signed. Trusted, unsigned, because what a signature would vouch for is
 * already pinned: apt checked Debian's signature when it downloaded each file here, the
 * index carries that file's SHA-256, and apt on the client refuses a file that differs. A
 * signed form would put a lab key into the image or the VM and prove nothing more.
 *
 * Served over HTTP by a process in a lab namespace (`startPackageMirror`), started and
 * stopped by PID; it also ends by itself once the process that started it is gone.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { runOk, spawnBackground, type BackgroundProcess } from "../proc";
import { fetchDebs, type PinnedPackage } from "../vm/debs";

const REPO_ROOT = path.join(__dirname, "..", "..");

/** The one line a client's sources.list needs for a mirror at `address`. */
export const mirrorSourceLine = (address: string, port = 80): string =>
  `deb [trusted=yes] http://${address}${port === 80 ? "" : `:${port}`}/ ./`;

/** "package<TAB>version" lines (an image's packages.txt) as pinned packages. */
export function parsePackageList(text: string): PinnedPackage[] {
  return text
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 2 && f[0])
    .map(([pkg, version]) => ({ package: pkg, version }));
}

/**
 * A dpkg status file saying that exactly `installed` is installed: each package's record
 * from this machine's lists at that version, or a bare record when the lists lack it.
 */
export async function imageStatus(
  installed: readonly PinnedPackage[],
): Promise<{ status: string; withoutRecord: string[] }> {
  const shown = installed.length
    ? (
        await runOk(["apt-cache", "show", ...installed.map((p) => `${p.package}=${p.version}`)], {
          timeoutMs: 120_000,
        })
      ).stdout
    : "";
  const records = new Map<string, string>();
  for (const record of shown.split(/\n\s*\n/)) {
    const name = /^Package: (\S+)$/m.exec(record)?.[1];
    const version = /^Version: (\S+)$/m.exec(record)?.[1];
    if (name && version && !records.has(`${name}=${version}`)) records.set(`${name}=${version}`, record.trim());
  }
  const withoutRecord: string[] = [];
  const stanzas = installed.map((p) => {
    const record = records.get(`${p.package}=${p.version}`);
    if (!record) withoutRecord.push(`${p.package}=${p.version}`);
    const body = record ?? `Package: ${p.package}\nVersion: ${p.version}\nArchitecture: amd64`;
    return body.replace(/^(Package: .*)$/m, "$1\nStatus: install ok installed");
  });
  return { status: stanzas.map((s) => `${s}\n`).join("\n"), withoutRecord };
}

/**
 * What `apt-get install --no-install-recommends roots` installs on a machine whose dpkg
 * status is `statusFile`, resolved by this machine's apt against its own lists. Throws when
 * apt cannot resolve it or would remove anything.
 */
export async function dependencyClosure(roots: readonly string[], statusFile: string): Promise<PinnedPackage[]> {
  const r = await runOk(
    [
      "apt-get",
      "-s",
      "-q",
      ...["-o", `Dir::State::status=${statusFile}`],
      ...["-o", `Dir::State::extended_states=${statusFile}.extended`],
      // No cache file written or read: the machine's own describes the machine's status.
      ...["-o", "Dir::Cache::pkgcache=", "-o", "Dir::Cache::srcpkgcache="],
      ...["-o", "Debug::NoLocking=1"],
      "install",
      "--no-install-recommends",
      ...roots,
    ],
    { timeoutMs: 120_000 },
  );
  const removed = [...r.stdout.matchAll(/^Remv (\S+)/gm)].map((m) => m[1]);
  if (removed.length) throw new Error(`installing ${roots.join(" ")} would remove ${removed.join(", ")}`);
  return [...r.stdout.matchAll(/^Inst (\S+) (?:\[\S+\] )?\((\S+) /gm)].map((m) => ({ package: m[1], version: m[2] }));
}

export interface MirrorPackage extends PinnedPackage {
  architecture: string;
  /** Name in the repository (Debian's pool name: no epoch). */
  file: string;
  /** The cached .deb it is a link to. */
  source: string;
  size: number;
  sha256: string;
}

export interface MirrorRepo {
  dir: string;
  /** The packages asked for. */
  roots: string[];
  /** Roots the image already has: nothing to serve for them. */
  inImage: string[];
  /** Everything served, sorted by name. */
  packages: MirrorPackage[];
  /** Image packages whose version this machine's lists no longer describe (bare status records). */
  withoutRecord: string[];
}

/** Debian's pool name of a package file: name_version-without-epoch_arch.deb. */
export const poolName = (pkg: string, version: string, arch: string): string =>
  `${pkg}_${version.replace(/^\d+:/, "")}_${arch}.deb`;

/**
 * Builds the repository in `dir` (links to the cached files, Packages, Release): the
 * closure of `roots` against `imagePackages`, fetched into `<cacheRoot>/debs/`.
 */
export async function buildMirrorRepo(opts: {
  cacheRoot: string;
  imagePackages: readonly PinnedPackage[];
  roots: readonly string[];
  dir: string;
}): Promise<MirrorRepo> {
  fs.mkdirSync(opts.dir, { recursive: true });
  const work = fs.mkdtempSync(path.join(opts.dir, ".closure-"));
  let closure: PinnedPackage[];
  let withoutRecord: string[];
  try {
    const image = await imageStatus(opts.imagePackages);
    withoutRecord = image.withoutRecord;
    fs.writeFileSync(path.join(work, "status"), image.status);
    closure = await dependencyClosure(opts.roots, path.join(work, "status"));
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  const debs = await fetchDebs(opts.cacheRoot, closure);
  const packages: MirrorPackage[] = [];
  const records: string[] = [];
  for (const [i, deb] of debs.entries()) {
    const control = (await runOk(["dpkg-deb", "-f", deb.file], { timeoutMs: 30_000 })).stdout.trimEnd();
    const architecture = /^Architecture: (\S+)$/m.exec(control)?.[1] ?? "amd64";
    const file = poolName(deb.package, closure[i].version, architecture);
    const link = path.join(opts.dir, file);
    fs.rmSync(link, { force: true });
    fs.symlinkSync(deb.file, link);
    const size = fs.statSync(deb.file).size;
    packages.push({ ...closure[i], architecture, file, source: deb.file, size, sha256: deb.sha256 });
    records.push(`${control}\nFilename: ./${file}\nSize: ${size}\nSHA256: ${deb.sha256}\n`);
  }
  const order = packages.map((p, i) => [p.package, i] as const).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const index = order.map(([, i]) => records[i]).join("\n");
  fs.writeFileSync(path.join(opts.dir, "Packages"), index);
  fs.writeFileSync(path.join(opts.dir, "Release"), renderRelease(index));
  const installed = new Set(opts.imagePackages.map((p) => p.package));
  return {
    dir: opts.dir,
    roots: [...opts.roots],
    inImage: opts.roots.filter((r) => installed.has(r)),
    packages: order.map(([, i]) => packages[i]),
    withoutRecord,
  };
}

/** An unsigned Release for a flat repository: apt checks the Packages file against it. */
export function renderRelease(packagesIndex: string): string {
  const sha = createHash("sha256").update(packagesIndex).digest("hex");
  return [
    "Origin: scaleway-wireguard-s2s lab",
    "Label: package-mirror stand-in",
    `SHA256:`,
    ` ${sha} ${Buffer.byteLength(packagesIndex)} Packages`,
    "",
  ].join("\n");
}

/** One served request, as the server logs it. */
export interface MirrorRequest {
  client: string;
  method: string;
  /** The file asked for, as the repository names it (apt asks for a flat repository's "./X" as "/./X"). */
  file: string;
  status: number;
}

const REQUEST_LINE = /^mirror-request (\S+) (\S+) (\S+) (\d{3})$/;

/** The requests a mirror process has logged so far (its output). */
export const mirrorRequests = (output: string): MirrorRequest[] =>
  output.split("\n").flatMap((line) => {
    const m = REQUEST_LINE.exec(line.trim());
    if (!m) return [];
    let file = m[3];
    try {
      file = decodeURIComponent(file);
    } catch {
      /* logged as received */
    }
    return [{ client: m[1], method: m[2], file: file.replace(/^\/(\.\/)?/, ""), status: Number(m[4]) }];
  });

/**
 * Serves the top-level files of `dir` (links followed), nothing below it, GET and HEAD
 * only; logs one `mirror-request` line per request.
 */
export function serveRepo(dir: string, host: string, port: number, log: (line: string) => void): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const client = (req.socket.remoteAddress ?? "?").replace(/^::ffff:/, "");
    const url = req.url ?? "/";
    const done = (status: number) => log(`mirror-request ${client} ${req.method} ${url} ${status}`);
    let name: string;
    try {
      name = decodeURIComponent(new URL(url, "http://mirror").pathname).replace(/^\/(\.\/)?/, "");
    } catch {
      name = "";
    }
    const file = path.join(dir, name);
    const ok =
      (req.method === "GET" || req.method === "HEAD") &&
      name !== "" &&
      !name.includes("/") &&
      !name.startsWith(".") &&
      fs.existsSync(file) &&
      fs.statSync(file).isFile();
    if (!ok) {
      res.writeHead(404, { "Content-Type": "text/plain" }).end("not found\n");
      done(404);
      return;
    }
    const size = fs.statSync(file).size;
    // Logged once the whole answer was handed to the kernel; an aborted one is not.
    res.on("finish", () => done(200));
    res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": size });
    if (req.method === "HEAD") res.end();
    else
      fs.createReadStream(file)
        .on("error", () => res.destroy())
        .pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}

/**
 * Starts the mirror serving `dir` at http://address:port/ inside namespace `ns` (the
 * address must already be on one of its links). Waits, bounded, until it listens.
 */
export async function startPackageMirror(opts: {
  ns: string;
  address: string;
  port?: number;
  dir: string;
}): Promise<BackgroundProcess> {
  const port = opts.port ?? 80;
  const p = spawnBackground([
    "ip",
    "netns",
    "exec",
    opts.ns,
    process.execPath,
    path.join(REPO_ROOT, "node_modules", "tsx", "dist", "cli.mjs"),
    __filename,
    "serve",
    opts.dir,
    opts.address,
    String(port),
    String(process.pid),
  ]);
  // tsx compiles this file first: seconds on a loaded machine.
  const deadline = Date.now() + 60_000;
  while (!p.output().includes("package mirror: listening") && Date.now() < deadline) {
    if (await p.waitExit(200)) break;
  }
  if (!p.output().includes("package mirror: listening")) {
    await p.stop();
    throw new Error(`the package mirror did not start in ${opts.ns}: ${p.output().trim().slice(-500)}`);
  }
  return p;
}

async function main([command, dir, host, port, owner]: string[]): Promise<void> {
  if (command !== "serve" || !dir || !host || !port || !owner)
    throw new Error("usage: tsx lab/standins/packageMirror.ts serve DIR ADDRESS PORT OWNER_PID");
  const server = await serveRepo(dir, host, Number(port), (line) => process.stdout.write(`${line}\n`));
  process.stdout.write(`package mirror: listening on http://${host}:${port}/ (${dir})\n`);
  const end = () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  };
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, end);
  // Never outlive the lab that started it, even when that lab was killed outright.
  setInterval(() => {
    try {
      process.kill(Number(owner), 0);
    } catch {
      end();
    }
  }, 2000).unref();
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e: Error) => {
    process.stderr.write(`package mirror: ${e.message}\n`);
    process.exit(1);
  });
}
