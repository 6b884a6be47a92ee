/** @tier unit */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import nacl from "tweetnacl";
import { check, labCheck, maskSecrets, writeResultFile } from "./results";
import { nicOrdering } from "./run";

test("outcomes: negative controls that fail are 'failed as expected', and only then ok", () => {
  expect(check("x", "ping", "pass", true, "")).toMatchObject({ ok: true, outcome: "passed" });
  expect(check("x", "ping", "pass", false, "")).toMatchObject({ ok: false, outcome: "failed" });
  expect(check("x", "negative-control", "fail", false, "")).toMatchObject({ ok: true, outcome: "failed as expected" });
  expect(check("x", "negative-control", "fail", true, "")).toMatchObject({ ok: false, outcome: "passed unexpectedly" });
});

test("one check type for both labs: the VM lab's (ok as expected, negative control) gives the same outcomes", () => {
  expect(labCheck("x", true, "")).toEqual({
    name: "x",
    ok: true,
    negativeControl: false,
    outcome: "passed",
    detail: "",
  });
  expect(labCheck("x", false, "").outcome).toBe("failed");
  expect(labCheck("x", true, "", { negativeControl: true }).outcome).toBe("failed as expected");
  expect(labCheck("x", false, "", { negativeControl: true }).outcome).toBe("passed unexpectedly");
  expect(check("x", "negative-control", "fail", false, "d")).toEqual(
    labCheck("x", true, "d", { negativeControl: true, group: "negative-control" }),
  );
});

test("writeResultFile masks secrets anywhere in a result (a VM lab error, a host's log), not only check details", () => {
  const key = Buffer.from(nacl.randomBytes(32)).toString("base64");
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "lab-result-")), "sub", "result.json");
  writeResultFile(file, { error: `wg set wg0 private-key ${key}`, hosts: [{ errors: [`PrivateKey = ${key}`] }] });
  const written = fs.readFileSync(file, "utf8");
  expect(written).not.toContain(key);
  expect(JSON.parse(written).hosts[0].errors[0]).toBe("PrivateKey = <key masked>");
  fs.rmSync(path.dirname(path.dirname(file)), { recursive: true });
});

test("maskSecrets hides WireGuard keys (generated now) and OpenSSH private keys", () => {
  const key = Buffer.from(nacl.randomBytes(32)).toString("base64");
  const text = `PrivateKey = ${key}\n-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\nkeep 192.168.0.2`;
  const masked = maskSecrets(text);
  expect(masked).not.toContain(key);
  expect(masked).not.toContain("abc");
  expect(masked).toContain("keep 192.168.0.2");
  expect(check("n", "ping", "pass", true, `peer ${key}`).detail).not.toContain(key);
});

test("nicOrdering reads the wait, and when wg0 came up, from the stand-ins' journal", () => {
  const good = [
    "networkctl: reload",
    "networkctl: wg0: created (wireguard-go)",
    "networkctl: wg0: configured (1 peer(s), 2 route(s))",
    "wg-s2s-private-nic.service: starting (Type=oneshot)",
    "wg-s2s-private-nic.service: | wg-s2s-wait-private-nic: 192.168.0.2 is present after 4s",
    "wg-s2s-private-nic.service: started",
  ].join("\n");
  expect(nicOrdering(good)).toEqual({ waitedSeconds: 4, tunnelBeforeNic: true });
  const late = ["wg-s2s-private-nic.service: started", "networkctl: wg0: configured (1 peer(s), 2 route(s))"].join(
    "\n",
  );
  expect(nicOrdering(late)).toEqual({ waitedSeconds: null, tunnelBeforeNic: false });
  expect(nicOrdering("wg-s2s-private-nic.service: started")).toEqual({ waitedSeconds: null, tunnelBeforeNic: null });
});
