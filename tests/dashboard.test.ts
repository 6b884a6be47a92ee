/** @tier unit */
/**
 * The Grafana dashboard (observability/grafana-dashboard.json, for Cockpit's Grafana or any
 * other): every query names only metrics the collector exports (TUNNEL_METRICS), and every
 * exported metric is shown somewhere.
 */
import { readFileSync } from "fs";
import * as path from "path";
import { TUNNEL_METRICS } from "../cloud-init/tunnelMetrics";

interface Target {
  expr: string;
  refId: string;
  datasource: { type: string; uid: string };
}
interface Panel {
  id: number;
  title: string;
  type: string;
  targets: Target[];
  datasource: { type: string; uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: string | { query: string } }[] };
}

const dashboard: Dashboard = JSON.parse(
  readFileSync(path.join(__dirname, "..", "observability", "grafana-dashboard.json"), "utf8"),
);

const KEYWORDS = new Set(["and", "or", "unless", "by", "without", "on", "ignoring", "bool", "offset"]);

/**
 * The metric names a PromQL expression selects: identifiers left once strings, label
 * matchers, ranges and grouping clauses are taken out, that are neither a function call
 * nor a keyword. Also the metric of a Grafana `label_values(metric, label)`.
 */
function metricNames(expr: string): string[] {
  const labelValues = /^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,/.exec(expr.trim());
  if (labelValues) return [labelValues[1]];
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  const names: string[] = [];
  for (const m of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const rest = stripped.slice((m.index ?? 0) + m[0].length);
    if (/^\s*\(/.test(rest) || KEYWORDS.has(m[0])) continue;
    // Part of a number or duration ("5m", "1e3").
    if (m.index !== undefined && m.index > 0 && /[0-9.]/.test(stripped[m.index - 1])) continue;
    names.push(m[0]);
  }
  return names;
}

const exported = new Set(TUNNEL_METRICS.map((m) => m.name));
const queries = [
  ...dashboard.panels.flatMap((p) => p.targets.map((t) => ({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr }))),
  ...dashboard.templating.list
    .filter((v) => v.type === "query")
    .map((v) => ({ where: `variable ${v.name}`, expr: typeof v.query === "string" ? v.query : v.query.query })),
];

describe("Grafana dashboard", () => {
  it("queries only metrics the collector exports, at least one in each query", () => {
    expect(queries.length).toBeGreaterThan(5);
    for (const { where, expr } of queries) {
      const names = metricNames(expr);
      expect({ where, names: names.length > 0 }).toEqual({ where, names: true });
      for (const name of names)
        expect({ where, name, exported: exported.has(name) }).toEqual({ where, name, exported: true });
    }
  });

  it("shows every metric the collector exports", () => {
    const shown = new Set(queries.flatMap((q) => metricNames(q.expr)));
    expect(TUNNEL_METRICS.map((m) => m.name).filter((n) => !shown.has(n))).toEqual([]);
  });

  it("has unique panel ids, every panel on the chosen Prometheus data source, and a stable uid", () => {
    expect(dashboard.uid).toBe("wg-s2s-tunnels");
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dashboard.panels) {
      expect(p.datasource).toEqual({ type: "prometheus", uid: "${datasource}" });
      for (const t of p.targets) expect(t.datasource).toEqual(p.datasource);
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
    }
    expect(dashboard.templating.list.find((v) => v.name === "datasource")?.query).toBe("prometheus");
  });

  it("the name check catches a misspelt or foreign metric, and reads functions, keywords and matchers right (negative control)", () => {
    expect(metricNames('rate(wg_s2s_peer_recieve_bytes_total{site=~"$site"}[5m])')).toEqual([
      "wg_s2s_peer_recieve_bytes_total",
    ]);
    expect(metricNames("sum by (instance) (node_cpu_seconds_total)")).toEqual(["node_cpu_seconds_total"]);
    expect(
      metricNames(
        'wg_s2s_peer_ping_up{peer="up"} == 0 and on (instance) (wg_s2s_gateway_active == 1) offset 5m > bool 1e3',
      ),
    ).toEqual(["wg_s2s_peer_ping_up", "wg_s2s_gateway_active"]);
    expect(metricNames("label_values(wg_s2s_gateway_active, site)")).toEqual(["wg_s2s_gateway_active"]);
  });
});
