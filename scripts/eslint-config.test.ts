/** @tier unit */
/**
 * eslint.config.mjs really enables what it promises: @pulumi/eslint-plugin's rule (with the type
 * information it needs) and the type-aware promise rules, without flagging the correct idiom.
 * One eslint run over a probe text, linted as if it were a file of the program.
 */
import { spawnSync } from "child_process";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..");

const PROBE = `import * as pulumi from "@pulumi/pulumi";

const id: pulumi.Output<string> = pulumi.output("sg-1");
export const wrong = \`security group \${id}\`; // line 4: an Output in a plain template literal
export const right = pulumi.interpolate\`security group \${id}\`;

async function deploy(): Promise<void> {}
deploy(); // line 8: a dropped promise
`;

// ESLint's Node API in a child process: jest's module sandbox cannot import eslint.config.mjs.
// (The CLI's --stdin mode is no use here: with typed linting it reports nothing for the text.)
const LINT_TEXT = `
  import { ESLint } from "eslint";
  const [result] = await new ESLint({ cwd: process.cwd() }).lintText(process.env.PROBE, {
    filePath: process.env.PROBE_PATH,
  });
  console.log(JSON.stringify(result.messages.map((m) => \`\${m.line} \${m.ruleId}\`)));
`;

it("flags an Output in a template literal and a floating promise, and only those", () => {
  // Type-aware linting needs a file of the tsconfig project: lint the probe under an existing path.
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", LINT_TEXT], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 170_000,
    // CI=true makes typescript-eslint assume a single run over unchanged files, and it then
    // type-checks the file on disk instead of the probe text: switch that inference off.
    env: {
      ...process.env,
      TSESTREE_SINGLE_RUN: "false",
      PROBE,
      PROBE_PATH: path.join(ROOT, "policy", "programViews.ts"),
    },
  });
  expect(r.stderr).toBe("");
  expect(JSON.parse(r.stdout)).toEqual([
    "4 pulumi/no-output-in-template-literal",
    "8 @typescript-eslint/no-floating-promises",
  ]);
}, 180_000);
