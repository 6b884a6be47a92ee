/** @tier system */
/**
 * The package-mirror stand-in on the wire: the mirror in one test namespace, apt in a
 * second (a veth pair between them, nothing in the machine's own namespace), with state,
 * cache and sources of its own and the image's dpkg status. apt must install-download
 * exactly what the mirror serves, byte for byte the cached files; the negative control
 * takes the mirror's link down and apt must then fail.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describeUnless } from "../../scripts/tier-skip";
import { pollUntil, type BackgroundProcess } from "../proc";
import { DEFAULT_CACHE_ROOT, imageCacheKey, imageRecipe } from "../vm/image";
import type { PinnedPackage } from "../vm/debs";
import {
  buildMirrorRepo,
  imageStatus,
  mirrorRequests,
  mirrorSourceLine,
  parsePackageList,
  startPackageMirror,
  type MirrorRepo,
} from "./packageMirror";

/** What gateways install that the image lacks (cloud-init/gateway.ts gatewayPackages; keepalived: an HA hub). */
const ROOTS = ["wireguard-tools", "prometheus-node-exporter", "keepalived"];
const MIRROR = "198.51.100.80";
const CLIENT = "198.51.100.81";

const sh = (argv: string[], timeoutMs = 15_000) => {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8", timeout: timeoutMs });
  return { code: r.status ?? -1, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
};
const must = (argv: string[]) => {
  const r = sh(argv);
  if (r.code !== 0) throw new Error(`${argv.join(" ")}: ${r.out}`);
};

/**
 * The image the mirror is computed against: the VM lab's cached image when there is one,
 * else this machine's own packages without the roots (then the closure is the roots alone).
 */
function baseList(): { name: string; packages: PinnedPackage[] } {
  const cached = path.join(DEFAULT_CACHE_ROOT, imageCacheKey(imageRecipe()), "packages.txt");
  if (fs.existsSync(cached))
    return { name: "the VM lab's cached image", packages: parsePackageList(fs.readFileSync(cached, "utf8")) };
  const mine = sh(["dpkg-query", "-W", "-f", "${Package}\t${Version}\t${Status}\n"]).out;
  const installed = mine
    .split("\n")
    .filter((l) => l.endsWith("install ok installed"))
    .join("\n");
  return {
    name: "this machine without the roots",
    packages: parsePackageList(installed).filter((p) => !ROOTS.includes(p.package)),
  };
}

const candidate = sh(["apt-cache", "policy", ROOTS[0]]).out.match(/Candidate:\s*(\S+)/)?.[1];
const skip =
  ["apt-get", "dpkg-deb"].find((t) => sh(["sh", "-c", `command -v ${t}`]).code !== 0) ??
  (!candidate || candidate === "(none)"
    ? "this machine's apt knows no wireguard-tools (apt-get update first)"
    : undefined);

describeUnless(skip)("package-mirror stand-in on the wire", () => {
  jest.setTimeout(600_000);
  const tag = `wgm${process.pid.toString(16).slice(-4)}`;
  const [mirrorNs, clientNs] = [`${tag}-mirror`, `${tag}-apt`];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lab-package-mirror-"));
  const base = baseList();
  let repo: MirrorRepo;
  let mirror: BackgroundProcess | undefined;

  /** apt as a VM would run it, in the client namespace, reading nothing of this machine's apt. */
  const apt = (state: string, args: string[]) => {
    const d = path.join(dir, state);
    for (const sub of ["lists/partial", "archives/partial", "apt.conf.d", "sources.list.d"])
      fs.mkdirSync(path.join(d, sub), { recursive: true });
    fs.writeFileSync(path.join(d, "status"), fs.readFileSync(path.join(dir, "image-status")));
    // The image's own source, unreachable here as in the VM lab, next to the mirror.
    fs.writeFileSync(
      path.join(d, "sources.list"),
      `deb http://127.0.0.1:9/debian bookworm main\n${mirrorSourceLine(MIRROR)}\n`,
    );
    const conf = [
      `Dir::Etc::Parts "${d}/apt.conf.d";`,
      `Dir::Etc::main "/dev/null";`,
      `Dir::Etc::SourceList "${d}/sources.list";`,
      `Dir::Etc::SourceParts "${d}/sources.list.d";`,
      `Dir::State::Lists "${d}/lists";`,
      `Dir::State::status "${d}/status";`,
      `Dir::State::extended_states "${d}/extended_states";`,
      `Dir::Cache::archives "${d}/archives";`,
      `Dir::Cache::pkgcache "";`,
      `Dir::Cache::srcpkgcache "";`,
      `Debug::NoLocking "true";`,
      `APT::Sandbox::User "root";`,
      `Acquire::http::Timeout "10";`,
      "",
    ].join("\n");
    fs.writeFileSync(path.join(d, "apt.conf"), conf);
    const r = spawnSync("ip", ["netns", "exec", clientNs, "apt-get", "-q", ...args], {
      encoding: "utf8",
      timeout: 180_000,
      env: { ...process.env, APT_CONFIG: path.join(d, "apt.conf"), DEBIAN_FRONTEND: "noninteractive" },
    });
    const archives = path.join(d, "archives");
    const debs = fs.readdirSync(archives).filter((f) => f.endsWith(".deb"));
    return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}`, debs, archives };
  };

  beforeAll(async () => {
    for (const ns of [mirrorNs, clientNs]) must(["ip", "netns", "add", ns]);
    must(["ip", "link", "add", "eth0", "netns", mirrorNs, "type", "veth", "peer", "name", "eth0", "netns", clientNs]);
    for (const [ns, address] of [
      [mirrorNs, MIRROR],
      [clientNs, CLIENT],
    ]) {
      must(["ip", "-n", ns, "addr", "add", `${address}/24`, "dev", "eth0"]);
      must(["ip", "-n", ns, "link", "set", "eth0", "up"]);
      must(["ip", "-n", ns, "link", "set", "lo", "up"]);
    }
    const status = await imageStatus(base.packages);
    fs.writeFileSync(path.join(dir, "image-status"), status.status);
    repo = await buildMirrorRepo({
      cacheRoot: DEFAULT_CACHE_ROOT,
      imagePackages: base.packages,
      roots: ROOTS,
      dir: path.join(dir, "repo"),
    });
    mirror = await startPackageMirror({ ns: mirrorNs, address: MIRROR, dir: repo.dir });
  });

  afterAll(async () => {
    await mirror?.stop();
    for (const ns of [mirrorNs, clientNs]) sh(["ip", "netns", "delete", ns]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("the closure against the image: the roots and what they need that it lacks", () => {
    const served = repo.packages.map((p) => p.package);
    expect(served).toEqual(expect.arrayContaining(ROOTS.filter((r) => !repo.inImage.includes(r))));
    const inImage = new Set(base.packages.map((p) => `${p.package}=${p.version}`));
    for (const p of repo.packages) expect(inImage.has(`${p.package}=${p.version}`)).toBe(false);
    const bytes = repo.packages.reduce((n, p) => n + p.size, 0);
    console.log(
      `mirror against ${base.name}: ${repo.packages.length} files, ${(bytes / 1e6).toFixed(1)} MB: ${served.join(" ")}`,
    );
  });

  test("apt from another namespace installs (download-only) exactly the served files, byte for byte", async () => {
    const update = apt("ok", ["update"]);
    // The image's own source fails and apt-get update still exits 0: what the extras script relies on.
    expect({ code: update.code, out: update.out }).toEqual({ code: 0, out: expect.stringMatching(/198\.51\.100\.80/) });
    const install = apt("ok", ["install", "-y", "--download-only", "--no-install-recommends", ...ROOTS]);
    expect({ code: install.code, out: install.out }).toEqual({ code: 0, out: expect.anything() });
    const got = Object.fromEntries(
      install.debs.map((f) => [
        f,
        createHash("sha256")
          .update(fs.readFileSync(path.join(install.archives, f)))
          .digest("hex"),
      ]),
    );
    // apt names downloads with the epoch as %3a; the repository uses Debian's pool names.
    const want = Object.fromEntries(
      repo.packages.map((p) => [`${p.package}_${p.version.replace(/:/g, "%3a")}_${p.architecture}.deb`, p.sha256]),
    );
    expect(got).toEqual(want);
    // The mirror's log reaches this process once its event loop runs (apt ran synchronously).
    const served = ["Packages", ...repo.packages.map((p) => p.file)];
    const fetched = () =>
      mirrorRequests(mirror!.output())
        .filter((r) => r.client === CLIENT && r.status === 200)
        .map((r) => r.file);
    await pollUntil(async () => served.every((f) => fetched().includes(f)), 5000, 100);
    expect(fetched()).toEqual(expect.arrayContaining(served));
  });

  test("negative control: with the mirror unreachable, apt fails and downloads nothing", () => {
    must(["ip", "-n", mirrorNs, "link", "set", "eth0", "down"]);
    try {
      const update = apt("down", ["--error-on=any", "update"]);
      expect(update.code).not.toBe(0);
      const install = apt("down", ["install", "-y", "--download-only", "--no-install-recommends", ...ROOTS]);
      expect(install.code).not.toBe(0);
      expect(install.debs).toEqual([]);
    } finally {
      must(["ip", "-n", mirrorNs, "link", "set", "eth0", "up"]);
    }
  });
});
