import type { PolicyPackArgs } from "@pulumi/policy";
import { gpuPlacementRules } from "./rules/pods-gpu";
import { modelServerRules } from "./rules/pods-model-server";
import { resourceRules } from "./rules/pods-resources";
import { securityRules } from "./rules/pods-security";
import { awsRules } from "./rules/aws";
import { autoscalingRules } from "./rules/autoscaling";
import { helmRules } from "./rules/helm";
import { endpointSecurityRules } from "./rules/endpoint-security";
import { networkRules } from "./rules/network";

/**
 * The llm-platform pack. `index.ts` hands these args to the CrossGuard PolicyPack; the
 * offline plan and `npm run check` evaluate the same rules with the same levels.
 * Rule ids are the ids of POLICIES.md, exactly.
 */
export const PACK_NAME = "llm-platform";

export const packArgs: PolicyPackArgs = {
    policies: [
        ...resourceRules,
        ...gpuPlacementRules,
        ...modelServerRules,
        ...securityRules,
        ...awsRules,
        ...autoscalingRules,
        ...helmRules,
        ...endpointSecurityRules,
        ...networkRules,
    ],
    // Each rule names its own level; this only covers a rule that forgets to.
    enforcementLevel: "mandatory",
};
