/** @tier unit */
/** The systemctl stand-in as a program: bundled, run against a scratch unit directory. */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildSystemctlShim } from "./build";

let dir: string;
let shim: string;
const units = () => path.join(dir, "units");
const state = () => path.join(dir, "state");
const out = () => path.join(dir, "order");

function systemctl(...args: string[]) {
  const r = spawnSync(shim, args, {
    encoding: "utf8",
    env: { ...process.env, LAB_SYSTEMD_UNIT_PATH: units(), LAB_SYSTEMD_STATE_DIR: state() },
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
function unit(name: string, text: string) {
  fs.mkdirSync(path.dirname(path.join(units(), name)), { recursive: true });
  fs.writeFileSync(path.join(units(), name), text);
}
const order = () => (fs.existsSync(out()) ? fs.readFileSync(out(), "utf8").trim().split("\n") : []);

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "lab-systemctl-"));
  shim = buildSystemctlShim(path.join(dir, "shim"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
beforeEach(() => {
  fs.rmSync(units(), { recursive: true, force: true });
  fs.rmSync(state(), { recursive: true, force: true });
  fs.rmSync(out(), { force: true });
});

test("enable --now starts a template instance after what its drop-in requires, with specifiers and Environment=", () => {
  unit(
    "nic.service",
    `[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/sh -c 'sleep 0.2; echo nic >> ${out()}'\n`,
  );
  unit(
    "wg-quick@.service",
    `[Unit]\nWants=network-online.target\n[Service]\nType=oneshot\nRemainAfterExit=yes\nEnvironment=X=env-ok\nExecStart=/bin/sh -c 'echo up %i $X >> ${out()}'\nExecStop=/bin/sh -c 'echo down %i >> ${out()}'\n`,
  );
  unit("wg-quick@wg0.service.d/10-lab.conf", "[Unit]\nRequires=nic.service\nAfter=nic.service\n");
  expect(systemctl("enable", "--now", "wg-quick@wg0.service").code).toBe(0);
  expect(order()).toEqual(["nic", "up wg0 env-ok"]);
  expect(systemctl("is-active", "wg-quick@wg0").stdout.trim()).toBe("active");
  expect(systemctl("restart", "wg-quick@wg0").code).toBe(0);
  expect(order()).toEqual(["nic", "up wg0 env-ok", "down wg0", "up wg0 env-ok"]);
});

test("a unit whose required dependency fails is not started, and the job fails", () => {
  unit("broken.service", "[Service]\nType=oneshot\nExecStart=/bin/false\n");
  unit(
    "app.service",
    `[Unit]\nRequires=broken.service\nAfter=broken.service\n[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo app >> ${out()}'\n`,
  );
  const r = systemctl("start", "app.service");
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("failed");
  expect(order()).toEqual([]);
  expect(fs.readFileSync(path.join(state(), "journal.log"), "utf8")).toContain(
    "app.service: Dependency failed (broken.service)",
  );
});

test("an ignored failure (-) does not fail the unit; a missing unit is exit 5", () => {
  unit(
    "tolerant.service",
    `[Service]\nType=oneshot\nExecStartPre=-/bin/false\nExecStart=/bin/sh -c 'echo ok >> ${out()}'\n`,
  );
  expect(systemctl("start", "tolerant").code).toBe(0);
  expect(order()).toEqual(["ok"]);
  expect(systemctl("start", "nothere.service").code).toBe(5);
});

test("a simple service runs in the background with its PID recorded, and stop ends it", () => {
  unit("daemon.service", "[Service]\nExecStart=/bin/sleep 60\n");
  expect(systemctl("start", "daemon").code).toBe(0);
  const pid = JSON.parse(fs.readFileSync(path.join(state(), "state.json"), "utf8")).units["daemon.service"]
    .mainPid as number;
  expect(pid).toBeGreaterThan(1);
  expect(() => process.kill(pid, 0)).not.toThrow();
  expect(systemctl("stop", "daemon").code).toBe(0);
  const stat = fs.existsSync(`/proc/${pid}/stat`) ? fs.readFileSync(`/proc/${pid}/stat`, "utf8") : "";
  expect(stat === "" || / Z /.test(stat)).toBe(true);
});

test("unsupported commands fail loudly rather than pretend", () => {
  const r = systemctl("isolate", "rescue.target");
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("unsupported command 'isolate'");
});

test("oneshot without RemainAfterExit ends inactive; reload runs ExecReload", () => {
  unit(
    "once.service",
    `[Service]\nType=oneshot\nExecStart=/bin/true\nExecReload=/bin/sh -c 'echo reloaded >> ${out()}'\n`,
  );
  expect(systemctl("start", "once").code).toBe(0);
  expect(systemctl("is-active", "once").code).toBe(3);
  expect(systemctl("reload", "once").code).toBe(0);
  expect(order()).toEqual(["reloaded"]);
});
