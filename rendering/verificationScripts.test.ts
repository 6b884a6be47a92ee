/** @tier system */
/**
 * The deploy-verification scripts, checked twice: shellcheck on the rendered text, then
 * run for real (`ip netns exec <ns> sh -c <script>`) against hosts this file creates:
 *
 *   hub ns                                     spoke ns
 *   lan0 192.168.0.1/24 (veth stub)            lan0 192.168.1.1/24 (veth stub)
 *   wg0  172.16.0.1/32  <== WireGuard ==>      wg0  172.16.0.2/32  (dials the hub, keepalive)
 *   ul0  10.250.0.1/30  ---- veth (underlay) ----  ul0 10.250.0.2/30
 *
 * wg0 is the project's own rendered wg0.conf brought up by wg-quick, which falls back to
 * wireguard-go because this kernel has no WireGuard module. wireguard-go keeps its control
 * socket in /run/wireguard/wg0.sock, and both hosts call the interface wg0, so every
 * command for a host runs in a private mount namespace with the host's own run directory
 * (holding an empty wireguard/) bound over /run, like the lab's hosts (lab/host.ts): the
 * two daemons (and anything else on the machine) never share it, and nothing depends on
 * the machine having, or gets to create, a /run/wireguard of its own.
 *
 * The namespaces come from the cloud-init testkit (per-run names, deleted afterwards) and
 * are linked only to each other. Every process in them is ours; cleanup kills those PIDs.
 * Keys are generated at test time and masked in everything the tests compare or print.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  KeyRing,
  requireRoot,
  requireTool,
  shellcheck,
  withNamespacesAsync,
  WIREGUARD_KEY_SHAPE,
  withScratchDirAsync,
} from "../testkit/cloudInit";
import { renderWireGuardConfig } from "../cloud-init/wireguard";
import { addVethPair, ipIn, netnsPids } from "../lab/netns";
import { pidAlive, pollUntil, run } from "../lab/proc";
import {
  DEFAULT_VERIFICATION_TIMEOUTS,
  KERNEL_HANDSHAKES_PY,
  forwardingScript,
  handshakeScript,
  pingScript,
  shQuote,
  waitForCloudInitScript,
} from "./verificationScripts";

const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

interface WireGuardHost {
  ns: string;
  /** Bound over /run inside the host: wireguard-go's socket lives in its wireguard/. */
  runDir: string;
}

interface TunnelLab {
  keys: KeyRing;
  hub: WireGuardHost;
  spoke: WireGuardHost;
  hubPublicKey: string;
  spokePublicKey: string;
}

/** Enters the host's private mount namespace, binds its run dir over /run, then runs the script. */
const ENTER_HOST = 'mount --bind "$1" /run && shift && exec "$@"';

async function inHost(
  keys: KeyRing,
  host: WireGuardHost,
  argv: string[],
  timeoutSeconds: number,
  path = PATH,
): Promise<Outcome> {
  const enter = ["ip", "netns", "exec", host.ns, "unshare", "-m", "--propagation", "private"];
  const r = await run([...enter, "sh", "-c", ENTER_HOST, "enter-host", host.runDir, ...argv], {
    timeoutMs: timeoutSeconds * 1000,
    env: { PATH: path, LANG: "C.UTF-8" },
  });
  if (r.timedOut) throw new Error(`${argv[0]} in ${host.ns} passed the test's own ${timeoutSeconds}s bound`);
  const outcome = { code: r.code, stdout: keys.mask(r.stdout), stderr: keys.mask(r.stderr), seconds: r.ms / 1000 };
  // Only our own keys are masked; anything else key-shaped must not reach a test report.
  if (WIREGUARD_KEY_SHAPE.test(outcome.stdout + outcome.stderr))
    throw new Error(`${argv[0]} in ${host.ns} printed unmasked key material`);
  return outcome;
}

/** A verification script as TunnelVerification runs it: `sh -c <script>` on the host. */
const runScript = (keys: KeyRing, host: WireGuardHost, script: string, timeoutSeconds: number, path = PATH) =>
  inHost(keys, host, ["sh", "-c", script], timeoutSeconds, path);

/** remote.Command hands the text to the SSH user's login shell: root's is bash on Scaleway images. */
const runScriptInBash = (keys: KeyRing, host: WireGuardHost, script: string, timeoutSeconds: number) =>
  inHost(keys, host, ["bash", "-c", script], timeoutSeconds);

async function hostOk(keys: KeyRing, host: WireGuardHost, command: string): Promise<string> {
  const r = await inHost(keys, host, ["sh", "-c", command], 20);
  if (r.code !== 0) throw new Error(`in ${host.ns}: ${command}: exit ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

async function bringUpWireGuard(keys: KeyRing, dir: string, host: WireGuardHost, config: string): Promise<void> {
  const configDir = join(dir, host.ns);
  mkdirSync(join(host.runDir, "wireguard"), { recursive: true, mode: 0o700 });
  const file = join(configDir, "wg0.conf");
  writeFileSync(file, config, { mode: 0o600 });
  await hostOk(keys, host, `wg-quick up ${shQuote(file)}`);
}

/** Underlay, LANs and the tunnel, from the project's own wg0.conf renderer. */
async function buildTunnelLab(dir: string, [hubNs, spokeNs]: string[]): Promise<TunnelLab> {
  const keys = new KeyRing();
  const hubPair = keys.wireguardKeyPair("hub");
  const spokePair = keys.wireguardKeyPair("spoke");
  const presharedKey = keys.presharedKey("hub-spoke");
  const hub = { ns: hubNs, runDir: join(dir, hubNs, "run") };
  const spoke = { ns: spokeNs, runDir: join(dir, spokeNs, "run") };

  await addVethPair({ ns: hubNs, name: "ul0" }, { ns: spokeNs, name: "ul0" });
  for (const [ns, underlay, lan] of [
    [hubNs, "10.250.0.1/30", "192.168.0.1/24"],
    [spokeNs, "10.250.0.2/30", "192.168.1.1/24"],
  ]) {
    await ipIn(ns, ["link", "set", "lo", "up"]);
    await ipIn(ns, ["addr", "add", underlay, "dev", "ul0"]);
    await ipIn(ns, ["link", "set", "ul0", "up"]);
    // No dummy module here: a veth pair inside the namespace stands in for the LAN NIC.
    await ipIn(ns, ["link", "add", "lan0", "type", "veth", "peer", "name", "lan0p"]);
    await ipIn(ns, ["addr", "add", lan, "dev", "lan0"]);
    await ipIn(ns, ["link", "set", "lan0p", "up"]);
    await ipIn(ns, ["link", "set", "lan0", "up"]);
  }

  await bringUpWireGuard(
    keys,
    dir,
    hub,
    renderWireGuardConfig({
      privateKey: hubPair.privateKey,
      address: "172.16.0.1/32",
      listenPort: 51820,
      mtu: 1420,
      peers: [
        {
          name: "spoke",
          publicKey: spokePair.publicKey,
          presharedKey,
          allowedIps: ["172.16.0.2/32", "192.168.1.0/24"],
        },
      ],
    }),
  );
  await bringUpWireGuard(
    keys,
    dir,
    spoke,
    renderWireGuardConfig({
      privateKey: spokePair.privateKey,
      address: "172.16.0.2/32",
      listenPort: 51820,
      mtu: 1420,
      peers: [
        {
          name: "hub",
          publicKey: hubPair.publicKey,
          presharedKey,
          endpoint: "10.250.0.1:51820",
          allowedIps: ["172.16.0.1/32", "192.168.0.0/24"],
          persistentKeepalive: 25,
        },
      ],
    }),
  );
  return { keys, hub, spoke, hubPublicKey: hubPair.publicKey, spokePublicKey: spokePair.publicKey };
}

/** Every process in our namespaces is one we started (wireguard-go): TERM, then KILL, by PID. */
async function stopNamespaceProcesses(names: string[]): Promise<void> {
  const pids = (await Promise.all(names.map((ns) => netnsPids(ns)))).flat();
  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    const alive = pids.filter(pidAlive);
    if (alive.length === 0) return;
    for (const pid of alive) {
      try {
        process.kill(pid, signal);
      } catch {
        /* exited meanwhile */
      }
    }
    await pollUntil(async () => !pids.some(pidAlive), 3000, 100);
  }
  const survivors = pids.filter(pidAlive);
  if (survivors.length > 0) throw new Error(`processes ${survivors.join(", ")} survived SIGKILL`);
}

/**
 * Builds the lab inside the testkit's namespace and scratch-dir helpers (which always
 * delete what they made) and holds it open until `close`, so a describe block can share it.
 */
function openTunnelLab(): Promise<{ lab: TunnelLab; close: () => Promise<void> }> {
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  return new Promise((resolve, reject) => {
    const finished: Promise<void> = withScratchDirAsync((dir) =>
      withNamespacesAsync(2, async (names) => {
        try {
          const lab = await buildTunnelLab(dir, names);
          resolve({
            lab,
            close: async () => {
              release();
              await finished;
            },
          });
          await released;
        } finally {
          await stopNamespaceProcesses(names);
        }
      }),
    );
    finished.catch(reject);
  });
}

const wrongKey = (keys: KeyRing) => keys.wireguardKeyPair("not-a-peer").publicKey;

beforeAll(() => {
  requireRoot("verificationScripts.test.ts");
  for (const [tool, pkg] of [
    ["/usr/bin/wg-quick", "wireguard-tools"],
    ["/usr/bin/wireguard-go", "wireguard-go"],
    ["/usr/bin/unshare", "util-linux"],
  ]) {
    requireTool(tool, pkg);
  }
});

describe("rendered scripts pass shellcheck -s sh", () => {
  const keys = new KeyRing();
  const a = keys.wireguardKeyPair("a").publicKey;
  const b = keys.wireguardKeyPair("b").publicKey;
  const t = DEFAULT_VERIFICATION_TIMEOUTS;
  const scripts: [string, string][] = [
    ["waitForCloudInitScript", waitForCloudInitScript("par gateway", t.cloudInitSeconds)],
    ["handshakeScript (bare keys)", handshakeScript("par gateway", [a, b], t.handshakeSeconds)],
    [
      "handshakeScript (named peers)",
      handshakeScript("par gateway", [{ name: "onprem", publicKey: a }], t.handshakeSeconds),
    ],
    ["forwardingScript", forwardingScript("par gateway", t.forwardingSeconds)],
    ["pingScript", pingScript("par test host", "192.168.1.3", t.pingSeconds)],
    [
      "pingScript with lease renewal",
      pingScript("par test host", "192.168.1.3", t.pingSeconds, {
        localAddress: "192.168.0.3",
        everySeconds: 120,
        max: 15,
      }),
    ],
  ];

  it.each(scripts)("%s has no findings", (_name, script) => {
    const result = shellcheck(script);
    expect(result.output).toBe("");
    expect(result.ok).toBe(true);
  });

  it("negative control: shellcheck reports an unquoted expansion in the same text", () => {
    const script = handshakeScript("par gateway", [new KeyRing().wireguardKeyPair("x").publicKey], 60);
    const broken = script.replace('if [ -z "$missing" ]', "if [ -z $missing ]");
    expect(broken).not.toBe(script);
    const result = shellcheck(broken);
    expect(result.ok).toBe(false);
    expect(result.output).toContain("SC2086");
  });
});

describe("handshake check without wireguard-tools (the kernel over netlink)", () => {
  it("embeds the netlink reader verbatim and uses it only when wg(8) is absent", () => {
    const script = handshakeScript("par gateway", [new KeyRing().wireguardKeyPair("x").publicKey], 60);
    expect(script).toContain(shQuote(KERNEL_HANDSHAKES_PY));
    expect(script).toMatch(
      /if command -v wg >\/dev\/null 2>&1; then wg show wg0 latest-handshakes\n\s*else python3 -c "\$kernel_handshakes"/,
    );
    expect(KERNEL_HANDSHAKES_PY).not.toContain("\\");
  });

  it("is valid Python 3 and, with no wg0 (or no kernel WireGuard) here, fails with a one-line reason", async () => {
    const r = await run(["python3", "-c", KERNEL_HANDSHAKES_PY], { timeoutMs: 10000 });
    // Hosts running this suite have no wg0 in the root namespace: the reader must say so, not crash.
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^(no kernel WireGuard|wg0): No such (file or directory|device)$/);
    expect(r.stdout).toBe("");
  });
});

describe("script inputs are validated or quoted", () => {
  it("refuses a malformed peer key without echoing it", () => {
    const bad = "not-a-key-but-secret-looking-text";
    expect(() => handshakeScript("h", [{ name: "onprem", publicKey: bad }], 10)).toThrow(
      /peer onprem is not a base64 WireGuard key/,
    );
    try {
      handshakeScript("h", [bad], 10);
    } catch (error) {
      expect(String(error)).not.toContain(bad);
    }
  });

  it("refuses no peers, unbounded or fractional seconds, and a ping target that is not an IPv4 address", () => {
    const key = new KeyRing().wireguardKeyPair("x").publicKey;
    expect(() => handshakeScript("h", [], 10)).toThrow(/no peers/);
    expect(() => handshakeScript("h", [key], 0)).toThrow(/seconds/);
    expect(() => waitForCloudInitScript("h", 1.5)).toThrow(/seconds/);
    expect(() => pingScript("h", "192.168.1.3; reboot", 10)).toThrow(/not an IPv4 address/);
  });

  it("keeps a hostile host label literal (single-quoted)", async () => {
    await withScratchDirAsync(async (dir) => {
      const marker = join(dir, "injected");
      const fakeDir = writeFakeCloudInit(dir, "done", 0);
      const label = `x'; touch ${marker}; echo '$(touch ${marker})`;
      const r = await run(["sh", "-c", waitForCloudInitScript(label, 5)], {
        timeoutMs: 10000,
        env: { PATH: `${fakeDir}:${PATH}` },
      });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`cloud-init done on ${label}`);
      expect(existsSync(marker)).toBe(false);
    });
  });
});

/**
 * TEST STAND-IN for cloud-init (never installed anywhere): answers `cloud-init status` and
 * `cloud-init status --wait` like cloud-init does in the given state; `--wait` while
 * "running" blocks (exec sleep, so `timeout` kills it and nothing is left behind). Every
 * call is appended to calls.log so the tests can see what the script asked.
 */
function writeFakeCloudInit(dir: string, status: string, exitCode: number): string {
  const fakeDir = join(dir, `fake-cloud-init-${status.replace(/\W/g, "-")}-${exitCode}`);
  mkdirSync(fakeDir, { recursive: true });
  const file = join(fakeDir, "cloud-init");
  writeFileSync(
    file,
    `#!/bin/sh
# Test stand-in for cloud-init (rendering/verificationScripts.test.ts).
echo "$*" >> ${shQuote(join(fakeDir, "calls.log"))}
case "$*" in
  "status --wait")
    if [ ${shQuote(status)} = running ]; then exec sleep 60; fi
    echo; echo ${shQuote(`status: ${status}`)}; exit ${exitCode} ;;
  status) echo ${shQuote(`status: ${status}`)}; exit ${exitCode} ;;
  *) echo "stand-in cloud-init: unexpected arguments: $*" >&2; exit 64 ;;
esac
`,
  );
  chmodSync(file, 0o755);
  return fakeDir;
}

describe("waitForCloudInitScript against a stand-in cloud-init, in a throw-away namespace", () => {
  async function waitFor(status: string, exitCode: number, seconds: number, path?: (fakeDir: string) => string) {
    return withScratchDirAsync((dir) =>
      withNamespacesAsync(1, async ([ns]) => {
        const fakeDir = writeFakeCloudInit(dir, status, exitCode);
        // The script's PATH is set inside the namespace, so `ip` itself is still found.
        const scriptPath = path ? path(fakeDir) : `${fakeDir}:${PATH}`;
        const script = waitForCloudInitScript("par gateway", seconds);
        const r = await run(["ip", "netns", "exec", ns, "env", `PATH=${scriptPath}`, "/bin/sh", "-c", script], {
          timeoutMs: (seconds + 15) * 1000,
          env: { PATH, LANG: "C.UTF-8" },
        });
        const calls = existsSync(join(fakeDir, "calls.log")) ? readFileSync(join(fakeDir, "calls.log"), "utf8") : "";
        return { ...r, seconds: r.ms / 1000, calls };
      }),
    );
  }

  it("passes on status: done, after waiting with `status --wait`", async () => {
    const r = await waitFor("done", 0, 30);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("cloud-init done on par gateway");
    expect(r.calls).toBe("status --wait\nstatus\n");
  });

  it("passes on done with recoverable errors (exit 2, cloud-init >= 23.4), saying so", async () => {
    const r = await waitFor("done", 2, 30);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      "cloud-init done on par gateway (with recoverable errors; see: cloud-init status --long)",
    );
  });

  it("fails at once on status: error, pointing at cloud-init status --long and the output log", async () => {
    const r = await waitFor("error", 1, 30);
    expect(r.code).toBe(1);
    expect(r.seconds).toBeLessThan(5);
    expect(r.stderr.trim()).toBe(
      "wg-s2s verification FAILED: cloud-init status 'error' on par gateway; look at: cloud-init status --long; /var/log/cloud-init-output.log",
    );
  });

  it("fails after its bound (3 s) while cloud-init is still running", async () => {
    const r = await waitFor("running", 0, 3);
    expect(r.code).toBe(1);
    expect(r.seconds).toBeGreaterThanOrEqual(3);
    expect(r.seconds).toBeLessThan(8); // the bound, plus process start-up on a loaded machine
    expect(r.stderr).toContain(
      "cloud-init not finished on par gateway after 3s (status: running); look at: /var/log/cloud-init-output.log",
    );
  });

  it("fails clearly when there is no cloud-init at all", async () => {
    const r = await waitFor("done", 0, 3, () => "/nonexistent");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no cloud-init command on par gateway");
  });

  it("parses the status line of this machine's real cloud-init (whatever its state), within a 2 s bound", async () => {
    await withNamespacesAsync(1, async ([ns]) => {
      const r = await run(["ip", "netns", "exec", ns, "sh", "-c", waitForCloudInitScript("this machine", 2)], {
        timeoutMs: 20000,
        env: { PATH, LANG: "C.UTF-8" },
      });
      expect(`${r.stdout}${r.stderr}`).toMatch(
        /^(cloud-init done on this machine|wg-s2s verification FAILED: cloud-init (not finished on this machine after 2s \(status: (running|not run|not started)\)|status '[a-z ]+' on this machine))/,
      );
    });
  });
});

/**
 * TEST STAND-INS for systemctl and journalctl (never installed anywhere): `systemctl
 * is-active` prints the given state (exit 0 only for "active"); with `readyAt` (epoch
 * seconds) it says "failed" until then, and from then on does what the extras unit's
 * `systemctl start` of the policy unit does (forwarding on) and says "active". journalctl
 * prints two log lines of a policy that did not load.
 */
function writeFakeSystemd(dir: string, state: string, readyAt?: number): string {
  const fakeDir = join(dir, `fake-systemd-${state}-${readyAt ?? "now"}`);
  mkdirSync(fakeDir, { recursive: true });
  const later =
    readyAt === undefined
      ? ""
      : `if [ "$(date +%s)" -ge ${readyAt} ]; then sysctl -qw net.ipv4.ip_forward=1; echo active; exit 0; fi\n`;
  writeFileSync(
    join(fakeDir, "systemctl"),
    `#!/bin/sh
# Test stand-in for systemctl (rendering/verificationScripts.test.ts).
[ "$1" = is-active ] || { echo "stand-in systemctl: unexpected arguments: $*" >&2; exit 64; }
${later}echo ${shQuote(state)}; [ ${shQuote(state)} = active ]
`,
  );
  writeFileSync(
    join(fakeDir, "journalctl"),
    `#!/bin/sh
# Test stand-in for journalctl (rendering/verificationScripts.test.ts).
printf '%s\\n' "/usr/sbin/nft: No such file or directory" "Failed with result 'exit-code'."
`,
  );
  chmodSync(join(fakeDir, "systemctl"), 0o755);
  chmodSync(join(fakeDir, "journalctl"), 0o755);
  return fakeDir;
}

describe("forwardingScript in a throw-away namespace (its own ip_forward), with a stand-in systemctl", () => {
  async function check(state: string, ipForward: 0 | 1, seconds = 2, readyAt?: number) {
    return withScratchDirAsync((dir) =>
      withNamespacesAsync(1, async ([ns]) => {
        const fakeDir = writeFakeSystemd(dir, state, readyAt);
        await run(["ip", "netns", "exec", ns, "sysctl", "-qw", `net.ipv4.ip_forward=${ipForward}`], {
          check: true,
        });
        return run(
          [
            "ip",
            "netns",
            "exec",
            ns,
            "env",
            `PATH=${fakeDir}:${PATH}`,
            "/bin/sh",
            "-c",
            forwardingScript("par gateway", seconds),
          ],
          { timeoutMs: 15000, env: { PATH, LANG: "C.UTF-8" } },
        );
      }),
    );
  }

  it("passes when the firewall unit is active and the namespace forwards", async () => {
    const r = await check("active", 1);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("forward policy loaded and forwarding on, on par gateway");
  });

  it("negative control: a failed policy (forwarding left off) fails at once, naming the unit, its log and what to run", async () => {
    const r = await check("failed", 0);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      "wg-s2s verification FAILED: forward policy not loaded on par gateway after 2s (wg-s2s-firewall.service: failed; " +
        "ip_forward=0): it forwards nothing until the policy loads. (last log: /usr/sbin/nft: No such file or " +
        "directory; Failed with result 'exit-code'.) Look at: systemctl status wg-s2s-firewall.service; " +
        "command -v nft (package nftables); nft -c -f /etc/wg-s2s/forward.nft",
    );
  });

  it("waits, bounded, for a policy that loads late (nftables installed by the extras unit)", async () => {
    const r = await check("failed", 0, 20, Math.floor(Date.now() / 1000) + 3);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("forward policy loaded and forwarding on, on par gateway");
    expect(r.ms).toBeGreaterThanOrEqual(2000);
  });

  it("negative control: the unit active but forwarding switched off by hand also fails", async () => {
    const r = await check("active", 0);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("(wg-s2s-firewall.service: active; ip_forward=0)");
  });
});

describe("handshakeScript and pingScript against two WireGuard hosts (wireguard-go) in namespaces", () => {
  let opening: ReturnType<typeof openTunnelLab>;
  let lab: TunnelLab;

  beforeAll(async () => {
    opening = openTunnelLab();
    lab = (await opening).lab;
  }, 60000);

  afterAll(async () => {
    const opened = await opening?.catch(() => undefined);
    await opened?.close();
  }, 30000);

  it("handshake: passes on both gateways with the right peer key, naming the count", async () => {
    const onHub = await runScript(
      lab.keys,
      lab.hub,
      handshakeScript("hub gateway", [{ name: "spoke", publicKey: lab.spokePublicKey }], 30),
      45,
    );
    expect(onHub.stderr).toBe("");
    expect(onHub.stdout.trim()).toBe("wg0 on hub gateway: recent handshake with 1 peer(s)");
    expect(onHub.code).toBe(0);
    const onSpoke = await runScriptInBash(
      lab.keys,
      lab.spoke,
      handshakeScript("spoke gateway", [lab.hubPublicKey], 30),
      45,
    );
    expect(onSpoke.stdout.trim()).toBe("wg0 on spoke gateway: recent handshake with 1 peer(s)");
    expect(onSpoke.code).toBe(0);
  }, 60000);

  it("handshake negative control: a wrong peer key fails within its 10 s bound, naming the peer and what to look at", async () => {
    const wrong = wrongKey(lab.keys);
    const r = await runScript(
      lab.keys,
      lab.hub,
      handshakeScript("hub gateway", [{ name: "elsewhere", publicKey: wrong }], 10),
      30,
    );
    expect(r.code).toBe(1);
    expect(r.seconds).toBeGreaterThanOrEqual(9);
    // The bound, plus at most one 5 s poll interval, plus start-up on a loaded machine.
    expect(r.seconds).toBeLessThan(20);
    expect(r.stderr).toContain(
      "wg-s2s verification FAILED: no recent handshake on hub gateway after 10s with: elsewhere (public key <publicKey:not-a-peer>): not a peer of wg0;",
    );
    expect(r.stderr).toContain("look at: networkctl status wg0; wg show wg0 (wireguard-tools)");
  }, 30000);

  it("handshake: a configured peer that never answered is reported as `never`, the live peer is not", async () => {
    const silent = lab.keys.wireguardKeyPair("silent").publicKey;
    await hostOk(lab.keys, lab.hub, `wg set wg0 peer ${silent} allowed-ips 10.255.255.1/32`);
    try {
      const peers = [
        { name: "spoke", publicKey: lab.spokePublicKey },
        { name: "silent", publicKey: silent },
      ];
      const r = await runScript(lab.keys, lab.hub, handshakeScript("hub gateway", peers, 5), 30);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("with: silent (public key <publicKey:silent>): never; look at:");
      expect(r.stderr).not.toContain("spoke (public key");
    } finally {
      await hostOk(lab.keys, lab.hub, `wg set wg0 peer ${silent} remove`);
    }
  }, 30000);

  it("handshake: a handshake older than 3 minutes does not count (clock moved on by a stand-in `date`)", async () => {
    await withScratchDirAsync(async (dir) => {
      // TEST STAND-IN for date: the real clock plus 200 s, as if the last handshake were stale.
      writeFileSync(join(dir, "date"), "#!/bin/sh\necho $(( $(/bin/date +%s) + 200 ))\n", { mode: 0o755 });
      const script = handshakeScript("hub gateway", [{ name: "spoke", publicKey: lab.spokePublicKey }], 3);
      const r = await runScript(lab.keys, lab.hub, script, 30, `${dir}:${PATH}`);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/with: spoke \(public key <publicKey:spoke>\): last 2\d\ds ago;/);
    });
  }, 30000);

  it("handshake: says wg0 is not up on a host without it, within its bound", async () => {
    await withScratchDirAsync((dir) =>
      withNamespacesAsync(1, async ([ns]) => {
        const bare = { ns, runDir: join(dir, "run") };
        mkdirSync(join(bare.runDir, "wireguard"), { recursive: true });
        const r = await runScript(lab.keys, bare, handshakeScript("bare gateway", [lab.hubPublicKey], 3), 30);
        expect(r.code).toBe(1);
        expect(r.seconds).toBeLessThan(10);
        expect(r.stderr).toContain("no recent handshake on bare gateway after 3s with: wg0 is not up (");
      }),
    );
  }, 30000);

  it("ping: passes across the tunnel in both directions, and the packets went through wg0", async () => {
    const received = async () => Number((await hostOk(lab.keys, lab.hub, "wg show wg0 transfer")).split("\t")[1]);
    const before = await received();
    const there = await runScript(lab.keys, lab.hub, pingScript("hub test host", "192.168.1.1", 20), 45);
    expect(there.code).toBe(0);
    expect(there.stdout).toMatch(
      /^ping hub test host -> 192\.168\.1\.1: 3 packets transmitted, 3 received, 0% packet loss/,
    );
    expect(await received()).toBeGreaterThan(before);
    const back = await runScript(lab.keys, lab.spoke, pingScript("spoke test host", "192.168.0.1", 20), 45);
    expect(back.code).toBe(0);
  }, 60000);

  it("ping negative control: with the route to the remote LAN gone, fails within its 6 s bound naming the route to check", async () => {
    await ipIn(lab.hub.ns, ["route", "del", "192.168.1.0/24", "dev", "wg0"]);
    try {
      const r = await runScript(lab.keys, lab.hub, pingScript("hub test host", "192.168.1.1", 6), 30);
      expect(r.code).toBe(1);
      expect(r.seconds).toBeGreaterThanOrEqual(5);
      // The bound, plus one ping round (up to 4 s) and one 3 s pause, plus start-up.
      expect(r.seconds).toBeLessThan(18);
      expect(r.stderr).toContain("wg-s2s verification FAILED: hub test host cannot ping 192.168.1.1 after 6s (last: ");
      expect(r.stderr).toContain("look at: ip route get 192.168.1.1 (on hub test host); the VPC routes;");
    } finally {
      await ipIn(lab.hub.ns, ["route", "replace", "192.168.1.0/24", "dev", "wg0"]);
    }
    // The restored route works again: the failure was the route, not a broken lab.
    expect((await runScript(lab.keys, lab.hub, pingScript("hub test host", "192.168.1.1", 20), 45)).code).toBe(0);
  }, 60000);

  it("ping: a route that arrives with a renewed DHCP lease is waited for, renewing the lease of the NIC holding the local address", async () => {
    await ipIn(lab.hub.ns, ["route", "del", "192.168.1.0/24", "dev", "wg0"]);
    try {
      await withScratchDirAsync(async (dir) => {
        // TEST STAND-IN for networkd: `networkctl renew <iface>` brings the VPC route, as the
        // renewed lease would; it records the interface it was asked about.
        writeFileSync(
          join(dir, "networkctl"),
          `#!/bin/sh\n[ "$1" = renew ] || exit 1\necho "$2" >> ${dir}/renewed\nip route replace 192.168.1.0/24 dev wg0\n`,
          { mode: 0o755 },
        );
        const script = pingScript("hub test host", "192.168.1.1", 30, {
          localAddress: "192.168.0.1",
          everySeconds: 2,
          max: 3,
        });
        const r = await runScript(lab.keys, lab.hub, script, 45, `${dir}:${PATH}`);
        expect(r.code).toBe(0);
        expect(r.stdout).toMatch(/3 received.*\(after 1 DHCP lease renewal\(s\)\)/);
        expect(r.stderr).toContain("renewed the DHCP lease of lan0 (1/3)");
        expect(readFileSync(join(dir, "renewed"), "utf8")).toBe("lan0\n");
      });
    } finally {
      await ipIn(lab.hub.ns, ["route", "replace", "192.168.1.0/24", "dev", "wg0"]);
    }
  }, 60000);

  it("ping negative control: renewals that bring no route stay bounded in count and time, and the failure says so", async () => {
    await ipIn(lab.hub.ns, ["route", "del", "192.168.1.0/24", "dev", "wg0"]);
    try {
      await withScratchDirAsync(async (dir) => {
        writeFileSync(join(dir, "networkctl"), `#!/bin/sh\necho x >> ${dir}/renewed\n`, { mode: 0o755 });
        const script = pingScript("hub test host", "192.168.1.1", 10, {
          localAddress: "192.168.0.1",
          everySeconds: 1,
          max: 2,
        });
        const r = await runScript(lab.keys, lab.hub, script, 40, `${dir}:${PATH}`);
        expect(r.code).toBe(1);
        expect(r.seconds).toBeLessThan(22);
        expect(readFileSync(join(dir, "renewed"), "utf8").trim().split("\n")).toHaveLength(2);
        expect(r.stderr).toContain("cannot ping 192.168.1.1 after 10s");
      });
    } finally {
      await ipIn(lab.hub.ns, ["route", "replace", "192.168.1.0/24", "dev", "wg0"]);
    }
  }, 60000);
});
