/** @tier unit */
/**
 * install.sh's answers to someone in a hurry, before it touches anything: run from a
 * written bundle (a temp directory), every refusal names what to type instead. Installing,
 * checking and removing for real happens in the namespace lab's production scenario.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { renderOperatorBundle } from "./operatorBundle";
import { FAR_END_FILES, installManifest } from "./farEndHost";
import { KeyRing, spokeGatewaySpec } from "../testkit/cloudInit";

const bundle = renderOperatorBundle(spokeGatewaySpec(new KeyRing(), "static"));
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "wgs2s-install-"));
  for (const [name, content] of Object.entries(bundle)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content, { mode: 0o700 });
  }
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const installSh = (...args: string[]) =>
  spawnSync("sh", [path.join(dir, FAR_END_FILES.installer), ...args], { encoding: "utf8" });

describe("install.sh refuses hurried input before any change", () => {
  it("no command: usage, exit 2", () => {
    const r = installSh();
    expect(r.status).toBe(2);
    expect(r.stdout).toMatch(/install --form wg-quick\|networkd\|netplan \[--dedicated\] \[--metrics\] \[--dry-run\]/);
  });

  it("install without a form names the three and where to read which fits", () => {
    const r = installSh("install");
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      "--form wg-quick (wireguard-tools), --form networkd (systemd-networkd) or --form netplan",
    );
    expect(installSh("install", "--form").stderr).toContain("--form needs a value");
  });

  it("a form that does not exist, and a bundle missing a file the form needs, are named", () => {
    expect(installSh("install", "--form", "ifupdown").stderr).toContain(
      "--form must be wg-quick, networkd or netplan (got 'ifupdown')",
    );
    const netdev = path.join(dir, "networkd/90-wg-s2s.netdev");
    const kept = fs.readFileSync(netdev);
    fs.rmSync(netdev);
    try {
      const r = installSh("install", "--form", "networkd");
      expect([r.status, r.stderr]).toEqual([1, expect.stringContaining("the bundle has no networkd/90-wg-s2s.netdev")]);
      // The other forms do not need it.
      expect(installSh("install", "--form", "wg-quick", "--bogus").stderr).toContain("unknown option '--bogus'");
    } finally {
      fs.writeFileSync(netdev, kept, { mode: 0o700 });
    }
  });

  it("unknown options and a --wait that is not whole seconds are named", () => {
    expect(installSh("install", "--form", "networkd", "--force").stderr).toContain("unknown option '--force'");
    expect(installSh("check", "--wait", "soon").stderr).toContain("--wait takes whole seconds (got 'soon')");
    expect(installSh("uninstall", "--all").stderr).toContain("uninstall: unknown option '--all'");
  });
});

describe("the installer's manifest", () => {
  it("puts the policy before the units, the units before the tunnel, then DHCP, the opt-in metrics last; one policy file per scope", () => {
    const m = installManifest({
      wgQuick: { file: "a", installedAs: "/a" },
      networkd: { netdev: { file: "b", installedAs: "/b" }, network: { file: "c", installedAs: "/c" } },
      netplan: { file: "d", installedAs: "/d" },
      dnsmasq: { file: "e", installedAs: "/e" },
    });
    const order = ["policy", "guard", "unit", "tunnel", "dhcp", "metrics"];
    const roles = m.map((e) => e.role);
    expect([...roles].sort((x, y) => order.indexOf(x) - order.indexOf(y))).toEqual(roles);
    expect(m.filter((e) => e.role === "policy").map((e) => e.when)).toEqual(["tunnel", "dedicated"]);
    // Each form's tunnel files are installed for that form only.
    expect(m.filter((e) => e.role === "tunnel").map((e) => e.when)).toEqual([
      "wg-quick",
      "networkd",
      "networkd",
      "netplan",
    ]);
    // The collector is installed only on request.
    expect(m.filter((e) => e.role === "metrics").map((e) => [e.when, e.installedAs])).toEqual([
      ["metrics", "/usr/local/sbin/wg-s2s-metrics"],
      ["metrics", "/etc/wg-s2s/metrics.conf"],
      ["metrics", "/etc/systemd/system/wg-s2s-metrics.service"],
    ]);
  });

  it("pushing to Cockpit (bundleCockpit) adds the agent's config, its token (root only) and its unit, with --metrics only", () => {
    const tunnel = {
      wgQuick: { file: "a", installedAs: "/a" },
      networkd: { netdev: { file: "b", installedAs: "/b" }, network: { file: "c", installedAs: "/c" } },
      netplan: { file: "d", installedAs: "/d" },
    };
    const push = installManifest({ ...tunnel, metricsPush: true }).filter((e) => e.installedAs.includes("push"));
    expect(push.map((e) => [e.installedAs, e.mode, e.when])).toEqual([
      ["/etc/wg-s2s/metrics-push.yml", "0644", "metrics"],
      ["/etc/wg-s2s/cockpit-push-token", "0600", "metrics"],
      ["/etc/systemd/system/wg-s2s-metrics-push.service", "0644", "metrics"],
    ]);
    // Negative control: without the owner's opt-in, nothing of it.
    expect(installManifest(tunnel).filter((e) => e.installedAs.includes("push"))).toEqual([]);
  });
});
