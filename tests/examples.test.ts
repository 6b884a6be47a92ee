/** @tier unit */
/**
 * The examples in examples/ (and in docs/component.md) against the schema the package publishes:
 * every property they set exists, has the right type or enum value, and every required one
 * is there; every output they read exists. The YAML program is parsed as YAML; the Python
 * program with a small, honest reader of keyword arguments (no Python runtime here, and no
 * generated SDK: that needs the Pulumi CLI). Negative controls: a misspelt argument, a
 * wrong enum member, a missing required field and an unknown output must each be reported.
 */
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { packageSchema, type PackageSchema, type SchemaProperty } from "../testkit/providerRun";

const ROOT = path.resolve(__dirname, "..");
const YAML_EXAMPLE = path.join(ROOT, "examples/yaml/Pulumi.yaml");
const PYTHON_EXAMPLE = path.join(ROOT, "examples/python/__main__.py");
const SLOW = 240_000;

/**
 * Arguments the examples use before the schema has them (checked absent until they land).
 * Empty while the schema has every argument the examples use.
 */
const PENDING = new Set<string>([]);

interface Finding {
  path: string;
  problem: string;
}

// ---------------------------------------------------------------------------------------
// A value against a schema property. Values are plain JSON, or markers for what the
// checker cannot evaluate: { ref } (a YAML interpolation or a Python expression).

type Value = unknown;
const REF = Symbol("ref");
interface Ref {
  [REF]: string;
  /** Python enum member access, e.g. RemoteSiteKind.EXTERNAL: checked against the enum. */
  enumMember?: { type: string; member: string };
  /** Python `SomeArgs(...)`: the input type it constructs. */
  argsOf?: string;
  fields?: Record<string, Value>;
}
const isRef = (v: unknown): v is Ref => !!v && typeof v === "object" && REF in (v as object);

function typeName(ref: string): string {
  return ref.split(":").pop()!;
}

function checkValue(schema: PackageSchema, value: Value, prop: SchemaProperty, at: string, out: Finding[]): void {
  if (prop.$ref) {
    const name = typeName(prop.$ref);
    const type = schema.types[`wg-s2s:index:${name}`];
    if (!type) return void out.push({ path: at, problem: `unknown type ${name}` });
    if (type.enum) {
      if (isRef(value)) {
        if (value.enumMember) {
          const members = type.enum.map((e) => pythonEnumMember(e.name));
          if (value.enumMember.type !== name)
            out.push({ path: at, problem: `enum ${value.enumMember.type}, expected ${name}` });
          else if (!members.includes(value.enumMember.member))
            out.push({ path: at, problem: `${name}.${value.enumMember.member} is not one of ${members.join(", ")}` });
        }
        return;
      }
      if (!type.enum.some((e) => e.value === value))
        out.push({ path: at, problem: `${JSON.stringify(value)} is not a ${name}` });
      return;
    }
    if (isRef(value)) {
      if (value.argsOf !== undefined && value.argsOf !== `${name}Args`)
        out.push({ path: at, problem: `${value.argsOf}(...) where ${name}Args is expected` });
      if (value.fields) checkObject(schema, name, value.fields, at, out);
      return;
    }
    if (!value || typeof value !== "object" || Array.isArray(value))
      return void out.push({ path: at, problem: `expected an object of type ${name}` });
    checkObject(schema, name, value as Record<string, Value>, at, out);
    return;
  }
  if (isRef(value)) return; // an expression: its type is the program's business
  switch (prop.type) {
    case "array":
      if (!Array.isArray(value)) return void out.push({ path: at, problem: "expected a list" });
      value.forEach((v, i) => checkValue(schema, v, prop.items!, `${at}[${i}]`, out));
      return;
    case "object":
      if (!value || typeof value !== "object") out.push({ path: at, problem: "expected a map" });
      return;
    case "number":
      if (typeof value !== "number") out.push({ path: at, problem: `expected a number, got ${JSON.stringify(value)}` });
      return;
    default:
      if (typeof value !== prop.type)
        out.push({ path: at, problem: `expected a ${prop.type}, got ${JSON.stringify(value)}` });
  }
}

function checkObject(schema: PackageSchema, name: string, value: Record<string, Value>, at: string, out: Finding[]) {
  const type = schema.types[`wg-s2s:index:${name}`];
  checkProperties(schema, type.properties ?? {}, type.required ?? [], value, at, out, name);
}

function checkProperties(
  schema: PackageSchema,
  props: Record<string, SchemaProperty>,
  required: string[],
  value: Record<string, Value>,
  at: string,
  out: Finding[],
  owner: string,
): void {
  for (const [key, v] of Object.entries(value)) {
    const prop = props[key];
    const where = at ? `${at}.${key}` : key;
    if (!prop) {
      out.push({ path: where, problem: PENDING.has(`${owner}.${key}`) ? "pending" : `no such argument of ${owner}` });
      continue;
    }
    checkValue(schema, v, prop, where, out);
  }
  for (const key of required) {
    if (!(key in value))
      out.push({ path: at ? `${at}.${key}` : key, problem: `required argument of ${owner} is missing` });
  }
}

// ---------------------------------------------------------------------------------------
// YAML: resources of the package's types, their properties and the outputs read from them.

function checkYamlProgram(schema: PackageSchema, text: string): Finding[] {
  const doc = parseYaml(text);
  const out: Finding[] = [];
  const declared: Record<string, string> = {};
  const configTypes: Record<string, string> = Object.fromEntries(
    Object.entries(doc.config ?? {}).map(([k, v]: [string, any]) => [k, v?.type ?? "string"]),
  );
  const refOrValue = (v: unknown): Value => {
    if (typeof v === "string") {
      const m = /^\$\{([^}]+)\}$/.exec(v);
      if (m) {
        // A config reference carries its declared type; anything else is an expression.
        const t = configTypes[m[1]];
        if (t === "string") return `<config ${m[1]}>`;
        return { [REF]: m[1] } as Ref;
      }
      return v;
    }
    if (Array.isArray(v)) return v.map(refOrValue);
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, refOrValue(x)]));
    return v;
  };
  for (const [name, res] of Object.entries<any>(doc.resources ?? {})) {
    const token = String(res.type).replace(/^wg-s2s:(?!index:)/, "wg-s2s:index:");
    if (!token.startsWith("wg-s2s:")) continue;
    const r = schema.resources[token];
    if (!r) {
      out.push({ path: name, problem: `${res.type} is not a resource of the package` });
      continue;
    }
    declared[name] = token;
    const owner = token.split(":").pop()!;
    checkProperties(
      schema,
      r.inputProperties,
      r.requiredInputs,
      refOrValue(res.properties ?? {}) as any,
      "",
      out,
      owner,
    );
  }
  const reads = [...text.matchAll(/\$\{(\w+)\.(\w+)/g)];
  for (const [, resource, output] of reads) {
    const token = declared[resource];
    if (token && !schema.resources[token].properties[output])
      out.push({ path: `${resource}.${output}`, problem: "no such output" });
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Python: the SDK's naming rules (snake_case arguments, `<Type>Args` classes, UPPER_SNAKE enum
// members) and a reader of call arguments that tracks brackets and string literals.

const camel = (snake: string) => snake.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const snake = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
function pythonEnumMember(name: string): string {
  return snake(name).toUpperCase();
}

/** Each character from `from` on that is outside string literals, with the bracket depth after it. */
function* codeChars(text: string, from = 0): Generator<{ i: number; c: string; depth: number }> {
  let depth = 0;
  let quote: string | undefined;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      continue;
    }
    if ("([{".includes(c)) depth++;
    else if (")]}".includes(c)) depth--;
    yield { i, c, depth };
  }
}

/** The text between the parentheses of a call starting at `open` (the index of "("), and its end. */
function callBody(src: string, open: number): { body: string; end: number } {
  for (const { i, c, depth } of codeChars(src, open)) {
    if (")]}".includes(c) && depth === 0) return { body: src.slice(open + 1, i), end: i };
  }
  throw new Error("unbalanced call");
}

/** Splits at top-level commas. */
function topLevel(text: string): string[] {
  const parts: string[] = [];
  let start = 0;
  for (const { i, c, depth } of codeChars(text)) {
    if (c === "," && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim()).filter((p) => p !== "");
}

/** A Python expression as a checker value: literals, lists, `wg_s2s.XArgs(...)`, enum members, else a ref. */
function pythonValue(expr: string, alias: string): Value {
  const e = expr.trim();
  if (/^(["']).*\1$/s.test(e)) return e.slice(1, -1);
  if (e === "True" || e === "False") return e === "True";
  if (/^-?\d+(\.\d+)?$/.test(e)) return Number(e);
  if (e.startsWith("[") && e.endsWith("]")) return topLevel(e.slice(1, -1)).map((x) => pythonValue(x, alias));
  const call = new RegExp(`^${alias}\\.(\\w+)\\(`).exec(e);
  if (call) {
    const { body } = callBody(e, call[0].length - 1);
    return { [REF]: e, argsOf: call[1], fields: pythonKwargs(body, alias) } as Ref;
  }
  const member = new RegExp(`^${alias}\\.(\\w+)\\.(\\w+)$`).exec(e);
  if (member) return { [REF]: e, enumMember: { type: member[1], member: member[2] } } as Ref;
  return { [REF]: e } as Ref;
}

function pythonKwargs(body: string, alias: string): Record<string, Value> {
  const kwargs: Record<string, Value> = {};
  for (const part of topLevel(body)) {
    const m = /^(\w+)\s*=(?!=)\s*([\s\S]*)$/.exec(part);
    if (m) kwargs[camel(m[1])] = pythonValue(m[2], alias);
  }
  return kwargs;
}

function checkPythonProgram(schema: PackageSchema, src: string): Finding[] {
  const out: Finding[] = [];
  const imp = /^import pulumi_wg_s2s as (\w+)$/m.exec(src);
  if (!imp)
    return [{ path: "import", problem: "does not import pulumi_wg_s2s (the SDK `pulumi package add` generates)" }];
  const alias = imp[1];
  const constructed = new RegExp(`^(\\w+) = ${alias}\\.(\\w+)\\(`, "gm");
  let found = 0;
  for (const m of src.matchAll(constructed)) {
    const [, variable, component] = m;
    const r = schema.resources[`wg-s2s:index:${component}`];
    if (!r) {
      out.push({ path: variable, problem: `${component} is not a resource of the package` });
      continue;
    }
    found++;
    const { body } = callBody(src, m.index! + m[0].length - 1);
    const [nameArg, ...rest] = topLevel(body);
    if (/=/.test(nameArg)) out.push({ path: variable, problem: "the resource name must come first" });
    const kwargs = pythonKwargs(rest.join(","), alias);
    checkProperties(schema, r.inputProperties, r.requiredInputs, kwargs, "", out, component);
    for (const read of src.matchAll(new RegExp(`\\b${variable}\\.(\\w+)`, "g"))) {
      if (!r.properties[camel(read[1])]) out.push({ path: `${variable}.${read[1]}`, problem: "no such output" });
    }
  }
  if (found === 0) out.push({ path: alias, problem: "constructs no component of the package" });
  return out;
}

// ---------------------------------------------------------------------------------------

describe("examples against the published schema", () => {
  let schema: PackageSchema;
  beforeAll(async () => {
    schema = await packageSchema();
  }, SLOW);

  const real = (findings: Finding[]) => findings.filter((f) => f.problem !== "pending");
  const pending = (findings: Finding[]) => findings.filter((f) => f.problem === "pending").map((f) => f.path);

  test("the YAML program sets only arguments the schema has, with valid values, and reads existing outputs", () => {
    const findings = checkYamlProgram(schema, fs.readFileSync(YAML_EXAMPLE, "utf8"));
    expect(real(findings)).toEqual([]);
    expect(pending(findings)).toEqual([]);
  });

  test("the Python program likewise, with the SDK's names", () => {
    const findings = checkPythonProgram(schema, fs.readFileSync(PYTHON_EXAMPLE, "utf8"));
    expect(real(findings)).toEqual([]);
    expect(pending(findings)).toEqual([]);
  });

  test("the pending existing-network arguments are still absent from the schema (empty PENDING when they land)", () => {
    for (const entry of PENDING) {
      const [type, field] = entry.split(".");
      expect([entry, Object.keys(schema.types[`wg-s2s:index:${type}`].properties!)]).not.toEqual([
        entry,
        expect.arrayContaining([field]),
      ]);
    }
  });

  test("negative controls: misspelt argument, bad enum value, missing required field, unknown output", () => {
    const yaml = fs.readFileSync(YAML_EXAMPLE, "utf8");
    const badYaml = yaml
      .replace("gatewayAddress: 192.168.10.1", "gatewayAdress: 192.168.10.1")
      .replace("kind: external", "kind: extrnal")
      .replace("gatewayPublicIps[", "gatewayIps[");
    expect(real(checkYamlProgram(schema, badYaml))).toEqual([
      { path: "remoteSites[0].kind", problem: '"extrnal" is not a RemoteSiteKind' },
      { path: "remoteSites[0].gatewayAdress", problem: "no such argument of RemoteSite" },
      { path: "remoteSites[0].gatewayAddress", problem: "required argument of RemoteSite is missing" },
      { path: "vpn.gatewayIps", problem: "no such output" },
    ]);
    expect(real(checkYamlProgram(schema, yaml.replace("adminCidrs:", "adminCidr:")))).toEqual([
      { path: "adminCidr", problem: "no such argument of SiteToSiteVpn" },
      { path: "adminCidrs", problem: "required argument of SiteToSiteVpn is missing" },
    ]);

    const py = fs.readFileSync(PYTHON_EXAMPLE, "utf8");
    const badPy = py
      .replace("tunnel_address=", "tunnel_adress=")
      .replace("RemoteSiteKind.EXTERNAL", "RemoteSiteKind.EXTERNAL_SITE")
      .replace("vpn.external_site_bundles", "vpn.site_bundles")
      .replace("wg_s2s.RemoteSiteArgs(", "wg_s2s.HubSiteArgs(");
    expect(real(checkPythonProgram(schema, badPy))).toEqual([
      { path: "remoteSites[0]", problem: "HubSiteArgs(...) where RemoteSiteArgs is expected" },
      { path: "remoteSites[0].kind", problem: "RemoteSiteKind.EXTERNAL_SITE is not one of SIMULATED, EXTERNAL" },
      { path: "remoteSites[0].tunnelAdress", problem: "no such argument of RemoteSite" },
      { path: "remoteSites[0].tunnelAddress", problem: "required argument of RemoteSite is missing" },
      { path: "vpn.site_bundles", problem: "no such output" },
    ]);
  });

  test("docs/component.md shows both examples verbatim, with the pulumi package add line", () => {
    const doc = fs.readFileSync(path.join(ROOT, "docs/component.md"), "utf8");
    for (const file of [YAML_EXAMPLE, PYTHON_EXAMPLE]) {
      expect([file, doc.includes(fs.readFileSync(file, "utf8").trim())]).toEqual([file, true]);
    }
    expect(doc).toMatch(/^pulumi package add https:\/\/github\.com\/\S+\/scaleway-wireguard-s2s@v\d/m);
  });
});
