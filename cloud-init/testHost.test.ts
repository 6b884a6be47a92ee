/** @tier unit */
import { PATHS } from "./common";
import { renderTestHostCloudConfig } from "./testHost";
import {
  KeyRing,
  cloudInitSchema,
  commandIndex,
  parseCloudConfig,
  shellcheck,
  systemdVerify,
  testHostSpec,
} from "../testkit/cloudInit";
import type { RoutePropagation } from "../config/types";

const PROPAGATIONS: RoutePropagation[] = ["vpc-route", "dhcp", "static"];

describe.each(PROPAGATIONS)("test host cloud-config (%s)", (propagation) => {
  const keys = new KeyRing();
  const spec = testHostSpec(keys, propagation);
  const text = renderTestHostCloudConfig(spec);
  const doc = parseCloudConfig(text);

  it("matches the snapshot with the host key masked", () => {
    const masked = keys.mask(text);
    for (const secret of keys.secrets()) expect(masked).not.toContain(secret);
    expect(masked).toMatchSnapshot();
  });

  it("passes cloud-init's schema check and re-renders byte-identically", () => {
    expect(cloudInitSchema(text, keys).ok).toBe(true);
    expect(renderTestHostCloudConfig(spec)).toBe(text);
  });

  it("installs nothing and pins SSH", () => {
    expect(doc.raw).not.toHaveProperty("packages");
    expect(doc.raw).not.toHaveProperty("package_upgrade");
    expect(doc.raw.ssh_authorized_keys).toEqual(spec.sshAuthorizedKeys);
    expect(doc.raw.ssh_deletekeys).toBe(true);
    expect(doc.raw.ssh_keys).toEqual({
      ed25519_private: spec.sshHostKey?.privateKeyOpenssh,
      ed25519_public: spec.sshHostKey?.publicKeyOpenssh,
    });
  });

  it("says on the host how its routes arrive", () => {
    const note = doc.files.get(PATHS.routePropagationNote)?.content ?? "";
    expect(note).toContain(`Route propagation of site "onprem": ${propagation}.`);
    expect(text.split("\n")[1]).toMatch(/^# Test host of site "onprem"/);
  });

  if (propagation === "static") {
    it("adds each route with a re-runnable unit, after the private NIC", () => {
      const script = doc.files.get(PATHS.staticRoutesScript);
      expect(script?.permissions).toBe("0755");
      expect(script?.content).toContain("ip -4 route replace 192.168.0.0/24 via 192.168.1.2");
      expect(shellcheck(script?.content ?? "").ok).toBe(true);
      expect(doc.files.get(PATHS.waitPrivateNicScript)).toBeDefined();
      expect(doc.files.get(PATHS.privateNicUnit)?.content).toContain("wg-s2s-wait-private-nic 192.168.1.3 120");
      const order = [
        commandIndex(doc.runcmd, "daemon-reload"),
        commandIndex(doc.runcmd, "enable --now wg-s2s-private-nic.service"),
        commandIndex(doc.runcmd, "enable --now wg-s2s-static-routes.service"),
      ];
      expect(order).toEqual([0, 1, 2]);
      const units = [PATHS.privateNicUnit, PATHS.staticRoutesUnit].map((path) => ({
        path,
        content: doc.files.get(path)?.content ?? "",
      }));
      expect(systemdVerify(units)).toEqual({ ok: true, output: "" });
    });
  } else {
    it("adds no route: the network supplies it", () => {
      expect(doc.raw).not.toHaveProperty("runcmd");
      expect(text).not.toMatch(/ip (-4 )?route/);
      expect([...doc.files.keys()]).toEqual([PATHS.routePropagationNote]);
      expect(doc.files.get(PATHS.routePropagationNote)?.content).toContain("this host adds no route");
    });
  }
});

describe("test host spec errors", () => {
  it("refuses static routes on a site that does not use static propagation", () => {
    const spec = {
      ...testHostSpec(new KeyRing(), "vpc-route"),
      staticRoutes: [{ destination: "10.0.0.0/8", via: "192.168.1.2" }],
    };
    expect(() => renderTestHostCloudConfig(spec)).toThrow(/staticRoutes given but routePropagation is "vpc-route"/);
  });

  it("refuses static propagation without routes", () => {
    const spec = { ...testHostSpec(new KeyRing(), "static"), staticRoutes: [] };
    expect(() => renderTestHostCloudConfig(spec)).toThrow(/no routes/);
  });

  it("works without a pinned host key", () => {
    const spec = { ...testHostSpec(new KeyRing(), "dhcp"), sshHostKey: undefined };
    const doc = parseCloudConfig(renderTestHostCloudConfig(spec));
    expect(doc.raw).not.toHaveProperty("ssh_keys");
  });
});
