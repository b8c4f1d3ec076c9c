/**
 * The metric names the dashboards (dashboards/*.json) and the alert rules (alert-rules.ts) may
 * use, per exporter, each with the pinned version it was read from. test/observability-promql.test.ts
 * fails when an expression names a metric that is not listed here: add a name only after
 * checking it in the named source.
 */

export interface MetricSource {
    /** Who emits the series and at which pinned version. */
    readonly emitter: string;
    /** Where the names were read (upstream file or page). */
    readonly source: string;
    /** Metric names as Prometheus stores them (counters with `_total`, histograms with `_bucket`/`_sum`/`_count`). */
    readonly metrics: readonly string[];
}

const histogram = (name: string) => [`${name}_bucket`, `${name}_sum`, `${name}_count`];

export const METRIC_SOURCES: readonly MetricSource[] = [
    {
        // The engine image pinned in components/model-server/engines.ts (vllm/vllm-openai:v0.28.0). Labels: model_name, engine;
        // the ServiceMonitor adds namespace, service, pod, container. vllm:gpu_cache_usage_perc was renamed
        // vllm:kv_cache_usage_perc in 0.9 and is gone; vllm:time_per_output_token_seconds was renamed
        // vllm:inter_token_latency_seconds in 0.11 and is hidden since 0.12: neither is listed.
        emitter: "vLLM (vllm/vllm-openai:v0.28.0)",
        source: "vllm-project/vllm vllm/v1/metrics/loggers.py, PrometheusStatLogger (the V1 engine's metrics; read from a post-0.12 revision, the exact v0.28.0 tag was not available offline)",
        metrics: [
            "vllm:num_requests_running",
            "vllm:num_requests_waiting",
            "vllm:kv_cache_usage_perc",
            "vllm:prefix_cache_queries_total",
            "vllm:prefix_cache_hits_total",
            "vllm:num_preemptions_total",
            "vllm:prompt_tokens_total",
            "vllm:generation_tokens_total",
            "vllm:request_success_total",
            ...histogram("vllm:time_to_first_token_seconds"),
            ...histogram("vllm:inter_token_latency_seconds"),
            ...histogram("vllm:e2e_request_latency_seconds"),
            ...histogram("vllm:request_queue_time_seconds"),
        ],
    },
    {
        // Labels: gpu, UUID, device, modelName, Hostname, DCGM_FI_DRIVER_VERSION; with the kubelet pod-resources
        // mapping (on by default in the NVIDIA chart) also namespace, pod, container of the pod holding the GPU.
        emitter: "NVIDIA DCGM exporter (default counters, installed by components/gpu/gpu-runtime.ts)",
        source: "NVIDIA/dcgm-exporter etc/default-counters.csv",
        metrics: [
            "DCGM_FI_DEV_GPU_UTIL",
            "DCGM_FI_DEV_MEM_COPY_UTIL",
            "DCGM_FI_DEV_FB_USED",
            "DCGM_FI_DEV_FB_FREE",
            "DCGM_FI_DEV_GPU_TEMP",
            "DCGM_FI_DEV_MEMORY_TEMP",
            "DCGM_FI_DEV_POWER_USAGE",
            "DCGM_FI_DEV_XID_ERRORS",
        ],
    },
    {
        // Labels of the scaler series: namespace, scaledObject, scaler, triggerIndex, metric, type.
        emitter: "KEDA operator 2.20.2 (components/autoscaling/keda.ts)",
        source: "kedacore/keda pkg/metricscollector/prommetrics.go; keda.sh/docs/latest/integrations/prometheus (keda_scaler_errors and keda_scaler_errors_total were removed in 2.14/2.15)",
        metrics: [
            "keda_scaler_active",
            "keda_scaler_metrics_value",
            "keda_scaler_metrics_latency_seconds",
            "keda_scaler_detail_errors_total",
            "keda_scaled_object_errors_total",
            "keda_scaled_object_paused",
            // Labels: namespace, scaledResource, triggerName, metricName, resourceType, ignoreNullValues.
            "keda_scaler_empty_upstream_responses_total",
        ],
    },
    {
        // kube-prometheus-stack 88.5.3 bundles the kube-state-metrics chart 8.4.0.
        emitter: "kube-state-metrics (kube-prometheus-stack 88.5.3)",
        source: "kubernetes/kube-state-metrics docs/metrics/workload/{deployment,horizontalpodautoscaler,job,pod}-metrics.md",
        metrics: [
            "kube_deployment_spec_replicas",
            "kube_deployment_status_replicas",
            "kube_deployment_status_replicas_ready",
            "kube_deployment_status_replicas_available",
            "kube_horizontalpodautoscaler_spec_max_replicas",
            "kube_horizontalpodautoscaler_spec_min_replicas",
            "kube_horizontalpodautoscaler_spec_target_metric",
            "kube_horizontalpodautoscaler_status_current_replicas",
            "kube_horizontalpodautoscaler_status_desired_replicas",
            "kube_job_status_failed",
            "kube_job_failed",
            "kube_pod_container_status_restarts_total",
            "kube_pod_status_ready",
        ],
    },
    {
        emitter: "Prometheus itself (every scrape target)",
        source: "prometheus.io/docs/concepts/jobs_instances (automatically generated series)",
        metrics: ["up"],
    },
];

/** Every metric name the dashboards and rules may use. */
export const KNOWN_METRICS: ReadonlySet<string> = new Set(METRIC_SOURCES.flatMap((source) => source.metrics));
