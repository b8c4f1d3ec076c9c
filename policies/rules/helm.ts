import { RuleConfig, typedRule } from "../lib/rule";

export const HELM_RELEASE = "kubernetes:helm.sh/v3:Release";

/**
 * Pulumi docs on CrossGuard and Helm: a helm.v3.Release installs its chart through Helm
 * itself, so the objects it creates never reach the policy pack; a helm.v4.Chart renders
 * them as resources that every rule sees.
 */
export const noHelmRelease = typedRule<RuleConfig>({
    name: "no-helm-release",
    description: "No kubernetes.helm.v3.Release, which hides the objects it installs from the policy pack; use kubernetes.helm.v4.Chart.",
    enforcementLevel: "mandatory",
}, [HELM_RELEASE], (_props, _config, reportViolation, args) => {
    reportViolation(`Helm release ${args.name}: helm.sh/v3 Release installs objects the policy pack never sees; deploy the chart with kubernetes.helm.v4.Chart at a pinned version instead.`);
});

export const helmRules = [noHelmRelease];
