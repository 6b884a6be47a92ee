/**
 * Stand-in for the parts of Scaleway's API the HA hub's failover agent calls, and for the
 * instance metadata service it reads. It speaks the documented request and response shapes
 * of exactly these calls (docs/ha.md cites each from scaleway-sdk-go and the provider's
 * recorded traffic):
 *  - GET   /instance/v1/zones/{zone}/ips/{ip}            -> {"ip": IP}
 *  - PATCH /instance/v1/zones/{zone}/ips/{ip}  {"server": "<id>"|null} -> {"ip": IP}
 *  - GET   /vpc/v2/regions/{region}/routes/{id}          -> Route
 *  - PATCH /vpc/v2/regions/{region}/routes/{id} {"nexthop_resource_id", "nexthop_private_network_id"} -> Route
 *  - GET   /vpc/v2/regions/{region}/routes-with-nexthop?vpc_id=&tags=&page_size= -> {"routes": [...], "total_count"}
 *  - metadata (its own listener, no token): GET /conf?format=json, answered for the server
 *    whose address the request comes from, as 169.254.42.42 does.
 * Every API request needs `X-Auth-Token`; anything else gets Scaleway's error shapes
 * (`denied_authentication`, `not_found`, `invalid_arguments`). A successful change calls the
 * lab's hooks, which move the address and the route in the lab's network, before answering.
 * Not Scaleway: no IAM, no rate limits, no `pending` delay unless the lab asks for one.
 *
 * Run by the lab as a process in a namespace (`main` below: a JSON file of state and hook
 * commands), or in-process by tests (`startScalewayApi`).
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import type { AddressInfo } from "net";

export interface StandInServer {
  id: string;
  name: string;
  /** Addresses this server's metadata requests come from (the lab's stand-in for 169.254.42.42's knowledge). */
  metadataSources: string[];
  privateNics: { id: string; privateNetworkId: string; macAddress: string }[];
  /** A metadata service lagging behind the API: lists none of the server's public IPs. */
  metadataLagsIps?: boolean;
}

export interface StandInIp {
  id: string;
  address: string;
  serverId: string | null;
  project: string;
}

export interface StandInRoute {
  id: string;
  vpcId: string;
  destination: string;
  nexthopResourceId: string | null;
  nexthopPrivateNetworkId: string | null;
  tags: string[];
  type: "custom" | "subnet";
}

export interface ScalewayApiState {
  zone: string;
  region: string;
  /** The secret key the agent must present as X-Auth-Token. */
  token: string;
  servers: StandInServer[];
  ips: StandInIp[];
  routes: StandInRoute[];
}

export interface ScalewayApiHooks {
  /** After an IP's server changed; the lab moves the address. Throwing answers 500. */
  ipMoved?(ip: StandInIp, fromServerId: string | null): void;
  /** After a route's next hop changed; the lab moves the route. */
  routeMoved?(route: StandInRoute, fromNexthop: string | null): void;
  /** Lets a test fail a call: return an HTTP status to answer instead (e.g. 503), or undefined. */
  failNext?(method: string, path: string): number | undefined;
}

export interface ApiCall {
  method: string;
  path: string;
  status: number;
}

const PROJECT_ORG = "11111111-1111-4111-8111-111111111111";
const JSON_HEADERS = { "Content-Type": "application/json" };

function deniedAuthentication(reason: "invalid_argument" | "not_found"): [number, unknown] {
  // scw/errors.go DeniedAuthenticationError: method + reason; message as the API words it.
  return [401, { message: "authentication is denied", method: "api_key", reason, type: "denied_authentication" }];
}

function notFound(resource: string, resourceId: string): [number, unknown] {
  return [404, { message: "resource is not found", resource, resource_id: resourceId, type: "not_found" }];
}

function invalidArgument(argumentName: string, reason: string, help: string): [number, unknown] {
  return [
    400,
    {
      details: [{ argument_name: argumentName, help_message: help, reason }],
      message: "invalid argument(s)",
      type: "invalid_arguments",
    },
  ];
}

function ipBody(state: ScalewayApiState, ip: StandInIp): unknown {
  const server = state.servers.find((s) => s.id === ip.serverId);
  return {
    ip: {
      id: ip.id,
      address: ip.address,
      prefix: null,
      reverse: null,
      server: server ? { id: server.id, name: server.name } : null,
      organization: PROJECT_ORG,
      project: ip.project,
      zone: state.zone,
      type: "routed_ipv4",
      state: server ? "attached" : "detached",
      tags: [],
      ipam_id: ip.id,
    },
  };
}

function routeBody(state: ScalewayApiState, r: StandInRoute): Record<string, unknown> {
  return {
    created_at: "2026-12-07T00:00:00.000000Z",
    description: "",
    destination: r.destination,
    id: r.id,
    is_read_only: r.type !== "custom",
    nexthop_private_network_id: r.nexthopPrivateNetworkId,
    nexthop_resource_id: r.nexthopResourceId,
    nexthop_vpc_connector_id: null,
    region: state.region,
    tags: r.tags,
    type: r.type,
    updated_at: "2026-12-07T00:00:00.000000Z",
    vpc_id: r.vpcId,
  };
}

/** The metadata service's /conf answer for one server (instance_metadata_sdk.go's Metadata, the fields we model). */
export function metadataFor(state: ScalewayApiState, server: StandInServer): unknown {
  return {
    id: server.id,
    name: server.name,
    hostname: server.name,
    zone: state.zone,
    public_ips_v4: state.ips
      .filter((ip) => ip.serverId === server.id && !server.metadataLagsIps)
      .map((ip) => ({
        id: ip.id,
        address: ip.address,
        dynamic: false,
        gateway: "62.210.0.1",
        netmask: "32",
        family: "inet",
        provisioning_mode: "dhcp",
        tags: [],
      })),
    private_nics: server.privateNics.map((n) => ({
      id: n.id,
      private_network_id: n.privateNetworkId,
      server_id: server.id,
      mac_address: n.macAddress,
      zone: state.zone,
    })),
  };
}

function parseJson(raw: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(raw);
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Answers one API request: [status, body]. Pure but for the state it changes and the hooks it calls. */
export function handleApiRequest(
  state: ScalewayApiState,
  hooks: ScalewayApiHooks,
  method: string,
  rawUrl: string,
  headers: http.IncomingHttpHeaders,
  rawBody: string,
): [number, unknown] {
  const token = headers["x-auth-token"];
  if (typeof token !== "string" || token === "") return deniedAuthentication("invalid_argument");
  if (token !== state.token) return deniedAuthentication("not_found");
  const url = new URL(rawUrl, "http://api");
  const injected = hooks.failNext?.(method, url.pathname);
  if (injected !== undefined) return [injected, { message: "injected failure", type: "unknown" }];

  const ipPath = url.pathname.match(/^\/instance\/v1\/zones\/([^/]+)\/ips\/([^/]+)$/);
  if (ipPath && ipPath[1] === state.zone && (method === "GET" || method === "PATCH")) {
    const ip = state.ips.find((i) => i.id === ipPath[2] || i.address === ipPath[2]);
    if (!ip) return notFound("instance_ip", ipPath[2]);
    if (method === "GET") return [200, ipBody(state, ip)];
    const body = parseJson(rawBody);
    if (!body) return invalidArgument("body", "format", "the request body must be a JSON object");
    const unknownKeys = Object.keys(body).filter((k) => !["server", "reverse", "tags", "type"].includes(k));
    if (unknownKeys.length) return invalidArgument(unknownKeys[0], "unknown", "not a field of UpdateIPRequest");
    if ("server" in body) {
      const to = body.server;
      if (to !== null && typeof to !== "string") return invalidArgument("server", "format", "a server id or null");
      if (typeof to === "string" && !state.servers.some((s) => s.id === to)) return notFound("instance_server", to);
      const from = ip.serverId;
      ip.serverId = to;
      try {
        if (from !== to) hooks.ipMoved?.(ip, from);
      } catch (e) {
        ip.serverId = from; // the lab's network did not move: neither does the answer
        throw e;
      }
    }
    return [200, ipBody(state, ip)];
  }

  const routePath = url.pathname.match(/^\/vpc\/v2\/regions\/([^/]+)\/routes\/([^/]+)$/);
  if (routePath && routePath[1] === state.region && (method === "GET" || method === "PATCH")) {
    const route = state.routes.find((r) => r.id === routePath[2]);
    if (!route) return notFound("route", routePath[2]);
    if (method === "GET") return [200, routeBody(state, route)];
    const body = parseJson(rawBody);
    if (!body) return invalidArgument("body", "format", "the request body must be a JSON object");
    const allowed = ["description", "tags", "destination", "nexthop_resource_id", "nexthop_private_network_id"];
    const unknownKeys = Object.keys(body).filter((k) => !allowed.includes(k));
    if (unknownKeys.length) return invalidArgument(unknownKeys[0], "unknown", "not a field of UpdateRouteRequest");
    if (route.type !== "custom") return [403, { message: "route is read-only", type: "permissions_denied" }];
    const hop = body.nexthop_resource_id;
    const pn = body.nexthop_private_network_id;
    if (hop !== undefined && typeof hop !== "string") return invalidArgument("nexthop_resource_id", "format", "an id");
    if (pn !== undefined && typeof pn !== "string")
      return invalidArgument("nexthop_private_network_id", "format", "an id");
    const from = route.nexthopResourceId;
    const fromPn = route.nexthopPrivateNetworkId;
    if (typeof hop === "string") {
      const owner = state.servers.find((s) => s.privateNics.some((n) => n.id === hop));
      if (!owner) return notFound("instance_private_nic", hop);
      route.nexthopResourceId = hop;
    }
    if (typeof pn === "string") route.nexthopPrivateNetworkId = pn;
    try {
      if (from !== route.nexthopResourceId) hooks.routeMoved?.(route, from);
    } catch (e) {
      route.nexthopResourceId = from;
      route.nexthopPrivateNetworkId = fromPn;
      throw e;
    }
    return [200, routeBody(state, route)];
  }

  const listPath = url.pathname.match(/^\/vpc\/v2\/regions\/([^/]+)\/routes-with-nexthop$/);
  if (listPath && listPath[1] === state.region && method === "GET") {
    const vpcId = url.searchParams.get("vpc_id");
    const tags = url.searchParams.getAll("tags");
    const pageSize = Number(url.searchParams.get("page_size") ?? "20");
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100) {
      return invalidArgument("page_size", "constraint", "between 1 and 100");
    }
    const matching = state.routes.filter(
      (r) => (!vpcId || r.vpcId === vpcId) && (tags.length === 0 || tags.some((t) => r.tags.includes(t))),
    );
    const routes = matching.slice(0, pageSize).map((r) => ({
      nexthop_ip: null,
      nexthop_name: null,
      nexthop_resource_type: r.type === "custom" ? "instance_private_nic" : "unknown_type",
      route: routeBody(state, r),
    }));
    return [200, { routes, total_count: matching.length }];
  }

  return notFound("unknown", "");
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > 64 * 1024) req.destroy(new Error("request body too large"));
      else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function bare(address: string | undefined): string {
  return (address ?? "").replace(/^::ffff:/, "");
}

export interface RunningScalewayApi {
  apiUrl: string;
  metadataUrl: string;
  calls: ApiCall[];
  close(): Promise<void>;
}

/** Starts the API and the metadata listeners (port 0: any free port). */
export async function startScalewayApi(opts: {
  state: ScalewayApiState;
  hooks?: ScalewayApiHooks;
  apiHost: string;
  apiPort?: number;
  metadataHost: string;
  metadataPort?: number;
  /** Appended one JSON line per API call, for the lab's report. */
  callLog?: string;
}): Promise<RunningScalewayApi> {
  const { state } = opts;
  const hooks = opts.hooks ?? {};
  const calls: ApiCall[] = [];
  const api = http.createServer((req, res) => {
    readBody(req)
      .then((raw) => {
        let answer: [number, unknown];
        try {
          answer = handleApiRequest(state, hooks, req.method ?? "GET", req.url ?? "/", req.headers, raw);
        } catch (e) {
          answer = [500, { message: `stand-in hook failed: ${(e as Error).message}`, type: "unknown" }];
        }
        const call = { method: req.method ?? "", path: req.url ?? "", status: answer[0] };
        calls.push(call);
        if (opts.callLog) fs.appendFileSync(opts.callLog, JSON.stringify({ ...call, at: Date.now() }) + "\n");
        res.writeHead(answer[0], JSON_HEADERS).end(JSON.stringify(answer[1]));
      })
      .catch(() => res.destroy());
  });
  const metadata = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://metadata");
    const server = state.servers.find((s) => s.metadataSources.includes(bare(req.socket.remoteAddress)));
    if (req.method !== "GET" || url.pathname !== "/conf" || url.searchParams.get("format") !== "json" || !server) {
      res.writeHead(404, { "Content-Type": "text/plain" }).end("not found\n");
      return;
    }
    res.writeHead(200, JSON_HEADERS).end(JSON.stringify(metadataFor(state, server)));
  });
  const listen = (s: http.Server, host: string, port: number) =>
    new Promise<AddressInfo>((resolve, reject) => {
      s.once("error", reject);
      s.listen(port, host, () => resolve(s.address() as AddressInfo));
    });
  const a = await listen(api, opts.apiHost, opts.apiPort ?? 0);
  const m = await listen(metadata, opts.metadataHost, opts.metadataPort ?? 0);
  const close = (s: http.Server) => new Promise<void>((resolve) => s.close(() => resolve()));
  return {
    apiUrl: `http://${opts.apiHost}:${a.port}`,
    metadataUrl: `http://${opts.metadataHost}:${m.port}`,
    calls,
    close: async () => {
      api.closeAllConnections();
      metadata.closeAllConnections();
      await Promise.all([close(api), close(metadata)]);
    },
  };
}

/** The lab's process form: hooks are argv lists run with the change in their environment. */
export interface ScalewayApiProcessConfig {
  state: ScalewayApiState;
  apiHost: string;
  apiPort: number;
  metadataHost: string;
  metadataPort: number;
  /** Run after an IP move, env IP_ADDRESS, FROM_SERVER, TO_SERVER (empty when none). */
  ipMovedCommand?: string[];
  /** Run after a next-hop change, env ROUTE_DESTINATION, FROM_NEXTHOP, TO_NEXTHOP, TO_SERVER. */
  routeMovedCommand?: string[];
  callLog?: string;
  /** Answer the first `count` calls of METHOD PATH with `status` (the agent's retries, in tests). */
  failures?: { method: string; path: string; status: number; count: number }[];
}

function runHook(argv: string[], env: Record<string, string>): void {
  const r = spawnSync(argv[0], argv.slice(1), { env: { ...process.env, ...env }, encoding: "utf8", timeout: 10_000 });
  if (r.status !== 0) throw new Error(`${argv.join(" ")} exited ${r.status}: ${r.stderr}`);
}

export function hooksFromCommands(config: ScalewayApiProcessConfig): ScalewayApiHooks {
  const serverOfNic = (nic: string | null) =>
    config.state.servers.find((s) => s.privateNics.some((n) => n.id === nic))?.id ?? "";
  const failures = (config.failures ?? []).map((f) => ({ ...f }));
  return {
    failNext: (method, path) => {
      const f = failures.find((x) => x.method === method && x.path === path && x.count > 0);
      if (!f) return undefined;
      f.count--;
      return f.status;
    },
    ipMoved: config.ipMovedCommand
      ? (ip, from) =>
          runHook(config.ipMovedCommand!, {
            IP_ADDRESS: ip.address,
            FROM_SERVER: from ?? "",
            TO_SERVER: ip.serverId ?? "",
          })
      : undefined,
    routeMoved: config.routeMovedCommand
      ? (route, from) =>
          runHook(config.routeMovedCommand!, {
            ROUTE_DESTINATION: route.destination,
            FROM_NEXTHOP: from ?? "",
            TO_NEXTHOP: route.nexthopResourceId ?? "",
            TO_SERVER: serverOfNic(route.nexthopResourceId),
          })
      : undefined,
  };
}

async function main(configPath: string): Promise<void> {
  const config = JSON.parse(fs.readFileSync(configPath, "utf8")) as ScalewayApiProcessConfig;
  const running = await startScalewayApi({ ...config, hooks: hooksFromCommands(config) });
  process.stdout.write(`scaleway-api stand-in: api ${running.apiUrl}, metadata ${running.metadataUrl}\n`);
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => void running.close().then(() => process.exit(0)));
  }
}

if (require.main === module) {
  const configPath = process.argv[2];
  if (!configPath) {
    process.stderr.write("usage: tsx lab/standins/scalewayApi.ts <config.json>\n");
    process.exit(2);
  }
  main(configPath).catch((e: Error) => {
    process.stderr.write(`scaleway-api stand-in: ${e.message}\n`);
    process.exit(1);
  });
}
