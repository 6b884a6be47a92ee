/** @tier unit */
/** The process helpers both labs use: bounded commands and bounded waits. */
import { pollUntil, run, runOk, waitFor } from "./proc";

test("run: exit code, output and input; runOk throws with stderr; a timeout kills and says so", async () => {
  const r = await run(["sh", "-c", "cat; echo err >&2; exit 3"], { input: "hello" });
  expect(r).toMatchObject({ code: 3, stdout: "hello", stderr: "err\n", timedOut: false });
  await expect(runOk(["sh", "-c", "echo boom >&2; exit 1"])).rejects.toThrow(/exit 1: boom/);
  const slow = await run(["sleep", "5"], { timeoutMs: 200 });
  expect(slow.timedOut).toBe(true);
  expect(slow.ms).toBeLessThan(3000);
});

test("waitFor: the first value, undefined after the bound, and an early end once stopped", async () => {
  let n = 0;
  expect(await waitFor(async () => (++n >= 3 ? n : undefined), 5000, 10)).toBe(3);
  const started = Date.now();
  expect(await waitFor(async () => undefined, 200, 50)).toBeUndefined();
  expect(Date.now() - started).toBeLessThan(1000);
  let calls = 0;
  expect(
    await waitFor(
      async () => {
        calls++;
        return undefined;
      },
      60_000,
      10,
      () => calls >= 2,
    ),
  ).toBeUndefined();
  expect(calls).toBe(2);
  expect(await pollUntil(async () => true, 1000)).not.toBeNull();
});
