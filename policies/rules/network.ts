/** Rules on the network fences around model servers. */
import type { PolicyResource } from "@pulumi/policy";
import { isModelServer, modelServerImagesSchema } from "../lib/model-servers";
import { workloadOf } from "../lib/pods";
import { RuleConfig, stackRule } from "../lib/rule";
import { kindOf, label } from "../lib/scaling";
import { Props, asArray, asRecord, asString, objectName, objectNamespace } from "../lib/values";

export const NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy";
const NAMESPACE = "kubernetes:core/v1:Namespace";

/** Whether a label selector selects every pod: absent, or with no matchLabels and no matchExpressions. */
function selectsAll(selector: unknown): boolean {
    const { matchLabels, matchExpressions } = asRecord(selector);
    return Object.keys(asRecord(matchLabels)).length === 0 && asArray(matchExpressions).length === 0;
}

/**
 * Whether the policy governs ingress. Unset policyTypes means Ingress, always (the API's
 * NetworkPolicySpec.policyTypes: "all policies (whether or not they contain an ingress section)
 * are assumed to affect ingress"), and so does an empty list: the API server defaults any policy
 * with `len(policyTypes) == 0` (kubernetes pkg/apis/networking/v1/defaults.go SetDefaults_NetworkPolicy).
 */
function governsIngress(spec: Props): boolean {
    const types = asArray(spec.policyTypes);
    return types.length === 0 || types.includes("Ingress");
}

/**
 * Whether a namespace selector selects every namespace: empty, or requiring only that the name
 * label exists, which the API server sets on every namespace (kubernetes.io/metadata.name).
 */
function selectsEveryNamespace(selector: unknown): boolean {
    const { matchLabels, matchExpressions } = asRecord(selector);
    return Object.keys(asRecord(matchLabels)).length === 0 && asArray(matchExpressions).map(asRecord)
        .every((expression) => expression.key === "kubernetes.io/metadata.name" && expression.operator === "Exists");
}

/** Addresses that stand for every address: an ipBlock of either family's default route with no exceptions. */
const EVERY_ADDRESS = ["0.0.0.0/0", "::/0"];

/**
 * Why an ingress rule admits every source, or undefined when it names its callers. A rule with no
 * `from` (or an empty one) admits every source (NetworkPolicyIngressRule.from: "If this field is
 * empty or missing, this rule matches all sources"); so does a peer selecting every pod of every
 * namespace (`namespaceSelector: {}` with no podSelector or an empty one) or every address.
 */
function admitsEverySource(rule: Props): string | undefined {
    const from = asArray(rule.from);
    if (from.length === 0) {
        return "has no from, so it admits every source";
    }
    for (const value of from) {
        const peer = asRecord(value);
        if (peer.namespaceSelector !== undefined && selectsEveryNamespace(peer.namespaceSelector) && selectsAll(peer.podSelector)) {
            return "admits every pod of every namespace (namespaceSelector: {})";
        }
        const block = asRecord(peer.ipBlock);
        const cidr = asString(block.cidr);
        if (cidr !== undefined && EVERY_ADDRESS.includes(cidr) && asArray(block.except).length === 0) {
            return `admits every address (ipBlock ${cidr})`;
        }
    }
    return undefined;
}

interface DefaultDenyConfig extends RuleConfig {
    readonly modelServerImages?: readonly string[];
}

/**
 * A namespace that runs model servers is fenced: a NetworkPolicy there selects every pod
 * (`podSelector: {}`) for Ingress, so that only what another policy allows gets in, and no policy
 * there opens its pods to every source. Kubernetes admits everything to a pod no policy selects.
 */
export const namespaceDefaultDeny = stackRule<DefaultDenyConfig>({
    name: "namespace-default-deny",
    description: "A namespace with model servers has a NetworkPolicy selecting all its pods (podSelector: {}) with policyTypes including Ingress, and no NetworkPolicy there has an ingress rule admitting every source.",
    enforcementLevel: "mandatory",
    properties: { modelServerImages: modelServerImagesSchema },
}, (resources, config, reportViolation) => {
    const servers = new Map<string, PolicyResource[]>();
    for (const resource of resources) {
        const workload = workloadOf(resource.type, resource.props, resource.name);
        if (workload && isModelServer(workload, config.modelServerImages)) {
            servers.set(workload.namespace, [...(servers.get(workload.namespace) ?? []), resource]);
        }
    }
    const policies = resources.filter((resource) => resource.type === NETWORK_POLICY);
    for (const [namespace, workloads] of servers) {
        // Whether a policy here selects every pod for Ingress and opens none of its rules to every source.
        let denies = false;
        for (const policy of policies.filter((candidate) => objectNamespace(candidate.props) === namespace)) {
            const spec = asRecord(policy.props.spec);
            if (!governsIngress(spec)) {
                continue;
            }
            let open = false;
            asArray(spec.ingress).forEach((rule, index) => {
                const why = admitsEverySource(asRecord(rule));
                if (why) {
                    open = true;
                    reportViolation(`${label("NetworkPolicy", objectName(policy.props, policy.name))} in namespace ${namespace}, where model servers run: ingress[${index}] ${why}; name the callers (namespaces, pod labels) instead.`, policy.urn);
                }
            });
            denies = denies || (!open && selectsAll(spec.podSelector));
        }
        if (!denies) {
            const where = resources.find((resource) => resource.type === NAMESPACE && objectName(resource.props, resource.name) === namespace) ?? workloads[0];
            const names = workloads.map((workload) => label(kindOf(workload.type), objectName(workload.props, workload.name)));
            reportViolation(`namespace ${namespace}: runs model servers (${names.slice(0, 3).join(", ")}${names.length > 3 ? ", ..." : ""}) but no NetworkPolicy there selects all its pods for Ingress without admitting every source, so any pod of the cluster can call them; add one with podSelector: {} and policyTypes: [Ingress] and no ingress rules, and allow each caller in its own policy.`, where.urn);
        }
    }
});

export const networkRules = [namespaceDefaultDeny];
