/**
 * The private NIC's DHCP lease renewed under a running tunnel (and the netplan apply
 * Scaleway's unit runs on every hot-plug): wg0's routes and the pings must survive.
 */
import { waitFor } from "../../proc";
import { ssh } from "../guest";
import type { LabNode } from "../../topology";
import { pingOnce, type VmScenario } from "./context";

/**
 * A DHCP lease renewal on the gateway's private NIC, then what Scaleway's unit does on
 * every private NIC hot-plug (`netplan apply`, which restarts networkd here): wg0's
 * routes must be the same afterwards and the tunnel must still carry pings.
 */
export async function renewalCheck(s: VmScenario, gw: LabNode): Promise<void> {
  const pings = async () => (await pingOnce(s, s.hubTest, s.spokeTests[0])) === "answered";
  const routes = "ip -4 route show dev wg0 | sort | tr '\\n' ';'";
  const before = (await ssh(s.target(gw), routes, 30_000)).stdout.trim();
  const renew = await ssh(
    s.target(gw),
    "networkctl renew ens5 && sleep 5 && netplan apply && sleep 10 && echo DONE",
    120_000,
  );
  const after = (
    await ssh(s.target(gw), `${routes}; ip -4 -o addr show dev ens5 | grep -c inet`, 30_000)
  ).stdout.trim();
  const back = await waitFor(async () => ((await pings()) ? true : undefined), 90_000, 5000);
  const sameRoutes = before !== "" && after.startsWith(before);
  s.check(
    `DHCP renewal + netplan apply on ${gw.id}'s private NIC: tunnel and routes survive`,
    renew.stdout.includes("DONE") && sameRoutes && back === true,
    `${renew.stdout.includes("DONE") ? "renewed and re-applied" : `renew/apply failed: ${renew.stderr.trim()}`}; wg0 routes ${sameRoutes ? "unchanged" : `changed: [${before}] -> [${after}]`}; ping ${back ? "answered" : "NOT answered within 90 s"}`,
  );
}
