/** @tier unit */
import {
  startScalewayApi,
  type RunningScalewayApi,
  type ScalewayApiState,
  type StandInIp,
  type StandInRoute,
} from "./scalewayApi";
import { haPairState, IP_ID, NIC_A, NIC_B, PN, SERVER_A, SERVER_B, VPC } from "../../testkit/haApiStandIn";

const ROUTE_ID = "ffffffff-0000-4000-8000-000000000006";
const TOKEN = "00000000-1111-4222-8333-444444444444";

function freshState(): ScalewayApiState {
  return haPairState({
    token: TOKEN,
    routes: [
      {
        id: ROUTE_ID,
        vpcId: VPC,
        destination: "10.20.0.0/24",
        nexthopResourceId: NIC_B,
        nexthopPrivateNetworkId: PN,
        tags: ["wg-s2s-ha:dev"],
        type: "custom",
      },
      {
        id: "",
        vpcId: VPC,
        destination: "192.168.0.0/24",
        nexthopResourceId: null,
        nexthopPrivateNetworkId: PN,
        tags: ["MANAGED"],
        type: "subnet",
      },
    ],
  });
}

let api: RunningScalewayApi;
let state: ScalewayApiState;
const ipMoves: [StandInIp, string | null][] = [];
const routeMoves: [StandInRoute, string | null][] = [];

beforeEach(async () => {
  state = freshState();
  ipMoves.length = 0;
  routeMoves.length = 0;
  api = await startScalewayApi({
    state,
    hooks: {
      ipMoved: (ip, from) => ipMoves.push([{ ...ip }, from]),
      routeMoved: (r, from) => routeMoves.push([{ ...r }, from]),
    },
    apiHost: "127.0.0.1",
    metadataHost: "127.0.0.1",
  });
});
afterEach(() => api.close());

async function call(method: string, path: string, body?: unknown, token: string | null = TOKEN) {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (token !== null) headers["X-Auth-Token"] = token;
  const res = await fetch(api.apiUrl + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, type: res.headers.get("content-type"), json: (await res.json()) as Record<string, any> };
}

test("a wrong or missing X-Auth-Token: 401 in Scaleway's denied_authentication shape, and nothing moves", async () => {
  const wrong = await call("PATCH", `/instance/v1/zones/fr-par-1/ips/${IP_ID}`, { server: SERVER_A }, "not-the-key");
  expect(wrong.status).toBe(401);
  expect(wrong.type).toMatch(/^application\/json/);
  expect(wrong.json).toEqual({
    message: "authentication is denied",
    method: "api_key",
    reason: "not_found",
    type: "denied_authentication",
  });
  const missing = await call("GET", `/instance/v1/zones/fr-par-1/ips/${IP_ID}`, undefined, null);
  expect(missing.status).toBe(401);
  expect(missing.json.reason).toBe("invalid_argument");
  expect(state.ips[0].serverId).toBe(SERVER_B);
  expect(ipMoves).toHaveLength(0);
});

test("anything but the failover's calls: 404 not_found (unknown paths, other methods, other zones, unknown ids)", async () => {
  for (const [method, path] of [
    ["GET", "/instance/v1/zones/fr-par-1/servers"],
    ["DELETE", `/instance/v1/zones/fr-par-1/ips/${IP_ID}`],
    ["PATCH", `/instance/v1/zones/nl-ams-1/ips/${IP_ID}`],
    ["POST", "/vpc/v2/regions/fr-par/routes"],
    ["GET", "/iam/v1alpha1/api-keys"],
  ]) {
    const r = await call(method, path, method === "GET" ? undefined : {});
    expect([method, path, r.status, r.json]).toEqual([
      method,
      path,
      404,
      { message: "resource is not found", resource: "unknown", resource_id: "", type: "not_found" },
    ]);
  }
  const ip = await call("GET", "/instance/v1/zones/fr-par-1/ips/00000000-0000-4000-8000-000000000000");
  expect(ip.json).toEqual({
    message: "resource is not found",
    resource: "instance_ip",
    resource_id: "00000000-0000-4000-8000-000000000000",
    type: "not_found",
  });
  expect(ipMoves).toHaveLength(0);
});

test("PATCH an IP's server: {\"ip\": ...} with the new server, and the lab's hook called once with where it came from", async () => {
  const r = await call("PATCH", `/instance/v1/zones/fr-par-1/ips/${IP_ID}`, { server: SERVER_A });
  expect(r.status).toBe(200);
  expect(r.json.ip).toMatchObject({
    id: IP_ID,
    address: "203.0.113.10",
    server: { id: SERVER_A, name: "hub-a" },
    zone: "fr-par-1",
    type: "routed_ipv4",
  });
  expect(Object.keys(r.json.ip).sort()).toEqual(
    [
      "address",
      "id",
      "ipam_id",
      "organization",
      "prefix",
      "project",
      "reverse",
      "server",
      "state",
      "tags",
      "type",
      "zone",
    ].sort(),
  );
  expect(ipMoves).toEqual([[expect.objectContaining({ serverId: SERVER_A }), SERVER_B]]);
  // The same call again changes nothing: no second hook.
  await call("PATCH", `/instance/v1/zones/fr-par-1/ips/${IP_ID}`, { server: SERVER_A });
  expect(ipMoves).toHaveLength(1);
  // Detach is null.
  const detached = await call("PATCH", `/instance/v1/zones/fr-par-1/ips/${IP_ID}`, { server: null });
  expect(detached.json.ip).toMatchObject({ server: null, state: "detached" });
});

test("bad bodies: invalid_arguments naming the field; unknown server: not_found; nothing moves", async () => {
  const extra = await call("PATCH", `/instance/v1/zones/fr-par-1/ips/${IP_ID}`, { server_id: SERVER_A });
  expect(extra.status).toBe(400);
  expect(extra.json).toMatchObject({ type: "invalid_arguments", details: [{ argument_name: "server_id" }] });
  const ghost = await call("PATCH", `/instance/v1/zones/fr-par-1/ips/${IP_ID}`, {
    server: "00000000-0000-4000-8000-000000000000",
  });
  expect(ghost.status).toBe(404);
  expect(ghost.json.resource).toBe("instance_server");
  expect(ipMoves).toHaveLength(0);
});

test("PATCH a route's next hop: the Route itself (unwrapped), hook called once; Scaleway's subnet routes are read-only", async () => {
  const r = await call("PATCH", `/vpc/v2/regions/fr-par/routes/${ROUTE_ID}`, {
    nexthop_resource_id: NIC_A,
    nexthop_private_network_id: PN,
  });
  expect(r.status).toBe(200);
  expect(r.json).toMatchObject({
    id: ROUTE_ID,
    destination: "10.20.0.0/24",
    nexthop_resource_id: NIC_A,
    nexthop_private_network_id: PN,
    type: "custom",
    is_read_only: false,
    region: "fr-par",
    vpc_id: VPC,
  });
  expect(routeMoves).toEqual([[expect.objectContaining({ nexthopResourceId: NIC_A }), NIC_B]]);
  const unknownNic = await call("PATCH", `/vpc/v2/regions/fr-par/routes/${ROUTE_ID}`, {
    nexthop_resource_id: "00000000-0000-4000-8000-000000000000",
  });
  expect(unknownNic.status).toBe(404);
  expect(routeMoves).toHaveLength(1);
});

test("routes-with-nexthop: filtered by vpc_id and tags, in the recorded {routes: [{route, ...}], total_count} shape", async () => {
  const r = await call(
    "GET",
    `/vpc/v2/regions/fr-par/routes-with-nexthop?vpc_id=${VPC}&tags=wg-s2s-ha:dev&page_size=100`,
  );
  expect(r.status).toBe(200);
  expect(r.json.total_count).toBe(1);
  expect(r.json.routes).toEqual([
    expect.objectContaining({
      nexthop_resource_type: "instance_private_nic",
      route: expect.objectContaining({ id: ROUTE_ID, nexthop_resource_id: NIC_B }),
    }),
  ]);
  const all = await call("GET", `/vpc/v2/regions/fr-par/routes-with-nexthop?vpc_id=${VPC}`);
  expect(all.json.total_count).toBe(2);
  expect(all.json.routes[1].route).toMatchObject({ type: "subnet", is_read_only: true, tags: ["MANAGED"] });
});

test("metadata: /conf?format=json for the server the request comes from, listing the IPs it holds now", async () => {
  const before = (await (await fetch(`${api.metadataUrl}/conf?format=json`)).json()) as Record<string, any>;
  expect(before).toMatchObject({
    id: SERVER_A,
    public_ips_v4: [],
    private_nics: [{ id: NIC_A, private_network_id: PN }],
  });
  await call("PATCH", `/instance/v1/zones/fr-par-1/ips/${IP_ID}`, { server: SERVER_A });
  const after = (await (await fetch(`${api.metadataUrl}/conf?format=json`)).json()) as Record<string, any>;
  expect(after.public_ips_v4).toEqual([
    expect.objectContaining({ id: IP_ID, address: "203.0.113.10", provisioning_mode: "dhcp" }),
  ]);
  expect((await fetch(`${api.metadataUrl}/user_data`)).status).toBe(404);
});

test("a hook that fails (the lab could not move the address): 500, the IP stays where it was, the call is logged", async () => {
  await api.close();
  state = freshState();
  api = await startScalewayApi({
    state,
    hooks: {
      ipMoved: () => {
        throw new Error("ip route replace failed");
      },
    },
    apiHost: "127.0.0.1",
    metadataHost: "127.0.0.1",
  });
  const r = await call("PATCH", `/instance/v1/zones/fr-par-1/ips/${IP_ID}`, { server: SERVER_A });
  expect(r.status).toBe(500);
  expect(api.calls).toEqual([{ method: "PATCH", path: `/instance/v1/zones/fr-par-1/ips/${IP_ID}`, status: 500 }]);
  expect(state.ips[0].serverId).toBe(SERVER_B);
});
