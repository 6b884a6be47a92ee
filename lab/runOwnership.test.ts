/** @tier unit */
/**
 * The one ownership policy of both labs: a run owns what it recorded; a later run sweeps
 * only this clone's runs whose recorded owner is dead (or whose pid now runs something
 * else), and never another clone's namespaces. Real processes stand for owners; the
 * namespaces and their teardown are fakes, so no root is needed.
 */
import { spawn, spawnSync, type ChildProcess } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { readOwner, sweepLeftovers, sweepSummary, writeOwner, type Leftover } from "./runOwnership";

const PREFIX = /^wgl[0-9a-f]{4}$/;
let root: string;
const children: ChildProcess[] = [];

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "lab-owner-"));
});
afterEach(() => {
  for (const c of children.splice(0)) c.kill("SIGKILL");
  fs.rmSync(root, { recursive: true, force: true });
});

/** A process that stays up for the test: node (what a lab run is), or something else on a reused pid. */
function running(argv: string[]): number {
  const c = spawn(argv[0], argv.slice(1), { stdio: "ignore" });
  children.push(c);
  return c.pid!;
}
const deadPid = (): number => spawnSync(process.execPath, ["-e", "0"]).pid!;

async function sweep(namespaces: string[]) {
  const destroyed: Leftover[] = [];
  const report = await sweepLeftovers({
    runsRoot: root,
    prefixPattern: PREFIX,
    listNamespaces: async () => namespaces,
    destroy: async (l) => {
      destroyed.push(l);
      return l.namespaces.map((n) => `netns ${n}`);
    },
  });
  return { report, destroyed: Object.fromEntries(destroyed.map((l) => [l.prefix, l])) };
}

test("a live owner's run is left alone; a dead owner's run and namespaces are swept, its record removed", async () => {
  const live = running([process.execPath, "-e", "setTimeout(() => {}, 60000)"]);
  writeOwner(path.join(root, "wgl0001"), { prefix: "wgl0001", pid: live });
  writeOwner(path.join(root, "wgl0002"), { prefix: "wgl0002", pid: deadPid() });
  const { report, destroyed } = await sweep(["wgl0001-switch", "wgl0002-switch", "wgl0002-hub-gw"]);
  expect(Object.keys(destroyed)).toEqual(["wgl0002"]);
  expect(destroyed.wgl0002.namespaces).toEqual(["wgl0002-switch", "wgl0002-hub-gw"]);
  expect(report.swept).toEqual([{ prefix: "wgl0002", removed: ["netns wgl0002-switch", "netns wgl0002-hub-gw"] }]);
  expect(readOwner(path.join(root, "wgl0002"))).toBeUndefined();
  expect(readOwner(path.join(root, "wgl0001"))?.pid).toBe(live);
});

test("a recorded pid that now runs something other than a lab process is a dead owner", async () => {
  writeOwner(path.join(root, "wgl0003"), { prefix: "wgl0003", pid: running(["sleep", "60"]) });
  const { destroyed } = await sweep(["wgl0003-switch"]);
  expect(Object.keys(destroyed)).toEqual(["wgl0003"]);
});

test("another clone's namespaces (no run directory here) are never touched, only reported", async () => {
  const { report, destroyed } = await sweep(["wgl0abc-switch", "wgl0abc-hub-gw", "eth-not-a-lab"]);
  expect(destroyed).toEqual({});
  expect(report.notOurs).toEqual(["wgl0abc-switch", "wgl0abc-hub-gw"]);
  expect(sweepSummary(report)).toContain("left alone, no run of this clone: wgl0abc-switch, wgl0abc-hub-gw");
});

test("a run directory without a record: swept when it still has namespaces, kept (logs, --keep) when not", async () => {
  fs.mkdirSync(path.join(root, "wgl0004"));
  fs.mkdirSync(path.join(root, "wgl0005"));
  fs.writeFileSync(path.join(root, "wgl0004", "owner.json"), "{ half a rec");
  const { destroyed, report } = await sweep(["wgl0004-switch"]);
  expect(Object.keys(destroyed)).toEqual(["wgl0004"]);
  expect(destroyed.wgl0004.owner).toBeUndefined();
  expect(report.swept.map((s) => s.prefix)).toEqual(["wgl0004"]);
  expect(fs.existsSync(path.join(root, "wgl0005"))).toBe(true);
});

test("nothing to sweep: no log line", async () => {
  expect(sweepSummary((await sweep([])).report)).toBeUndefined();
});
