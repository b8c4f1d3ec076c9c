import { dump } from "js-yaml";
import type { ModelConfig, ObservabilityConfig } from "../../config";
import { modelServerNames } from "../model-server/names";
import { coldStartSeconds } from "../model-server/request-routing";
import { MONITORING_NAMESPACE } from "./names";
import { promqlString } from "../../lib/promql";

/**
 * The platform's alert rules, as one PrometheusRule (monitoring.coreos.com/v1). The same groups
 * are written as a plain Prometheus rules file for `promtool test rules`
 * (test/observability-promql.test.ts). Annotations use only `{{ $labels.<name> }}`.
 */

export type AlertThresholds = ObservabilityConfig["alerts"];

export interface AlertRule {
    readonly alert: string;
    readonly expr: string;
    /** Prometheus duration; omitted: fires at the first evaluation. */
    readonly for?: string;
    readonly labels: { readonly severity: "critical" | "warning" };
    readonly annotations: { readonly summary: string; readonly description: string };
}

export interface RuleGroup {
    readonly name: string;
    readonly rules: readonly AlertRule[];
}

/** The model servers' Download Jobs: `<model>-download-<8 hex digits>` (components/model-server/names.ts). */
const DOWNLOAD_JOB = ".+-download-[0-9a-f]{8}";

/** What the alerts need of a model: its Deployment's name (also its ScaledObject's) and its startup budget. */
export type AlertedModel = Pick<ModelConfig, "name" | "repo" | "revision" | "startupBudgetSeconds">;

/**
 * The window of the KEDA alerts' rate and increase, and as long again: the engine's first scrape
 * and KEDA's next poll come a scrape interval or two after the pod is Ready, and the errors of
 * the cold start stay in a 5-minute rate for 5 minutes after the last one.
 */
const COLD_START_TAIL = "10m";

function regexAlternatives(values: readonly string[]): string {
    return values.map((value) => value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|");
}

/** `namespace="llm"`, or `namespace=~"llm|llm-tgi"` for several namespaces. */
function namespaceMatcher(namespaces: readonly string[]): string {
    if (namespaces.length === 0) {
        throw new Error("alert rules need at least one model namespace");
    }
    return namespaces.length === 1 ? `namespace=${promqlString(namespaces[0])}` : `namespace=~${promqlString(regexAlternatives(namespaces))}`;
}

/**
 * A model with replicas wanted (spec > 0; a model scaled to zero is not down) and none ready,
 * among the Deployments `selector` selects.
 */
function noReadyReplicas(selector: string): string {
    return `(sum by (namespace, deployment) (kube_deployment_spec_replicas{${selector}}) > 0) and (sum by (namespace, deployment) (kube_deployment_status_replicas_ready{${selector}}) == 0)`;
}

/**
 * LlmModelNoReadyReplicas, once per cold-start allowance: a model waking from zero (or replacing
 * its only replica) has no ready replica until a GPU node has joined, the image is pulled and the
 * weights are loaded, which the platform allows startupBudgetSeconds plus NODE_AND_IMAGE_SECONDS
 * (coldStartSeconds, components/model-server/request-routing.ts: what the interceptor holds a
 * request for). A model alerts only past its own allowance, or past noReadyReplicasMinutes if
 * that is longer; a Deployment of the namespace that is no configured model, past
 * noReadyReplicasMinutes. Past it the model is stuck: every request waits in the interceptor
 * until it times out.
 */
function noReadyReplicasRules(alerts: AlertThresholds, ns: string, models: readonly AlertedModel[]): AlertRule[] {
    const byMinutes = new Map<number, string[]>();
    for (const model of models) {
        const minutes = Math.max(alerts.noReadyReplicasMinutes, Math.ceil(coldStartSeconds(model) / 60));
        // A server's name does not depend on its namespace (components/model-server/names.ts).
        byMinutes.set(minutes, [...(byMinutes.get(minutes) ?? []), modelServerNames(model, "").server]);
    }
    const rule = (minutes: number, selector: string): AlertRule => ({
        alert: "LlmModelNoReadyReplicas",
        expr: noReadyReplicas(selector),
        for: `${minutes}m`,
        labels: { severity: "critical" },
        annotations: {
            summary: "Model {{ $labels.deployment }} has no ready replica",
            description: `Deployment {{ $labels.namespace }}/{{ $labels.deployment }} wants replicas but none has been ready for ${minutes} minutes, longer than a cold start may take: the endpoint is down. Check its pods' events (GPU node, image pull) and its engine's logs (weights, startup probe).`,
        },
    });
    const configured = [...byMinutes.values()].flat();
    const others = configured.length === 0 ? ns : `${ns}, deployment!~${promqlString(regexAlternatives(configured))}`;
    return [
        rule(alerts.noReadyReplicasMinutes, others),
        ...[...byMinutes.entries()].sort(([a], [b]) => a - b)
            .map(([minutes, deployments]) => rule(minutes, `${ns}, deployment=~${promqlString(regexAlternatives(deployments))}`)),
    ];
}

/**
 * The model servers of the serving namespaces that wanted replicas and had none ready at some moment of
 * the last COLD_START_TAIL, as `label`: a KEDA alert names them by their ScaledObject, which
 * has the Deployment's name (components/model-server/names.ts `server`). While a model has no
 * ready replica, its engine serves no metrics, so its Prometheus triggers get empty results and
 * KEDA counts errors: that is a cold start, which LlmModelNoReadyReplicas watches against the
 * model's own allowance, not a scaler fault. kube-state-metrics (v2.20.0 in kube-prometheus-stack
 * 88.5.3; internal/store/deployment.go) labels these series with the Deployment's namespace and
 * name: the stack scrapes it with honorLabels (values.yaml kube-state-metrics.prometheus.monitor).
 */
function coldStarting(ns: string, label: string): string {
    const wanted = `sum by (deployment) (max_over_time(kube_deployment_spec_replicas{${ns}}[${COLD_START_TAIL}])) > 0`;
    const noneReady = `sum by (deployment) (min_over_time(kube_deployment_status_replicas_ready{${ns}}[${COLD_START_TAIL}])) == 0`;
    return `label_replace((${wanted}) and (${noneReady}), ${promqlString(label)}, "$1", "deployment", "(.+)")`;
}

/**
 * The alert groups for the model servers in `modelNamespaces` (every Deployment there is a model
 * server: the stack's namespace, and its TGI sibling when a TGI model exists, components/model-server/engines.ts
 * servingNamespace), their GPUs and their KEDA autoscalers. `models`, the stack's models, give each its
 * cold-start allowance; without them every Deployment has noReadyReplicasMinutes.
 */
export function alertRuleGroups(alerts: AlertThresholds, modelNamespaces: readonly string[], models: readonly AlertedModel[] = []): RuleGroup[] {
    const ns = namespaceMatcher(modelNamespaces);
    return [
        {
            name: "llm-platform.model-servers",
            rules: [
                ...noReadyReplicasRules(alerts, ns, models),
                {
                    alert: "LlmModelEndpointDown",
                    // Only pods that are Ready: a server still loading its weights serves no /metrics yet.
                    expr: `(up{${ns}} == 0) and on (namespace, pod) (kube_pod_status_ready{${ns}, condition="true"} == 1)`,
                    for: "5m",
                    labels: { severity: "warning" },
                    annotations: {
                        summary: "Model server {{ $labels.pod }} does not answer its metrics scrape",
                        description: "Prometheus cannot scrape {{ $labels.namespace }}/{{ $labels.pod }} (service {{ $labels.service }}): the engine is down or hung.",
                    },
                },
                {
                    alert: "LlmModelQueueBackingUp",
                    expr: `sum by (namespace, model_name) (vllm:num_requests_waiting{${ns}}) > ${alerts.queueBacklog}`,
                    for: `${alerts.queueBacklogMinutes}m`,
                    labels: { severity: "warning" },
                    annotations: {
                        summary: "Requests queue up for {{ $labels.model_name }}",
                        description: `More than ${alerts.queueBacklog} requests in all have been waiting for {{ $labels.model_name }} for ${alerts.queueBacklogMinutes} minutes: users wait. Check whether the autoscaler is at maxReplicas or new replicas cannot start (GPU pool full, node scale-up, image pull).`,
                    },
                },
                {
                    alert: "LlmTimeToFirstTokenSloBreach",
                    expr: `histogram_quantile(0.95, sum by (namespace, model_name, le) (rate(vllm:time_to_first_token_seconds_bucket{${ns}}[5m]))) > ${alerts.ttftP95Seconds}`,
                    for: "10m",
                    labels: { severity: "warning" },
                    annotations: {
                        summary: "Time to first token of {{ $labels.model_name }} is over its SLO",
                        description: `The 95th percentile of the time to first token of {{ $labels.model_name }} has been above ${alerts.ttftP95Seconds}s for 10 minutes.`,
                    },
                },
                {
                    alert: "LlmModelDownloadFailed",
                    // A Job that failed for good has the Failed condition; kube_job_status_failed counts failed
                    // pods too, retries included (reason=""), so it counts only with the condition's reason.
                    expr: `(max by (namespace, job_name) (kube_job_failed{${ns}, condition="true", job_name=~${promqlString(DOWNLOAD_JOB)}}) > 0) or (max by (namespace, job_name) (kube_job_status_failed{${ns}, reason!="", job_name=~${promqlString(DOWNLOAD_JOB)}}) > 0)`,
                    labels: { severity: "critical" },
                    annotations: {
                        summary: "Weights download {{ $labels.job_name }} failed",
                        description: "Job {{ $labels.namespace }}/{{ $labels.job_name }} failed: the model's weights are not on its claim and the server will not start. Read the Job's logs.",
                    },
                },
            ],
        },
        {
            name: "llm-platform.gpus",
            rules: [
                {
                    alert: "GpuMemoryNearlyFull",
                    expr: `max by (Hostname, gpu) (DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE)) > ${alerts.gpuMemoryFullRatio}`,
                    for: "10m",
                    labels: { severity: "warning" },
                    annotations: {
                        summary: "GPU {{ $labels.gpu }} on {{ $labels.Hostname }} is nearly out of memory",
                        description: `More than ${Math.round(alerts.gpuMemoryFullRatio * 100)}% of the framebuffer of GPU {{ $labels.gpu }} on {{ $labels.Hostname }} has been in use for 10 minutes.`,
                    },
                },
            ],
        },
        {
            name: "llm-platform.autoscaling",
            rules: [
                {
                    alert: "KedaScalerErrors",
                    // Not a model's cold start (coldStarting): KEDA's errors of a model with no ready replica are LlmModelNoReadyReplicas' business.
                    expr: `(sum by (scaledObject, scaler) (rate(keda_scaler_detail_errors_total{type="scaledobject"}[5m])) > 0) unless on (scaledObject) ${coldStarting(ns, "scaledObject")}`,
                    for: "5m",
                    labels: { severity: "warning" },
                    annotations: {
                        summary: "KEDA cannot read the load of {{ $labels.scaledObject }}",
                        description: "Scaler {{ $labels.scaler }} of ScaledObject {{ $labels.scaledObject }} has been failing for 5 minutes; the replica count is held at the fallback.",
                    },
                },
                {
                    alert: "KedaScalerMetricMissing",
                    // ignoreNullValues "false": an empty Prometheus result is an error, counted here (KEDA 2.20 prommetrics.go).
                    expr: `(sum by (scaledResource, triggerName) (increase(keda_scaler_empty_upstream_responses_total{ignoreNullValues="false"}[5m])) > 0) unless on (scaledResource) ${coldStarting(ns, "scaledResource")}`,
                    for: "5m",
                    labels: { severity: "warning" },
                    annotations: {
                        summary: "KEDA trigger {{ $labels.triggerName }} of {{ $labels.scaledResource }} finds no series",
                        description: "KEDA's Prometheus scaler has been getting empty results for 5 minutes: a model's load metric is missing (its ServiceMonitor or the engine's /metrics).",
                    },
                },
            ],
        },
    ];
}

/** The PrometheusRule's object body. */
export function prometheusRule(alerts: AlertThresholds, modelNamespaces: readonly string[], namespace = MONITORING_NAMESPACE, models: readonly AlertedModel[] = []) {
    return {
        metadata: { name: "llm-platform-alerts", namespace, labels: { "app.kubernetes.io/part-of": "llm-platform" } },
        spec: { groups: alertRuleGroups(alerts, modelNamespaces, models) },
    };
}

/** The groups as a Prometheus rules file (what the operator renders from the PrometheusRule). */
export function rulesFile(groups: readonly RuleGroup[]): string {
    return dump({ groups }, { lineWidth: -1, noRefs: true });
}
