/** @tier unit */
import { HA_PATHS, HA_SHARE_PORT, haAgentScript, renderHaAgentEnv, type HaAgentSpec } from "./agent";

const SPEC: HaAgentSpec = {
  zone: "fr-par-1",
  region: "fr-par",
  serviceIpId: "eeeeeeee-0000-4000-8000-000000000005",
  privateNetworkId: "cccccccc-0000-4000-8000-000000000003",
  vpcId: "dddddddd-0000-4000-8000-000000000004",
  routeTag: "wg-s2s-ha:dev",
  tunnelForm: "networkd",
  ownPrivateAddress: "192.168.0.2",
  peerPrivateAddress: "192.168.0.3",
  serviceIpAddress: "51.15.0.10",
  listenPort: 51820,
};

function envOf(text: string): Map<string, string> {
  return new Map(
    text
      .split("\n")
      .filter((l) => l && !l.startsWith("#"))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
}

test("snapshot", () => {
  expect(renderHaAgentEnv(SPEC)).toMatchSnapshot();
});

test("Scaleway's API and metadata service by default; the key is a path to a 0600 file, never a value", () => {
  const env = envOf(renderHaAgentEnv(SPEC));
  expect(env.get("SCW_API_URL")).toBe("https://api.scaleway.com");
  expect(env.get("SCW_METADATA_URL")).toBe("http://169.254.42.42");
  expect(env.get("SECRET_KEY_FILE")).toBe(HA_PATHS.secretKey);
  expect([...env.keys()].some((k) => /SECRET_KEY$|TOKEN/.test(k))).toBe(false);
  expect(env.get("API_ATTEMPTS")).toBe("5");
});

test("the endpoint hand-over: the share port defaults to HA_SHARE_PORT, the pulled copy lives in the state directory", () => {
  const env = envOf(renderHaAgentEnv(SPEC));
  expect(env.get("SHARE_PORT")).toBe(String(HA_SHARE_PORT));
  // Below Linux's ephemeral range, and none of the ports the gateway already uses.
  expect(HA_SHARE_PORT).toBeLessThan(32768);
  expect([51820, 9100, 80]).not.toContain(HA_SHARE_PORT);
  expect(env.get("ENDPOINTS_FILE")).toBe(`${HA_PATHS.stateDir}/peer-endpoints`);
  expect(env.get("OWN_PRIVATE_ADDRESS")).toBe("192.168.0.2");
  expect(env.get("PEER_PRIVATE_ADDRESS")).toBe("192.168.0.3");
  expect(env.get("SERVICE_IP_ADDRESS")).toBe("51.15.0.10");
  expect(env.get("LISTEN_PORT")).toBe("51820");
  expect(envOf(renderHaAgentEnv({ ...SPEC, sharePort: 8443 })).get("SHARE_PORT")).toBe("8443");
});

test("the agent serves the share directory only, on the private address only, and pulls with a bounded curl", () => {
  const script = haAgentScript();
  expect(script).toContain(
    'python3 -m http.server --bind "$OWN_PRIVATE_ADDRESS" --directory "$SHARE_DIR" "$SHARE_PORT"',
  );
  expect(script).toMatch(/curl -fsS --max-time 1 -o "\$tmp" "http:\/\/\$PEER_PRIVATE_ADDRESS:\$SHARE_PORT\/endpoints"/);
  // Its own table, removed on every way down (backup, a lost IP, the start of a claim).
  expect(script.match(/^\t*snat_off$/gm)).toHaveLength(3);
});

test("every variable the agent requires is rendered, and nothing it does not read", () => {
  const script = haAgentScript();
  const required = [...script.matchAll(/"\$\{([A-Z_]+):\?\}"/g)].map((m) => m[1]);
  const env = envOf(renderHaAgentEnv(SPEC));
  expect(required.length).toBeGreaterThan(10);
  for (const name of required) expect([name, env.has(name)]).toEqual([name, true]);
  for (const name of env.keys())
    expect([name, script.includes(`$${name}`) || script.includes(`{${name}`)]).toEqual([name, true]);
});

test.each([
  [{ serviceIpId: "fr-par-1/eeeeeeee-0000-4000-8000-000000000005" }, /serviceIpId .* bare UUID/],
  [{ vpcId: "" }, /vpcId/],
  [{ zone: "nl-ams-1" }, /not in region fr-par/],
  [{ region: "fr-par\nX=1" }, /region/],
  [{ routeTag: "a tag" }, /routeTag/],
  [{ routeTag: "x&tags=MANAGED" }, /routeTag/],
  [{ apiUrl: "https://api.scaleway.com/$(reboot)" }, /apiUrl/],
  [{ apiAttempts: 0 }, /bounded retries/],
  [{ apiAttempts: 1000 }, /bounded retries/],
  [{ tunnelForm: "wg-quick" }, /tunnelForm/],
  [{ ownPrivateAddress: "192.168.0.2/24" }, /ownPrivateAddress .* bare IPv4/],
  [{ peerPrivateAddress: "192.168.0.2" }, /both 192\.168\.0\.2: give each gateway its own/],
  [{ peerPrivateAddress: "192.168.0.256" }, /peerPrivateAddress/],
  [{ serviceIpAddress: "51.15.0.10\nX=1" }, /serviceIpAddress/],
  [{ serviceIpAddress: "fd00::1" }, /serviceIpAddress .* bare IPv4/],
  [{ listenPort: 0 }, /listenPort 0 must be an integer port from 1 to 65535/],
  [{ listenPort: 65536 }, /listenPort/],
  [{ listenPort: 51820.5 }, /listenPort/],
  [{ sharePort: 70000 }, /sharePort 70000/],
])("refuses %j", (override, message) => {
  expect(() => renderHaAgentEnv({ ...SPEC, ...override } as HaAgentSpec)).toThrow(message);
});
