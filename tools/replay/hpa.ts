/**
 * The Horizontal Pod Autoscaler's controller loop for one HPA whose metrics are all External
 * with an AverageValue target, as KEDA configures them: a model of kube-controller-manager,
 * function by function, so the replay turns metric values into replica counts as a cluster would.
 *
 * Sources (kubernetes/kubernetes, pkg/controller/podautoscaler/):
 * - horizontal.go: reconcileAutoscaler (the min/max/zero guards, then the metrics),
 *   computeReplicasForMetrics (the largest proposal; all metrics invalid, or some invalid on a
 *   scale-down, is an error and nothing is scaled), normalizeDesiredReplicasWithBehaviors,
 *   stabilizeRecommendationWithBehaviors, convertDesiredReplicasWithBehaviorRate,
 *   calculateScaleUpLimitWithScalingRules, calculateScaleDownLimitWithBehaviors,
 *   getReplicasChangePerPeriod, storeScaleEvent / markScaleEventsOutdated, recordInitialRecommendation.
 * - replica_calculator.go: GetExternalPerPodMetricReplicas (usage and target as milli-values;
 *   ratio = usage / (target x statusReplicas); outside the tolerance, ceil(usage / target)) and
 *   Tolerances.isWithin (1 - down <= ratio <= 1 + up).
 * - The tolerance is kube-controller-manager's --horizontal-pod-autoscaler-tolerance, 0.1 by
 *   default (pkg/controller/podautoscaler/config/v1alpha1/defaults.go), both ways; the HPA is
 *   reconciled every --horizontal-pod-autoscaler-sync-period, 15 s by default (same file).
 * Times are seconds (numbers), not wall-clock: `now` is the replay's clock.
 */

export interface ScalingPolicy {
    readonly type: "Pods" | "Percent";
    readonly value: number;
    readonly periodSeconds: number;
}

export interface ScalingRules {
    readonly stabilizationWindowSeconds: number;
    readonly selectPolicy: "Max" | "Min" | "Disabled";
    readonly policies: readonly ScalingPolicy[];
}

export interface HpaBehavior {
    readonly scaleUp: ScalingRules;
    readonly scaleDown: ScalingRules;
}

export interface HpaSpec {
    readonly minReplicas: number;
    readonly maxReplicas: number;
    readonly behavior: HpaBehavior;
    /** Scale-down and scale-up tolerance of the usage ratio. Defaults to 0.1. */
    readonly tolerance?: number;
}

/** One External AverageValue metric as the HPA reads it: the value, or undefined for a failed read. */
export interface ExternalMetricRead {
    readonly value: number | undefined;
    /** The AverageValue target (KEDA's trigger threshold). */
    readonly target: number;
}

export interface HpaDecision {
    /** The replica count the controller sets (equal to currentReplicas when it does not rescale). */
    readonly desiredReplicas: number;
    readonly rescale: boolean;
    /** The largest metric proposal before stabilisation and policies; undefined when no metric was usable. */
    readonly proposal?: number;
    readonly reason: string;
}

interface Timestamped { readonly value: number; readonly at: number }

/**
 * A value in thousandths, as the HPA sees it: KEDA sends a metric as the quantity
 * fmt.Sprintf("%.3f", value) (kedacore/keda v2.20.2 pkg/scalers/scaler.go, quantityFromFloat64),
 * whose MilliValue() the replica calculator reads; a threshold like "10" is 10000 milli.
 */
function milli(value: number): number {
    return Math.round(value * 1000);
}

/** GetExternalPerPodMetricReplicas: the proposal for one metric. */
export function externalPerPodReplicas(usage: number, target: number, statusReplicas: number, tolerance: number): number {
    const usageMilli = milli(usage);
    const targetMilli = milli(target);
    const ratio = usageMilli / (targetMilli * statusReplicas);
    if (1 - tolerance <= ratio && ratio <= 1 + tolerance) {
        return statusReplicas;
    }
    return Math.ceil(usageMilli / targetMilli);
}

export class HorizontalPodAutoscaler {
    private recommendations: Timestamped[] | undefined;
    private readonly scaleUpEvents: { change: number; at: number; outdated: boolean }[] = [];
    private readonly scaleDownEvents: { change: number; at: number; outdated: boolean }[] = [];

    constructor(private readonly spec: HpaSpec) {}

    /**
     * One reconcileAutoscaler pass at `now`: `currentReplicas` is the scale's spec.replicas,
     * `statusReplicas` its status.replicas (the Deployment's non-terminated pods).
     */
    reconcile(now: number, currentReplicas: number, statusReplicas: number, metrics: readonly ExternalMetricRead[]): HpaDecision {
        const { minReplicas, maxReplicas } = this.spec;
        this.recommendations ??= [{ value: currentReplicas, at: now }]; // recordInitialRecommendation
        if (currentReplicas === 0 && minReplicas !== 0) {
            return { desiredReplicas: 0, rescale: false, reason: "ScalingDisabled: the target has zero replicas (KEDA owns 0 <-> 1)" };
        }
        let desired: number;
        let proposal: number | undefined;
        let reason: string;
        if (currentReplicas > maxReplicas) {
            desired = maxReplicas;
            reason = "current replicas above max";
        } else if (currentReplicas < minReplicas) {
            desired = minReplicas;
            reason = "current replicas below min";
        } else {
            proposal = this.computeReplicasForMetrics(currentReplicas, statusReplicas, metrics);
            if (proposal === undefined) {
                return { desiredReplicas: currentReplicas, rescale: false, reason: "FailedGetExternalMetric: no usable metric, nothing scaled" };
            }
            desired = this.normalizeWithBehaviors(now, currentReplicas, proposal);
            reason = desired > currentReplicas ? "above target" : desired < currentReplicas ? "all metrics below target" : "within range";
        }
        const rescale = desired !== currentReplicas;
        if (rescale) {
            this.storeScaleEvent(now, currentReplicas, desired);
        }
        return { desiredReplicas: desired, rescale, proposal, reason };
    }

    /** computeReplicasForMetrics: the largest proposal; undefined (an error, no scaling) as upstream. */
    private computeReplicasForMetrics(specReplicas: number, statusReplicas: number, metrics: readonly ExternalMetricRead[]): number | undefined {
        const tolerance = this.spec.tolerance ?? 0.1;
        let replicas = 0;
        let invalid = 0;
        for (const metric of metrics) {
            if (metric.value === undefined) {
                invalid += 1;
                continue;
            }
            const proposal = externalPerPodReplicas(metric.value, metric.target, statusReplicas, tolerance);
            if (replicas === 0 || proposal > replicas) {
                replicas = proposal;
            }
        }
        if (invalid >= metrics.length || (invalid > 0 && replicas < specReplicas)) {
            return undefined;
        }
        return replicas;
    }

    /** normalizeDesiredReplicasWithBehaviors: stabilise, then apply the rate policies and the bounds. */
    private normalizeWithBehaviors(now: number, currentReplicas: number, proposal: number): number {
        const stabilized = this.stabilize(now, currentReplicas, proposal);
        return this.limitRate(now, currentReplicas, stabilized);
    }

    /** stabilizeRecommendationWithBehaviors. */
    private stabilize(now: number, currentReplicas: number, desired: number): number {
        const { scaleUp, scaleDown } = this.spec.behavior;
        const upCutoff = now - scaleUp.stabilizationWindowSeconds;
        const downCutoff = now - scaleDown.stabilizationWindowSeconds;
        let up = desired;
        let down = desired;
        let oldIndex = -1;
        const recommendations = this.recommendations!;
        recommendations.forEach((recommendation, index) => {
            if (recommendation.at > upCutoff) {
                up = Math.min(recommendation.value, up);
            }
            if (recommendation.at > downCutoff) {
                down = Math.max(recommendation.value, down);
            }
            if (recommendation.at < upCutoff && recommendation.at < downCutoff) {
                oldIndex = index;
            }
        });
        let recommendation = currentReplicas;
        if (recommendation < up) {
            recommendation = up;
        }
        if (recommendation > down) {
            recommendation = down;
        }
        const record = { value: desired, at: now };
        if (oldIndex >= 0) {
            recommendations[oldIndex] = record;
        } else {
            recommendations.push(record);
        }
        return recommendation;
    }

    /** convertDesiredReplicasWithBehaviorRate. */
    private limitRate(now: number, currentReplicas: number, desired: number): number {
        const { minReplicas, maxReplicas, behavior } = this.spec;
        if (desired > currentReplicas) {
            const limit = Math.max(currentReplicas, this.scaleUpLimit(now, currentReplicas, behavior.scaleUp));
            return Math.min(desired, Math.min(maxReplicas, limit));
        }
        if (desired < currentReplicas) {
            const limit = Math.min(currentReplicas, this.scaleDownLimit(now, currentReplicas, behavior.scaleDown));
            return Math.max(desired, Math.max(minReplicas, limit));
        }
        return desired;
    }

    /** getReplicasChangePerPeriod: events strictly after now - period. */
    private static changeInPeriod(now: number, periodSeconds: number, events: readonly { change: number; at: number }[]): number {
        return events.filter((event) => event.at > now - periodSeconds).reduce((sum, event) => sum + event.change, 0);
    }

    /** The replicas at the start of a policy's period: the changes made since undone (both calculate*Limit functions). */
    private replicasAtPeriodStart(now: number, currentReplicas: number, periodSeconds: number): number {
        return currentReplicas - HorizontalPodAutoscaler.changeInPeriod(now, periodSeconds, this.scaleUpEvents)
            + HorizontalPodAutoscaler.changeInPeriod(now, periodSeconds, this.scaleDownEvents);
    }

    /** calculateScaleUpLimitWithScalingRules. */
    private scaleUpLimit(now: number, currentReplicas: number, rules: ScalingRules): number {
        if (rules.selectPolicy === "Disabled") {
            return currentReplicas;
        }
        const select = rules.selectPolicy === "Min" ? Math.min : Math.max;
        let result = rules.selectPolicy === "Min" ? Number.MAX_SAFE_INTEGER : Number.MIN_SAFE_INTEGER;
        for (const policy of rules.policies) {
            const periodStart = this.replicasAtPeriodStart(now, currentReplicas, policy.periodSeconds);
            const proposed = policy.type === "Pods" ? periodStart + policy.value : Math.ceil(periodStart * (1 + policy.value / 100));
            result = select(result, proposed);
        }
        return result;
    }

    /** calculateScaleDownLimitWithBehaviors. */
    private scaleDownLimit(now: number, currentReplicas: number, rules: ScalingRules): number {
        if (rules.selectPolicy === "Disabled") {
            return currentReplicas;
        }
        const select = rules.selectPolicy === "Min" ? Math.max : Math.min;
        let result = rules.selectPolicy === "Min" ? Number.MIN_SAFE_INTEGER : Number.MAX_SAFE_INTEGER;
        for (const policy of rules.policies) {
            const periodStart = this.replicasAtPeriodStart(now, currentReplicas, policy.periodSeconds);
            // int32(float64(...)) truncates toward zero, as Math.trunc.
            const proposed = policy.type === "Pods" ? periodStart - policy.value : Math.trunc(periodStart * (1 - policy.value / 100));
            result = select(result, proposed);
        }
        return result;
    }

    /** storeScaleEvent: reuses an event older than the longest policy period (markScaleEventsOutdated). */
    private storeScaleEvent(now: number, previous: number, next: number): void {
        const [events, rules, change] = next > previous
            ? [this.scaleUpEvents, this.spec.behavior.scaleUp, next - previous]
            : [this.scaleDownEvents, this.spec.behavior.scaleDown, previous - next];
        const longest = Math.max(0, ...rules.policies.map((policy) => policy.periodSeconds));
        let oldIndex = -1;
        events.forEach((event, index) => {
            if (event.at < now - longest) {
                event.outdated = true;
            }
            if (event.outdated) {
                oldIndex = index;
            }
        });
        const event = { change, at: now, outdated: false };
        if (oldIndex >= 0) {
            events[oldIndex] = event;
        } else {
            events.push(event);
        }
    }
}
