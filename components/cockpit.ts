/**
 * Scaleway Cockpit as the home of the tunnel metrics (config `cockpit: true`, docs/metrics.md):
 * a metrics data source, a token that can write metrics and nothing else (every scope set
 * explicitly: the provider's default also writes logs), and, with `alertEmails`, the alert
 * manager with those contact points. The rules themselves are loaded as docs/metrics.md says:
 * provider 1.54 has no resource for custom rules.
 */
import * as pulumi from "@pulumi/pulumi";
import * as scaleway from "@pulumiverse/scaleway";
import type { GatewayMetricsPushSpec } from "../planning/specs";

/** Days Cockpit keeps the tunnel metrics (the data source's retention, within Cockpit's 1 to 365). */
export const METRICS_RETENTION_DAYS = 31;

/** Write metrics, nothing else. */
export const PUSH_TOKEN_SCOPES = {
  writeMetrics: true,
  writeLogs: false,
  writeTraces: false,
  queryMetrics: false,
  queryLogs: false,
  queryTraces: false,
  setupAlerts: false,
  setupLogsRules: false,
  setupMetricsRules: false,
} as const;

export interface CockpitArgs {
  region: string;
  alertEmails: string[];
}

export interface Cockpit {
  source: scaleway.observability.Source;
  token: scaleway.observability.Token;
  alertManager?: scaleway.observability.AlertManager;
  /** What the gateways we build push with: the data source's push URL and their token (secret). */
  gatewayPush: pulumi.Output<GatewayMetricsPushSpec>;
  /** A far end's push (`bundleCockpit`): the same data source, a token of that site's own. */
  farEndPush(siteName: string): pulumi.Output<GatewayMetricsPushSpec>;
}

export function declareCockpit(name: string, args: CockpitArgs, parent: pulumi.Resource): Cockpit {
  const opts = { parent };
  const source = new scaleway.observability.Source(
    `${name}-tunnel-metrics`,
    { region: args.region, type: "metrics", name: `${name}-tunnel-metrics`, retentionDays: METRICS_RETENTION_DAYS },
    opts,
  );
  const pushWith = (token: scaleway.observability.Token) =>
    pulumi.all([source.pushUrl, token.secretKey]).apply(([pushUrl, secret]) => ({ pushUrl, token: secret }));
  const token = declarePushToken(`${name}-metrics-push`, args.region, parent);
  const alertManager =
    args.alertEmails.length > 0
      ? new scaleway.observability.AlertManager(
          `${name}-alerts`,
          {
            region: args.region,
            // Scaleway's own preconfigured alerts are not what this stack is about; the user can turn them on.
            enableManagedAlerts: false,
            contactPoints: args.alertEmails.map((email) => ({ email })),
          },
          opts,
        )
      : undefined;
  return {
    source,
    token,
    alertManager,
    gatewayPush: pulumi.secret(pushWith(token)),
    farEndPush: (siteName) =>
      pulumi.secret(pushWith(declarePushToken(`${name}-${siteName}-metrics-push`, args.region, parent))),
  };
}

/**
 * A token that writes metrics and nothing else: the gateways' one, and one per far end whose
 * bundle pushes (`bundleCockpit`), so each can be revoked on its own.
 */
function declarePushToken(name: string, region: string, parent: pulumi.Resource): scaleway.observability.Token {
  return new scaleway.observability.Token(
    name,
    { region, name, scopes: { ...PUSH_TOKEN_SCOPES } },
    { parent, additionalSecretOutputs: ["secretKey"] },
  );
}
