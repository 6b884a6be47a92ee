/**
 * Stand-in for `networkctl` inside a namespace-lab host, which has no systemd-networkd and
 * no kernel WireGuard module. `networkctl reload` reads the WireGuard .netdev/.network
 * files the user-data wrote (lab/standins/networkd.ts says which keys) and does what
 * networkd does: creates each missing WireGuard link (the kernel's, else wireguard-go),
 * sets keys and peers with wg(8), then MTU, addresses, up and routes. As with networkd, a
 * link that already exists keeps its keys and peers; addresses and routes are re-applied.
 * `networkctl reconfigure LINK` re-applies one link. Anything else is refused.
 *
 * Appends to /run/lab-systemd/journal.log (the systemctl stand-in's journal), so the lab
 * sees when the tunnel came up relative to the units.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { linkSteps, planWireGuardLinks, type WireGuardLinkPlan } from "./networkd";

const JOURNAL_DIR = process.env.LAB_SYSTEMD_STATE_DIR ?? "/run/lab-systemd";
const NETWORK_DIRS = ["/etc/systemd/network", "/run/systemd/network"];
/** Keys go through files here (root-only, removed right after), never through argv. */
const SECRET_DIR = "/run/lab-networkd";

function log(line: string): void {
  fs.mkdirSync(JOURNAL_DIR, { recursive: true });
  fs.appendFileSync(path.join(JOURNAL_DIR, "journal.log"), `${new Date().toISOString()} networkctl: ${line}\n`);
}

function readDir(ext: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const dir of NETWORK_DIRS) {
    if (!fs.existsSync(dir)) continue;
    for (const f of fs.readdirSync(dir)) if (f.endsWith(ext)) files[f] = fs.readFileSync(path.join(dir, f), "utf8");
  }
  return files;
}

function sh(argv: string[]): { ok: boolean; out: string } {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8", timeout: 20_000 });
  return { ok: r.status === 0, out: `${r.stdout ?? ""}${r.stderr ?? ""}`.trim() };
}

const linkExists = (name: string) => sh(["ip", "link", "show", "dev", name]).ok;

function createLink(name: string): void {
  if (sh(["ip", "link", "add", "dev", name, "type", "wireguard"]).ok) {
    log(`${name}: created (kernel WireGuard)`);
    return;
  }
  // wireguard-go daemonises itself once the TUN device exists.
  const r = sh(["wireguard-go", name]);
  if (!r.ok || !linkExists(name)) throw new Error(`${name}: neither kernel WireGuard nor wireguard-go: ${r.out}`);
  log(`${name}: created (wireguard-go)`);
}

function apply(plan: WireGuardLinkPlan, configureKeys: boolean): void {
  fs.mkdirSync(SECRET_DIR, { recursive: true, mode: 0o700 });
  const written: string[] = [];
  try {
    for (const step of linkSteps(plan, SECRET_DIR)) {
      if ("secretFile" in step) {
        if (!configureKeys) continue;
        fs.writeFileSync(step.secretFile, step.content, { mode: 0o600 });
        written.push(step.secretFile);
        continue;
      }
      if (!configureKeys && step.argv[0] === "wg") continue;
      const r = sh(step.argv);
      // Only the command's verb and the link go to the journal: argv holds no key, but stay terse.
      if (!r.ok) throw new Error(`${plan.name}: ${step.argv.slice(0, 3).join(" ")} failed: ${r.out}`);
    }
  } finally {
    for (const f of written) fs.rmSync(f, { force: true });
  }
}

function reload(only?: string): number {
  const plans = planWireGuardLinks(readDir(".netdev"), readDir(".network")).filter((p) => !only || p.name === only);
  if (only && plans.length === 0) {
    process.stderr.write(`networkctl stand-in: no WireGuard netdev named ${only}\n`);
    return 1;
  }
  for (const plan of plans) {
    const fresh = !linkExists(plan.name);
    if (fresh) createLink(plan.name);
    apply(plan, fresh);
    log(
      `${plan.name}: configured (${plan.peers.length} peer(s), ${plan.routes.length} route(s)${fresh ? "" : ", keys kept"})`,
    );
  }
  return 0;
}

function main(argv: string[]): number {
  const args = argv.filter((a) => !a.startsWith("-"));
  log(argv.join(" "));
  try {
    switch (args[0]) {
      case "reload":
        return reload();
      case "reconfigure":
        return args.slice(1).reduce((code, link) => Math.max(code, reload(link)), 0);
      default:
        process.stderr.write(`networkctl stand-in: "${args[0] ?? ""}" is not supported (reload, reconfigure)\n`);
        return 1;
    }
  } catch (e) {
    log(`failed: ${(e as Error).message}`);
    process.stderr.write(`networkctl stand-in: ${(e as Error).message}\n`);
    return 1;
  }
}

if (require.main === module) process.exit(main(process.argv.slice(2)));
