/**
 * Test helpers shared by the policy tests that run the real program under mocks: the example
 * stack's config and the conversion of the harness's declared resources into `ResourceView`s.
 */
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import type { DeclaredResource, ProgramRun } from "../testkit/programRun";
import type { ResourceView, Violation } from "./rules";

const PROJECT = "scaleway-wireguard-s2s";

/** The example stack's config (Pulumi.dev.yaml), as `pulumi` passes it: project prefix removed. */
export function exampleStackConfig(): Record<string, unknown> {
  const file = path.join(__dirname, "..", "Pulumi.dev.yaml");
  const doc = parse(fs.readFileSync(file, "utf8")) as { config: Record<string, unknown> };
  const prefix = `${PROJECT}:`;
  return Object.fromEntries(
    Object.entries(doc.config)
      .filter(([key]) => key.startsWith(prefix))
      .map(([key, value]) => [key.slice(prefix.length), value]),
  );
}

/**
 * A declared resource as the rules see it. Under mocks, a top-level input is secret when it
 * arrived wrapped as a secret, or when every entry of it did (e.g. userData."cloud-init").
 */
export function toView(resource: DeclaredResource): ResourceView {
  const secretProps = Object.keys(resource.inputs).filter((key) => {
    if (resource.secretInputs.includes(key)) return true;
    const value: unknown = resource.inputs[key];
    if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
    const entries = Object.keys(value);
    return entries.length > 0 && entries.every((k) => resource.secretInputs.includes(`${key}.${k}`));
  });
  return { type: resource.type, name: resource.name, props: resource.inputs, secretProps };
}

/** The custom resources of a run (components are not checked by the pack). */
export function views(run: ProgramRun): ResourceView[] {
  return run.resources.filter((r) => r.custom).map(toView);
}

/** Violations as sorted "rule resource" lines: readable in a failure, never quoting user data. */
export function summary(violations: Violation[]): string[] {
  return violations.map((v) => `${v.rule} ${v.resource}`).sort();
}
