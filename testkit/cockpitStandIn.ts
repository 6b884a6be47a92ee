/**
 * Stand-ins for what the metrics lab cannot have here, run as processes inside the lab's
 * own namespace:
 *
 *   push-proxy LISTEN_HOST LISTEN_PORT UPSTREAM TOKEN_FILE STATS_FILE
 *     Scaleway Cockpit's push path, as its documentation describes it: Prometheus remote
 *     write POSTed to `<push url>/api/v1/push` with the token in the `X-Token` header. Also
 *     taken, and recorded as such: `Authorization: Bearer <token>`, which is ASSUMED, not
 *     documented, for Cockpit: Debian 12's Prometheus (2.42.0+ds) does not send
 *     remote_write `headers` (seen here), only `authorization`, so the lab's agent can send
 *     the token no other way. A real Cockpit must confirm it. A request without the right
 *     token gets 401 and goes no further; the others are passed on unchanged to UPSTREAM
 *     (a Prometheus server's own receiver, /api/v1/write, which checks no token).
 *     STATS_FILE gets a JSON line per request, with the form the token came in.
 *
 *   webhook LISTEN_HOST LISTEN_PORT LOG_FILE
 *     An Alertmanager webhook receiver: appends every notification's body, one JSON per
 *     line, with the time it arrived.
 */
import { appendFileSync, readFileSync } from "fs";
import * as http from "http";

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function pushProxy(host: string, port: number, upstream: string, tokenFile: string, statsFile: string): void {
  const token = readFileSync(tokenFile, "utf8").trim();
  if (token === "") throw new Error(`${tokenFile} is empty`);
  const server = http.createServer((req, res) => void handlePush(req, res));
  const handlePush = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const body = await readBody(req);
    const form =
      req.headers["x-token"] === token
        ? "x-token"
        : req.headers.authorization === `Bearer ${token}`
          ? "bearer"
          : "none";
    const record = (status: number) =>
      appendFileSync(
        statsFile,
        JSON.stringify({ at: Date.now(), path: req.url, status, bytes: body.length, form }) + "\n",
      );
    if (req.method !== "POST" || req.url !== "/api/v1/push") {
      record(404);
      res.writeHead(404).end("not found\n");
      return;
    }
    if (form === "none") {
      record(401);
      res.writeHead(401).end("missing or wrong X-Token\n");
      return;
    }
    const forwarded = http.request(
      upstream,
      {
        method: "POST",
        headers: {
          "Content-Type": req.headers["content-type"] ?? "application/x-protobuf",
          "Content-Encoding": req.headers["content-encoding"] ?? "snappy",
          "X-Prometheus-Remote-Write-Version": req.headers["x-prometheus-remote-write-version"] ?? "0.1.0",
          "Content-Length": body.length,
        },
      },
      (up) => {
        record(up.statusCode ?? 502);
        res.writeHead(up.statusCode ?? 502);
        up.pipe(res);
      },
    );
    forwarded.on("error", (e) => {
      record(502);
      res.writeHead(502).end(`upstream: ${e.message}\n`);
    });
    forwarded.end(body);
  };
  server.listen(port, host);
}

function webhook(host: string, port: number, logFile: string): void {
  const server = http.createServer((req, res) => {
    void readBody(req).then((body) => {
      appendFileSync(logFile, JSON.stringify({ at: Date.now(), body: JSON.parse(body.toString("utf8")) }) + "\n");
      res.writeHead(200).end("ok\n");
    });
  });
  server.listen(port, host);
}

const [mode, host, port, ...rest] = process.argv.slice(2);
if (mode === "push-proxy" && rest.length === 3) pushProxy(host, Number(port), rest[0], rest[1], rest[2]);
else if (mode === "webhook" && rest.length === 1) webhook(host, Number(port), rest[0]);
else {
  process.stderr.write(
    "usage: cockpitStandIn push-proxy HOST PORT UPSTREAM TOKEN_FILE STATS_FILE | webhook HOST PORT LOG\n",
  );
  process.exit(2);
}
