/**
 * What KEDA adds between Prometheus and the HPA, for a ScaledObject of Prometheus triggers
 * (kedacore/keda v2.20.2):
 * - Every read of a trigger, by the HPA through KEDA's metrics server
 *   (pkg/scaling/scale_handler.go GetScaledObjectMetrics; a fresh query unless
 *   useCachedMetrics, which the platform does not set) or by KEDA's own loop every
 *   pollingInterval (getScalerState), goes through pkg/fallback/fallback.go
 *   GetMetricsWithFallback: a success resets the trigger's failure count, a failure increments
 *   it, and once the count is *greater than* fallback.failureThreshold the read returns
 *   doFallback's value instead of an error: replicas x the AverageValue target, with replicas
 *   fallback.replicas (`static`, the default), the current count (`currentReplicas`), or the
 *   larger/smaller of the two (`currentReplicasIfHigher` / `currentReplicasIfLower`).
 * - A trigger is active when its value is strictly above activationThreshold
 *   (pkg/scalers/prometheus_scaler.go GetMetricsAndActivity: `val > ActivationThreshold`), or
 *   while its fallback is in use (pkg/scaling/scale_handler.go getScalerState:
 *   `isActiveOrFallback := fallbackActive || isMetricActive`).
 * - pkg/scaling/executor/scale_scaledobjects.go RequestScale, each pollingInterval: active at 0
 *   replicas scales to max(minReplicaCount, 1) (scaleFromZeroOrIdle); inactive, with
 *   minReplicaCount 0 and replicas above 0, scales to 0 once lastActiveTime + cooldownPeriod has
 *   passed (scaleToZeroOrIdle); inactive below minReplicaCount restores the minimum. Between 1 and
 *   max, the HPA decides: its minReplicas is max(minReplicaCount, 1)
 *   (apis/keda/v1alpha1/scaledobject_types.go GetHPAMinReplicas).
 */

export type FallbackBehavior = "static" | "currentReplicas" | "currentReplicasIfHigher" | "currentReplicasIfLower";

export interface FallbackSpec {
    readonly failureThreshold: number;
    readonly replicas: number;
    readonly behavior: FallbackBehavior;
}

/** One trigger's read after KEDA: the value the HPA gets, or undefined for an error it passes on. */
export interface TriggerRead {
    readonly value: number | undefined;
    readonly fallback: boolean;
    readonly active: boolean;
}

export class KedaTriggers {
    private readonly failures: number[];

    constructor(
        private readonly triggers: readonly { readonly threshold: number; readonly activationThreshold: number }[],
        private readonly fallback: FallbackSpec | undefined,
    ) {
        this.failures = triggers.map(() => 0);
    }

    /** GetMetricsWithFallback for every trigger, given what Prometheus answered (undefined: an error). */
    read(values: readonly (number | undefined)[], currentReplicas: number): TriggerRead[] {
        return values.map((value, index) => {
            const trigger = this.triggers[index];
            if (value !== undefined) {
                this.failures[index] = 0;
                return { value, fallback: false, active: value > trigger.activationThreshold };
            }
            if (!this.fallback) {
                return { value: undefined, fallback: false, active: false };
            }
            this.failures[index] += 1;
            if (this.failures[index] <= this.fallback.failureThreshold) {
                return { value: undefined, fallback: false, active: false };
            }
            return { value: fallbackReplicas(this.fallback, currentReplicas) * trigger.threshold, fallback: true, active: true };
        });
    }
}

/** doFallback's replica count. */
export function fallbackReplicas(fallback: FallbackSpec, currentReplicas: number): number {
    switch (fallback.behavior) {
        case "currentReplicas":
            return currentReplicas;
        case "currentReplicasIfHigher":
            return Math.max(currentReplicas, fallback.replicas);
        case "currentReplicasIfLower":
            return Math.min(currentReplicas, fallback.replicas);
        default:
            return fallback.replicas;
    }
}

export interface ActivationSpec {
    readonly minReplicaCount: number;
    readonly cooldownPeriod: number;
}

/**
 * RequestScale's decision at a polling instant: the new replica count, or undefined to leave it.
 * `error`: a trigger failed (and is not yet on its fallback). An inactive ScaledObject in error is
 * left as it is: KEDA does so when `fallback.replicas` is not 0 (pkg/scaling/executor/
 * scale_scaledobjects.go), which the platform's config guarantees (autoscaling.fallbackReplicas >= 1).
 */
export function requestScale(
    spec: ActivationSpec, currentReplicas: number, state: { active: boolean; error: boolean },
    lastActiveAt: number | undefined, now: number,
): number | undefined {
    if (state.active) {
        return currentReplicas === 0 ? Math.max(spec.minReplicaCount, 1) : undefined;
    }
    if (state.error) {
        return undefined;
    }
    if (currentReplicas > 0 && spec.minReplicaCount === 0) {
        // lastActiveTime nil: scaled outside KEDA; the replay starts with KEDA's own history, so it is set.
        return lastActiveAt !== undefined && lastActiveAt + spec.cooldownPeriod < now ? 0 : undefined;
    }
    return currentReplicas < spec.minReplicaCount ? spec.minReplicaCount : undefined;
}
