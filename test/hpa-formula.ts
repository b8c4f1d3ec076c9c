import type { LoadTrigger } from "../components/model-server/scaled-object";

/*
 * The documented scaling arithmetic of KEDA and the HPA, for the integration test to turn
 * the values a real Prometheus returns into replica counts. Test-only: it models KEDA, it is
 * not KEDA, so it is checked against the documentation's formula, not against a cluster.
 */

/**
 * The replica count the HPA asks for, as KEDA configures it: each trigger is an External
 * metric of type AverageValue, so desired = ceil(currentReplicas x (value / currentReplicas) /
 * threshold) = ceil(value / threshold); the largest over the triggers, bounded by min and max.
 * At zero replicas KEDA activates (to 1, then the HPA takes over) when a value exceeds its
 * activation threshold, and returns to zero when none does. A failed read (error or, with ignoreNullValues "false", an empty
 * result) is passed on as an error while at most failureThreshold reads in a row have failed; the fallback applies from
 * the (failureThreshold + 1)th, as KEDA counts: kedacore/keda v2.20.2 pkg/fallback/fallback.go GetMetricsWithFallback,
 * `*healthStatus.NumberOfFailures > scaledObject.Spec.Fallback.FailureThreshold` after IncrementFailure. Its count is
 * doFallback's: fallback.replicas (`static`), or with the platform's `currentReplicasIfHigher` the larger of that and the
 * current replicas. This function models the reads after that point: `bounds.fallback` is that count.
 */
export function desiredReplicas(
    values: readonly (number | undefined)[], triggers: readonly Pick<LoadTrigger, "threshold" | "activationThreshold">[],
    bounds: { min: number; max: number; fallback: number },
): number {
    if (values.some((value) => value === undefined)) {
        return bounds.fallback;
    }
    const present = values as number[];
    const active = present.some((value, i) => value > triggers[i].activationThreshold);
    if (bounds.min === 0 && !active) {
        // Inactive: KEDA holds (or, after the cooldown, returns) the workload at zero.
        return 0;
    }
    // Active, or a warm minimum: the HPA's range starts at 1 (KEDA owns 0 <-> 1).
    const wanted = Math.max(0, ...present.map((value, i) => Math.ceil(value / triggers[i].threshold)));
    return Math.min(bounds.max, Math.max(bounds.min, 1, wanted));
}
