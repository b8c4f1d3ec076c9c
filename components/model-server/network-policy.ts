import type { ModelConfig } from "../../config";
import { engineProfile } from "./engines";
import { INTERCEPTOR_METRICS, INTERCEPTOR_POD_LABELS, INTERCEPTOR_PROXY } from "../autoscaling/keda-http-add-on";
import { PROMETHEUS_POD_LABELS } from "../observability/network-policy";
import { MONITORING_NAMESPACE } from "../observability/names";
import { IngressRule, NetworkPolicyBody, PART_OF, namespacePeer, podsIn, tcp } from "../network-policy-peers";
import { DOWNLOAD_COMPONENT, commonLabels, selectorLabels } from "./names";
import { usesInterceptor } from "./request-routing";

/**
 * The fence around the model namespaces (`llm`, and `llm-tgi` when a TGI model exists): no pod
 * reaches a model server, and no model server reaches anything, except what is allowed here.
 *
 * NetworkPolicy semantics (kubernetes/website content/en/docs/concepts/services-networking/network-policies.md):
 * a pod selected by a policy with a policy type accepts only what some policy allows; "a pod cannot
 * block access to itself" (so vLLM's and TGI's shards inside one pod still talk over the pod's own
 * address); "traffic to and from the node where a Pod is running is always allowed", which is what
 * keeps the kubelet's probes working. The enforcers this platform meets implement that exception:
 * - EKS, the VPC CNI's network policy agent (aws/aws-network-policy-agent
 *   pkg/fwruleprocessor/fw_rule_processor.go: "Traffic from the local node should always be
 *   allowed. Add NodeIP by default to map entries");
 * - K3s, whose embedded controller is kube-router's (cloudnativelabs/kube-router
 *   pkg/controllers/netpol/pod.go: the "from local node" rule accepts any source of address type LOCAL);
 * - kind, kindnetd's kube-network-policies (kubernetes-sigs/kube-network-policies
 *   pkg/dataplane/controller.go: traffic the node's root user sends is not processed, "it can block
 *   kubelet probes").
 * `kubectl port-forward` enters the pod's network namespace from the node, so it is not fenced either.
 */

/** Who may call the models, besides the platform's own parts (config: clientNamespaces, ingressControllerNamespace). */
export interface ModelCallers {
    /** Namespaces whose pods call the models on their in-cluster Service URL (and through the interceptor). */
    readonly clientNamespaces: readonly string[];
    /** The namespace of the Ingress controller, allowed to the models that have an `ingress.host`. */
    readonly ingressControllerNamespace: string;
    /** The namespace KEDA and its HTTP add-on run in (components/autoscaling/keda.ts). */
    readonly kedaNamespace: string;
}

/** CoreDNS, which EKS's coredns add-on, K3s, kind and minikube all run in kube-system labelled `k8s-app: kube-dns`. */
export const CLUSTER_DNS = { namespace: "kube-system", podLabels: { "k8s-app": "kube-dns" } } as const;

/** The Hugging Face Hub, its CDNs and PyPI (the download Job's pip) are all HTTPS on 443. */
export const HTTPS_PORT = 443;

/** The labels of the download Job's pods (components/model-server/download-job.ts), across models. */
export const DOWNLOAD_POD_LABELS = { ...DOWNLOAD_COMPONENT, ...PART_OF } as const;

/** Names of the policies, per namespace and per model: stable, the rule and the README name them. */
export const POLICY_NAMES = {
    defaultDeny: "default-deny",
    downloadEgress: "model-download-egress",
    modelIngress: (model: string) => `${model}-ingress`,
    interceptor: "keda-add-ons-http-interceptor-ingress",
} as const;

/**
 * Every pod of `namespace` isolated both ways: nothing comes in, nothing goes out, unless another
 * policy allows it. The serving pods need no egress: their weights are on the claim, and the
 * engines run offline (components/model-server/engines.ts: HF_HUB_OFFLINE, TRANSFORMERS_OFFLINE,
 * HF_HUB_DISABLE_TELEMETRY; vLLM also VLLM_NO_USAGE_STATS and DO_NOT_TRACK; Ollama imports the
 * claim's safetensors), so a compromised engine cannot reach out either.
 */
export function defaultDenyPolicy(namespace: string): NetworkPolicyBody {
    return {
        metadata: { name: POLICY_NAMES.defaultDeny, namespace, labels: { ...PART_OF } },
        spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
    };
}

/**
 * Who reaches one model's serving pods, all on the engine's one port (its API, /health and
 * /metrics share it): the client namespaces (its in-cluster Service URL); the KEDA HTTP add-on's
 * interceptors when the model is called through them; the Ingress controller's namespace when it
 * has an `ingress.host` and is called on its Service (through the interceptor, the Ingress leads
 * to the interceptor instead: interceptorPolicy); Prometheus when the engine has metrics. No rule
 * at all (a model without metrics, clients or Ingress) leaves the pods fenced by default-deny.
 */
export function modelIngressPolicy(model: ModelConfig, namespace: string, callers: ModelCallers): NetworkPolicyBody {
    const profile = engineProfile(model.engine, model.image);
    const port = [tcp(profile.port)];
    const intercepted = usesInterceptor(model, profile);
    const rules: IngressRule[] = [
        ...(callers.clientNamespaces.length > 0 ? [{ from: [namespacePeer(callers.clientNamespaces)], ports: port }] : []),
        ...(intercepted ? [{ from: [podsIn(callers.kedaNamespace, INTERCEPTOR_POD_LABELS)], ports: port }] : []),
        ...(model.ingress.host && !intercepted ? [{ from: [namespacePeer([callers.ingressControllerNamespace])], ports: port }] : []),
        ...(profile.metricsPath ? [{ from: [podsIn(MONITORING_NAMESPACE, PROMETHEUS_POD_LABELS)], ports: port }] : []),
    ];
    return {
        metadata: { name: POLICY_NAMES.modelIngress(model.name), namespace, labels: commonLabels(model) },
        spec: { podSelector: { matchLabels: selectorLabels(model) }, policyTypes: ["Ingress"], ingress: rules },
    };
}

/**
 * The download Jobs' way out: DNS to the cluster's CoreDNS (UDP and TCP 53), and HTTPS anywhere
 * (the Hub's API and its CDNs, whose addresses are not fixed, and PyPI for the pinned wheels).
 */
export function downloadEgressPolicy(namespace: string): NetworkPolicyBody {
    return {
        metadata: { name: POLICY_NAMES.downloadEgress, namespace, labels: { ...PART_OF } },
        spec: {
            podSelector: { matchLabels: { ...DOWNLOAD_POD_LABELS } },
            policyTypes: ["Egress"],
            egress: [
                { to: [podsIn(CLUSTER_DNS.namespace, CLUSTER_DNS.podLabels)], ports: [{ port: 53, protocol: "UDP" }, tcp(53)] },
                { to: [{ ipBlock: { cidr: "0.0.0.0/0" } }], ports: [tcp(HTTPS_PORT)] },
            ],
        },
    };
}

/**
 * The interceptors' own fence (in KEDA's namespace): a model called through them is only as
 * fenced as they are, since they forward any request whose Host names a route. Their proxy port
 * takes the client namespaces and, when a model through them has an `ingress.host`, the Ingress
 * controller; their admin port the add-on's external scalers, which ask every interceptor for its
 * queue (kedacore/http-add-on v0.15.0 scaler/queue_pinger.go; chart values interceptor.admin.port
 * 9090); their metrics port Prometheus (the PodMonitor). Only these pods are selected: the rest of
 * KEDA's namespace (the API server calls its webhooks and metrics API server) stays as it was.
 */
export function interceptorPolicy(models: readonly ModelConfig[], callers: ModelCallers): NetworkPolicyBody {
    const published = models.some((model) => model.ingress.host !== "");
    const proxyFrom = [
        ...(callers.clientNamespaces.length > 0 ? [namespacePeer(callers.clientNamespaces)] : []),
        ...(published ? [namespacePeer([callers.ingressControllerNamespace])] : []),
    ];
    return {
        metadata: { name: POLICY_NAMES.interceptor, namespace: callers.kedaNamespace, labels: { ...PART_OF } },
        spec: {
            podSelector: { matchLabels: { ...INTERCEPTOR_POD_LABELS } },
            policyTypes: ["Ingress"],
            ingress: [
                ...(proxyFrom.length > 0 ? [{ from: proxyFrom, ports: [tcp(INTERCEPTOR_PROXY.port)] }] : []),
                { from: [podsIn(callers.kedaNamespace, SCALER_POD_LABELS)], ports: [tcp(INTERCEPTOR_ADMIN_PORT)] },
                { from: [podsIn(MONITORING_NAMESPACE, PROMETHEUS_POD_LABELS)], ports: [tcp(INTERCEPTOR_METRICS.port)] },
            ],
        },
    };
}

/** The interceptor's admin port (kedacore/charts c4b92e9 http-add-on/values.yaml interceptor.admin.port). */
export const INTERCEPTOR_ADMIN_PORT = 9090;

/** The external scalers' pod labels (kedacore/charts c4b92e9 http-add-on/templates/scaler/deployment.yaml). */
export const SCALER_POD_LABELS = { "app.kubernetes.io/component": "scaler", "app.kubernetes.io/name": "http-add-on" } as const;

/** The policies of one model namespace: default deny, one per model served there, the download Jobs' egress. */
export function modelNamespacePolicies(namespace: string, models: readonly ModelConfig[], callers: ModelCallers): NetworkPolicyBody[] {
    return [
        defaultDenyPolicy(namespace),
        ...models.map((model) => modelIngressPolicy(model, namespace, callers)),
        downloadEgressPolicy(namespace),
    ];
}
