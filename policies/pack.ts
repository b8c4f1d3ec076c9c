import type { PolicyPackArgs } from "@pulumi/policy";

/**
 * The llm-platform pack. `index.ts` hands these args to the CrossGuard PolicyPack; the
 * offline plan and `npm run check` evaluate the same rules with the same levels.
 */
export const PACK_NAME = "llm-platform";

export const packArgs: PolicyPackArgs = {
    policies: [],
    // Each rule names its own level; this only covers a rule that forgets to.
    enforcementLevel: "mandatory",
};
