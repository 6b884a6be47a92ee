/** @tier program */
/**
 * cloud-init reads user-data with PyYAML, which speaks YAML 1.1 (where `52:54:00:00:04:02`
 * is a base-60 number and `on` is a boolean); the renderers write with the `yaml` package
 * (YAML 1.2). This checks that the system's PyYAML — the one cloud-init imports — reads
 * every user-data and bundle cloud-config the program produces exactly as we meant it.
 */
import { execFileSync } from "child_process";
import { parse } from "yaml";
import { ADMIN_CIDRS, OFFICE_EXTERNAL_SITE, ONPREM_SITE } from "../testkit/fixtures";
import { runProgram } from "../testkit/programRun";

const PYTHON = "/usr/bin/python3"; // cloud-init's interpreter and its python3-yaml

function readLikeCloudInit(text: string): unknown {
  const out = execFileSync(PYTHON, ["-c", "import sys, json, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))"], {
    input: text,
  });
  return JSON.parse(out.toString());
}

describe("user-data as cloud-init's YAML 1.1 parser reads it", () => {
  test("PyYAML and the renderer agree on every document the program produces", async () => {
    const run = await runProgram({
      keySeed: "yaml11",
      config: {
        adminCidrs: ADMIN_CIDRS,
        remoteSites: [{ ...ONPREM_SITE, routePropagation: "static" }, OFFICE_EXTERNAL_SITE],
      },
    });
    const docs: Record<string, string> = {
      "office bundle cloud-config.yaml": run.operatorBundle("office")["cloud-config.yaml"],
    };
    for (const site of ["scaleway", "onprem"])
      for (const role of ["gateway", "test-host"] as const) docs[`${site} ${role}`] = run.userData(site, role);
    for (const [name, text] of Object.entries(docs)) {
      expect({ name, doc: readLikeCloudInit(text) }).toEqual({ name, doc: parse(text) });
    }
  });

  test("negative control: a YAML 1.1 trap is caught by the comparison", () => {
    const trap = "#cloud-config\nmac: 52:54:00:00:04:02\nenabled: on\n";
    expect(readLikeCloudInit(trap)).not.toEqual(parse(trap));
  });
});
