import { dump } from "js-yaml";
import type { ObservabilityConfig } from "../../config";
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

/**
 * The alert groups for the model servers in `modelNamespace` (every Deployment there is a model
 * server), their GPUs and their KEDA autoscalers.
 */
export function alertRuleGroups(alerts: AlertThresholds, modelNamespace: string): RuleGroup[] {
    const ns = `namespace=${promqlString(modelNamespace)}`;
    return [
        {
            name: "llm-platform.model-servers",
            rules: [
                {
                    alert: "LlmModelNoReadyReplicas",
                    // Replicas wanted (spec > 0; a model scaled to zero is not down) and none ready.
                    expr: `(sum by (namespace, deployment) (kube_deployment_spec_replicas{${ns}}) > 0) and (sum by (namespace, deployment) (kube_deployment_status_replicas_ready{${ns}}) == 0)`,
                    for: `${alerts.noReadyReplicasMinutes}m`,
                    labels: { severity: "critical" },
                    annotations: {
                        summary: "Model {{ $labels.deployment }} has no ready replica",
                        description: `Deployment {{ $labels.namespace }}/{{ $labels.deployment }} wants replicas but none has been ready for ${alerts.noReadyReplicasMinutes} minutes: the endpoint is down.`,
                    },
                },
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
                    expr: `sum by (scaledObject, scaler) (rate(keda_scaler_detail_errors_total{type="scaledobject"}[5m])) > 0`,
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
                    expr: `sum by (scaledResource, triggerName) (increase(keda_scaler_empty_upstream_responses_total{ignoreNullValues="false"}[5m])) > 0`,
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
export function prometheusRule(alerts: AlertThresholds, modelNamespace: string, namespace = MONITORING_NAMESPACE) {
    return {
        metadata: { name: "llm-platform-alerts", namespace, labels: { "app.kubernetes.io/part-of": "llm-platform" } },
        spec: { groups: alertRuleGroups(alerts, modelNamespace) },
    };
}

/** The groups as a Prometheus rules file (what the operator renders from the PrometheusRule). */
export function rulesFile(groups: readonly RuleGroup[]): string {
    return dump({ groups }, { lineWidth: -1, noRefs: true });
}
