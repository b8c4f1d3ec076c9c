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

export interface LoadTrigger {
    /** The trigger's name (KEDA `triggers[].name`). */
    readonly name: "queue" | "running" | "requestRate" | "cpu";
    readonly query: string;
    /** Target value per replica (AverageValue). */
    readonly threshold: number;
    /** Above this the model wakes from zero. */
    readonly activationThreshold: number;
}

function selector(labels: Record<string, string>): string {
    return `{${Object.entries(labels).map(([key, value]) => `${key}${key === "pod" ? "=~" : "="}${promqlString(value)}`).join(",")}}`;
}

/** `or`-clause: 0 when the Deployment has no replicas, nothing otherwise. */
export function noReplicasClause(names: Pick<ModelServerNames, "namespace" | "server">): string {
    return `sum(kube_deployment_status_replicas${selector({ namespace: names.namespace, deployment: names.server })} == 0)`;
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
        const pods = selector({ namespace: names.namespace, pod: `${names.server}-[a-z0-9]+-[a-z0-9]+`, container: "server" });
        return [{ name: "cpu", query: `sum(rate(container_cpu_usage_seconds_total${pods}[2m]))${guard}`, threshold: round(cores), activationThreshold }];
    }
    const labels = profile.modelLabel
        ? { namespace: names.namespace, [profile.modelLabel]: model.servedModelName }
        : { namespace: names.namespace, service: names.server };
    const gauge = (metric: string) => `sum(${metric}${selector(labels)})${guard}`;
    const queue: LoadTrigger = { name: "queue", query: gauge(profile.load.waiting.name), threshold: scaling.queuePerReplica, activationThreshold };
    if (scaling.signal === "requestRate") {
        const rate = `sum(rate(${profile.load.finished.name}${selector(labels)}[1m]))${guard}`;
        return [queue, { name: "requestRate", query: rate, threshold: scaling.requestsPerSecondPerReplica, activationThreshold }];
    }
    return [queue, { name: "running", query: gauge(profile.load.running.name), threshold: scaling.runningPerReplica, activationThreshold }];
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

