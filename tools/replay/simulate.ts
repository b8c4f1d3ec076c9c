/**
 * The replay: a load profile drives the series a ScaledObject's Prometheus triggers read, the
 * series are backfilled into a real Prometheus (./prometheus.ts), and the exact trigger queries
 * are evaluated at each instant KEDA or the HPA would read them; KEDA (./keda.ts) and the HPA
 * (./hpa.ts) turn the values into the Deployment's replicas, and pods become Ready a start
 * delay after they are created.
 *
 * Series the replay can drive from the load alone are counters of requests (the KEDA HTTP
 * add-on interceptor's interceptor_request_count_total, an engine's finished-requests counter):
 * their rate depends on the load, not on the replicas, so one backfill of the whole profile
 * serves every instant. Samples are taken as Prometheus scrapes: every scrape interval, at a
 * fixed offset; a counter exists from the first scrape after its first request (an OpenTelemetry
 * or Prometheus client counter with labels is exported once it has been incremented).
 * Gauges whose value depends on the replicas (a queue) would need the replicas before the
 * samples: they are refused here (one line naming the series).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { TriggerSeries } from "../../components/model-server/scaled-object";
import { HorizontalPodAutoscaler, HpaBehavior } from "./hpa";
import { FallbackSpec, KedaTriggers, requestScale } from "./keda";
import { LoadProfile, loadAt, profileSeconds, requestsBy } from "./profile";
import { BackfillSeries, PrometheusServer, Sample, backfill } from "./prometheus";

export interface ReplayTrigger {
    readonly name: string;
    readonly query: string;
    readonly threshold: number;
    readonly activationThreshold: number;
    readonly series: TriggerSeries;
    /** The series the query's `or` guard reads, if the trigger names one. */
    readonly guard?: TriggerSeries;
}

/** What the replay needs of a ScaledObject. */
export interface ReplayTarget {
    readonly model: string;
    readonly triggers: readonly ReplayTrigger[];
    readonly minReplicaCount: number;
    readonly maxReplicaCount: number;
    readonly pollingInterval: number;
    readonly cooldownPeriod: number;
    readonly fallback?: FallbackSpec;
    readonly behavior: HpaBehavior;
}

export interface ReplayTiming {
    /** Prometheus' scrape interval of the series (seconds). */
    readonly scrapeIntervalSeconds: number;
    /** kube-controller-manager --horizontal-pod-autoscaler-sync-period. Defaults to 15. */
    readonly hpaSyncSeconds?: number;
    /** From a pod's creation to Ready (image present, model loaded). */
    readonly podStartSeconds: number;
    /** Offsets of the first scrape, HPA sync and KEDA poll after the profile starts. Default 0. */
    readonly scrapeOffsetSeconds?: number;
    readonly hpaOffsetSeconds?: number;
    readonly pollOffsetSeconds?: number;
    /** Where the profile starts, seconds since the epoch. Defaults to 2025-01-01T00:10:00Z. */
    readonly epochSeconds?: number;
}

export interface ReplayPoint {
    /** Seconds since the profile started. */
    readonly at: number;
    readonly load: number;
    /** The replicas the Deployment asks for (spec.replicas) after this instant's decisions. */
    readonly desired: number;
    readonly ready: number;
    /** What each trigger read at this instant (undefined: an error), when the HPA or KEDA read it. */
    readonly values?: readonly (number | undefined)[];
}

export interface ScaleDecision {
    readonly at: number;
    readonly from: number;
    readonly to: number;
    readonly by: "hpa" | "keda";
    /** When the Ready count first reached `to` (scale-up), or `at` (scale-down, pods leave Ready at once). */
    readonly readyAt?: number;
}

export interface ReplayResult {
    readonly model: string;
    readonly profile: LoadProfile;
    readonly seconds: number;
    readonly timing: Required<ReplayTiming>;
    readonly points: readonly ReplayPoint[];
    readonly decisions: readonly ScaleDecision[];
    /** Each HPA read: the largest metric proposal, before stabilisation and policies. */
    readonly proposals: readonly { readonly at: number; readonly proposal: number | undefined }[];
    /** The Ready replicas at any instant. */
    readonly readyReplicas: (at: number) => number;
}

const DEFAULT_EPOCH = Date.UTC(2025, 0, 1, 0, 10) / 1000;

/** The labels of a backfilled series: the trigger's equality labels, and a pod name its pattern matches. */
export function seriesLabels(series: TriggerSeries): Record<string, string> {
    if (series.podPattern === undefined) {
        return { ...series.labels };
    }
    // An example of the pattern: each `[class]+` becomes five of the class's first character.
    const pod = series.podPattern.replace(/\[([^\]]+)\]\+/g, (_, cls: string) => cls[0].repeat(5));
    if (!new RegExp(`^(?:${series.podPattern})$`).test(pod)) {
        throw new Error(`series ${series.metric}: cannot make a pod name that matches ${series.podPattern}`);
    }
    return { ...series.labels, pod };
}

/** Whether the replay can drive the series from the load alone: a counter of requests. */
export function drivenByLoad(series: TriggerSeries): boolean {
    return series.kind === "counter" && /request/.test(series.metric);
}

/** The samples Prometheus would have scraped of a request counter under the profile. */
export function requestCounterSamples(profile: LoadProfile, timing: Required<ReplayTiming>, seconds: number): Sample[] {
    const samples: Sample[] = [];
    for (let at = timing.scrapeOffsetSeconds; at <= seconds; at += timing.scrapeIntervalSeconds) {
        const count = Math.floor(requestsBy(profile, at));
        if (count > 0) {
            samples.push({ at: timing.epochSeconds + at, value: count });
        }
    }
    return samples;
}

/**
 * A guard series, scraped with the load's: the interceptors' `up` (1 while scraped), or
 * kube-state-metrics' replicas of the Deployment, which only the `== 0` of the guard reads: with
 * a minimum of 1 or more it is never 0, so the minimum stands for it. At a minimum of 0 its value
 * would follow the replicas, which one backfill cannot know in advance: refused.
 */
function guardSeries(series: TriggerSeries, target: ReplayTarget, timing: Required<ReplayTiming>, seconds: number): BackfillSeries {
    let value: number;
    if (series.metric === "up") {
        value = 1;
    } else if (series.metric === "kube_deployment_status_replicas" && target.minReplicaCount >= 1) {
        value = target.minReplicaCount;
    } else {
        throw new Error(`the guard series ${series.metric} of ${target.model} would follow the replicas; the replay backfills once, so it needs a minimum of 1 or more`);
    }
    const samples = instants(timing.scrapeOffsetSeconds, timing.scrapeIntervalSeconds, seconds).map((at) => ({ at: timing.epochSeconds + at, value }));
    return { metric: series.metric, labels: seriesLabels(series), kind: series.kind, samples };
}

function withDefaults(timing: ReplayTiming): Required<ReplayTiming> {
    return {
        hpaSyncSeconds: 15, scrapeOffsetSeconds: 0, hpaOffsetSeconds: 0, pollOffsetSeconds: 0, epochSeconds: DEFAULT_EPOCH, ...timing,
    };
}

function instants(offset: number, interval: number, seconds: number): number[] {
    const result: number[] = [];
    for (let at = offset; at <= seconds; at += interval) {
        result.push(at);
    }
    return result;
}

/** Pods of the Deployment: when each was created, is (or becomes) Ready, and was deleted. */
class Pods {
    private readonly history: { readyAt: number; deletedAt?: number }[];

    constructor(replicas: number, readyAt: number) {
        this.history = Array.from({ length: replicas }, () => ({ readyAt }));
    }

    private live(): { readyAt: number; deletedAt?: number }[] {
        return this.history.filter((pod) => pod.deletedAt === undefined);
    }

    /** Non-terminated pods: the Deployment's status.replicas. */
    get count(): number {
        return this.live().length;
    }

    ready(now: number): number {
        return this.history.filter((pod) => pod.readyAt <= now && (pod.deletedAt === undefined || pod.deletedAt > now)).length;
    }

    /**
     * Scale to `replicas`: new pods are Ready after the start delay; on a scale-down the
     * ReplicaSet deletes not-ready pods first, then the newest (kubernetes/kubernetes
     * pkg/controller/replicaset/replica_set.go getPodsToDelete, ranked by controller.ActivePodsWithRanks):
     * here, the latest readyAt first. A deleted pod leaves Ready at once (its endpoint is removed
     * when it starts terminating).
     */
    scale(replicas: number, now: number, startSeconds: number): void {
        const live = this.live();
        for (let i = live.length; i < replicas; i += 1) {
            this.history.push({ readyAt: now + startSeconds });
        }
        live.sort((a, b) => b.readyAt - a.readyAt).slice(0, Math.max(0, live.length - replicas)).forEach((pod) => { pod.deletedAt = now; });
    }
}

/** Replays the profile against the ScaledObject with a real Prometheus; `workDir` is removed afterwards. */
export async function replay(target: ReplayTarget, profile: LoadProfile, timingInput: ReplayTiming, tailSeconds = 0): Promise<ReplayResult> {
    const timing = withDefaults(timingInput);
    const seconds = profileSeconds(profile) + tailSeconds;
    for (const trigger of target.triggers) {
        if (!drivenByLoad(trigger.series)) {
            throw new Error(`trigger ${trigger.name} of ${target.model} reads ${trigger.series.metric} (${trigger.series.kind}), which the replay cannot derive from the load alone: it drives counters of requests only`);
        }
    }
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "scaling-replay-"));
    let server: PrometheusServer | undefined;
    try {
        const series = [
            ...uniqueSeries(target.triggers.map((trigger) => trigger.series)).map((one): BackfillSeries => ({
                metric: one.metric, labels: seriesLabels(one), kind: one.kind, samples: requestCounterSamples(profile, timing, seconds),
            })),
            ...uniqueSeries(target.triggers.flatMap((trigger) => (trigger.guard ? [trigger.guard] : []))).map((one) => guardSeries(one, target, timing, seconds)),
        ];
        const dataDir = path.join(workDir, "data");
        backfill(series, dataDir);
        server = await PrometheusServer.start(dataDir);
        return await simulate(target, profile, timing, seconds, server);
    } finally {
        await server?.stop();
        fs.rmSync(workDir, { recursive: true, force: true });
    }
}

function uniqueSeries(all: readonly TriggerSeries[]): TriggerSeries[] {
    const seen = new Map<string, TriggerSeries>();
    for (const series of all) {
        seen.set(JSON.stringify([series.metric, series.labels, series.podPattern]), series);
    }
    return [...seen.values()];
}

async function simulate(
    target: ReplayTarget, profile: LoadProfile, timing: Required<ReplayTiming>, seconds: number, server: PrometheusServer,
): Promise<ReplayResult> {
    const hpa = new HorizontalPodAutoscaler({
        minReplicas: Math.max(target.minReplicaCount, 1), maxReplicas: target.maxReplicaCount, behavior: target.behavior,
    });
    const keda = new KedaTriggers(target.triggers, target.fallback);
    const pods = new Pods(target.minReplicaCount, 0);
    let replicas = target.minReplicaCount;
    let lastActiveAt: number | undefined;
    const points: ReplayPoint[] = [];
    const decisions: ScaleDecision[] = [];
    const proposals: { at: number; proposal: number | undefined }[] = [];
    const cache = new Map<string, number | undefined>();
    const read = async (at: number): Promise<(number | undefined)[]> => Promise.all(target.triggers.map(async (trigger) => {
        const key = `${at}\u0000${trigger.query}`;
        if (!cache.has(key)) {
            const result = await server.query(trigger.query, timing.epochSeconds + at);
            cache.set(key, "value" in result ? result.value : undefined);
        }
        return cache.get(key);
    }));
    const setReplicas = (at: number, to: number, by: "hpa" | "keda") => {
        decisions.push({ at, from: replicas, to, by });
        replicas = to;
        pods.scale(to, at, timing.podStartSeconds);
    };

    const polls = new Set(instants(timing.pollOffsetSeconds, target.pollingInterval, seconds));
    const syncs = new Set(instants(timing.hpaOffsetSeconds, timing.hpaSyncSeconds, seconds));
    const times = [...new Set([...polls, ...syncs])].sort((a, b) => a - b);
    for (const at of times) {
        let values: (number | undefined)[] | undefined;
        if (polls.has(at)) {
            // KEDA's loop: activity and the 0 <-> 1 moves.
            values = await read(at);
            const reads = keda.read(values, replicas);
            const active = reads.some((one) => one.active);
            const error = reads.some((one) => one.value === undefined);
            if (active) {
                lastActiveAt = at;
            }
            const to = requestScale({ ...target, fallback: target.fallback !== undefined }, replicas, { active, error }, lastActiveAt, at);
            if (to !== undefined && to !== replicas) {
                setReplicas(at, to, "keda");
            }
        }
        if (syncs.has(at)) {
            values = await read(at);
            const reads = keda.read(values, replicas);
            const decision = hpa.reconcile(at, replicas, pods.count, reads.map((one, index) => ({ value: one.value, target: target.triggers[index].threshold })));
            proposals.push({ at, proposal: decision.proposal });
            if (decision.rescale) {
                setReplicas(at, decision.desiredReplicas, "hpa");
            }
        }
        points.push({ at, load: loadAt(profile, at), desired: replicas, ready: pods.ready(at), values });
    }
    return {
        model: target.model, profile, seconds, timing, points, proposals, readyReplicas: (at: number) => pods.ready(at),
        decisions: decisions.map((decision) => ({ ...decision, readyAt: readyTime(decision, pods, timing.podStartSeconds) })),
    };
}

/** When the Ready count first reached a decision's count: at + start delay for a scale-up (if still wanted), `at` for a scale-down. */
function readyTime(decision: ScaleDecision, pods: Pods, startSeconds: number): number | undefined {
    if (decision.to <= decision.from) {
        return decision.at;
    }
    return pods.ready(decision.at + startSeconds) >= decision.to ? decision.at + startSeconds : undefined;
}
