/**
 * Which zone the stack deploys to. Scaleway users set the provider's own key
 * (`scaleway:zone`) or `SCW_DEFAULT_ZONE`; the project's `zone` key is an override that must
 * agree with it, so a stack file can never say one zone while the resources go to another.
 * Pure: index.ts reads the provider's settings and hands them over as `ProviderSettings`.
 */
import { CONFIG_PHRASING, ConfigError, type ConfigIssue } from "./errors";
import { regionOfZone, ZONE, ZONES_OFFERING_DEFAULT_TYPE } from "./rules/access";
import { issue, show } from "./rules/issues";
import { PROVIDER_DEFAULT_ZONE } from "./schema";

/** A provider setting and where it came from, as the user would look for it. */
export interface ProviderSetting {
  value: string;
  source: "scaleway:zone" | "SCW_DEFAULT_ZONE" | "scaleway:region" | "SCW_DEFAULT_REGION";
}

/** The provider's zone and region as @pulumiverse/scaleway's config reads them: stack config, else environment. */
export interface ProviderSettings {
  zone?: ProviderSetting;
  region?: ProviderSetting;
}

/** How a fix changes a provider setting, depending on where it came from. */
function changeSetting(setting: ProviderSetting, value: string): string {
  return setting.source.startsWith("SCW_")
    ? `\`export ${setting.source}=${value}\``
    : `\`pulumi config set ${setting.source} ${value}\``;
}
function dropSetting(setting: ProviderSetting): string {
  return setting.source.startsWith("SCW_") ? `\`unset ${setting.source}\`` : `\`pulumi config rm ${setting.source}\``;
}

/**
 * The component's `zone` argument: the project's `zone` key as given when set (the
 * component checks its value), else the provider's zone, else the provider's own default.
 * Throws a ConfigError, before any resource is declared, when the settings contradict each
 * other, the project key is empty, or the provider's zone is not a zone.
 */
export function stackZone(projectZone: unknown, provider: ProviderSettings): unknown {
  const issues: ConfigIssue[] = [];
  const providerZone = provider.zone && ZONE.test(provider.zone.value) ? provider.zone : undefined;
  if (provider.zone && !providerZone) {
    issues.push(
      issue(
        provider.zone.source,
        `${show(provider.zone.value)} is not a Scaleway zone; zones look like fr-par-1 (region fr-par, zone 1).`,
        `${changeSetting(provider.zone, PROVIDER_DEFAULT_ZONE)} (${ZONES_OFFERING_DEFAULT_TYPE})`,
      ),
    );
  }
  const fallback = providerZone?.value ?? PROVIDER_DEFAULT_ZONE;
  if (typeof projectZone === "string" && projectZone.trim() === "") {
    issues.push(
      issue(
        "zone",
        "is empty (set from an unset shell variable?); an empty zone is no zone.",
        `\`pulumi config rm zone\` to deploy to ${fallback}${providerZone ? ` (${providerZone.source})` : ""}`,
      ),
    );
  } else if (
    typeof projectZone === "string" &&
    ZONE.test(projectZone) &&
    providerZone &&
    projectZone !== providerZone.value
  ) {
    // A malformed project zone is the component's to report, under its own key.
    issues.push(
      issue(
        "zone",
        `is ${projectZone}, but the Scaleway provider's zone (${providerZone.source}) is ${providerZone.value}; the stack would build in ${projectZone} while the provider, and anyone reading ${providerZone.source}, expects ${providerZone.value}.`,
        `keep one zone: \`pulumi config rm zone\` to deploy to ${providerZone.value}, or ${changeSetting(providerZone, projectZone)}`,
      ),
    );
  }
  const zone = typeof projectZone === "string" && ZONE.test(projectZone) ? projectZone : fallback;
  const region = provider.region;
  if (region && region.value !== regionOfZone(zone)) {
    issues.push(
      issue(
        region.source,
        `is ${region.value}, but the stack's zone ${zone} is in region ${regionOfZone(zone)}; the private networks, VPCs and routes go to ${regionOfZone(zone)}, whatever the provider's default region says.`,
        `${dropSetting(region)} (the region follows the zone), or ${changeSetting(region, regionOfZone(zone))}`,
      ),
    );
  }
  if (issues.length > 0) throw new ConfigError(issues, CONFIG_PHRASING);
  return projectZone ?? fallback;
}
