/**
 * The replay: a load profile drives the series a ScaledObject's Prometheus triggers read, the
 * series are backfilled into a real Prometheus step by step (./stepped.ts), and the exact trigger
 * queries are evaluated at each instant KEDA or the HPA would read them; KEDA (./keda.ts) and the
 * HPA (./hpa.ts) turn the values into the Deployment's replicas, and pods become Ready a start
 * delay after they are created.
 *
 * The series, sampled as Prometheus scrapes them (every scrape interval, at a fixed offset):
 * - the KEDA HTTP add-on interceptor's interceptor_request_count_total: requests arrived, from the
 *   load alone; it exists from the first scrape after its first request (a counter with labels is
 *   exported once incremented) whether the model has pods or not;
 * - the engine's queue (waiting), running requests and finished-requests counter: ./engine.ts
 *   models them from the load and the replicas Ready at each instant; they exist while at least
 *   one replica is Ready (a pod that is not Ready has not started its server, so no /metrics);
 * - the guards: the interceptors' `up` (1), and kube-state-metrics' kube_deployment_status_replicas
 *   of the Deployment (its non-terminated pods: status.replicas).
 * Series of other kinds (CPU seconds, GPU utilisation) are refused with one line naming them.
 *
 * The KEDA HTTP add-on's external-push trigger (a model that scales to zero) is modelled from
 * kedacore/http-add-on v0.15.0: the scaler asks the interceptors for their in-flight counts every
 * KEDA_HTTP_QUEUE_TICK_DURATION (500 ms: scaler/config.go, scaler/queue_pinger.go) and answers
 * StreamIsActive every KEDA_HTTP_SCALER_STREAM_INTERVAL_MS (200 ms: scaler/handlers.go), active
 * when the route's count is above 0 (IsActive). KEDA acts on each active push at once
 * (kedacore/keda v2.20.2 pkg/scaling/scale_handler.go startPushScalers: RequestScale with
 * isActive true; inactive pushes are ignored), and also reads the trigger at each poll and the HPA
 * reads its value (GetMetrics: the count) against the InterceptorRoute's concurrency target.
 * The replay takes the worst case: a push 200 ms after each 500 ms count.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { TriggerSeries } from "../../components/model-server/scaled-object";
import { EngineReading, EngineSpec, EngineState, IDLE_ENGINE, advanceEngine, engineReading } from "./engine";
import { HorizontalPodAutoscaler, HpaBehavior } from "./hpa";
import { FallbackSpec, KedaTriggers, requestScale } from "./keda";
import { LoadProfile, loadAt, profileSeconds, requestsBy } from "./profile";
import { Scrape, SeriesIdentity, SteppedPrometheus, SteppedStats, seriesKey } from "./stepped";

/** A Prometheus trigger of the ScaledObject. */
export interface PrometheusTrigger {
    readonly kind: "prometheus";
    readonly name: string;
    readonly query: string;
    readonly threshold: number;
    readonly activationThreshold: number;
    readonly series: TriggerSeries;
    /** The series the query's `or` guard reads, if the trigger names one. */
    readonly guard?: TriggerSeries;
}

/** The KEDA HTTP add-on's external-push trigger: the interceptors' in-flight count of the route against its concurrency target. */
export interface PushTrigger {
    readonly kind: "push";
    readonly name: string;
    /** The InterceptorRoute's scalingMetric.concurrency.targetValue (the HPA's AverageValue target). */
    readonly threshold: number;
    /** IsActive: any count above 0. */
    readonly activationThreshold: 0;
}

export type ReplayTrigger = PrometheusTrigger | PushTrigger;

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
    /** Requests one replica runs at once (config `vllm.maxNumSeqs`): the engine model's capacity. */
    readonly maxNumSeqs: number;
}

export interface ReplayTiming {
    /** Prometheus' scrape interval of the series (seconds). */
    readonly scrapeIntervalSeconds: number;
    /** kube-controller-manager --horizontal-pod-autoscaler-sync-period. Defaults to 15. */
    readonly hpaSyncSeconds?: number;
    /** From a pod's creation to Ready (node present, image present, model loaded). */
    readonly podStartSeconds: number;
    /** Mean time a running request takes (./engine.ts). Defaults to DEFAULT_REQUEST_SECONDS. */
    readonly requestSeconds?: number;
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
    /** Who decided: the HPA, KEDA's polling loop, or KEDA on the add-on's push. */
    readonly by: "hpa" | "keda" | "push";
    /** When the Ready count first reached `to` (scale-up), or `at` (scale-down, pods leave Ready at once). */
    readonly readyAt?: number;
}

/** The engine model's readings at each scrape (what the gauges reported). */
export interface EnginePoint extends EngineReading {
    readonly at: number;
    readonly ready: number;
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
    /** The engine and interceptor at each scrape. */
    readonly engine: readonly EnginePoint[];
    /** The Ready replicas at any instant. */
    readonly readyReplicas: (at: number) => number;
    /** Prometheus (re)starts and queries. */
    readonly prometheus: SteppedStats;
}

const DEFAULT_EPOCH = Date.UTC(2025, 0, 1, 0, 10) / 1000;

/**
 * Mean request time of the engine model when none is given: a chat completion of a few hundred
 * tokens at tens of tokens per second per sequence. An assumption; --request-seconds changes it.
 */
export const DEFAULT_REQUEST_SECONDS = 5;

/** The add-on's scaler: in-flight counts every 500 ms, a push 200 ms later (see above). */
export const QUEUE_TICK_SECONDS = 0.5;
export const STREAM_INTERVAL_SECONDS = 0.2;

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

/** The world at a scrape, as the series report it. */
interface ScrapeState {
    readonly at: number;
    readonly engine: EngineReading;
    readonly ready: number;
    readonly statusReplicas: number;
}

/** A series the replay writes and how its value follows from the world (undefined: absent). */
interface SeriesSource {
    readonly identity: SeriesIdentity;
    readonly value: (state: ScrapeState) => number | undefined;
}

function identity(series: TriggerSeries): SeriesIdentity {
    return { metric: series.metric, labels: seriesLabels(series), kind: series.kind };
}

/** What drives a trigger's series: see the list above. */
function loadSource(trigger: PrometheusTrigger, model: string, profile: LoadProfile): SeriesSource {
    const { series } = trigger;
    const fromEngine = (read: (engine: EngineReading) => number) => (state: ScrapeState) => (state.ready > 0 ? read(state.engine) : undefined);
    if (series.kind === "counter" && series.metric.startsWith("interceptor_")) {
        return {
            identity: identity(series),
            value: (state) => {
                const count = Math.floor(requestsBy(profile, state.at));
                return count > 0 ? count : undefined;
            },
        };
    }
    if (trigger.name === "queue" && series.kind === "gauge") {
        return { identity: identity(series), value: fromEngine((engine) => engine.waiting) };
    }
    if (trigger.name === "running" && series.kind === "gauge") {
        return { identity: identity(series), value: fromEngine((engine) => engine.running) };
    }
    if (trigger.name === "requestRate" && series.kind === "counter") {
        return { identity: identity(series), value: fromEngine((engine) => engine.finished) };
    }
    throw new Error(`trigger ${trigger.name} of ${model} reads ${series.metric} (${series.kind}), which the replay does not model: it models request counters, the engine's queue and running requests`);
}

function guardSource(series: TriggerSeries, model: string): SeriesSource {
    if (series.metric === "up") {
        return { identity: identity(series), value: () => 1 };
    }
    if (series.metric === "kube_deployment_status_replicas") {
        return { identity: identity(series), value: (state) => state.statusReplicas };
    }
    throw new Error(`the guard series ${series.metric} of ${model} is not modelled (up, kube_deployment_status_replicas)`);
}

function uniqueSources(sources: readonly SeriesSource[]): SeriesSource[] {
    const seen = new Map<string, SeriesSource>();
    sources.forEach((source) => seen.set(seriesKey(source.identity), source));
    return [...seen.values()];
}

function withDefaults(timing: ReplayTiming): Required<ReplayTiming> {
    return {
        hpaSyncSeconds: 15, requestSeconds: DEFAULT_REQUEST_SECONDS, scrapeOffsetSeconds: 0, hpaOffsetSeconds: 0, pollOffsetSeconds: 0,
        epochSeconds: DEFAULT_EPOCH, ...timing,
    };
}

/** Instants offset + k x interval up to `seconds`, in milliseconds (exact keys for fractional instants). */
function instantsMs(offset: number, interval: number, seconds: number): number[] {
    const result: number[] = [];
    const step = Math.round(interval * 1000);
    for (let at = Math.round(offset * 1000); at <= seconds * 1000; at += step) {
        result.push(at);
    }
    return result;
}

interface Pod { readonly readyAt: number; deletedAt?: number }

/** Pods of the Deployment: when each was created, is (or becomes) Ready, and was deleted. */
class Pods {
    constructor(private readonly history: Pod[]) {}

    static initial(replicas: number, readyAt: number): Pods {
        return new Pods(Array.from({ length: replicas }, () => ({ readyAt })));
    }

    clone(): Pods {
        return new Pods(this.history.map((pod) => ({ ...pod })));
    }

    private live(): Pod[] {
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

/** The engine and the pods, advanced together through time. */
class World {
    private state: EngineState = IDLE_ENGINE;
    private now = 0;

    constructor(private readonly profile: LoadProfile, private readonly spec: EngineSpec, readonly pods: Pods) {}

    clone(): World {
        const copy = new World(this.profile, this.spec, this.pods.clone());
        copy.state = this.state;
        copy.now = this.now;
        return copy;
    }

    advance(to: number): void {
        if (to > this.now) {
            this.state = advanceEngine(this.state, this.spec, this.now, to, (at) => loadAt(this.profile, at), (at) => this.pods.ready(at));
            this.now = to;
        }
    }

    scrape(at: number): ScrapeState {
        this.advance(at);
        const ready = this.pods.ready(at);
        return { at, ready, statusReplicas: this.pods.count, engine: engineReading(this.state, this.spec, ready) };
    }
}

/** Replays the profile against the ScaledObject with a real Prometheus; its work directory is removed afterwards. */
export async function replay(target: ReplayTarget, profile: LoadProfile, timingInput: ReplayTiming, tailSeconds = 0): Promise<ReplayResult> {
    const timing = withDefaults(timingInput);
    const seconds = profileSeconds(profile) + tailSeconds;
    const prometheusTriggers = target.triggers.filter((trigger): trigger is PrometheusTrigger => trigger.kind === "prometheus");
    const sources = uniqueSources([
        ...prometheusTriggers.map((trigger) => loadSource(trigger, target.model, profile)),
        ...prometheusTriggers.flatMap((trigger) => (trigger.guard ? [guardSource(trigger.guard, target.model)] : [])),
    ]);
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "scaling-replay-"));
    const world = new World(profile, { maxNumSeqs: target.maxNumSeqs, requestSeconds: timing.requestSeconds }, Pods.initial(target.minReplicaCount, 0));
    const scrapes = instantsMs(timing.scrapeOffsetSeconds, timing.scrapeIntervalSeconds, seconds).map((ms) => ms / 1000);
    const toScrape = (state: ScrapeState): Scrape => ({
        at: timing.epochSeconds + state.at,
        values: new Map(sources.flatMap((source) => {
            const value = source.value(state);
            return value === undefined ? [] : [[seriesKey(source.identity), value] as [string, number]];
        })),
    });
    let recordedUntil = -1;
    // The scrapes after the last recorded one if nothing more were decided: the world as it is, run forward.
    const speculate = (): Scrape[] => {
        const future = world.clone();
        return scrapes.filter((at) => at > recordedUntil).map((at) => toScrape(future.scrape(at)));
    };
    // Prometheus' lookback just under the scrape interval, for a series that stops: see ./prometheus.ts.
    const prometheus = new SteppedPrometheus(workDir, sources.map((source) => source.identity), timing.scrapeIntervalSeconds - 0.001, speculate);
    try {
        return await simulate(target, profile, timing, seconds, { world, prometheus, scrapes, toScrape, recorded: (at) => { recordedUntil = at; } });
    } finally {
        await prometheus.stop();
        fs.rmSync(workDir, { recursive: true, force: true });
    }
}

interface Machinery {
    readonly world: World;
    readonly prometheus: SteppedPrometheus;
    readonly scrapes: readonly number[];
    readonly toScrape: (state: ScrapeState) => Scrape;
    readonly recorded: (at: number) => void;
}

async function simulate(
    target: ReplayTarget, profile: LoadProfile, timing: Required<ReplayTiming>, seconds: number, { world, prometheus, scrapes, toScrape, recorded }: Machinery,
): Promise<ReplayResult> {
    const hpa = new HorizontalPodAutoscaler({
        minReplicas: Math.max(target.minReplicaCount, 1), maxReplicas: target.maxReplicaCount, behavior: target.behavior,
    });
    const keda = new KedaTriggers(target.triggers, target.fallback);
    const { pods } = world;
    const hasPush = target.triggers.some((trigger) => trigger.kind === "push");
    let replicas = target.minReplicaCount;
    let lastActiveAt: number | undefined;
    /** The add-on scaler's last in-flight count of the route. */
    let pingerCount = 0;
    const points: ReplayPoint[] = [];
    const engine: EnginePoint[] = [];
    const decisions: ScaleDecision[] = [];
    const proposals: { at: number; proposal: number | undefined }[] = [];
    const read = async (at: number): Promise<(number | undefined)[]> => Promise.all(target.triggers.map(async (trigger) => {
        if (trigger.kind === "push") {
            return pingerCount;
        }
        const result = await prometheus.query(trigger.query, timing.epochSeconds + at);
        return "value" in result ? result.value : undefined;
    }));
    const setReplicas = (at: number, to: number, by: ScaleDecision["by"]) => {
        decisions.push({ at, from: replicas, to, by });
        replicas = to;
        pods.scale(to, at, timing.podStartSeconds);
    };

    const scrapeSet = new Set(scrapes.map((at) => Math.round(at * 1000)));
    const polls = new Set(instantsMs(timing.pollOffsetSeconds, target.pollingInterval, seconds));
    const syncs = new Set(instantsMs(timing.hpaOffsetSeconds, timing.hpaSyncSeconds, seconds));
    const ticks = new Set(hasPush ? instantsMs(0, QUEUE_TICK_SECONDS, seconds) : []);
    const pushes = new Set([...ticks].map((ms) => ms + Math.round(STREAM_INTERVAL_SECONDS * 1000)).filter((ms) => ms <= seconds * 1000));
    const times = [...new Set([...scrapeSet, ...polls, ...syncs, ...ticks, ...pushes])].sort((a, b) => a - b);
    for (const ms of times) {
        const at = ms / 1000;
        world.advance(at);
        if (scrapeSet.has(ms)) {
            const state = world.scrape(at);
            engine.push({ at, ready: state.ready, ...state.engine });
            prometheus.record(toScrape(state));
            recorded(at);
        }
        if (ticks.has(ms)) {
            pingerCount = world.scrape(at).engine.inFlight;
        }
        if (pushes.has(ms) && pingerCount > 0) {
            // An active push: RequestScale(isActive true, isError false).
            lastActiveAt = at;
            if (replicas === 0) {
                setReplicas(at, Math.max(target.minReplicaCount, 1), "push");
            }
        }
        let values: (number | undefined)[] | undefined;
        if (polls.has(ms)) {
            // KEDA's loop: activity and the 0 <-> 1 moves.
            values = await read(at);
            const reads = keda.read(values, replicas);
            const active = reads.some((one) => one.active);
            const error = reads.some((one) => one.value === undefined);
            // RequestScale records the activity when it scales from zero, or when no trigger failed.
            if (active && (replicas === 0 || !error)) {
                lastActiveAt = at;
            }
            const to = requestScale(target, replicas, { active, error }, lastActiveAt, at);
            if (to !== undefined && to !== replicas) {
                setReplicas(at, to, "keda");
            }
        }
        if (syncs.has(ms)) {
            values = await read(at);
            const reads = keda.read(values, replicas);
            const decision = hpa.reconcile(at, replicas, pods.count, reads.map((one, index) => ({ value: one.value, target: target.triggers[index].threshold })));
            proposals.push({ at, proposal: decision.proposal });
            if (decision.rescale) {
                setReplicas(at, decision.desiredReplicas, "hpa");
            }
        }
        if (scrapeSet.has(ms) || polls.has(ms) || syncs.has(ms)) {
            points.push({ at, load: loadAt(profile, at), desired: replicas, ready: pods.ready(at), values });
        }
    }
    return {
        model: target.model, profile, seconds, timing, points, proposals, engine, readyReplicas: (at: number) => pods.ready(at),
        decisions: decisions.map((decision) => ({ ...decision, readyAt: readyTime(decision, pods, timing.podStartSeconds) })),
        prometheus: prometheus.stats(),
    };
}

/** When the Ready count first reached a decision's count: at + start delay for a scale-up (if still wanted), `at` for a scale-down. */
function readyTime(decision: ScaleDecision, pods: Pods, startSeconds: number): number | undefined {
    if (decision.to <= decision.from) {
        return decision.at;
    }
    return pods.ready(decision.at + startSeconds) >= decision.to ? decision.at + startSeconds : undefined;
}
