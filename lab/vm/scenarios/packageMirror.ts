/**
 * The packages the gateways' user-data installs off the tunnel's path (wg-s2s-extras.service:
 * wireguard-tools, prometheus-node-exporter, dnsmasq on a dhcp site, ...), installed for
 * real: once the unreachable-repository check has run, the package-mirror stand-in
 * (lab/standins/packageMirror.ts) opens on the internet segment, serving Debian's exact
 * files for what each gateway's unit names and its image lacks.
 *
 * How a gateway finds it: the image's only apt source stays as built (Debian's archive by
 * name, which nothing resolves in the lab); the scenario adds one sources.list.d line for
 * the mirror, as an operator pointing an instance at a local mirror would. Changing the
 * image's source instead would change the image's recipe, hence its key: a cold image and
 * saved-state rebuild. The unit retries every 2 minutes; the scenario restarts it rather
 * than wait for the retry.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { PATHS, UNITS } from "../../../cloud-init/common";
import { NODE_EXPORTER_PORT } from "../../../cloud-init/tunnelMetrics";
import {
  buildMirrorRepo,
  mirrorRequests,
  mirrorSourceLine,
  parsePackageList,
  startPackageMirror,
  type MirrorRepo,
} from "../../standins/packageMirror";
import type { LabNode } from "../../topology";
import { ssh } from "../guest";
import { addPackageMirrorHost, PACKAGE_MIRROR_ADDRESS, removePackageMirrorHost } from "../network";
import { gateways, type VmScenario } from "./context";

const SOURCE_FILE = "/etc/apt/sources.list.d/wg-s2s-lab-mirror.list";

/** What the gateway's own extras unit installs: the arguments of its ExecStart. */
async function unitPackages(s: VmScenario, gw: LabNode): Promise<string[] | undefined> {
  const r = await ssh(s.target(gw), `sed -n 's|^ExecStart=${PATHS.extrasScript} ||p' ${PATHS.extrasUnit}`, 60_000);
  const names = r.stdout.trim().split(/\s+/).filter(Boolean);
  return r.code === 0 && names.length ? names : undefined;
}

interface GatewayRun {
  vars: Map<string, string[]>;
  seconds: number;
}

/**
 * On one gateway: the mirror's line, the extras unit restarted (it blocks until the oneshot
 * is done), then what it left: packages and versions, wg(8) on wg0, node_exporter serving
 * the tunnel metrics with a handshake (the collector runs every 10 s; wg(8) is what it reads
 * handshakes with), dnsmasq when the unit installs it.
 */
async function installOn(s: VmScenario, gw: LabNode, repo: MirrorRepo, roots: string[]): Promise<GatewayRun> {
  const started = Date.now();
  const metrics = `wget -qO- http://127.0.0.1:${NODE_EXPORTER_PORT}/metrics 2>/dev/null`;
  const r = await ssh(
    s.target(gw),
    [
      `echo '${mirrorSourceLine(PACKAGE_MIRROR_ADDRESS)}' >${SOURCE_FILE}`,
      `timeout 900 systemctl restart ${UNITS.extras}; echo restart=$?`,
      `systemctl show -p Result --value ${UNITS.extras} | sed 's/^/result=/'`,
      `dpkg-query -W -f '\${Package}=\${Version}=\${db:Status-Abbrev}\\n' ${repo.packages.map((p) => p.package).join(" ")} 2>/dev/null | sed 's/^/pkg=/'`,
      "wg show wg0 latest-handshakes >/dev/null 2>&1; echo wg=$?",
      "wg show wg0 latest-handshakes 2>/dev/null | awk '$2 > 0' | wc -l | sed 's/^/wg-handshakes=/'",
      `n=0; for i in $(seq 1 30); do n=$(${metrics} | grep '^wg_s2s_peer_latest_handshake_timestamp_seconds{' | awk '$2 > 0' | wc -l); [ "$n" -gt 0 ] && break; sleep 2; done; echo metric-handshakes=$n`,
      `${metrics} | grep -c '^wg_s2s_' | sed 's/^/metric-lines=/'`,
      roots.includes("dnsmasq") ? `systemctl is-active ${UNITS.dnsmasq} | sed 's/^/dnsmasq=/'` : "true",
    ].join("; "),
    1_080_000,
    0,
  );
  const vars = new Map<string, string[]>();
  for (const m of r.stdout.matchAll(/^([a-z-]+)=(.*)$/gm)) vars.set(m[1], [...(vars.get(m[1]) ?? []), m[2]]);
  return { vars, seconds: (Date.now() - started) / 1000 };
}

const installCheckName = (gw: LabNode) =>
  `${gw.id}: ${UNITS.extras} installs its packages from the package-mirror stand-in`;

export async function packageMirrorChecks(s: VmScenario): Promise<void> {
  const started = Date.now();
  const named = await Promise.all(gateways(s).map(async (gw) => ({ gw, roots: await unitPackages(s, gw) })));
  for (const { gw } of named.filter((n) => !n.roots))
    s.check(installCheckName(gw), false, `could not read the ExecStart of ${PATHS.extrasUnit} over SSH`);
  const gws = named.filter((n) => n.roots).map((n) => ({ gw: n.gw, roots: n.roots! }));
  if (!gws.length) return;
  const roots = [...new Set(gws.flatMap((g) => g.roots))].sort();
  const imageList = path.join(s.result.image.dir, "packages.txt");
  const repo = await buildMirrorRepo({
    cacheRoot: path.dirname(s.result.image.dir),
    imagePackages: parsePackageList(fs.readFileSync(imageList, "utf8")),
    roots,
    dir: path.join(s.result.runDir, "standins", "package-mirror"),
  });
  const mb = (repo.packages.reduce((n, p) => n + p.size, 0) / 1e6).toFixed(1);
  s.log(
    `package mirror: ${repo.packages.length} files, ${mb} MB (${repo.packages.map((p) => `${p.package}=${p.version}`).join(" ")}) for ${roots.join(" ")}; in the image already: ${repo.inImage.join(" ") || "none"}`,
  );

  const opened = Date.now();
  try {
    const mirror = await startPackageMirror({
      ns: await addPackageMirrorHost(s.topology),
      address: PACKAGE_MIRROR_ADDRESS,
      dir: repo.dir,
    });
    try {
      const runs = await Promise.all(gws.map((g) => installOn(s, g.gw, repo, g.roots)));
      const requests = mirrorRequests(mirror.output()).filter((q) => q.status === 200);
      gws.forEach((g, i) => reportGateway(s, g.gw, g.roots, repo, runs[i], requests));
    } finally {
      await mirror.stop();
    }
  } finally {
    await removePackageMirrorHost(s.topology.prefix);
  }
  s.log(
    `package mirror: scenario ${((Date.now() - started) / 1000).toFixed(0)} s (repository ${((opened - started) / 1000).toFixed(0)} s, installs ${((Date.now() - opened) / 1000).toFixed(0)} s)`,
  );
}

function reportGateway(
  s: VmScenario,
  gw: LabNode,
  roots: string[],
  repo: MirrorRepo,
  run: GatewayRun,
  requests: ReturnType<typeof mirrorRequests>,
): void {
  const v = (k: string) => run.vars.get(k)?.[0];
  const address = gw.publicNic?.address?.split("/")[0] ?? "";
  const installed = new Map(
    (run.vars.get("pkg") ?? []).flatMap((line) => {
      const [pkg, version, status] = line.split("=");
      return status?.startsWith("ii") ? [[pkg, version] as const] : [];
    }),
  );
  // What this gateway's unit needed: the served packages its dpkg now has at the served version.
  const fromMirror = repo.packages.filter((p) => installed.get(p.package) === p.version);
  const fetched = new Set(requests.filter((q) => q.client === address).map((q) => q.file));
  const notFetched = fromMirror.filter((p) => !fetched.has(p.file)).map((p) => p.package);
  const missingRoots = roots.filter((r) => !installed.has(r) && !repo.inImage.includes(r));
  s.check(
    installCheckName(gw),
    v("restart") === "0" && v("result") === "success" && missingRoots.length === 0 && notFetched.length === 0,
    `restart exit ${v("restart")}, result ${v("result")} (restart and checks ${run.seconds.toFixed(0)} s); ${fromMirror.length} packages at the served version, each fetched from the mirror by ${address}${notFetched.length ? ` except ${notFetched.join(", ")}` : ""}${missingRoots.length ? `; NOT installed: ${missingRoots.join(", ")}` : ""}`,
  );
  s.check(
    `${gw.id}: wg(8) from the mirror reads wg0; node_exporter serves the tunnel metrics with a handshake`,
    v("wg") === "0" && Number(v("wg-handshakes")) > 0 && Number(v("metric-handshakes")) > 0,
    `wg show wg0: exit ${v("wg")}, ${v("wg-handshakes")} peers with a handshake; :${NODE_EXPORTER_PORT}/metrics: ${v("metric-lines")} wg_s2s_ lines, ${v("metric-handshakes")} handshake timestamps > 0`,
  );
  if (roots.includes("dnsmasq"))
    s.check(`${gw.id}: dnsmasq from the mirror runs`, v("dnsmasq") === "active", `${UNITS.dnsmasq} ${v("dnsmasq")}`);
}
