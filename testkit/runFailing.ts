/**
 * Runs the program under mocks in its own process for a case that must fail at deploy time
 * (inside an apply, as a `pulumi up` would): prints one JSON line `{ error, declared }` and
 * exits 3 when the run failed, 0 when it unexpectedly succeeded. Usage (tests only):
 *   tsx testkit/runFailing.ts '<ProgramRunOptions as JSON>'
 * An apply that throws rejects outside any awaited promise; in a test runner that takes the
 * runner down, hence the separate process.
 */
import { declaredSoFar, runProgram } from "./programRun";

let reported = false;
function report(e: unknown): void {
  if (reported) return;
  reported = true;
  const error = e instanceof Error ? e.message : String(e);
  console.log(JSON.stringify({ error, declared: declaredSoFar().map((r) => r.type) }));
  process.exit(3);
}
process.on("unhandledRejection", report);
process.on("uncaughtException", report);
runProgram(JSON.parse(process.argv[2])).then(() => {
  if (!reported) {
    console.log(JSON.stringify({ error: null, declared: declaredSoFar().map((r) => r.type) }));
    process.exit(0);
  }
}, report);
