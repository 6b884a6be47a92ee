/** @tier unit */
import { HA_PATHS, haAgentScript, renderHaAgentEnv, type HaAgentSpec } from "./agent";

const SPEC: HaAgentSpec = {
  zone: "fr-par-1",
  region: "fr-par",
  serviceIpId: "eeeeeeee-0000-4000-8000-000000000005",
  privateNetworkId: "cccccccc-0000-4000-8000-000000000003",
  vpcId: "dddddddd-0000-4000-8000-000000000004",
  routeTag: "wg-s2s-ha:dev",
  tunnelForm: "networkd",
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
])("refuses %j", (override, message) => {
  expect(() => renderHaAgentEnv({ ...SPEC, ...override } as HaAgentSpec)).toThrow(message);
});
