import type { IngressRule, NetworkPolicyBody } from "../network-policy-peers";
import { PART_OF, localPods, podsIn, tcp } from "../network-policy-peers";
import { MONITORING_NAMESPACE, RELEASES } from "./names";

/**
 * The fence around `monitoring`: every pod isolated for ingress (egress stays open: Prometheus
 * scrapes every namespace and the nodes, Loki may write to S3, Grafana's sidecars watch the API),
 * and only these ways in:
 * - Prometheus (9090): from KEDA's operator, which runs every Prometheus trigger (its metrics API
 *   server asks the operator over gRPC, kedacore/charts v2.20.2 keda/templates/metrics-server/deployment.yaml
 *   `--metrics-service-address=<operator>:9666`, and never Prometheus), and from Grafana;
 * - Loki (3100): from Alloy, which pushes the logs, and from Grafana;
 * - every pod, on every port: from Prometheus, which scrapes them all (Grafana, Alertmanager,
 *   kube-state-metrics, the operator, Alloy, Loki, itself) and sends its alerts to Alertmanager.
 * Grafana takes nothing else: people reach it with `kubectl port-forward`, which the fence does not
 * see (components/model-server/network-policy.ts), and so do the kubelet's probes.
 * Nobody else calls in: the operator's admission webhooks are off (prometheus-values.ts
 * OPERATOR_WITHOUT_HOOKS), so the API server has no reason to; node exporter runs in the host's
 * network, which no NetworkPolicy fences. Were the webhooks turned on, the API server would call the
 * operator on its TLS port (kube-prometheus-stack 88.5.3 values.yaml prometheusOperator.tls.internalPort
 * 10250; admission-webhooks/validatingWebhookConfiguration.yaml names the operator's Service), from
 * addresses that are no pod's (on EKS the control plane's ENIs in the VPC): that port would need a
 * rule admitting every source, or the VPC's CIDR as an ipBlock. The test of these policies fails
 * while the webhooks are on and no such rule exists.
 */

/**
 * Prometheus's pods, as the operator labels them (prometheus-operator v0.93.0
 * pkg/prometheus/server/operator.go makeSelectorLabels: app.kubernetes.io/name "prometheus",
 * app.kubernetes.io/instance and operator.prometheus.io/name the Prometheus object's name), which
 * kube-prometheus-stack 88.5.3 names `<fullname>-prometheus` (templates/_helpers.tpl
 * `kube-prometheus-stack.prometheus.crname`, cleanPrometheusOperatorObjectNames false).
 */
export const PROMETHEUS_POD_LABELS = {
    "app.kubernetes.io/name": "prometheus",
    "operator.prometheus.io/name": `${RELEASES.prometheusStack}-prometheus`,
} as const;

/** Grafana's pods: the grafana chart 12.11.1 templates/_helpers.tpl `grafana.selectorLabels` (chart name, release name). */
export const GRAFANA_POD_LABELS = { "app.kubernetes.io/name": "grafana", "app.kubernetes.io/instance": RELEASES.prometheusStack } as const;

/** Loki's pods: grafana-community loki chart 18.11.0 templates/_helpers.tpl `loki.selectorLabels`. */
export const LOKI_POD_LABELS = { "app.kubernetes.io/name": "loki", "app.kubernetes.io/instance": RELEASES.loki } as const;

/** Alloy's pods: grafana/alloy chart 1.11.1 templates/_helpers.tpl `alloy.selectorLabels`. */
export const ALLOY_POD_LABELS = { "app.kubernetes.io/name": "alloy", "app.kubernetes.io/instance": RELEASES.alloy } as const;

/** KEDA's operator pods: kedacore/charts v2.20.2 keda/templates/manager/deployment.yaml (operator.name keda-operator). */
export const KEDA_OPERATOR_POD_LABELS = { "app.kubernetes.io/name": "keda-operator" } as const;

export const PROMETHEUS_PORT = 9090;
export const LOKI_PORT = 3100;

export const MONITORING_POLICY_NAMES = {
    defaultDeny: "default-deny",
    prometheus: "prometheus-ingress",
    loki: "loki-ingress",
    scrapes: "prometheus-scrapes",
} as const;

function policy(name: string, podLabels: Readonly<Record<string, string>> | undefined, ingress: IngressRule[]): NetworkPolicyBody {
    return {
        metadata: { name, namespace: MONITORING_NAMESPACE, labels: { ...PART_OF } },
        spec: { podSelector: podLabels ? { matchLabels: { ...podLabels } } : {}, policyTypes: ["Ingress"], ...(ingress.length > 0 ? { ingress } : {}) },
    };
}

/** The policies of `monitoring`, given the namespace KEDA runs in (its operator queries Prometheus). */
export function monitoringPolicies(kedaNamespace: string): NetworkPolicyBody[] {
    const kedaOperator = podsIn(kedaNamespace, KEDA_OPERATOR_POD_LABELS);
    return [
        policy(MONITORING_POLICY_NAMES.defaultDeny, undefined, []),
        policy(MONITORING_POLICY_NAMES.prometheus, PROMETHEUS_POD_LABELS, [
            { from: [kedaOperator, localPods(GRAFANA_POD_LABELS)], ports: [tcp(PROMETHEUS_PORT)] },
        ]),
        policy(MONITORING_POLICY_NAMES.loki, LOKI_POD_LABELS, [
            { from: [localPods(ALLOY_POD_LABELS), localPods(GRAFANA_POD_LABELS)], ports: [tcp(LOKI_PORT)] },
        ]),
        policy(MONITORING_POLICY_NAMES.scrapes, undefined, [{ from: [localPods(PROMETHEUS_POD_LABELS)] }]),
    ];
}
