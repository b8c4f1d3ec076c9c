import { Props, asRecord, at } from "./values";

/**
 * Helm marks a hook with this annotation (helm.sh/helm/v3 pkg/release/hook.go HookAnnotation).
 * `kubernetes.helm.v4.Chart` renders with hooks disabled (pulumi-kubernetes
 * provider/pkg/provider/helm/v4/chart.go: `cmd.DisableHooks = true`): a hook object is never
 * created. The offline plan and `npm run check` still see them, for chart-no-hook-dependency;
 * every other rule ignores them.
 */
export const HELM_HOOK_ANNOTATION = "helm.sh/hook";

export function isHelmHook(props: Props): boolean {
    return HELM_HOOK_ANNOTATION in asRecord(at(props, "metadata", "annotations"));
}
