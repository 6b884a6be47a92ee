/**
 * The VM lab's image: Debian bookworm made to behave like Scaleway's Ubuntu noble image
 * (lab/vm/build-image.sh), built once with debootstrap and cached outside the clone, under
 * /var/cache/scaleway-wireguard-s2s/vm/<key>/, so every clone on the machine shares it.
 * The key hashes the recipe (package list and the build script's text): changing either
 * rebuilds; an unchanged recipe is reused.
 */
import { createHash } from "node:crypto";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { releaseCacheLock, takeCacheLock } from "./cacheLock";
import { imagePackages, packageSetProblems, UBUNTU_PACKAGE_SET } from "./ubuntuPackageSet";

export const BUILD_SCRIPT = path.join(__dirname, "build-image.sh");

/** Where images are cached by default: outside any clone, shared by all of them. */
export const DEFAULT_CACHE_ROOT = "/var/cache/scaleway-wireguard-s2s/vm";

/**
 * What the image holds, under Debian's names: the packages of Ubuntu's published seed lists
 * that lab/vm/ubuntuPackageSet.ts mirrors (same name or a named replacement), plus the lab's
 * own extras there, each with its reason; lab/vm/README.md carries the table. Nothing the
 * user-data installs later (wireguard-tools, dnsmasq) is here: the image has no reachable
 * repository, as on Scaleway with the mirror down.
 */
export const BASE_PACKAGES: readonly string[] = imagePackages(UBUNTU_PACKAGE_SET);

export interface ImageRecipe {
  suite: "bookworm";
  basePackages: string[];
  buildScript: string;
}

export interface VmImage {
  key: string;
  dir: string;
  rootfs: string;
  kernel: string;
  initrd: string;
  /** "package<TAB>version" of everything installed in the image. */
  packages: string[];
  /** False when the cached image was reused. */
  built: boolean;
  buildSeconds: number;
}

const uniqueSorted = (xs: Iterable<string>): string[] => [...new Set(xs)].sort();

export function imageRecipe(buildScript = readBuildScript()): ImageRecipe {
  return { suite: "bookworm", basePackages: uniqueSorted(BASE_PACKAGES), buildScript };
}

export function readBuildScript(): string {
  return fs.readFileSync(BUILD_SCRIPT, "utf8");
}

/** Cache key: any change to the package lists or the script text yields a new key. */
export function imageCacheKey(recipe: ImageRecipe): string {
  return createHash("sha256").update(JSON.stringify(recipe)).digest("hex").slice(0, 16);
}

/**
 * The Debian mirror apt already uses on this machine, from deb822 `.sources` or one-line
 * `sources.list` text. Security and -updates entries are skipped: debootstrap needs the
 * main archive.
 */
export function parseDebianMirror(sourcesTexts: readonly string[]): string | undefined {
  for (const text of sourcesTexts) {
    // deb822: blank-line separated stanzas of "Field: value".
    for (const stanza of text.split(/\n\s*\n/)) {
      const field = (name: string): string | undefined =>
        stanza
          .split("\n")
          .find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`))
          ?.slice(name.length + 1)
          .trim();
      const uris = field("URIs");
      const suites = field("Suites")?.split(/\s+/) ?? [];
      if (uris && suites.includes("bookworm")) {
        const uri = uris.split(/\s+/).find((u) => /^https?:\/\//.test(u) && !/security/.test(u));
        if (uri) return uri;
      }
    }
    for (const line of text.split("\n")) {
      const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(https?:\/\/\S+)\s+bookworm\s/.exec(line);
      if (m && !/security/.test(m[1])) return m[1];
    }
  }
  return undefined;
}

export function hostDebianMirror(): string {
  const files = ["/etc/apt/sources.list"];
  const dir = "/etc/apt/sources.list.d";
  if (fs.existsSync(dir)) {
    for (const f of fs.readdirSync(dir).sort()) {
      if (f.endsWith(".sources") || f.endsWith(".list")) files.push(path.join(dir, f));
    }
  }
  const texts = files.filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f, "utf8"));
  return parseDebianMirror(texts) ?? "http://deb.debian.org/debian";
}

function imageFiles(dir: string): Pick<VmImage, "rootfs" | "kernel" | "initrd"> {
  return {
    rootfs: path.join(dir, "rootfs.qcow2"),
    kernel: path.join(dir, "vmlinuz"),
    initrd: path.join(dir, "initrd.img"),
  };
}

function isComplete(dir: string): boolean {
  const f = imageFiles(dir);
  return [f.rootfs, f.kernel, f.initrd, path.join(dir, "recipe.json")].every((p) => fs.existsSync(p));
}

export interface EnsureImageOptions {
  /** Default DEFAULT_CACHE_ROOT. */
  cacheRoot?: string;
  log?: (line: string) => void;
  /** Bound on the whole build (debootstrap downloads ~300 MB). */
  timeoutMs?: number;
}

/** Returns the cached image for this recipe, building it first when absent. */
export async function ensureImage(opts: EnsureImageOptions): Promise<VmImage> {
  const log = opts.log ?? (() => undefined);
  // Before any download: an image that breaks the lab's premise is not worth 5 minutes.
  const problems = packageSetProblems(UBUNTU_PACKAGE_SET, BASE_PACKAGES);
  if (problems.length)
    throw new Error(`VM image package set (lab/vm/ubuntuPackageSet.ts):\n  ${problems.join("\n  ")}`);
  const recipe = imageRecipe();
  const key = imageCacheKey(recipe);
  const cacheRoot = opts.cacheRoot ?? DEFAULT_CACHE_ROOT;
  const dir = path.join(cacheRoot, key);
  fs.mkdirSync(cacheRoot, { recursive: true });
  const started = Date.now();

  if (!(await takeCacheLock(dir, () => isComplete(dir), opts.timeoutMs ?? 20 * 60_000, `image ${key}`)))
    return describe(dir, key, false, 0);

  const tmp = `${dir}.tmp-${process.pid}`;
  try {
    if (isComplete(dir)) return describe(dir, key, false, 0);
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp, { recursive: true });
    const mirror = hostDebianMirror();
    log(`building VM image ${key} (debootstrap bookworm from ${mirror}); log: ${tmp}.log`);
    await runBuild(
      [BUILD_SCRIPT, tmp, mirror, recipe.basePackages.join(",")],
      `${tmp}.log`,
      opts.timeoutMs ?? 20 * 60_000,
    );
    fs.writeFileSync(path.join(tmp, "recipe.json"), JSON.stringify({ key, ...recipe, mirror }, null, 2));
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
    fs.renameSync(`${tmp}.log`, path.join(dir, "build.log"));
    const seconds = (Date.now() - started) / 1000;
    log(`VM image ${key} built in ${seconds.toFixed(0)} s`);
    return describe(dir, key, true, seconds);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
    releaseCacheLock(dir);
  }
}

function describe(dir: string, key: string, built: boolean, buildSeconds: number): VmImage {
  const list = path.join(dir, "packages.txt");
  const packages = fs.existsSync(list) ? fs.readFileSync(list, "utf8").split("\n").filter(Boolean) : [];
  return { key, dir, ...imageFiles(dir), packages, built, buildSeconds };
}

function runBuild(args: string[], logFile: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const out = fs.openSync(logFile, "w");
    const child = spawn("bash", args, { stdio: ["ignore", out, out], detached: true });
    const timer = setTimeout(() => {
      // The build runs in its own process group: end debootstrap and its children too.
      if (child.pid) process.kill(-child.pid, "SIGTERM");
      reject(new Error(`image build timed out after ${timeoutMs / 1000} s; see ${logFile}`));
    }, timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      fs.closeSync(out);
      if (code === 0) resolve();
      else {
        const tail = fs.readFileSync(logFile, "utf8").split("\n").slice(-15).join("\n");
        reject(new Error(`image build failed (${signal ?? `exit ${code}`}); last lines of ${logFile}:\n${tail}`));
      }
    });
  });
}
