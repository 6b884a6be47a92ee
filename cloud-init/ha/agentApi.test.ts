/** @tier system */
/**
 * The failover agent as it ships (cloud-init/ha/wg-s2s-ha), against the Scaleway API
 * stand-in (lab/standins/scalewayApi.ts) and a real WireGuard interface (the kernel's, else
 * wireguard-go), in a namespace with a private /run of its own. Gateway A is "this" gateway
 * (the metadata service answers for A); gateway B exists only in the stand-in's state.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderHaAgentEnv } from "./agent";
import type { ScalewayApiProcessConfig } from "../../lab/standins/scalewayApi";
import { requireRoot, requireTool, withNetns, withScratchDir } from "../../testkit/cloudInit";
import { haPairState, IP_ID, NIC_B, PN, SERVER_A, SERVER_B, VPC } from "../../testkit/haApiStandIn";

const TOKEN = "0a0a0a0a-1111-4222-8333-444444444444";
const IP_PATH = `/instance/v1/zones/fr-par-1/ips/${IP_ID}`;
const ROOT = join(__dirname, "..", "..");

// About 5 s a scenario on a quiet machine; 30 s each when two labs share 2 cores (python3's
// start alone then takes 2.5 s).
jest.setTimeout(240_000);

interface Scenario {
  /** Bash run after the setup, with `agent` (runs the agent, prints rc[args]=N) and `take_ip_for_b`. */
  steps: string;
  failures?: ScalewayApiProcessConfig["failures"];
  /** The key the agent presents (default: the right one). */
  agentKey?: string;
  /** The metadata service lags behind the API: it never lists the IP on this gateway. */
  metadataLags?: boolean;
  /** The peer's configured persistent keepalive (default 25; the hub's peers have none). */
  peerKeepalive?: number;
}

function standInConfig(dir: string, s: Scenario): ScalewayApiProcessConfig {
  return {
    state: haPairState({
      token: TOKEN,
      metadataLagsIps: s.metadataLags,
      routes: [
        ...["10.20.0.0/24", "10.30.0.0/24"].map((destination, i) => ({
          id: `ffffffff-0000-4000-8000-00000000000${i}`,
          vpcId: VPC,
          destination,
          nexthopResourceId: NIC_B,
          nexthopPrivateNetworkId: PN,
          tags: ["wg-s2s-ha:dev"],
          type: "custom" as const,
        })),
        // Another stack's route in the same VPC: not ours to move.
        {
          id: "99999999-0000-4000-8000-000000000009",
          vpcId: VPC,
          destination: "10.99.0.0/24",
          nexthopResourceId: NIC_B,
          nexthopPrivateNetworkId: PN,
          tags: ["someone-else"],
          type: "custom",
        },
      ],
    }),
    apiHost: "127.0.0.1",
    apiPort: 18080,
    metadataHost: "127.0.0.1",
    metadataPort: 18081,
    ipMovedCommand: ["sh", "-c", `echo "ip $IP_ADDRESS $FROM_SERVER->$TO_SERVER" >> ${dir}/moves.log`],
    routeMovedCommand: ["sh", "-c", `echo "route $ROUTE_DESTINATION ->$TO_SERVER" >> ${dir}/moves.log`],
    callLog: join(dir, "calls.log"),
    failures: s.failures,
  };
}

function runScenario(s: Scenario): string {
  requireRoot("failover agent test");
  requireTool("/usr/bin/wg", "wireguard-tools");
  requireTool("/usr/bin/curl", "curl");
  return withScratchDir((dir) =>
    withNetns((ns) => {
      chmodSync(dir, 0o755);
      writeFileSync(join(dir, "api.json"), JSON.stringify(standInConfig(dir, s)));
      writeFileSync(join(dir, "key"), (s.agentKey ?? TOKEN) + "\n", { mode: 0o600 });
      writeFileSync(
        join(dir, "ha.env"),
        renderHaAgentEnv({
          zone: "fr-par-1",
          region: "fr-par",
          serviceIpId: IP_ID,
          privateNetworkId: PN,
          vpcId: VPC,
          routeTag: "wg-s2s-ha:dev",
          tunnelForm: "plain",
          ownPrivateAddress: "127.0.0.1",
          peerPrivateAddress: "127.0.0.2",
          serviceIpAddress: "203.0.113.10",
          listenPort: 51820,
          sharePort: 18082,
          apiUrl: "http://127.0.0.1:18080",
          metadataUrl: "http://127.0.0.1:18081",
          secretKeyFile: join(dir, "key"),
          stateDir: join(dir, "state"),
          apiAttempts: 4,
        }) + "RETRY_FIRST_DELAY=0.2\nHOLD_WAIT_TRIES=3\n",
      );
      const script = `
set -u
umask 077
mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -m 0700 /run/wireguard
ip link set lo up
cd ${dir}
${process.execPath} ${ROOT}/node_modules/tsx/dist/cli.mjs ${ROOT}/lab/standins/scalewayApi.ts ${dir}/api.json >${dir}/standin.out 2>&1 &
standin=$!
trap 'kill $standin 2>/dev/null; wait $standin 2>/dev/null; ip link del wg0 2>/dev/null' EXIT
i=0; until curl -s -o /dev/null http://127.0.0.1:18081/ || [ $i -ge 150 ]; do sleep 0.1; i=$((i+1)); done
ip link add wg0 type wireguard 2>/dev/null || wireguard-go wg0 >/dev/null 2>&1
wg genkey >${dir}/wg.key
wg set wg0 private-key ${dir}/wg.key listen-port 51820 peer "$(wg genkey | wg pubkey)" allowed-ips 10.20.0.0/24,10.30.0.0/24 endpoint 127.0.0.1:51999 persistent-keepalive ${s.peerKeepalive ?? 25}
ip addr add 172.16.0.1/24 dev wg0
export WG_S2S_HA_ENV=${dir}/ha.env
agent() { rc=0; ${ROOT}/cloud-init/ha/wg-s2s-ha "$@" 2>>${dir}/agent.err || rc=$?; echo "rc[$*]=$rc"; }
# What another caller of the API does: attach the service IP to server a or b.
give_ip_to() { case $1 in a) server=${SERVER_A} ;; b) server=${SERVER_B} ;; esac; curl -s -o /dev/null -X PATCH -H 'X-Auth-Token: ${TOKEN}' -H 'Content-Type: application/json' --data "{\\"server\\":\\"$server\\"}" http://127.0.0.1:18080${IP_PATH}; }
take_ip_for_b() { give_ip_to b; }
link() { if ip link show dev wg0 up | grep -q .; then echo "wg0=up"; else echo "wg0=down"; fi; }
snat() { if nft list table ip wg_s2s_ha >/dev/null 2>&1; then echo "snat=on"; else echo "snat=off"; fi; }
${s.steps}
echo "state=$(cat ${dir}/state/state 2>/dev/null)"
echo "--- routes"; ip -4 route show dev wg0
echo "--- moves"; cat ${dir}/moves.log 2>/dev/null
echo "--- calls"; cat ${dir}/calls.log 2>/dev/null | sed 's/,"at":[0-9]*//'
echo "--- agent"; cat ${dir}/agent.err 2>/dev/null
echo "--- endpoints"; cat ${dir}/state/share/endpoints 2>/dev/null
`;
      const r = spawnSync(
        "ip",
        ["netns", "exec", ns, "unshare", "-m", "--propagation", "private", "bash", "-c", script],
        {
          encoding: "utf8",
          timeout: 180_000,
        },
      );
      return `${r.stdout}${r.stderr}`;
    }),
  );
}

function section(output: string, name: string): string[] {
  const start = output.indexOf(`--- ${name}\n`);
  if (start < 0) return [];
  const rest = output.slice(start + name.length + 5);
  const end = rest.search(/^--- /m);
  return (end < 0 ? rest : rest.slice(0, end)).split("\n").filter(Boolean);
}

test("master: the IP and this stack's routes move here, then (and only then) the tunnel comes up; backup takes it down without an API call", () => {
  const out = runScenario({
    steps:
      "link; snat; agent master; link; snat; agent check; agent health; cp state/share/endpoints shared; wc -l < calls.log > before; agent backup; link; snat; wc -l < calls.log | cmp -s - before && echo no-new-calls; cat shared > state/share/endpoints",
  });
  expect(out).toMatch(
    /^wg0=down\nsnat=off\nrc\[master\]=0\nwg0=up\nsnat=on\nrc\[check\]=0\nrc\[health\]=0\nrc\[backup\]=0\nwg0=down\nsnat=off\nno-new-calls\nstate=standby$/m,
  );
  // Only this stack's routes (by tag) move; another stack's route in the same VPC stays.
  expect(section(out, "moves")).toEqual([
    `ip 203.0.113.10 ${SERVER_B}->${SERVER_A}`,
    `route 10.20.0.0/24 ->${SERVER_A}`,
    `route 10.30.0.0/24 ->${SERVER_A}`,
  ]);
  const calls = section(out, "calls").map((l) => JSON.parse(l) as { method: string; path: string; status: number });
  expect(calls.filter((c) => c.method === "PATCH").map((c) => [c.path.split("/")[5], c.status])).toEqual([
    ["ips", 200],
    ["routes", 200],
    ["routes", 200],
  ]);
  // While active, the peers' endpoints were written out for the standby.
  expect(section(out, "endpoints")).toEqual([expect.stringMatching(/^[A-Za-z0-9+/]{43}=\t127\.0\.0\.1:51999$/)]);
});

test("hand-over: the standby pulls the active's endpoints, and on its claim sets them, leaves from the service IP and dials the peer at once", () => {
  // The "other gateway" is `wg-s2s-ha serve` on 127.0.0.2 sharing an endpoints file that
  // moves the peer to 127.0.0.1:51998, where a UDP listener reports the first datagram.
  const out = runScenario({
    peerKeepalive: 0,
    steps: [
      "ip addr add 127.0.0.2/8 dev lo 2>/dev/null || true",
      `sed 's/^OWN_PRIVATE_ADDRESS=.*/OWN_PRIVATE_ADDRESS=127.0.0.2/; s#^STATE_DIR=.*#STATE_DIR=${"$"}PWD/other#' ha.env > other.env`,
      "mkdir -p other/share",
      `printf '%s\\t127.0.0.1:51998\\n' "$(wg show wg0 peers)" > other/share/endpoints`,
      `WG_S2S_HA_ENV=${"$"}PWD/other.env ${ROOT}/cloud-init/ha/wg-s2s-ha serve >serve.log 2>&1 & serve=$!`,
      "i=0; until curl -s -o /dev/null http://127.0.0.2:18082/endpoints || [ $i -ge 100 ]; do sleep 0.1; i=$((i+1)); done",
      "agent check; cmp -s other/share/endpoints state/peer-endpoints && echo pulled",
      // The active dies: the last good copy stays.
      "kill $serve; wait $serve 2>/dev/null; agent check; cmp -s other/share/endpoints state/peer-endpoints && echo kept",
      `python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 51998)); s.settimeout(20); d, a = s.recvfrom(2048); print("first datagram: type", d[0], "from", a[0])' > listener.out 2>&1 & listener=$!`,
      "sleep 0.5; agent master; wait $listener; cat listener.out",
      `echo "endpoint=$(wg show wg0 endpoints | cut -f2) keepalive=$(wg show wg0 persistent-keepalive | cut -f2)"`,
    ].join("\n"),
  });
  expect(out).toMatch(/^rc\[check\]=1\npulled\nrc\[check\]=1\nkept\nrc\[master\]=0\n/m);
  // A handshake initiation (message type 1), sent at once, from the service IP.
  expect(out).toContain("first datagram: type 1 from 203.0.113.10");
  // The handed-over endpoint is set; the peer's configured keepalive (none) is back.
  expect(out).toContain("endpoint=127.0.0.1:51998 keepalive=off");
  expect(section(out, "agent").join("\n")).toMatch(
    /handed-over endpoints applied: 1[\s\S]*handshake initiated with 1 peers/,
  );
});

test("split brain: the other gateway takes the IP; the next check takes this tunnel down and does not claim back", () => {
  const out = runScenario({ steps: "agent master; link; take_ip_for_b; agent check; link; agent health; agent check" });
  expect(out).toMatch(/^rc\[master\]=0\nwg0=up\nrc\[check\]=1\nwg0=down\nrc\[health\]=0\nrc\[check\]=1\nstate=lost$/m);
  expect(section(out, "agent").join("\n")).toContain("no longer holds the service IP: tunnel down");
  const ipPatches = section(out, "calls").filter((l) => l.includes('"PATCH"') && l.includes("/ips/"));
  expect(ipPatches).toHaveLength(2); // the agent's claim and B's; no second claim from the agent
});

test("a check that began before a claim finished does not take the new tunnel down: it asks again under the lock", () => {
  // The claim holds the lock; a check that read "not the holder" waits for it; meanwhile
  // the IP comes (back) here. Without asking again, the check would drop the fresh tunnel.
  const out = runScenario({
    steps: [
      "agent master; take_ip_for_b",
      "flock state/lock sleep 2 & holder=$!; sleep 0.3",
      "agent check & check=$!",
      "sleep 1; give_ip_to a",
      "wait $holder; wait $check; link",
    ].join("\n"),
  });
  expect(out).toMatch(/^rc\[master\]=0\nrc\[check\]=0\nwg0=up\nstate=active$/m);
  expect(section(out, "agent").join("\n")).not.toContain("no longer holds the service IP");
});

test("API failures: a wrong key is final (401, no retry); 503s are retried with backoff, at most 4 attempts, logged", () => {
  const out = runScenario({
    // 5 answers of 503: the second claim gives up after 4, the third succeeds on its 2nd attempt.
    failures: [{ method: "PATCH", path: IP_PATH, status: 503, count: 5 }],
    agentKey: "not-the-key",
    steps: [
      "agent master; link; agent health",
      `echo ${TOKEN} > key`,
      "agent master; link; agent health",
      "agent master; link; agent health",
    ].join("; "),
  });
  expect(out).toMatch(
    /^rc\[master\]=1\nwg0=down\nrc\[health\]=1\nrc\[master\]=1\nwg0=down\nrc\[health\]=1\nrc\[master\]=0\nwg0=up\nrc\[health\]=0\nstate=active$/m,
  );
  const statuses = section(out, "calls")
    .filter((l) => l.includes(IP_PATH))
    .map((l) => (JSON.parse(l) as { status: number }).status);
  expect(statuses).toEqual([401, 503, 503, 503, 503, 503, 200, 200]); // the last: the holder check's GET
  const log = section(out, "agent").join("\n");
  expect(log).toContain("denied_authentication");
  expect(log).toContain(`PATCH ${IP_PATH} -> 503 (attempt 4 of 4)`);
  expect(log).toContain("claim failed: service IP not attached; tunnel stays down");
  expect(log).toContain(`PATCH ${IP_PATH} -> 200 (attempt 2)`);
});

test("negative control: the API moved the IP but the metadata service never lists it here: the tunnel stays down", () => {
  const out = runScenario({ steps: "agent master; link", metadataLags: true });
  expect(out).toMatch(/^rc\[master\]=1\nwg0=down\nstate=failed$/m);
  expect(section(out, "moves")[0]).toBe(`ip 203.0.113.10 ${SERVER_B}->${SERVER_A}`);
  expect(section(out, "agent").join("\n")).toContain("the IP is not seen on this server");
});

test("a backup transition during a claim stops the claim; the tunnel stays down", () => {
  const out = runScenario({
    steps: "agent master & claim=$!; sleep 1; agent backup; wait $claim; link; sleep 2; link",
    failures: [{ method: "PATCH", path: IP_PATH, status: 503, count: 3 }],
  });
  expect(out).toMatch(/rc\[backup\]=0/);
  expect(out).toMatch(/^wg0=down\nwg0=down\nstate=standby$/m);
});

test("ready waits until this gateway is active or standby; drain leaves the pair and waits for the IP to go, never failing; the metrics' active file follows", () => {
  const out = runScenario({
    steps: [
      // KEEPALIVED_UNIT: a unit that exists nowhere, so drain can never stop a keepalived of this machine.
      "echo KEEPALIVED_UNIT=wg-s2s-test-absent.service >> ha.env",
      "agent ready 1; agent ready x; agent master; echo active=$(cat /run/wg-s2s/active); agent ready 5",
      // The other gateway claims a second after drain stopped this one.
      "(sleep 1; take_ip_for_b) & agent drain 10; link; snat; echo active=$(cat /run/wg-s2s/active)",
      // Nobody takes over: drain still ends, bounded, and says so.
      "give_ip_to a",
      "agent drain 1",
      // A standby is ready with the active's endpoints, or after PULL_WAIT seconds without.
      "echo PULL_WAIT=1 >> ha.env; rm -f state/peer-endpoints; agent ready 5",
      "printf 'k\\t198.51.100.7:51820\\n' > state/peer-endpoints; agent ready 5",
      // The metadata service stops answering: that proves nothing, drain keeps asking.
      "kill $standin; wait $standin 2>/dev/null; agent drain 1",
    ].join("\n"),
  });
  expect(out).toMatch(
    /^rc\[ready 1\]=1\nrc\[ready x\]=2\nrc\[master\]=0\nactive=1\n.*is active\nrc\[ready 5\]=0\n.*drained; the other gateway holds the service IP\nrc\[drain 10\]=0\nwg0=down\nsnat=off\nactive=0\nrc\[drain 1\]=0\n.*standby; no endpoints from the other gateway after 1 s.*\nrc\[ready 5\]=0\n.*standby, with the active's endpoints\nrc\[ready 5\]=0\nrc\[drain 1\]=0\nstate=standby$/m,
  );
  const log = section(out, "agent").join("\n");
  expect(log).toMatch(/is not a member of the pair after 1 s \(state: none\)/);
  expect(log).toContain("usage: wg-s2s-ha ready SECONDS (1-3600)");
  expect(log).toContain("the other gateway did not take over within 1 s; replacing this one anyway");
  // Twice: once with the IP here, once with the metadata service silent.
  expect(log.match(/did not take over within 1 s/g)).toHaveLength(2);
});
