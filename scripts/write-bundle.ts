/**
 * `npm run -s bundle -- SITE DIR`: turns the stack's `externalSiteBundles` output (JSON on
 * standard input) into the directory an external site's operator installs from:
 *
 *   pulumi stack output --show-secrets --json externalSiteBundles | npm run -s bundle -- office ./office-bundle
 *
 * The directory is created mode 0700; its files are 0600 (they hold the site's keys), the
 * scripts 0700. It refuses to write into a directory that holds anything else, and any file
 * name that would land outside it. Writing the same bundle again changes nothing.
 */
import * as fs from "fs";
import * as path from "path";
import { EXECUTABLE_FILES } from "../rendering/farEndHost";

export class BundleError extends Error {}

const SAFE_NAME = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

/** The one site's files out of the output's JSON, with errors that say what to run instead. */
export function siteFiles(json: string, site: string): Record<string, string> {
  if (json.trim() === "") {
    throw new BundleError(
      "nothing on standard input: pipe the stack output in, e.g.\n" +
        `  pulumi stack output --show-secrets --json externalSiteBundles | npm run -s bundle -- ${site || "SITE"} ./${site || "site"}-bundle`,
    );
  }
  let all: unknown;
  try {
    all = JSON.parse(json);
  } catch {
    throw new BundleError(
      "standard input is not JSON: use `pulumi stack output --show-secrets --json externalSiteBundles`",
    );
  }
  if (all === "[secret]") {
    throw new BundleError("the output came masked as [secret]: add --show-secrets to `pulumi stack output`");
  }
  if (typeof all !== "object" || all === null || Array.isArray(all)) {
    throw new BundleError("expected the externalSiteBundles output: an object of site name -> files");
  }
  const sites = Object.keys(all);
  const files = (all as Record<string, unknown>)[site];
  if (files === undefined) {
    throw new BundleError(
      sites.length === 0
        ? "this stack has no external site (remoteSites with kind: external), so there is no bundle to write"
        : `no external site "${site}" in this stack; its external sites: ${sites.join(", ")}`,
    );
  }
  const entries = Object.entries(files as Record<string, unknown>);
  for (const [name, content] of entries) {
    if (!SAFE_NAME.test(name) || name.split("/").some((part) => part === "." || part === "..")) {
      throw new BundleError(`refusing file name ${JSON.stringify(name)}: it would land outside the bundle directory`);
    }
    if (typeof content !== "string") throw new BundleError(`file ${name}: content is not text`);
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

/** Writes the directory; returns the names written (those that differed or were missing). */
export function writeBundle(files: Record<string, string>, dir: string): string[] {
  const names = Object.keys(files).sort();
  const expected = new Set(names.flatMap((n) => n.split("/").map((_, i, parts) => parts.slice(0, i + 1).join("/"))));
  if (fs.existsSync(dir)) {
    if (!fs.statSync(dir).isDirectory()) throw new BundleError(`${dir} exists and is not a directory`);
    const strays = listRelative(dir).filter((rel) => !expected.has(rel));
    if (strays.length > 0) {
      throw new BundleError(
        `${dir} holds files that are not this bundle's (${strays.slice(0, 3).join(", ")}): pick a new directory`,
      );
    }
  }
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  const written: string[] = [];
  for (const name of names) {
    const target = path.join(dir, name);
    fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
    const mode = EXECUTABLE_FILES.has(name) ? 0o700 : 0o600;
    const same = fs.existsSync(target) && fs.readFileSync(target, "utf8") === files[name];
    if (!same) {
      fs.writeFileSync(target, files[name], { mode });
      written.push(name);
    }
    fs.chmodSync(target, mode);
  }
  return written;
}

function listRelative(dir: string, prefix = ""): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    return e.isDirectory() ? [rel, ...listRelative(path.join(dir, e.name), rel)] : [rel];
  });
}

function main(argv: string[]): number {
  const [site, dir] = argv;
  if (!site || !dir) {
    process.stderr.write(
      "usage: pulumi stack output --show-secrets --json externalSiteBundles | npm run -s bundle -- SITE DIR\n",
    );
    return 2;
  }
  try {
    const files = siteFiles(fs.readFileSync(0, "utf8"), site);
    const written = writeBundle(files, dir);
    process.stdout.write(
      `${dir}: ${Object.keys(files).length} files for site "${site}" (${written.length} written). ` +
        `It holds the site's keys: hand it over privately, e.g. tar -C ${dir} -czf ${site}-bundle.tgz .\n` +
        `The operator runs, as root, from it: ./install.sh install --form wg-quick|networkd|netplan (README.txt)\n`,
    );
    return 0;
  } catch (e) {
    if (e instanceof BundleError) {
      process.stderr.write(`bundle: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
