/**
 * What the image must share with Scaleway's Ubuntu for the other checks to mean anything:
 * the network stack (resolved's stub, netplan -> networkd, the private NIC by Scaleway's
 * scw-vpc-iface unit) and the run's premise, a package repository no VM can reach.
 */
import { ssh } from "../guest";
import type { VmScenario } from "./context";

/**
 * The image behaves like Ubuntu on Scaleway: resolved's stub on 127.0.0.53:53 behind
 * /etc/resolv.conf, netplan-generated networkd config, wg0 and the private NIC managed by
 * networkd, and on gateways the private NIC configured by the scw-vpc-iface unit.
 */
export async function ubuntuLikeChecks(s: VmScenario): Promise<void> {
  // One SSH per VM, all at once: under emulation each costs the guest seconds of CPU.
  const outputs = await Promise.all(s.hosts.map((host) => ubuntuLikeProbe(s, host)));
  s.hosts.forEach((host, i) => {
    const gw = host.role === "gateway";
    const want = ["STUB", "RESOLV", "NETPLAN", "PRIVATE-NETWORKD", ...(gw ? ["WG0-NETWORKD", "SCW-VPC-IFACE"] : [])];
    const missing = want.filter((w) => !outputs[i].includes(w));
    s.check(
      `${host.id}: Ubuntu-like network stack${gw ? ", private NIC by scw-vpc-iface, wg0 by networkd" : ""}`,
      missing.length === 0,
      missing.length ? `missing: ${missing.join(", ")}` : want.join(", ").toLowerCase(),
    );
  });
}

async function ubuntuLikeProbe(s: VmScenario, host: VmScenario["hosts"][number]): Promise<string> {
  const gw = host.role === "gateway";
  const r = await ssh(
    s.target(host),
    [
      "ss -Hlnu | grep -q '127.0.0.53%lo:53 \\|127.0.0.53:53 ' && echo STUB",
      "readlink /etc/resolv.conf | grep -q stub-resolv.conf && echo RESOLV",
      "ls /run/systemd/network/ | grep -q '^10-netplan-' && echo NETPLAN",
      'networkctl list --no-legend --no-pager | awk \'$2 == "ens5" && $5 == "configured"\' | grep -q . && echo PRIVATE-NETWORKD',
      gw
        ? 'networkctl list --no-legend --no-pager | awk \'$2 == "wg0" && $5 == "configured"\' | grep -q . && echo WG0-NETWORKD'
        : "true",
      gw
        ? "test -f /etc/netplan/60-ens5-vpc.yaml && systemctl is-active -q scw-vpc-iface@ens5.service && echo SCW-VPC-IFACE"
        : "true",
    ].join("; "),
    60_000,
  );
  return r.stdout;
}

/**
 * The run's premise: the package repository is unreachable. apt cannot refresh or fetch,
 * wireguard-tools is absent (its unit keeps retrying), and yet the tunnel is up. The old
 * user-data's tunnel was `wg-quick@wg0` from that very package, so it could not start here.
 */
export async function unreachableRepositoryCheck(s: VmScenario): Promise<void> {
  const gw = s.hubGateway;
  const r = await ssh(
    s.target(gw),
    [
      "timeout 60 apt-get -q --error-on=any update >/dev/null 2>&1; echo apt-update=$?",
      "timeout 60 apt-get -q -y install --download-only wireguard-tools >/dev/null 2>&1; echo apt-install=$?",
      "command -v wg wg-quick >/dev/null; echo have-wg=$?",
      // What the previous user-data ran once its apt step had (not) installed wireguard-tools.
      "systemctl start wg-quick@wg0.service >/dev/null 2>&1; echo old-tunnel=$?",
      "systemctl show -p Result --value wg-s2s-extras.service | sed 's/^/extras=/'",
      "ip link show wg0 >/dev/null 2>&1; echo wg0=$?",
    ].join("; "),
    180_000,
  );
  const v = (k: string) => new RegExp(`^${k}=(\\S*)`, "m").exec(r.stdout)?.[1];
  const ok =
    v("apt-update") !== "0" &&
    v("apt-install") !== "0" &&
    v("have-wg") !== "0" &&
    v("old-tunnel") !== "0" &&
    v("wg0") === "0";
  s.check(
    "package repository unreachable: apt fails, no wireguard-tools, tunnel up anyway",
    ok,
    `apt-get update exit ${v("apt-update")}, install exit ${v("apt-install")}, wg(8) ${v("have-wg") === "0" ? "present" : "absent"}, the old user-data's wg-quick@wg0 ${v("old-tunnel") === "0" ? "STARTED" : "cannot start"}, wg-s2s-extras ${v("extras") ?? "?"}, wg0 ${v("wg0") === "0" ? "up" : "absent"}`,
  );
}
