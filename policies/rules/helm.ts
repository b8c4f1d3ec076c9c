import type { PolicyResource } from "@pulumi/policy";
import { HELM_HOOK_ANNOTATION, isHelmHook } from "../lib/helm-hooks";
import { ContainerRef, describeContainer, workloadOf } from "../lib/pods";
import { RuleConfig, stackRule, typedRule } from "../lib/rule";
import { Props, asArray, asRecord, asString, at, objectName, objectNamespace } from "../lib/values";

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


/** What a pod needs before it can start: a Secret, ConfigMap or ServiceAccount of its namespace. */
interface PodReference {
    readonly kind: "Secret" | "ConfigMap" | "ServiceAccount";
    readonly name: string;
    /** How the pod uses it, for the message: `volume "tls"`, `envFrom of container "operator"`. */
    readonly use: string;
}

/** The required references of a pod spec; `optional: true` ones do not stop a pod. */
export function podReferences(spec: Props, containers: readonly ContainerRef[]): PodReference[] {
    const references: PodReference[] = [];
    const add = (kind: PodReference["kind"], source: unknown, key: string, use: string) => {
        const name = asString(asRecord(source)[key]);
        if (name && asRecord(source).optional !== true) {
            references.push({ kind, name, use });
        }
    };
    for (const volume of asArray(spec.volumes).map(asRecord)) {
        const use = `volume "${asString(volume.name) ?? "?"}"`;
        add("Secret", volume.secret, "secretName", use);
        add("ConfigMap", volume.configMap, "name", use);
        for (const source of asArray(at(volume, "projected", "sources")).map(asRecord)) {
            add("Secret", source.secret, "name", use);
            add("ConfigMap", source.configMap, "name", use);
        }
    }
    for (const ref of containers) {
        const use = describeContainer(ref);
        for (const from of asArray(ref.container.envFrom).map(asRecord)) {
            add("Secret", from.secretRef, "name", `envFrom of ${use}`);
            add("ConfigMap", from.configMapRef, "name", `envFrom of ${use}`);
        }
        for (const env of asArray(ref.container.env).map(asRecord)) {
            add("Secret", at(env, "valueFrom", "secretKeyRef"), "name", `env ${asString(env.name) ?? "?"} of ${use}`);
            add("ConfigMap", at(env, "valueFrom", "configMapKeyRef"), "name", `env ${asString(env.name) ?? "?"} of ${use}`);
        }
    }
    const serviceAccount = asString(spec.serviceAccountName) ?? asString(spec.serviceAccount);
    if (serviceAccount && serviceAccount !== "default") {
        references.push({ kind: "ServiceAccount", name: serviceAccount, use: "serviceAccountName" });
    }
    return references;
}

const kindOf = (resource: PolicyResource) => asString(resource.props.kind) ?? resource.type.slice(resource.type.lastIndexOf(":") + 1);
const keyOf = (kind: string, namespace: string, name: string) => `${kind}/${namespace}/${name}`;

/** Secrets, ConfigMaps and ServiceAccounts that non-hook objects create, and the Secrets cert-manager Certificates fill. */
function createdObjects(resources: readonly PolicyResource[]): Set<string> {
    const created = new Set<string>();
    for (const resource of resources.filter((r) => !isHelmHook(r.props))) {
        const kind = kindOf(resource);
        const namespace = objectNamespace(resource.props);
        if (kind === "Secret" || kind === "ConfigMap" || kind === "ServiceAccount") {
            created.add(keyOf(kind, namespace, objectName(resource.props, resource.name)));
        }
        const certificateSecret = asString(at(resource.props, "spec", "secretName"));
        if (kind === "Certificate" && /^cert-manager\.io\//.test(asString(resource.props.apiVersion) ?? "") && certificateSecret) {
            created.add(keyOf("Secret", namespace, certificateSecret));
        }
    }
    return created;
}

/**
 * The hook of the same chart that would make the object: a hook object of that kind and name, or a
 * hook pod whose containers name it in their command, args or env values (kube-webhook-certgen's
 * `create --secret-name=...` Job). A hook pod that only mounts or reads the object, as the
 * workload does, is no creator.
 */
function hookThatCreates(hooks: readonly PolicyResource[], reference: PodReference, namespace: string): PolicyResource | undefined {
    const named = new RegExp(`(^|[^a-z0-9.-])${reference.name.replace(/[.]/g, "\\.")}($|[^a-z0-9.-])`);
    const inHook = hooks.filter((hook) => objectNamespace(hook.props) === namespace);
    return inHook.find((hook) => kindOf(hook) === reference.kind && objectName(hook.props, hook.name) === reference.name)
        ?? inHook.find((hook) => commandWords(hook).some((word) => named.test(word)));
}

/** What a hook pod's containers run with: command, args and env values. */
function commandWords(hook: PolicyResource): string[] {
    const workload = workloadOf(hook.type, hook.props, hook.name);
    return (workload?.containers ?? []).flatMap(({ container }) => [
        ...asArray(container.command), ...asArray(container.args), ...asArray(container.env).map((env) => asRecord(env).value),
    ]).filter((word): word is string => typeof word === "string");
}

/**
 * kubernetes.helm.v4.Chart never runs Helm hooks (pulumi-kubernetes helm/v4/chart.go: DisableHooks),
 * so a chart pod that needs what only a hook creates never starts: kube-prometheus-stack's operator
 * mounts the `<fullname>-admission` Secret that its pre-install hook Job creates. The objects of one
 * chart are the children of one chart resource (in `npm run check`, all documents of the call).
 */
export const chartNoHookDependency = stackRule<RuleConfig>({
    name: "chart-no-hook-dependency",
    description: "A chart's pod needs no Secret, ConfigMap or ServiceAccount that only one of the chart's Helm hooks would create, since kubernetes.helm.v4.Chart never runs hooks.",
    enforcementLevel: "mandatory",
    seesHelmHooks: true,
}, (resources, _config, reportViolation) => {
    const created = createdObjects(resources);
    const hooksByChart = new Map<string, PolicyResource[]>();
    for (const hook of resources.filter((r) => isHelmHook(r.props))) {
        const chart = hook.parent?.urn ?? "";
        hooksByChart.set(chart, [...(hooksByChart.get(chart) ?? []), hook]);
    }
    for (const resource of resources.filter((r) => !isHelmHook(r.props))) {
        const hooks = hooksByChart.get(resource.parent?.urn ?? "");
        const workload = hooks && workloadOf(resource.type, resource.props, resource.name);
        if (!workload) {
            continue;
        }
        for (const reference of podReferences(workload.spec, workload.containers)) {
            if (created.has(keyOf(reference.kind, workload.namespace, reference.name))) {
                continue;
            }
            const hook = hookThatCreates(hooks, reference, workload.namespace);
            if (hook) {
                const when = asString(asRecord(at(hook.props, "metadata", "annotations"))[HELM_HOOK_ANNOTATION]) ?? "";
                reportViolation(`${workload.kind} ${workload.namespace}/${workload.name} needs ${reference.kind} "${reference.name}" (${reference.use}), `
                    + `which only the chart's Helm hook ${kindOf(hook)} "${objectName(hook.props, hook.name)}" (${when}) would create; `
                    + "kubernetes.helm.v4.Chart never runs hooks, so the pod never starts: turn the feature off in the chart's values or create the object in the program.", resource.urn);
            }
        }
    }
});

export const helmRules = [noHelmRelease, chartNoHookDependency];
