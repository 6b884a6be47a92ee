/** @tier unit */
import {
  expandSpecifiers,
  mergeUnit,
  parseEnvironment,
  parseEnvironmentFile,
  parseExecLine,
  parseTimeSpan,
  parseUnitName,
  startOrder,
  unitList,
  value,
  values,
  type UnitSections,
} from "./units";

describe("unit files", () => {
  test("parses sections, repeated keys, comments and backslash continuations", () => {
    const u = mergeUnit(
      [
        "# comment",
        "[Unit]",
        "Description=x",
        "After=a.service",
        "After=b.service c.service",
        "",
        "[Service]",
        "ExecStart=/bin/echo one \\",
        "  two",
        "; other comment",
        "ExecStart=/bin/true",
      ].join("\n"),
      [],
    );
    expect(value(u, "Unit", "Description")).toBe("x");
    expect(unitList(u, "After")).toEqual(["a.service", "b.service", "c.service"]);
    expect(values(u, "Service", "ExecStart")).toEqual(["/bin/echo one  two", "/bin/true"]);
  });

  test("drop-ins append, and an empty assignment resets a list (systemd's override idiom)", () => {
    const u = mergeUnit("[Service]\nExecStart=/bin/old\n[Unit]\nRequires=a.service\n", [
      "[Service]\nExecStart=\nExecStart=/bin/new\n",
      "[Unit]\nRequires=b.service\n",
    ]);
    expect(values(u, "Service", "ExecStart")).toEqual(["/bin/new"]);
    expect(unitList(u, "Requires")).toEqual(["a.service", "b.service"]);
  });

  test("names: templates, instances and the default .service suffix", () => {
    expect(parseUnitName("wg-quick@wg0")).toEqual({
      full: "wg-quick@wg0.service",
      prefix: "wg-quick",
      instance: "wg0",
      suffix: "service",
      template: "wg-quick@.service",
    });
    expect(parseUnitName("network-online.target")).toEqual({
      full: "network-online.target",
      prefix: "network-online",
      suffix: "target",
    });
    expect(expandSpecifiers("up %i %I %n %p 100%%", parseUnitName("wg-quick@wg0"))).toBe(
      "up wg0 wg0 wg-quick@wg0.service wg-quick 100%",
    );
    expect(expandSpecifiers("%I", parseUnitName("mnt@a-b.service"))).toBe("a/b");
  });

  test("exec prefixes, time spans, environments", () => {
    expect(parseExecLine("-/bin/false x")).toEqual({ command: "/bin/false x", ignoreFailure: true });
    expect(parseExecLine("+@/bin/true")).toEqual({ command: "/bin/true", ignoreFailure: false });
    expect(parseTimeSpan("630")).toBe(630);
    expect(parseTimeSpan("1min 30s")).toBe(90);
    expect(parseTimeSpan("infinity")).toBeUndefined();
    expect(parseEnvironment(['A=1 "B=two words"', "C="])).toEqual({ A: "1", B: "two words", C: "" });
    expect(parseEnvironmentFile('# c\nexport X=1\nY="q"\nbad line\n')).toEqual({ X: "1", Y: "q" });
  });
});

describe("startOrder", () => {
  const units: Record<string, string> = {
    "wg-quick@wg0.service": "[Unit]\nWants=network-online.target\nAfter=network-online.target\n",
    "wg-quick@wg0.service+dropin": "[Unit]\nRequires=wg-s2s-private-nic.service\nAfter=wg-s2s-private-nic.service\n",
    "wg-s2s-private-nic.service": "[Unit]\nWants=network-online.target\nAfter=network-online.target\n",
    "wg-s2s-firewall.service": "[Unit]\nBefore=network-pre.target wg-quick@wg0.service\n",
    "network-online.target": "[Unit]\n",
  };
  const load = (n: string): UnitSections | null =>
    units[n] === undefined ? null : mergeUnit(units[n], units[`${n}+dropin`] ? [units[`${n}+dropin`]] : []);

  test("pulls in Requires/Wants and starts dependencies first, honouring After and Before", () => {
    const order = startOrder(["wg-quick@wg0", "wg-s2s-firewall.service"], load);
    expect(order.indexOf("wg-s2s-private-nic.service")).toBeLessThan(order.indexOf("wg-quick@wg0.service"));
    expect(order.indexOf("network-online.target")).toBeLessThan(order.indexOf("wg-s2s-private-nic.service"));
    expect(order.indexOf("wg-s2s-firewall.service")).toBeLessThan(order.indexOf("wg-quick@wg0.service"));
  });

  test("without the drop-in the wait unit is not part of the transaction (the ordering comes from the program)", () => {
    const order = startOrder(["wg-quick@wg0"], (n) =>
      n === "wg-quick@wg0.service" ? mergeUnit(units[n], []) : load(n),
    );
    expect(order).not.toContain("wg-s2s-private-nic.service");
  });

  test("refuses an ordering cycle", () => {
    const cyc = (n: string) =>
      n === "a.service"
        ? mergeUnit("[Unit]\nWants=b.service\nAfter=b.service\n", [])
        : mergeUnit("[Unit]\nAfter=a.service\n", []);
    expect(() => startOrder(["a.service"], cyc)).toThrow(/ordering cycle/);
  });
});
