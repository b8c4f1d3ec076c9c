import type { ModelConfig } from "../../config";
import { parseQuantity } from "../../lib/quantity";
import type { EngineProfile } from "./engines";
import { HttpAddOnEndpoints, INTERCEPTOR_METRICS, httpAddOnEndpoints } from "../autoscaling/keda-http-add-on";
import { PROMETHEUS_URL } from "../observability/names";
import type { ModelServerNames } from "./names";
import { countsRequestsAtInterceptor, requestTrigger, scalesFromZero } from "./request-routing";
import { promqlString } from "../../lib/promql";

/**
 * The KEDA ScaledObject of a model server, scaling on the model's load signal through KEDA's
 * Prometheus scaler. Every query is a sum(...) so Prometheus returns exactly one series;
 * `ignoreNullValues: "false"` makes an empty result an error, so a lost metric triggers the
 * fallback instead of reading as zero load.
 *
 * One empty result is legitimate: a model scaled to zero has no pods, hence no series. Each
 * engine query therefore ends with `or sum(kube_deployment_status_replicas{...} == 0)` (kube-state-
 * metrics, part of kube-prometheus-stack): exactly 0 when the Deployment has no replicas, and
 * still empty (an error) when replicas exist but their metric is missing. The interceptor's
 * request count has its own guard (interceptorRateTrigger).
 *
 * The signals (config `autoscaling.signal`):
 * - `queue`: waiting requests (the queue) and running requests per replica; on an engine without
 *   metrics (Ollama), CPU seconds per second of the serving containers instead;
 * - `requestRate`: the queue, and finished requests per second from the engine's counter; on an
 *   engine without metrics, requests per second counted by the KEDA HTTP add-on's interceptor
 *   (./request-routing.ts: such a model is called through it);
 * - `gpuUtilization`: the queue, and DCGM's GPU utilisation of the model's own pods, averaged over
 *   each pod's GPUs and summed over pods (so `gpuUtilizationPercent` is per replica). The weaker
 *   signal: DCGM_FI_DEV_GPU_UTIL is the share of time a kernel ran, which a batching engine keeps
 *   near 100% long before its queue grows and which says nothing about requests waiting; the queue
 *   trigger next to it still adds replicas when requests wait.
 *
 * Activation (what keeps a model above zero, and wakes it from there when its metric exists):
 * KEDA compares a Prometheus trigger's value with `activationThreshold` strictly
 * (v2.20.2 pkg/scalers/prometheus_scaler.go GetMetricsAndActivity: `val > activationThreshold`),
 * so the queue and running triggers use 0: one waiting or running request keeps the model
 * active (with 1, a single generation would not, and a direct client could be scaled away
 * mid-generation). The signal's own trigger (request rate, GPU utilisation, CPU, none of which is
 * exactly 0 while anything happens, and CPU not even idle) uses `autoscaling.activationThreshold`
 * in its own unit. What wakes a model at zero is not these metrics (no pods, no requests to count)
 * but an `external-push` trigger on the KEDA HTTP add-on's interceptor (./request-routing.ts), in
 * this same ScaledObject: one autoscaler per Deployment; the add-on's scaler reports it active while
 * a request is in flight (http-add-on v0.15.0 scaler/handlers.go IsActive: any value > 0).
 *
 * Fallback: after FALLBACK_FAILURE_THRESHOLD failed reads, `currentReplicasIfHigher` (KEDA v2.20.2
 * apis/keda/v1alpha1/scaledobject_types.go; pkg/fallback/fallback.go doFallback) holds the
 * replicas the model has when that is more than `fallbackReplicas`: the default, `static`, would
 * drop a model serving at 4 replicas to `fallbackReplicas` during a Prometheus outage.
 */

/** Consecutive failed metric reads before the fallback replica count applies. */
export const FALLBACK_FAILURE_THRESHOLD = 3;

/** KEDA's fallback behaviour for every ScaledObject of the platform (see above). */
export const FALLBACK_BEHAVIOR = "currentReplicasIfHigher";

/**
 * A series a trigger's query reads: what a fake exporter must emit (metric name, and the labels
 * the query matches with `=`) for the query to return a value. `podPattern`, when present, is the
 * regular expression (`=~`) the series' `pod` label must match. A `counter` is read through rate().
 */
export interface TriggerSeries {
    readonly metric: string;
    readonly labels: Readonly<Record<string, string>>;
    readonly kind: "counter" | "gauge";
    readonly podPattern?: string;
}

export interface LoadTrigger {
    /** The trigger's name (KEDA `triggers[].name`). */
    readonly name: "queue" | "running" | "requestRate" | "cpu" | "gpuUtilization";
    readonly query: string;
    /** The series the query reads (its load), apart from the `or` guard. */
    readonly series: TriggerSeries;
    /**
     * The series the query's `or` guard reads, which makes it 0 rather than empty when there is
     * legitimately nothing to read: kube-state-metrics' replicas of the Deployment (== 0), or, for
     * the interceptor's count, the interceptors' `up` (== 1).
     */
    readonly guard: TriggerSeries;
    /** Target value per replica (AverageValue). */
    readonly threshold: number;
    /** Above this the model wakes from zero. */
    readonly activationThreshold: number;
}

function selector(labels: Readonly<Record<string, string>>): string {
    return `{${Object.entries(labels).map(([key, value]) => `${key}${key === "pod" ? "=~" : "="}${promqlString(value)}`).join(",")}}`;
}

/** The series' selector: its equality labels, then its pod pattern. */
function seriesSelector(series: TriggerSeries): string {
    return selector({ ...series.labels, ...(series.podPattern === undefined ? {} : { pod: series.podPattern }) });
}

/** The series the `or` guard reads: kube-state-metrics' replicas of the model's Deployment. */
export function noReplicasSeries(names: Pick<ModelServerNames, "namespace" | "server">): TriggerSeries {
    return { metric: "kube_deployment_status_replicas", labels: { namespace: names.namespace, deployment: names.server }, kind: "gauge" };
}

/** `or`-clause: 0 when the Deployment has no replicas, nothing otherwise. */
export function noReplicasClause(names: Pick<ModelServerNames, "namespace" | "server">): string {
    const series = noReplicasSeries(names);
    return `sum(${series.metric}${seriesSelector(series)} == 0)`;
}

/** The triggers for a model (see the signals above). `httpAddOn` names the interceptors' Prometheus job; defaults to KEDA's default namespace's. */
export function loadTriggers(
    model: ModelConfig, profile: EngineProfile, names: Pick<ModelServerNames, "namespace" | "server">,
    httpAddOn: Pick<HttpAddOnEndpoints, "interceptorMetricsJob"> = httpAddOnEndpoints(),
): LoadTrigger[] {
    const scaling = model.autoscaling;
    if (countsRequestsAtInterceptor(model, profile)) {
        return [interceptorRateTrigger(model, names, httpAddOn)];
    }
    if (scaling.signal === "gpuUtilization") {
        return [...(profile.load ? [queueTrigger(model, profile, profile.load, names)] : []), gpuTrigger(model, names)];
    }
    if (!profile.load) {
        return [cpuTrigger(model, names)];
    }
    if (scaling.signal === "requestRate") {
        const finished: TriggerSeries = { metric: profile.load.finished.name, labels: engineLabels(model, profile, names), kind: "counter" };
        return [queueTrigger(model, profile, profile.load, names), guarded({
            name: "requestRate", series: finished, threshold: scaling.requestsPerSecondPerReplica, activationThreshold: scaling.activationThreshold,
        }, (selected) => `sum(rate(${selected}[1m]))`, names)];
    }
    const running: TriggerSeries = { metric: profile.load.running.name, labels: engineLabels(model, profile, names), kind: "gauge" };
    return [queueTrigger(model, profile, profile.load, names), guarded({
        name: "running", series: running, threshold: scaling.runningPerReplica, activationThreshold: 0,
    }, (selected) => `sum(${selected})`, names)];
}

/** A trigger whose query is `<load> or <no replicas>`. */
function guarded(
    trigger: Omit<LoadTrigger, "query" | "guard">, load: (selected: string) => string, names: Pick<ModelServerNames, "namespace" | "server">,
): LoadTrigger {
    return { ...trigger, query: `${load(`${trigger.series.metric}${seriesSelector(trigger.series)}`)} or ${noReplicasClause(names)}`, guard: noReplicasSeries(names) };
}

/** The labels that select one model's engine metrics: its served name, or (TGI, no model label) its Service. */
function engineLabels(model: ModelConfig, profile: EngineProfile, names: Pick<ModelServerNames, "namespace" | "server">): Record<string, string> {
    return profile.modelLabel
        ? { namespace: names.namespace, [profile.modelLabel]: model.servedModelName }
        : { namespace: names.namespace, service: names.server };
}

/** The serving pods of the Deployment: `<deployment>-<replicaset hash>-<pod suffix>`. */
function serverPods(names: Pick<ModelServerNames, "server">): string {
    return `${names.server}-[a-z0-9]+-[a-z0-9]+`;
}

/** Waiting requests per replica; active from one waiting request. */
function queueTrigger(model: ModelConfig, profile: EngineProfile, load: NonNullable<EngineProfile["load"]>, names: Pick<ModelServerNames, "namespace" | "server">): LoadTrigger {
    const waiting: TriggerSeries = { metric: load.waiting.name, labels: engineLabels(model, profile, names), kind: "gauge" };
    return guarded({ name: "queue", series: waiting, threshold: model.autoscaling.queuePerReplica, activationThreshold: 0 }, (selected) => `sum(${selected})`, names);
}

/**
 * No load metrics (ollama): CPU seconds per second of the serving containers, from cAdvisor.
 * A Prometheus query rather than KEDA's cpu trigger, which supports neither fallback nor scale to zero.
 */
function cpuTrigger(model: ModelConfig, names: Pick<ModelServerNames, "namespace" | "server">): LoadTrigger {
    const cores = (parseQuantity(model.resources.cpu) ?? 1) * model.autoscaling.cpuUtilization;
    const series: TriggerSeries = {
        metric: "container_cpu_usage_seconds_total", labels: { namespace: names.namespace, container: "server" }, kind: "counter", podPattern: serverPods(names),
    };
    return guarded({ name: "cpu", series, threshold: round(cores), activationThreshold: model.autoscaling.activationThreshold }, (selected) => `sum(rate(${selected}[2m]))`, names);
}

/**
 * DCGM's GPU utilisation (percent) of the model's own GPUs: the DCGM exporter maps each GPU to the
 * pod and container that were allocated it (kubelet pod-resources API) and labels its metrics
 * `pod`, `namespace`, `container` (NVIDIA/dcgm-exporter 4.5.3-4.8.2
 * internal/pkg/transformation/const.go and kubernetes.go, with its Kubernetes mapping on, which the
 * chart always sets: deployment/templates/daemonset.yaml `DCGM_EXPORTER_KUBERNETES: "true"`; the
 * ServiceMonitor keeps them with honorLabels: components/gpu/gpu-runtime.ts). Averaged over each pod's
 * GPUs, summed over pods: per replica, whatever gpusPerReplica is.
 */
function gpuTrigger(model: ModelConfig, names: Pick<ModelServerNames, "namespace" | "server">): LoadTrigger {
    const series: TriggerSeries = {
        metric: "DCGM_FI_DEV_GPU_UTIL", labels: { namespace: names.namespace, container: "server" }, kind: "gauge", podPattern: serverPods(names),
    };
    return guarded({
        name: "gpuUtilization", series, threshold: model.autoscaling.gpuUtilizationPercent, activationThreshold: model.autoscaling.activationThreshold,
    }, (selected) => `sum(avg by (pod) (${selected}))`, names);
}

/**
 * Requests per second the add-on's interceptors forwarded on the model's InterceptorRoute (named
 * after the server: ./request-routing.ts interceptorRoute; the counter's route_name and
 * route_namespace are the route's: components/autoscaling/keda-http-add-on.ts INTERCEPTOR_METRICS), summed
 * over the interceptor pods. A route that has had no request since the interceptors started has
 * no series yet, which is no load, not a lost metric: the guard reads 0 while at least one
 * interceptor is scraped (`up == 1` of the add-on's PodMonitor job), and stays empty (an error, so
 * the fallback) when none is.
 */
function interceptorRateTrigger(
    model: ModelConfig, names: Pick<ModelServerNames, "namespace" | "server">, httpAddOn: Pick<HttpAddOnEndpoints, "interceptorMetricsJob">,
): LoadTrigger {
    const series: TriggerSeries = {
        metric: INTERCEPTOR_METRICS.requestCount, labels: { route_namespace: names.namespace, route_name: names.server }, kind: "counter",
    };
    const guard: TriggerSeries = { metric: "up", labels: { job: httpAddOn.interceptorMetricsJob }, kind: "gauge" };
    return {
        name: "requestRate",
        query: `sum(rate(${series.metric}${seriesSelector(series)}[1m])) or (sum(${guard.metric}${seriesSelector(guard)} == 1) * 0)`,
        series,
        guard,
        threshold: model.autoscaling.requestsPerSecondPerReplica,
        activationThreshold: model.autoscaling.activationThreshold,
    };
}

function round(value: number): number {
    return Math.round(value * 1000) / 1000;
}

export interface ScaledObjectOptions {
    readonly names: ModelServerNames;
    readonly profile: EngineProfile;
    /** Prometheus the scaler queries. Defaults to the observability layer's (PROMETHEUS_URL). */
    readonly prometheusAddress?: string;
    /**
     * The KEDA HTTP add-on whose interceptor this model is called through (./request-routing.ts
     * usesInterceptor). For a model that scales to zero, adds the `external-push` trigger that
     * wakes it; its metrics job is where a requestRate model without engine metrics is counted.
     * Defaults to none: no external-push trigger, and the add-on in KEDA's default namespace.
     */
    readonly httpAddOn?: Pick<HttpAddOnEndpoints, "scalerAddress" | "interceptorMetricsJob">;
}

/** The ScaledObject's object body. */
export function scaledObject(model: ModelConfig, { names, profile, prometheusAddress = PROMETHEUS_URL, httpAddOn }: ScaledObjectOptions) {
    const scaling = model.autoscaling;
    return {
        metadata: { name: names.server, namespace: names.namespace },
        spec: {
            scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: names.server },
            minReplicaCount: model.minReplicas,
            maxReplicaCount: model.maxReplicas,
            pollingInterval: scaling.pollingIntervalSeconds,
            cooldownPeriod: scaling.cooldownPeriodSeconds,
            fallback: { failureThreshold: FALLBACK_FAILURE_THRESHOLD, replicas: scaling.fallbackReplicas, behavior: FALLBACK_BEHAVIOR },
            advanced: {
                horizontalPodAutoscalerConfig: {
                    name: `keda-hpa-${names.server}`,
                    behavior: {
                        // Up fast (GPU nodes take minutes to join anyway), down one replica at a time.
                        scaleUp: {
                            stabilizationWindowSeconds: scaling.scaleUpStabilizationSeconds,
                            selectPolicy: "Max",
                            policies: [{ type: "Pods", value: 2, periodSeconds: 60 }],
                        },
                        scaleDown: {
                            stabilizationWindowSeconds: scaling.scaleDownStabilizationSeconds,
                            selectPolicy: "Min",
                            policies: [{ type: "Pods", value: 1, periodSeconds: 120 }],
                        },
                    },
                },
            },
            triggers: [
                ...loadTriggers(model, profile, names, httpAddOn).map((trigger) => ({
                    type: "prometheus",
                    name: trigger.name,
                    metricType: "AverageValue",
                    metadata: {
                        serverAddress: prometheusAddress,
                        query: trigger.query,
                        threshold: String(trigger.threshold),
                        activationThreshold: String(trigger.activationThreshold),
                        ignoreNullValues: "false",
                    },
                })),
                ...(httpAddOn && scalesFromZero(model) ? [requestTrigger(names, httpAddOn)] : []),
            ],
        },
    };
}

