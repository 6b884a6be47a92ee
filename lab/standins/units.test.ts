/** @tier unit */
import * as unitParser from "./units";

describe("unit files", () => {
  test("parses sections, repeated keys, comments and backslash continuations", () => {
    const u = unitParser.mergeUnit(
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
    expect(unitParser.value(u, "Unit", "Description")).toBe("x");
    expect(unitParser.unitList(u, "After")).toEqual(["a.service", "b.service", "c.service"]);
    expect(unitParser.values(u, "Service", "ExecStart")).toEqual(["/bin/echo one  two", "/bin/true"]);
  });

  test("drop-ins append, and an empty assignment resets a list (systemd's override idiom)", () => {
    const u = unitParser.mergeUnit("[Service]\nExecStart=/bin/old\n[Unit]\nRequires=a.service\n", [
      "[Service]\nExecStart=\nExecStart=/bin/new\n",
      "[Unit]\nRequires=b.service\n",
    ]);
    expect(unitParser.values(u, "Service", "ExecStart")).toEqual(["/bin/new"]);
    expect(unitParser.unitList(u, "Requires")).toEqual(["a.service", "b.service"]);
  });

  test("names: templates, instances and the default .service suffix", () => {
    expect(unitParser.parseUnitName("wg-quick@wg0")).toEqual({
      full: "wg-quick@wg0.service",
      prefix: "wg-quick",
      instance: "wg0",
      suffix: "service",
      template: "wg-quick@.service",
    });
    expect(unitParser.parseUnitName("network-online.target")).toEqual({
      full: "network-online.target",
      prefix: "network-online",
      suffix: "target",
    });
    expect(unitParser.expandSpecifiers("up %i %I %n %p 100%%", unitParser.parseUnitName("wg-quick@wg0"))).toBe(
      "up wg0 wg0 wg-quick@wg0.service wg-quick 100%",
    );
    expect(unitParser.expandSpecifiers("%I", unitParser.parseUnitName("mnt@a-b.service"))).toBe("a/b");
  });

  test("exec prefixes, time spans, environments", () => {
    expect(unitParser.parseExecLine("-/bin/false x")).toEqual({ command: "/bin/false x", ignoreFailure: true });
    expect(unitParser.parseExecLine("+@/bin/true")).toEqual({ command: "/bin/true", ignoreFailure: false });
    expect(unitParser.parseTimeSpan("630")).toBe(630);
    expect(unitParser.parseTimeSpan("1min 30s")).toBe(90);
    expect(unitParser.parseTimeSpan("infinity")).toBeUndefined();
    expect(unitParser.parseEnvironment(['A=1 "B=two words"', "C="])).toEqual({ A: "1", B: "two words", C: "" });
    expect(unitParser.parseEnvironmentFile('# c\nexport X=1\nY="q"\nbad line\n')).toEqual({ X: "1", Y: "q" });
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
  const load = (n: string): unitParser.UnitSections | null =>
    units[n] === undefined ? null : unitParser.mergeUnit(units[n], units[`${n}+dropin`] ? [units[`${n}+dropin`]] : []);

  test("pulls in Requires/Wants and starts dependencies first, honouring After and Before", () => {
    const order = unitParser.startOrder(["wg-quick@wg0", "wg-s2s-firewall.service"], load);
    expect(order.indexOf("wg-s2s-private-nic.service")).toBeLessThan(order.indexOf("wg-quick@wg0.service"));
    expect(order.indexOf("network-online.target")).toBeLessThan(order.indexOf("wg-s2s-private-nic.service"));
    expect(order.indexOf("wg-s2s-firewall.service")).toBeLessThan(order.indexOf("wg-quick@wg0.service"));
  });

  test("without the drop-in the wait unit is not part of the transaction (the ordering comes from the program)", () => {
    const order = unitParser.startOrder(["wg-quick@wg0"], (n) =>
      n === "wg-quick@wg0.service" ? unitParser.mergeUnit(units[n], []) : load(n),
    );
    expect(order).not.toContain("wg-s2s-private-nic.service");
  });

  test("refuses an ordering cycle", () => {
    const cyc = (n: string) =>
      n === "a.service"
        ? unitParser.mergeUnit("[Unit]\nWants=b.service\nAfter=b.service\n", [])
        : unitParser.mergeUnit("[Unit]\nAfter=a.service\n", []);
    expect(() => unitParser.startOrder(["a.service"], cyc)).toThrow(/ordering cycle/);
  });
});
