/** @tier unit */
/**
 * The set-up script is plain JavaScript (it runs before `npm ci`), so it cannot import the
 * labs' own lists of what they need: this keeps them in step, so a fresh clone's `npm test`
 * installs everything the labs check for.
 */
import { LAB_DEBIAN_PACKAGES } from "../lab/preflight";
import { VM_LAB_TOOLS } from "../lab/vm";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const setup = require("./ensure-setup.js") as { LAB_PACKAGES: string[]; VM_PACKAGES: string[] };

describe("scripts/ensure-setup.js", () => {
  const installed = new Set([...setup.LAB_PACKAGES, ...setup.VM_PACKAGES]);

  test("installs every Debian package the namespace lab checks for", () => {
    expect(LAB_DEBIAN_PACKAGES.filter((p) => !installed.has(p))).toEqual([]);
  });

  test("installs every package the VM lab names in its prerequisites", () => {
    expect(Object.values(VM_LAB_TOOLS).filter((p) => !installed.has(p))).toEqual([]);
  });
});
