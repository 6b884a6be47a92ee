/** @tier unit */
/** The Cockpit keys: off by default; alert addresses only with Cockpit on, one real address each, no repeats. */
import { loadStackConfig } from "../validation";
import { refusalLines } from "../../testkit/configRefusal";
import { OFFICE_EXTERNAL_SITE, ONPREM_SITE } from "../../testkit/fixtures";

const ADMIN = { adminCidrs: ["203.0.113.7/32"] };

describe("cockpit and alertEmails", () => {
  it("are off and empty by default, and take what Pulumi passes (strings, JSON lists)", () => {
    const cfg = loadStackConfig(ADMIN);
    expect([cfg.cockpit, cfg.alertEmails]).toEqual([false, []]);
    const on = loadStackConfig({ ...ADMIN, cockpit: "true", alertEmails: '["netops@example.com"]' });
    expect([on.cockpit, on.alertEmails]).toEqual([true, ["netops@example.com"]]);
  });

  it("refuses addresses with Cockpit off: nothing else would mail them", () => {
    expect(refusalLines({ alertEmails: ["netops@example.com"] })).toEqual([
      expect.stringMatching(/^alertEmails: is set, but cockpit is false.*pulumi config set cockpit true/),
    ]);
    expect(refusalLines({ cockpit: true, alertEmails: ["netops@example.com"] })).toEqual([]);
  });

  it("refuses what is not an address, and an address given twice", () => {
    const lines = refusalLines({ cockpit: true, alertEmails: ["netops", "a@example.com", "A@example.com", " "] });
    expect(lines).toEqual([
      expect.stringMatching(/^alertEmails\[0\]: "netops" is not an e-mail address/),
      expect.stringMatching(/^alertEmails\[3\]: " " is not an e-mail address/),
      expect.stringMatching(/^alertEmails\[2\]: "A@example.com" is listed twice/),
    ]);
  });

  it("refuses a far end's push without Cockpit, and on a site the stack builds itself", () => {
    const office = { ...OFFICE_EXTERNAL_SITE, bundleCockpit: true };
    expect(refusalLines({ remoteSites: [office] })).toEqual([
      expect.stringMatching(
        /^remoteSites\[0\]\.bundleCockpit: is true, but cockpit is false.*pulumi config set cockpit true/,
      ),
    ]);
    expect(refusalLines({ cockpit: true, remoteSites: [office] })).toEqual([]);
    const simulated = { ...ONPREM_SITE, bundleCockpit: true };
    expect(refusalLines({ cockpit: true, remoteSites: [simulated] })).toEqual([
      expect.stringMatching(/^remoteSites\[0\]\.bundleCockpit: is set on a simulated site/),
    ]);
  });
});
