/** @tier unit */
/**
 * `npm run bundle`: the stack output becomes the operator's directory, with modes that keep
 * the keys private, and every hurried mistake gets the command that fixes it.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BundleError, siteFiles, writeBundle } from "./write-bundle";
import { renderOperatorBundle } from "../rendering/operatorBundle";
import { KeyRing, spokeGatewaySpec } from "../testkit/cloudInit";

const office = renderOperatorBundle(spokeGatewaySpec(new KeyRing(), "static"));
const output = JSON.stringify({ office, branch: { "README.txt": "x" } });

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "wgs2s-bundle-"));
}

const modeOf = (p: string) => (fs.statSync(p).mode & 0o777).toString(8);

describe("write-bundle", () => {
  it("writes the site's files: directory 0700, data 0600, scripts 0700; the same again changes nothing", () => {
    const root = tmpDir();
    try {
      const dir = path.join(root, "office-bundle");
      const written = writeBundle(siteFiles(output, "office"), dir);
      expect(written.sort()).toEqual(Object.keys(office).sort());
      expect(modeOf(dir)).toBe("700");
      expect(modeOf(path.join(dir, "networkd"))).toBe("700");
      expect(modeOf(path.join(dir, "wg0.conf"))).toBe("600");
      expect(modeOf(path.join(dir, "networkd/90-wg-s2s.netdev"))).toBe("600");
      expect(modeOf(path.join(dir, "install.sh"))).toBe("700");
      expect(modeOf(path.join(dir, "wg-s2s-fw"))).toBe("700");
      expect(modeOf(path.join(dir, "routes.sh"))).toBe("700");
      expect(fs.readFileSync(path.join(dir, "site.conf"), "utf8")).toBe(office["site.conf"]);
      expect(writeBundle(siteFiles(output, "office"), dir)).toEqual([]);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it("refuses a directory holding anything else, and names that cannot stay inside the directory", () => {
    const root = tmpDir();
    try {
      fs.writeFileSync(path.join(root, "notes.txt"), "mine");
      expect(() => writeBundle(office, root)).toThrow(/notes\.txt.*pick a new directory/);
      for (const name of ["../evil", "/etc/passwd", "a/../../b", "a//b", ""]) {
        expect(() => siteFiles(JSON.stringify({ office: { [name]: "x" } }), "office")).toThrow(BundleError);
      }
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it("says what to run when the input is empty, masked, not JSON, or the site is not there", () => {
    expect(() => siteFiles("", "office")).toThrow(/pulumi stack output --show-secrets --json externalSiteBundles/);
    expect(() => siteFiles('"[secret]"', "office")).toThrow(/add --show-secrets/);
    expect(() => siteFiles("office:", "office")).toThrow(/not JSON/);
    expect(() => siteFiles(output, "ofice")).toThrow(
      /no external site "ofice" in this stack; its external sites: office, branch/,
    );
    expect(() => siteFiles("{}", "office")).toThrow(/no external site \(remoteSites with kind: external\)/);
  });

  it("as a command: reads standard input, exit 1 with the message on bad input, 2 on missing arguments", () => {
    const root = tmpDir();
    try {
      const tsx = path.join(__dirname, "..", "node_modules", ".bin", "tsx");
      const cli = path.join(__dirname, "write-bundle.ts");
      const ok = spawnSync(tsx, [cli, "office", path.join(root, "b")], { input: output, encoding: "utf8" });
      expect([ok.status, ok.stdout]).toEqual([0, expect.stringContaining(`files for site "office"`)]);
      const bad = spawnSync(tsx, [cli, "nowhere", path.join(root, "c")], { input: output, encoding: "utf8" });
      expect([bad.status, bad.stderr]).toEqual([1, expect.stringContaining('no external site "nowhere"')]);
      expect(fs.existsSync(path.join(root, "c"))).toBe(false);
      expect(spawnSync(tsx, [cli], { input: "", encoding: "utf8" }).status).toBe(2);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
