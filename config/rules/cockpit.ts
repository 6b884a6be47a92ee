/** Rules of the Cockpit keys: alert e-mails go only where Cockpit is on, and look like addresses. */
import { type ConfigIssue, type Phrasing } from "../errors";
import { issue, show } from "./issues";

/** Deliberately loose (one @, a dot in the domain, no spaces): Cockpit checks the rest, and mails it. */
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function checkCockpit(cockpit: boolean, alertEmails: string[], p: Phrasing): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (alertEmails.length > 0 && !cockpit) {
    issues.push(
      issue(
        "alertEmails",
        "is set, but cockpit is false: the addresses are Cockpit's alert manager's contact points, and nothing else sends mail.",
        `turn Cockpit on with ${p.set("cockpit", true)}, or ${p.remove("alertEmails")}`,
      ),
    );
  }
  alertEmails.forEach((email, i) => {
    const key = `alertEmails[${i}]`;
    if (!EMAIL.test(email)) {
      issues.push(
        issue(
          key,
          `${show(email)} is not an e-mail address.`,
          `write one address per item, e.g. ${p.set(key, "netops@example.com")}`,
        ),
      );
    }
  });
  const seen = new Set<string>();
  alertEmails.forEach((email, i) => {
    const lower = email.toLowerCase();
    if (seen.has(lower)) {
      issues.push(
        issue(
          `alertEmails[${i}]`,
          `${show(email)} is listed twice; Cockpit would mail it twice.`,
          p.removeIt(`alertEmails[${i}]`),
        ),
      );
    }
    seen.add(lower);
  });
  return issues;
}
