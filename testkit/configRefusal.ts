/** What a config refusal says, line by line, for the rule tests. */
import { ConfigError } from "../config/errors";
import { loadStackConfig } from "../config/validation";
import { ADMIN_CIDRS } from "./fixtures";

/** Every "key: problem. Fix: ..." line of the refusal of `config` (adminCidrs given), or [] when it loads. */
export function refusalLines(config: Record<string, unknown>): string[] {
  try {
    loadStackConfig({ adminCidrs: ADMIN_CIDRS, ...config });
    return [];
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return e.message.split("\n").filter((l) => /^\S+: /.test(l));
  }
}
