import type { ModelConfig } from "../../config";
import { parseQuantity } from "../../lib/quantity";
import type { EngineProfile } from "../engines";
import type { HttpAddOnEndpoints } from "../keda-http-add-on";
import { PROMETHEUS_URL } from "../observability/names";
import type { ModelServerNames } from "./names";
import { requestTrigger } from "./request-routing";
import { promqlString } from "../../lib/promql";

/**
 * The KEDA ScaledObject of a model server, scaling on the engine's own load signal through
 * KEDA's Prometheus scaler. Every query is a sum(...) so Prometheus returns exactly one series;
 * `ignoreNullValues: "false"` makes an empty result an error, so a lost metric triggers the
 * fallback instead of reading as zero load.
 *
 * One empty result is legitimate: a model scaled to zero has no pods, hence no series. Each
 * query therefore ends with `or sum(kube_deployment_status_replicas{...} == 0)` (kube-state-
 * metrics, part of kube-prometheus-stack): exactly 0 when the Deployment has no replicas, and
 * still empty (an error) when replicas exist but their metric is missing.
 *
 * What wakes a model at zero is not these metrics (no pods, no requests to count) but, for
 * models that scale to zero, an `external-push` trigger on the KEDA HTTP add-on's interceptor
 * (./request-routing.ts), in this same ScaledObject: one autoscaler per Deployment.
 */

/** Consecutive failed metric reads before the fallback replica count applies. */
export const FALLBACK_FAILURE_THRESHOLD = 3;

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
    /**
     * The series the query reads, apart from the `or` guard (noReplicasClause, kube-state-metrics'
     * kube_deployment_status_replicas, which only matters at zero replicas: see noReplicasSeries).
     */
    readonly series: TriggerSeries;
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

/** The triggers for a model: queue and running requests (or request rate) per replica; CPU for engines without metrics. */
export function loadTriggers(model: ModelConfig, profile: EngineProfile, names: Pick<ModelServerNames, "namespace" | "server">): LoadTrigger[] {
    const scaling = model.autoscaling;
    const guard = ` or ${noReplicasClause(names)}`;
    const activationThreshold = scaling.activationThreshold;
    if (!profile.load) {
        // No load metrics (ollama): CPU seconds per second of the serving containers, from cAdvisor.
        // A Prometheus query rather than KEDA's cpu trigger, which supports neither fallback nor scale to zero.
        const cores = (parseQuantity(model.resources.cpu) ?? 1) * scaling.cpuUtilization;
        const series: TriggerSeries = {
            metric: "container_cpu_usage_seconds_total",
            labels: { namespace: names.namespace, container: "server" },
            kind: "counter",
            podPattern: `${names.server}-[a-z0-9]+-[a-z0-9]+`,
        };
        return [{ name: "cpu", query: `sum(rate(${series.metric}${seriesSelector(series)}[2m]))${guard}`, series, threshold: round(cores), activationThreshold }];
    }
    const labels = profile.modelLabel
        ? { namespace: names.namespace, [profile.modelLabel]: model.servedModelName }
        : { namespace: names.namespace, service: names.server };
    const gaugeSeries = (metric: string): TriggerSeries => ({ metric, labels, kind: "gauge" });
    const gauge = (series: TriggerSeries) => `sum(${series.metric}${seriesSelector(series)})${guard}`;
    const waiting = gaugeSeries(profile.load.waiting.name);
    const queue: LoadTrigger = { name: "queue", query: gauge(waiting), series: waiting, threshold: scaling.queuePerReplica, activationThreshold };
    if (scaling.signal === "requestRate") {
        const finished: TriggerSeries = { metric: profile.load.finished.name, labels, kind: "counter" };
        const rate = `sum(rate(${finished.metric}${seriesSelector(finished)}[1m]))${guard}`;
        return [queue, { name: "requestRate", query: rate, series: finished, threshold: scaling.requestsPerSecondPerReplica, activationThreshold }];
    }
    const running = gaugeSeries(profile.load.running.name);
    return [queue, { name: "running", query: gauge(running), series: running, threshold: scaling.runningPerReplica, activationThreshold }];
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
     * The KEDA HTTP add-on whose interceptor holds this model's requests (scale to zero): adds the
     * `external-push` trigger that wakes it. Defaults to none: engine-metric triggers only.
     */
    readonly httpAddOn?: Pick<HttpAddOnEndpoints, "scalerAddress">;
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
            fallback: { failureThreshold: FALLBACK_FAILURE_THRESHOLD, replicas: scaling.fallbackReplicas },
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
                ...loadTriggers(model, profile, names).map((trigger) => ({
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
                ...(httpAddOn ? [requestTrigger(names, httpAddOn)] : []),
            ],
        },
    };
}

