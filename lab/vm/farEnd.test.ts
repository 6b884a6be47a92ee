/** @tier unit */
/** The far-end VM's pieces that run as shell: its setup, its packages, the bundle's copy. */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { EXECUTABLE_FILES, FAR_END_FILES } from "../../rendering/farEndHost";
import { debInstallScript } from "./debs";
import { officeRouterRuleset } from "../scenarios/farEndHosts";
import { FAR_END_UPLINK, officeRouterSetupScript } from "./farEnd";
import { SETUP_DONE } from "./savedState";
import { bundleCopyScript } from "./scenarios/farEnd";

const sh = (script: string) => execFileSync("sh", ["-n"], { input: script });

test("the office router masquerades its LAN out of its uplink, from an nftables.conf that flushes the ruleset", () => {
  const ruleset = officeRouterRuleset(FAR_END_UPLINK);
  expect(ruleset).toMatch(/^flush ruleset$/m);
  expect(ruleset).toContain(`oifname "${FAR_END_UPLINK}" masquerade`);
  expect(ruleset).not.toContain('"UPLINK"');
  const setup = officeRouterSetupScript(ruleset);
  expect(setup).toContain("systemctl enable --now nftables.service");
  expect(setup).toContain("net.ipv4.ip_forward = 1");
  expect(setup.trimEnd().split("\n").pop()).toBe(`echo ${SETUP_DONE}`);
  sh(setup);
});

describe("the bundle copied into the VM", () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "far-end-copy-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("as `npm run bundle` writes it: directory 0700, data 0600, scripts 0700, content byte for byte", () => {
    const files = {
      [FAR_END_FILES.installer]: "#!/bin/sh\necho 'it''s' \"$1\" `x` $(y)\n",
      "wg0.conf": "[Interface]\nPrivateKey = abc+/=\n",
      "networkd/90-wg-s2s.netdev": "[NetDev]\nName=wg0\n",
    };
    const target = path.join(dir, "bundle");
    const out = execFileSync("sh", [], { input: bundleCopyScript(target, files) }).toString();
    expect(out).toContain("bundle-copied");
    expect(fs.statSync(target).mode & 0o777).toBe(0o700);
    for (const [name, content] of Object.entries(files)) {
      const file = path.join(target, name);
      expect(fs.readFileSync(file, "utf8")).toBe(content);
      expect(fs.statSync(file).mode & 0o777).toBe(EXECUTABLE_FILES.has(name) ? 0o700 : 0o600);
    }
  });

  test("refuses a file name that would land outside the directory", () => {
    expect(() => bundleCopyScript(path.join(dir, "b"), { "../x": "" })).toThrow(/not a plain relative path/);
    expect(() => bundleCopyScript(path.join(dir, "b"), { "a/../../x": "" })).toThrow(/not a plain relative path/);
  });
});

test("packages go in as the files fetched here, checked by SHA-256 before dpkg sees them", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "far-end-debs-"));
  try {
    const file = path.join(dir, "pkg_1.0_amd64.deb");
    fs.writeFileSync(file, "not really a deb");
    const good = "b3a1b1a2d8a3e5ed0a53c7c0d8a0f8e2c5a3e7bf1c1e0d2a3b4c5d6e7f8091a2";
    const script = debInstallScript([{ package: "pkg", file, sha256: good }]);
    sh(script);
    expect(script).toContain(`echo '${good}  /root/lab-debs/pkg_1.0_amd64.deb' | sha256sum -c --quiet`);
    expect(script).toContain("dpkg -i /root/lab-debs/pkg_1.0_amd64.deb");
    // The check comes first: a wrong file stops the script before dpkg.
    expect(script.indexOf("sha256sum -c")).toBeLessThan(script.indexOf("dpkg -i"));
    expect(script).toContain(Buffer.from("not really a deb").toString("base64"));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
