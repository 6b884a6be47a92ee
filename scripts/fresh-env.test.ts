/** @tier system */
/**
 * scripts/fresh-env.sh, the environment .ci/run runs lint and the tests in.
 * Leftovers are planted only inside a private mount namespace of this test (a tmpfs over
 * /run there), never on the machine; so is everything fresh-env.sh mounts.
 *
 * The failure it exists for, recreated: a suite that binds its socket directory over
 * /run/wireguard, which only exists once something else created it. With a
 * planted /run/wireguard that bind works (a leftover makes the broken suite pass); inside
 * fresh-env.sh it fails as on a fresh machine, "mount point does not exist".
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..");
const FRESH_ENV = path.join(ROOT, "scripts", "fresh-env.sh");

/** `sh -c script` with args as $0, $1, ... */
function sh(script: string, args: string[] = []): { code: number | null; out: string } {
  const r = spawnSync("sh", ["-c", script, ...args], { encoding: "utf8", timeout: 30_000, cwd: ROOT });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

const PLANT =
  "mount -t tmpfs tmpfs /run && mkdir /run/wireguard /run/netns && touch /run/netns/leftover /run/wireguard/wg0.sock";

/**
 * Runs `inner` (a shell script) in a private mount namespace whose /run holds planted
 * leftovers (/run/wireguard, /run/netns/leftover), either directly or through fresh-env.sh.
 */
function withPlantedRun(inner: string, throughFreshEnv: boolean): { code: number | null; out: string } {
  const script = `${PLANT} && exec ${throughFreshEnv ? '"$0" ' : ""}sh -c "$1"`;
  return sh('exec unshare --mount --propagation private sh -c "$1" "$0" "$2"', [FRESH_ENV, script, inner]);
}

/** The old suite's way into a host: bind a directory over /run/wireguard in a private mount namespace. */
const OLD_ENTER_HOST = `d=$(mktemp -d) && unshare --mount --propagation private sh -c 'mount --bind "$0" /run/wireguard && echo bound' "$d"; rc=$?; rmdir "$d"; exit $rc`;

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error("scripts/fresh-env.test.ts needs root (mount namespaces)");
});

describe("scripts/fresh-env.sh", () => {
  test("hides planted leftovers: no /run/wireguard, no namespaces, empty /tmp and .lab", () => {
    const marker = fs.mkdtempSync(path.join(os.tmpdir(), "fresh-env-planted-"));
    const labMarker = path.join(ROOT, ".lab", `planted-${process.pid}`);
    fs.mkdirSync(labMarker, { recursive: true });
    try {
      const probe = `test ! -e /run/wireguard && test -z "$(ip netns list)" && test ! -e ${marker} && test ! -e ${labMarker} && test -d .git -o -f .git && echo clean`;
      const planted = withPlantedRun(`test -e /run/wireguard && echo planted`, false);
      expect(planted.out.trim()).toBe("planted");
      const fresh = withPlantedRun(probe, true);
      expect(fresh.out.trim()).toBe("clean");
      expect(fresh.code).toBe(0);
      // The machine's own paths are untouched by either.
      expect(fs.existsSync(marker)).toBe(true);
      expect(fs.existsSync(labMarker)).toBe(true);
    } finally {
      fs.rmSync(marker, { recursive: true, force: true });
      fs.rmSync(labMarker, { recursive: true, force: true });
    }
  });

  test("recreates the fresh-machine failure of the old suite, which a planted /run/wireguard hid", () => {
    const withLeftover = withPlantedRun(OLD_ENTER_HOST, false);
    expect(withLeftover.out).toContain("bound");
    expect(withLeftover.code).toBe(0);
    const fresh = withPlantedRun(OLD_ENTER_HOST, true);
    expect(fresh.out).toMatch(/mount point does not exist/);
    expect(fresh.code).not.toBe(0);
  });

  test("keeps a checkout that lives under /tmp (a CI clone may) visible, with its own fresh .lab", () => {
    const clone = fs.mkdtempSync(path.join(os.tmpdir(), "fresh-env-clone-"));
    try {
      fs.mkdirSync(path.join(clone, "scripts"));
      fs.copyFileSync(FRESH_ENV, path.join(clone, "scripts", "fresh-env.sh"));
      fs.writeFileSync(path.join(clone, ".git"), "gitdir: elsewhere\n");
      fs.mkdirSync(path.join(clone, ".lab", "leftover"), { recursive: true });
      const r = spawnSync(
        "bash",
        ["scripts/fresh-env.sh", "sh", "-c", 'test -f .git && test -d .lab && test -z "$(ls -A .lab)" && ls -A /tmp'],
        { cwd: clone, encoding: "utf8", timeout: 30_000 },
      );
      expect(`${r.stdout}${r.stderr}`.trim()).toBe(path.basename(clone));
      expect(r.status).toBe(0);
      expect(fs.existsSync(path.join(clone, ".lab", "leftover"))).toBe(true);
    } finally {
      fs.rmSync(clone, { recursive: true, force: true });
    }
  });

  test("passes the command's exit status through", () => {
    expect(sh(`"$0" sh -c 'exit 7'`, [FRESH_ENV]).code).toBe(7);
    expect(sh(`"$0" true`, [FRESH_ENV]).code).toBe(0);
  });

  test("fails a command that leaves a network namespace behind, naming it, and the machine never sees it", () => {
    const name = `fresh-env-leak-${process.pid}`;
    const r = sh(`"$0" ip netns add "$1"`, [FRESH_ENV, name]);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain(`network namespaces left behind by: ip netns add ${name}`);
    expect(sh("ip netns list").out).not.toContain(name);
  });

  test("creates nothing on the machine: no /run/wireguard where there was none, no scratch left", () => {
    // Scratch dirs of fresh-env runs around this one (CI runs this suite inside one) stay.
    const scratch = () => {
      try {
        return fs.readdirSync(path.join(ROOT, ".cache", "fresh-env")).sort();
      } catch {
        return [];
      }
    };
    const [before, scratchBefore] = [fs.existsSync("/run/wireguard"), scratch()];
    expect(sh(`"$0" sh -c 'mkdir -p /run/wireguard /run/netns'`, [FRESH_ENV]).code).toBe(0);
    expect(fs.existsSync("/run/wireguard")).toBe(before);
    expect(scratch()).toEqual(scratchBefore);
  });
});
