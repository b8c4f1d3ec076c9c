/**
 * The label the API server sets on every namespace, its name (immutable; Kubernetes 1.22+,
 * kubernetes/website labels-annotations-taints `kubernetes.io/metadata.name`).
 */
export const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

/** A NetworkPolicy peer or selector, as the API takes it (mutable arrays: what @pulumi/kubernetes's input types accept). */
export interface LabelSelector {
    readonly matchLabels?: Record<string, string>;
    readonly matchExpressions?: { readonly key: string; readonly operator: "In" | "NotIn" | "Exists" | "DoesNotExist"; readonly values?: string[] }[];
}
export interface PolicyPeer {
    readonly namespaceSelector?: LabelSelector;
    readonly podSelector?: LabelSelector;
    readonly ipBlock?: { readonly cidr: string; readonly except?: string[] };
}
export interface PolicyPort {
    readonly port?: number;
    readonly protocol: "TCP" | "UDP";
}
export interface IngressRule {
    readonly from: PolicyPeer[];
    readonly ports?: PolicyPort[];
}
export interface EgressRule {
    readonly to: PolicyPeer[];
    readonly ports?: PolicyPort[];
}
/** The body of a networking.k8s.io/v1 NetworkPolicy (metadata and spec). */
export interface NetworkPolicyBody {
    readonly metadata: { readonly name: string; readonly namespace: string; readonly labels: Record<string, string> };
    readonly spec: {
        readonly podSelector: LabelSelector;
        readonly policyTypes: ("Ingress" | "Egress")[];
        readonly ingress?: IngressRule[];
        readonly egress?: EgressRule[];
    };
}

/** The label every NetworkPolicy of the platform carries (beside a model's own labels). */
export const PART_OF = { "app.kubernetes.io/part-of": "llm-platform" } as const;

/** Every pod of these namespaces. */
export function namespacePeer(names: readonly string[]): PolicyPeer {
    return names.length === 1
        ? { namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: names[0] } } }
        : { namespaceSelector: { matchExpressions: [{ key: NAMESPACE_NAME_LABEL, operator: "In", values: [...names] }] } };
}

/** The pods with these labels in `namespace`. */
export function podsIn(namespace: string, podLabels: Readonly<Record<string, string>>): PolicyPeer {
    return { namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: namespace } }, podSelector: { matchLabels: { ...podLabels } } };
}

/** The pods with these labels in the policy's own namespace. */
export function localPods(labels: Readonly<Record<string, string>>): PolicyPeer {
    return { podSelector: { matchLabels: { ...labels } } };
}

export const tcp = (port: number): PolicyPort => ({ port, protocol: "TCP" });
