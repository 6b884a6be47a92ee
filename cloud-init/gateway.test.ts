/** @tier unit */
import { renderGatewayCloudConfig, renderGatewayFiles } from "./gateway";
import { PATHS } from "./common";
import { ENABLE_FORWARDING, renderFirewallUnit } from "./firewall";
import { METRICS_PATHS, collectorScript, renderCollectorUnit } from "./tunnelMetrics";
import {
  KeyRing,
  WIREGUARD_KEY_SHAPE,
  cloudInitSchema,
  commandIndex,
  hubGatewaySpec,
  parseCloudConfig,
  shellcheck,
  spokeGatewaySpec,
  systemdVerify,
} from "../testkit/cloudInit";
import type { GatewaySpec } from "../planning/specs";

type Variant = { name: string; build: (keys: KeyRing) => GatewaySpec };

const VARIANTS: Variant[] = [
  { name: "hub, vpc-route", build: (keys) => hubGatewaySpec(keys, "vpc-route") },
  { name: "spoke, static", build: (keys) => spokeGatewaySpec(keys, "static") },
  { name: "spoke, dhcp without lanRouter", build: (keys) => spokeGatewaySpec(keys, "dhcp") },
  { name: "spoke, dhcp with lanRouter", build: (keys) => spokeGatewaySpec(keys, "dhcp", "192.168.1.254") },
];

describe.each(VARIANTS)("gateway cloud-config ($name)", ({ build }) => {
  const keys = new KeyRing();
  const spec = build(keys);
  const text = renderGatewayCloudConfig(spec);
  const doc = parseCloudConfig(text);

  it("matches the snapshot with every key masked", () => {
    const masked = keys.mask(text);
    for (const secret of keys.secrets()) expect(masked).not.toContain(secret);
    expect(masked).not.toMatch(WIREGUARD_KEY_SHAPE);
    expect(masked).toMatchSnapshot();
  });

  it("is byte-identical when rendered again, also from a reordered spec", () => {
    expect(renderGatewayCloudConfig(spec)).toBe(text);
    const reordered: GatewaySpec = {
      ...spec,
      forwardFlows: [...spec.forwardFlows].reverse(),
      wireguard: {
        ...spec.wireguard,
        peers: [...spec.wireguard.peers].reverse().map((p) => ({ ...p, allowedIps: [...p.allowedIps].reverse() })),
      },
    };
    expect(renderGatewayCloudConfig(reordered)).toBe(text);
  });

  it("passes cloud-init's own schema check", () => {
    const result = cloudInitSchema(text, keys);
    expect(result.output).toContain("Valid cloud-config");
    expect(result.ok).toBe(true);
  });

  it("writes the networkd netdev 0640 root:systemd-network and keeps every secret inside it", () => {
    const netdev = doc.files.get(PATHS.wireguardNetdev);
    expect(netdev).toBeDefined();
    expect(netdev?.permissions).toBe("0640");
    expect(netdev?.owner).toBe("root:systemd-network");
    expect(netdev?.content).toContain(`PrivateKey=${spec.wireguard.privateKey}`);
    for (const peer of spec.wireguard.peers) expect(netdev?.content).toContain(`PresharedKey=${peer.presharedKey}`);
    // Exactly once in the whole document: nowhere but the netdev (no wg0.conf, no runcmd).
    const wgSecrets = [spec.wireguard.privateKey, ...spec.wireguard.peers.map((p) => p.presharedKey)];
    for (const secret of wgSecrets) expect(text.split(secret)).toHaveLength(2);
    for (const [path, file] of doc.files) {
      if (path === PATHS.wireguardNetdev) continue;
      for (const secret of wgSecrets) expect(file.content).not.toContain(secret);
    }
    expect(doc.files.has(PATHS.wireguardConfig)).toBe(false);
  });

  it("downloads nothing before the tunnel: no cloud-init packages, extras installed by a unit afterwards", () => {
    expect(doc.packages).toBeUndefined();
    expect(doc.raw).not.toHaveProperty("packages");
    expect(doc.raw.package_update).toBe(false);
    expect(doc.raw.package_upgrade).toBe(false);
    expect(doc.raw).not.toHaveProperty("package_reboot_if_required");
    expect(doc.runcmd.some((c) => c[0]?.startsWith("apt"))).toBe(false);
    // Nothing the tunnel's path runs needs wireguard-tools or dnsmasq.
    expect(doc.runcmd.some((c) => ["wg", "wg-quick", "dnsmasq"].includes(c[0]))).toBe(false);
    expect(doc.runcmd.map((c) => c.join(" ")).join("\n")).not.toMatch(/wg-quick/);
    const extras = doc.files.get(PATHS.extrasUnit)?.content ?? "";
    const expected = [
      "nftables",
      "wireguard-tools",
      "prometheus-node-exporter",
      ...(spec.routePropagation === "dhcp" ? ["dnsmasq"] : []),
    ];
    expect(extras).toContain(`ExecStart=${PATHS.extrasScript} ${expected.join(" ")}`);
    expect(extras).toMatch(/^Restart=on-failure$/m);
    expect(extras).toMatch(/^StartLimitIntervalSec=0$/m);
    expect(/ExecStartPost=.*restart dnsmasq\.service/.test(extras)).toBe(spec.routePropagation === "dhcp");
    // The safety net for an image without nft: once installed, the failed policy unit is started.
    expect(extras).toMatch(/^ExecStartPost=\/usr\/bin\/systemctl start wg-s2s-firewall\.service$/m);
    expect(doc.files.get(PATHS.extrasScript)?.permissions).toBe("0755");
  });

  it("loads the forward policy (which then switches forwarding on), brings wg0 up, and only then starts what may wait", () => {
    const order = [
      commandIndex(doc.runcmd, "daemon-reload"),
      commandIndex(doc.runcmd, "enable --now wg-s2s-firewall.service"),
      commandIndex(doc.runcmd, "networkctl reload"),
      commandIndex(doc.runcmd, "start --no-block wg-s2s-extras.service"),
      commandIndex(doc.runcmd, "enable --now --no-block wg-s2s-metrics.service"),
      commandIndex(doc.runcmd, "enable --now wg-s2s-private-nic.service"),
    ];
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    // Nothing that could print key material into cloud-init's log.
    const leaky = doc.runcmd.filter(
      (c) =>
        ["cat", "wg", "echo", "printf"].includes(c[0]) ||
        /showconf|genkey|wg0\.conf|\.netdev|PrivateKey/.test(c.join(" ")),
    );
    expect(leaky).toEqual([]);
  });

  it("wires wg0 in networkd: address, one route per AllowedIP, not required for online", () => {
    const network = doc.files.get(PATHS.wireguardNetwork)?.content ?? "";
    expect(network).toMatch(/^\[Match\]\nName=wg0$/m);
    expect(network).toMatch(/^RequiredForOnline=no$/m);
    expect(network).toContain(`Address=${spec.wireguard.address}`);
    const destinations = [...network.matchAll(/^Destination=(.*)$/gm)].map((m) => m[1]);
    expect(destinations.sort()).toEqual(spec.wireguard.peers.flatMap((p) => p.allowedIps).sort());
    expect(network).not.toMatch(/IPForward/);
    const netdev = doc.files.get(PATHS.wireguardNetdev)?.content ?? "";
    expect(netdev).toMatch(/^Kind=wireguard$/m);
    expect(netdev).toContain(`ListenPort=${spec.wireguard.listenPort}`);
    expect(netdev).toContain(`MTUBytes=${spec.wireguard.mtu}`);
  });

  it("wires the systemd units: policy before network-pre, forwarding only after the policy", () => {
    const firewall = doc.files.get(PATHS.firewallUnit)?.content ?? "";
    expect(firewall).toBe(renderFirewallUnit());
    expect(firewall).toContain(`ExecStart=/usr/sbin/nft -f ${PATHS.forwardPolicy}`);
    expect(firewall).toContain(`ExecStartPost=${ENABLE_FORWARDING}`);
    const wait = doc.files.get(PATHS.privateNicUnit)?.content ?? "";
    expect(wait).toMatch(/^After=network-online\.target$/m);
    const address = spec.privateAddress.split("/")[0];
    expect(wait).toContain(`ExecStart=${PATHS.waitPrivateNicScript} ${address} ${spec.privateNicTimeoutSeconds}`);
    expect(doc.files.get(PATHS.waitPrivateNicScript)?.permissions).toBe("0755");
  });

  it("writes unit files systemd-analyze accepts without a single warning", () => {
    const units = [...doc.files.values()].filter((f) => /\/systemd\/system\/[^/]+\.service$/.test(f.path));
    expect(units.map((u) => u.path).sort()).toEqual(
      [PATHS.extrasUnit, PATHS.firewallUnit, METRICS_PATHS.collectorUnit, PATHS.privateNicUnit].sort(),
    );
    expect(systemdVerify(units)).toEqual({ ok: true, output: "" });
  });

  it("switches forwarding on nowhere but the firewall unit (fails closed), and writes dnsmasq only for dhcp", () => {
    // The metrics collector reads ip_forward (and says so in its HELP text); it never writes it.
    const readers: string[] = [METRICS_PATHS.collectorScript, METRICS_PATHS.collectorConfig];
    const elsewhere = [...doc.files.values()].filter(
      (f) =>
        f.path !== PATHS.firewallUnit &&
        !readers.includes(f.path) &&
        /ip_forward|\/sysctl\.d\/|IPForward/.test(`${f.path}\n${f.content}`),
    );
    expect(elsewhere.map((f) => f.path)).toEqual([]);
    const script = doc.files.get(METRICS_PATHS.collectorScript)?.content ?? "";
    expect(script.split("\n").filter((l) => /ip_forward/.test(l))).toEqual([
      '\tread -r forwarding <"$PROC/sys/net/ipv4/ip_forward" || :',
    ]);
    expect(script).not.toMatch(/sysctl/);
    expect(doc.runcmd.filter((c) => c.join(" ").includes("sysctl"))).toEqual([]);
    expect(doc.files.has(PATHS.dnsmasq)).toBe(spec.routePropagation === "dhcp");
  });

  it("runs the tunnel metrics collector off the tunnel's path, pinging every peer's tunnel address", () => {
    expect(doc.files.get(METRICS_PATHS.collectorScript)?.content).toBe(collectorScript());
    expect(doc.files.get(METRICS_PATHS.collectorScript)?.permissions).toBe("0755");
    expect(doc.files.get(METRICS_PATHS.collectorUnit)?.content).toBe(renderCollectorUnit());
    const config = doc.files.get(METRICS_PATHS.collectorConfig)?.content ?? "";
    const probes = config.split("\n").filter((l) => l.startsWith("peer "));
    expect(probes.sort()).toEqual(
      spec.metrics.probes.map((p) => {
        const peer = spec.wireguard.peers.find((w) => w.name === p.peer);
        return `peer ${p.peer} ${peer?.publicKey} ${p.address}`;
      }),
    );
    // Each probe address is the peer's own tunnel /32, routed through wg0.
    for (const p of spec.metrics.probes) {
      expect(spec.wireguard.peers.find((w) => w.name === p.peer)?.allowedIps).toContain(`${p.address}/32`);
    }
    expect(config).toMatch(/^active_default 1$/m);
    // Started without waiting, by nothing the tunnel needs.
    const unit = renderCollectorUnit();
    expect(unit).not.toMatch(/^(Before|RequiredBy)=/m);
    for (const file of doc.files.values()) {
      if (file.path !== METRICS_PATHS.collectorUnit) expect(file.content).not.toMatch(/wg-s2s-metrics\.service/);
    }
  });

  it("writes exactly the shared file contents (the operator bundle's strings)", () => {
    const files = renderGatewayFiles(spec);
    expect(doc.files.get(PATHS.wireguardNetdev)?.content).toBe(files.wireguardNetdev);
    expect(doc.files.get(PATHS.wireguardNetwork)?.content).toBe(files.wireguardNetwork);
    expect(doc.files.get(PATHS.forwardPolicy)?.content).toBe(files.forwardPolicy);
    expect(doc.files.get(PATHS.dnsmasq)?.content).toBe(files.dnsmasq);
    expect(doc.files.get(METRICS_PATHS.collectorConfig)?.content).toBe(files.metricsConfig);
  });

  it("embeds only shellcheck-clean shell scripts", () => {
    const scripts = [...doc.files.values()].filter((f) => f.content.startsWith("#!/bin/sh"));
    expect(scripts.length).toBeGreaterThan(0);
    for (const script of scripts) {
      const result = shellcheck(script.content);
      expect(result.output).toBe("");
      expect(result.ok).toBe(true);
    }
  });
});

describe("gateway SSH settings", () => {
  it("pins the given ed25519 host key and replaces the image's keys", () => {
    const keys = new KeyRing();
    const spec = spokeGatewaySpec(keys, "static");
    const doc = parseCloudConfig(renderGatewayCloudConfig(spec));
    expect(doc.raw.ssh_authorized_keys).toEqual(spec.sshAuthorizedKeys);
    expect(doc.raw.ssh_deletekeys).toBe(true);
    expect(doc.raw.ssh_keys).toEqual({
      ed25519_private: spec.sshHostKey?.privateKeyOpenssh,
      ed25519_public: spec.sshHostKey?.publicKeyOpenssh,
    });
  });

  it("leaves host keys alone when none is given", () => {
    const doc = parseCloudConfig(renderGatewayCloudConfig(hubGatewaySpec(new KeyRing())));
    expect(doc.raw).not.toHaveProperty("ssh_keys");
    expect(doc.raw).not.toHaveProperty("ssh_deletekeys");
  });
});

describe("gateway spec errors", () => {
  it("refuses dhcp propagation without a dhcp spec, and a dhcp spec without dhcp propagation", () => {
    const keys = new KeyRing();
    const noDhcp = { ...spokeGatewaySpec(keys, "dhcp"), dhcp: undefined };
    expect(() => renderGatewayCloudConfig(noDhcp)).toThrow(/needs a dhcp spec/);
    const strayDhcp = { ...spokeGatewaySpec(keys, "dhcp"), routePropagation: "static" as const };
    expect(() => renderGatewayCloudConfig(strayDhcp)).toThrow(/dhcp spec given/);
  });

  it("refuses a private address without prefix and a malformed site name", () => {
    const keys = new KeyRing();
    expect(() => renderGatewayCloudConfig({ ...hubGatewaySpec(keys), privateAddress: "192.168.0.2" })).toThrow(
      /needs a prefix length/,
    );
    expect(() => renderGatewayCloudConfig({ ...hubGatewaySpec(keys), siteName: "Par\nx" })).toThrow(/DNS label/);
  });
});

describe("schema helper (negative controls)", () => {
  it("rejects a document that violates cloud-init's schema", () => {
    const result = cloudInitSchema("#cloud-config\nruncmd: 5\nwrite_files:\n  - content: no path\n");
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(/runcmd/);
  });

  it("rejects a document without the #cloud-config header", () => {
    const text = renderGatewayCloudConfig(hubGatewaySpec(new KeyRing())).replace("#cloud-config\n", "");
    expect(cloudInitSchema(text).ok).toBe(false);
  });

  it("systemd-analyze verify flags a misspelt directive", () => {
    const bad = {
      path: "/etc/systemd/system/bad.service",
      content: "[Unit]\nDescriptio=x\n[Service]\nExecStart=/bin/true\n",
    };
    expect(systemdVerify([bad]).ok).toBe(false);
  });

  it("shellcheck flags an unquoted variable", () => {
    expect(shellcheck("#!/bin/sh\nrm $1\n").ok).toBe(false);
  });
});
