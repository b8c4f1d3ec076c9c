/**
 * The scaling replay (tools/replay/): load profiles against the ScaledObjects the program builds
 * for the `local` stack (the seed design's request rate at the interceptor) and the `dev` stack
 * (vLLM's queue and running requests, scale to zero with the KEDA HTTP add-on's push), through a
 * real Prometheus serving backfilled blocks, KEDA's reads and the HPA's algorithm. No waiting on
 * wall time: the samples carry their own timestamps and the queries run at past instants.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { engineProfile } from "../components/model-server/engines";
import { modelServerNames } from "../components/model-server/names";
import { loadTriggers } from "../components/model-server/scaled-object";
import { readStackFile, stackFilePath } from "../tools/offline/stack-file";
import { externalPerPodReplicas } from "../tools/replay/hpa";
import { KedaTriggers } from "../tools/replay/keda";
import { seedProfile } from "../tools/replay/profile";
import { PrometheusServer, backfill, missingBinaries } from "../tools/replay/prometheus";
import { advanceEngine, engineReading } from "../tools/replay/engine";
import { wakeFigure } from "../tools/replay/figures";
import { START_SECONDS, stackReplay } from "../tools/replay/setup";
import { Scrape, SteppedPrometheus, seriesKey } from "../tools/replay/stepped";
import { PrometheusTrigger, ReplayResult, ReplayTarget, ReplayTrigger, replay } from "../tools/replay/simulate";
import { loadConfigWith, PROJECT_DIR } from "./mocks";

/** Seconds a pod takes to become Ready in the local replays (the local target's assumption). */
const POD_START = 30;
/** The HPA's sync period (kube-controller-manager default). */
const HPA_SYNC = 15;

describe("scaling replay of the seed's load table against the local stack", function () {
    this.timeout(60_000);
    let target: ReplayTarget;
    let trigger: PrometheusTrigger;
    let scrape: number;
    let result: ReplayResult;
    let elapsed = 0;

    before(async () => {
        const missing = missingBinaries();
        assert.ok(!missing, missing);
        const stack = await stackReplay("local", readStackFile(stackFilePath(PROJECT_DIR, "local")));
        target = stack.targets[0];
        trigger = prometheusTrigger(target.triggers[0]);
        scrape = stack.scrapeIntervalSeconds;
        assert.strictEqual(stack.startSeconds, POD_START);
        const started = Date.now();
        // The quiet tail (900 s) is longer than the 300 s stabilisation window plus two 120 s scale-down periods.
        result = await replay(target, seedProfile(900), { scrapeIntervalSeconds: scrape, podStartSeconds: POD_START, hpaSyncSeconds: HPA_SYNC });
        elapsed = Date.now() - started;
    });

    it("replays the seed's signal: request rate at the interceptor, 10 req/s per replica, activation 2, 1 to 5 replicas, 300 s down", () => {
        assert.deepStrictEqual(target.triggers.map((one) => [one.name, prometheusTrigger(one).series.metric, one.threshold, one.activationThreshold]),
            [["requestRate", "interceptor_request_count_total", 10, 2]]);
        assert.match(trigger.query, /^sum\(rate\(interceptor_request_count_total\{[^}]*route_namespace="llm"[^}]*\}\[1m\]\)\)/);
        assert.deepStrictEqual([target.minReplicaCount, target.maxReplicaCount, target.behavior.scaleDown.stabilizationWindowSeconds], [1, 5, 300]);
        assert.ok(elapsed < 20_000, `the replay took ${elapsed} ms`);
    });

    it("keeps desired and Ready replicas within 1..5 and returns to 1 in the quiet tail", () => {
        for (const point of result.points) {
            assert.ok(point.desired >= 1 && point.desired <= 5, `desired ${point.desired} at ${point.at} s`);
            assert.ok(point.ready >= 1 && point.ready <= 5, `Ready ${point.ready} at ${point.at} s`);
        }
        assert.ok(result.points.some((point) => point.desired >= 3), "25 req/s asks for ceil(25/10) = 3 replicas");
        assert.strictEqual(result.points[result.points.length - 1].desired, 1);
    });

    it("rises after the 12 req/s step within the bound the rate window, the scrape and the HPA sync allow", () => {
        /*
         * The bound. The step from L0 = 3 to L1 = 12 req/s is at T0 = 60 s; one replica, target
         * 10 req/s, tolerance 0.1: the HPA scales up once the rate it reads exceeds 10 x 1 x 1.1
         * = 11 (replica_calculator.go GetExternalPerPodMetricReplicas, Tolerances.isWithin).
         * rate(x[W]) with samples every S seconds extrapolates to the window's edges (the gaps at
         * both ends are under 1.1 sampling intervals: prometheus promql/functions.go
         * extrapolatedRate), so it reads the slope between the first and last sample in the
         * window: a mix of a seconds at L1 after the step and b before, (L0 b + L1 a)/(a + b),
         * above 11 once a/(a+b) > f = (11 - L0)/(L1 - L0) = 8/9. The window spans less than W, so
         * a last sample f W after the step suffices. Such a sample exists by T0 + f W + S (one
         * scrape later), and the HPA reads at most H later:
         *   decision <= T0 + f W + S + H = 60 + 53.3 + S + 15 (S = 15: 143.3 s).
         * It cannot come before the step: at 3 req/s the rate stays below 11.
         */
        const window = Number(/\[(\d+)m\]\)\)/.exec(trigger.query)?.[1]) * 60;
        assert.strictEqual(window, 60);
        const f = (10 * 1 * 1.1 - 3) / (12 - 3);
        const bound = 60 + f * window + scrape + HPA_SYNC;
        assert.strictEqual(bound.toFixed(1), (128.3 + scrape).toFixed(1));
        const rise = result.decisions.find((decision) => decision.to > decision.from);
        assert.ok(rise, "no scale-up");
        assert.ok(rise.at > 60 && rise.at <= bound, `scale-up at ${rise.at} s, bound ${bound.toFixed(1)} s`);
        assert.deepStrictEqual([rise.from, rise.to], [1, 2]);
        assert.strictEqual(rise.readyAt, rise.at + POD_START);
    });

    it("falls only after the 300 s stabilisation window since the last higher recommendation", () => {
        const falls = result.decisions.filter((decision) => decision.to < decision.from);
        assert.ok(falls.length > 0, "no scale-down in the quiet tail");
        // The load drops at 180 s: nothing falls before 180 + 300.
        assert.ok(falls[0].at >= 180 + 300, `first scale-down at ${falls[0].at} s`);
        // The decisions, derived: 25 req/s reads as 3 replicas until the rate window leaves the 25 req/s
        // minute (last read at 195 s), +300 s of stabilisation = 495 s; 2 -> 1 at 495 + 120 (the policy).
        assert.deepStrictEqual(falls.map((fall) => [fall.at, fall.from, fall.to]), [[495, 3, 2], [615, 2, 1]]);
        for (const fall of falls) {
            const higher = result.proposals.filter((read) => read.at < fall.at && (read.proposal ?? 0) >= fall.from);
            assert.ok(higher.length > 0, `no recommendation of ${fall.from} before the scale-down at ${fall.at} s`);
            const lastHigher = Math.max(...higher.map((read) => read.at));
            assert.ok(fall.at - lastHigher >= 300, `scale-down ${fall.from}->${fall.to} at ${fall.at} s, ${fall.at - lastHigher} s after a recommendation of ${fall.from}`);
        }
        // One replica at a time, 120 s apart (the ScaledObject's scale-down policy).
        falls.slice(1).forEach((fall, index) => assert.ok(fall.at - falls[index].at >= 120 && fall.from - fall.to === 1));
    });
});

describe("the HPA model's arithmetic", () => {
    it("keeps the count within the 10% tolerance and otherwise asks for ceil(usage / target)", () => {
        assert.strictEqual(externalPerPodReplicas(10.9, 10, 1, 0.1), 1); // ratio 1.09: within
        assert.strictEqual(externalPerPodReplicas(11.1, 10, 1, 0.1), 2); // ratio 1.11: ceil(1.11)
        assert.strictEqual(externalPerPodReplicas(25, 10, 2, 0.1), 3);
        assert.strictEqual(externalPerPodReplicas(8, 10, 3, 0.1), 1);
        assert.strictEqual(externalPerPodReplicas(27.5, 10, 3, 0.1), 3); // ratio 0.917: within
    });
});

describe("KEDA's fallback in the replay", () => {
    it("passes the first failureThreshold failures on as errors and falls back from the next (fallback.go: failures > failureThreshold)", () => {
        // failureThreshold 3, fallback 1 replica, currentReplicasIfHigher, at 2 replicas: max(2, 1) x 4 = 8.
        const keda = new KedaTriggers([{ threshold: 4, activationThreshold: 0 }], { failureThreshold: 3, replicas: 1, behavior: "currentReplicasIfHigher" });
        const reads = [1, 2, 3, 4].map(() => keda.read([undefined], 2)[0]);
        assert.deepStrictEqual(reads.map((read) => [read.value, read.fallback, read.active]),
            [[undefined, false, false], [undefined, false, false], [undefined, false, false], [8, true, true]]);
        // A success resets the count.
        assert.deepStrictEqual(keda.read([5], 2)[0], { value: 5, fallback: false, active: true });
        assert.strictEqual(keda.read([undefined], 2)[0].value, undefined);
    });
});

describe("a request-rate query against a backfilled counter", function () {
    this.timeout(30_000);

    it("sums the engine's finished-request counter of this model only (replaces 40 s of waiting on a live scrape)", async () => {
        const loaded = await loadConfigWith({
            target: "local",
            models: [{
                name: "qwen", repo: "Qwen/Qwen2.5-1.5B-Instruct", revision: "989aa7980e4cf806f80c7fef2b1adb7bc71aa306", modelSize: "4Gi", storage: { size: "10Gi" },
                minReplicas: 1, maxReplicas: 4, autoscaling: { signal: "requestRate", fallbackReplicas: 1 },
            }],
        });
        assert.ok(!(loaded instanceof Error), String(loaded));
        const model = loaded.models[0];
        const rate = loadTriggers(model, engineProfile("vllm"), modelServerNames(model, "llm")).find((trigger) => trigger.name === "requestRate");
        assert.ok(rate);
        assert.match(rate.query, /^sum\(rate\(vllm:request_success_total\{namespace="llm",model_name="Qwen\/Qwen2\.5-1\.5B-Instruct"\}\[1m\]\)\)/);
        const epoch = Date.UTC(2025, 0, 1, 0, 10) / 1000;
        const counter = (perSecond: number) => Array.from({ length: 9 }, (_, i) => ({ at: epoch + i * 15, value: 100 + perSecond * i * 15 }));
        const pod = (name: string, served: string, perSecond: number) => ({
            metric: "vllm:request_success_total", kind: "counter" as const, samples: counter(perSecond),
            labels: { namespace: "llm", pod: name, model_name: served, finished_reason: "stop" },
        });
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rate-query-"));
        const server = await (async () => {
            backfill([
                pod("qwen-7c9f8d-a1b2c", "Qwen/Qwen2.5-1.5B-Instruct", 3),
                pod("qwen-7c9f8d-d3e4f", "Qwen/Qwen2.5-1.5B-Instruct", 5),
                pod("other-5d6f7-x1y2z", "Qwen/Qwen2.5-7B-Instruct", 100), // another model: must not leak into the sum
            ], path.join(dir, "data"));
            return PrometheusServer.start(path.join(dir, "data"));
        })();
        try {
            assert.deepStrictEqual(await server.query(rate.query, epoch + 120), { value: 8 });
        } finally {
            await server.stop();
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

function prometheusTrigger(trigger: ReplayTrigger): PrometheusTrigger {
    assert.strictEqual(trigger.kind, "prometheus", `trigger ${trigger.name} is ${trigger.kind}`);
    return trigger as PrometheusTrigger;
}

describe("the engine's queue model", () => {
    const spec = { maxNumSeqs: 64, requestSeconds: 5 };
    const constant = (value: number) => () => value;

    it("holds load x request time in flight when the replicas have room (Little's law)", () => {
        // 8 req/s x 5 s = 40 in flight, all running on one replica (room for 64); after 100 s
        // (20 time constants of 5 s) the fluid queue has settled: 40 x (1 - 0.98^1000) rounds to 40.
        const state = advanceEngine({ inFlight: 0, finished: 0 }, spec, 0, 100, constant(8), constant(1));
        assert.deepStrictEqual(engineReading(state, spec, 1), { inFlight: 40, running: 40, waiting: 0, finished: 760 });
    });

    it("queues what maxNumSeqs x Ready cannot run, growing by load - capacity every second", () => {
        // One replica, full (64 running), 20 req/s for 10 s: it finishes 64 / 5 = 12.8 req/s, so the
        // queue grows by 7.2 req/s: 64 + 72 = 136 in flight, 64 running, 72 waiting; 128 finished.
        const state = advanceEngine({ inFlight: 64, finished: 0 }, spec, 0, 10, constant(20), constant(1));
        assert.deepStrictEqual(engineReading(state, spec, 1), { inFlight: 136, running: 64, waiting: 72, finished: 128 });
        // Two replicas run 128 of them at once.
        assert.deepStrictEqual(engineReading(state, spec, 2), { inFlight: 136, running: 128, waiting: 8, finished: 128 });
    });

    it("holds every request while no replica is Ready, and serves none", () => {
        const state = advanceEngine({ inFlight: 0, finished: 0 }, spec, 0, 30, constant(8), constant(0));
        assert.deepStrictEqual(engineReading(state, spec, 0), { inFlight: 240, running: 0, waiting: 240, finished: 0 });
    });
});

/** The stack's config with its first model changed. */
function withModel(config: ReturnType<typeof readStackFile>, change: Record<string, unknown>): ReturnType<typeof readStackFile> {
    const models = JSON.parse(config.config["llm-platform:models"]) as Record<string, unknown>[];
    return { ...config, config: { ...config.config, "llm-platform:models": JSON.stringify([{ ...models[0], ...change }, ...models.slice(1)]) } };
}

function withoutPush(target: ReplayTarget): ReplayTarget {
    return { ...target, triggers: target.triggers.filter((one) => one.kind !== "push") };
}

describe("scaling replay of the dev stack: the queue signal, woken from zero by the HTTP add-on", function () {
    this.timeout(60_000);
    /** The aws target's start assumption (tools/replay/setup.ts START_SECONDS), stated here as a literal. */
    const START = 120;
    let target: ReplayTarget;
    let result: ReplayResult;
    let elapsed = 0;
    const at = (seconds: number) => result.points.find((point) => point.at === seconds && point.values !== undefined);

    before(async () => {
        const missing = missingBinaries();
        assert.ok(!missing, missing);
        const stack = await stackReplay("dev", readStackFile(stackFilePath(PROJECT_DIR, "dev")));
        assert.strictEqual(stack.startSeconds, START);
        target = stack.targets[0];
        const started = Date.now();
        // A minute at zero, 8 req/s for 5 minutes, then quiet for longer than the cooldown (300 s).
        result = await replay(target, [{ rps: 0, seconds: 60 }, { rps: 8, seconds: 300 }, { rps: 0, seconds: 900 }], {
            scrapeIntervalSeconds: stack.scrapeIntervalSeconds, podStartSeconds: START, requestSeconds: 5, hpaSyncSeconds: HPA_SYNC,
        });
        elapsed = Date.now() - started;
    });

    it("replays dev's ScaledObject: queue 4 and running 48 per replica (activation 0), the add-on's push (52 in flight), 0 to 2 replicas", () => {
        assert.deepStrictEqual(target.triggers.map((one) => [one.kind, one.name, one.threshold, one.activationThreshold]), [
            ["prometheus", "queue", 4, 0], ["prometheus", "running", 48, 0], ["push", "requests", 52, 0],
        ]);
        assert.deepStrictEqual(target.triggers.filter((one) => one.kind === "prometheus").map((one) => prometheusTrigger(one).series.metric),
            ["vllm:num_requests_waiting", "vllm:num_requests_running"]);
        assert.deepStrictEqual([target.minReplicaCount, target.maxReplicaCount, target.pollingInterval, target.cooldownPeriod, target.maxNumSeqs], [0, 2, 15, 300, 64]);
        assert.strictEqual(scrapeOf(result), 15);
        // Each decision that changes a series restarts Prometheus once; the rest is speculation that held.
        assert.ok(result.prometheus.rebuilds >= 3 && result.prometheus.rebuilds <= 6, `${result.prometheus.rebuilds} Prometheus starts`);
        assert.ok(elapsed < 15_000, `the dev replay took ${elapsed} ms`);
    });

    it("wakes from zero on the add-on's push: 0.7 s to the decision, 1 Ready 120.7 s after the first request", () => {
        /*
         * The first request arrives at 60 s. The add-on's scaler counts the interceptors' in-flight
         * requests every 500 ms (KEDA_HTTP_QUEUE_TICK_DURATION) and pushes IsActive (count > 0)
         * every 200 ms (KEDA_HTTP_SCALER_STREAM_INTERVAL_MS); KEDA scales 0 -> 1 on the push. The
         * count at 60.0 s is 0 (nothing has arrived yet), at 60.5 s 8 x 0.5 = 4: pushed at 60.7 s.
         * Bound: first request + 0.5 + 0.2 to the decision, + the start delay (120 s) to Ready.
         */
        const wake = wakeFigure(result);
        assert.ok(wake?.decision, "no wake");
        assert.deepStrictEqual([wake.firstRequestAt, wake.decision.by, wake.decision.at, wake.decision.to], [60, "push", 60.7, 1]);
        assert.ok(wake.toReady !== undefined && wake.toReady <= 0.5 + 0.2 + START, `1 Ready ${wake.toReady} s after the first request`);
        assert.strictEqual(wake.toReady, 120.7);
        // Nothing moves before the first request.
        assert.ok(result.decisions.every((decision) => decision.at >= 60));
    });

    it("reads the engine's queue from the replicas Ready at each step: 0 at zero, an error while the pod starts, the held backlog once Ready", () => {
        // At zero replicas the `or` guard (kube_deployment_status_replicas == 0) answers 0 for both engine queries.
        assert.deepStrictEqual(at(45)?.values, [0, 0, 0]);
        /*
         * 75 s: one pod, not Ready (Ready at 180.7 s): no engine series and replicas 1, so both
         * queries are empty (errors); the interceptor holds 8 x 15 = 120 requests. The HPA reads
         * 120 against 52 per replica: ceil(120 / 52) = 3, capped at max 2, within the scale-up
         * policy (2 pods per 60 s): 1 -> 2 at 75 s, Ready at 195 s.
         */
        assert.deepStrictEqual(at(75)?.values, [undefined, undefined, 120]);
        assert.deepStrictEqual(result.decisions.slice(0, 2).map((d) => [d.at, d.from, d.to, d.by]), [[60.7, 0, 1, "push"], [75, 1, 2, "hpa"]]);
        /*
         * 195 s: held since 60 s, 8 x 120.7 = 965.6 requests when the first pod is Ready (180.7 s);
         * it runs 64 and finishes 64 / 5 = 12.8 per second while 8 arrive: 965.6 - 4.8 x 14.3 =
         * 896.96 in flight at 195 s, when the second pod is Ready too: 128 running, 769 waiting.
         */
        assert.deepStrictEqual(at(195)?.values, [769, 128, 897]);
        // Settled: 8 req/s x 5 s = 40 running (Little's law), no queue, in flight 40.
        assert.deepStrictEqual(at(300)?.values, [0, 40, 40]);
        for (const point of result.points) {
            assert.ok(point.desired >= 0 && point.desired <= 2 && point.ready <= point.desired, `desired ${point.desired}, Ready ${point.ready} at ${point.at} s`);
        }
    });

    it("returns to one replica after the 300 s window, and to zero only a cooldown (300 s) after the last request finished", () => {
        /*
         * The last recommendation of 2: 240 s (108 running: ceil(108 / 48) = 3, capped at 2); from
         * 255 s on, 43 and then 40 running ask for 1. Down at 240 + 300 = 540 s.
         * After the load stops at 360 s, the 40 in flight finish as 40 x 0.98^k (k tenths of a
         * second): the count rounds to 1 at 381.5 s (0.52) and to 0 at 382 s (0.47), so the last
         * active push is at 381.7 s (the last active poll, 2 running, is 375 s). KEDA scales to 0
         * at the first poll after 381.7 + 300 = 681.7: 690 s. (From 375 s it would be 690 s too:
         * this profile does not tell the push's activity from the poll's.)
         */
        const down = result.decisions.filter((decision) => decision.to < decision.from);
        assert.deepStrictEqual(down.map((d) => [d.at, d.from, d.to, d.by]), [[540, 2, 1, "hpa"], [690, 1, 0, "keda"]]);
        const lastBusy = Math.max(...result.engine.filter((point) => point.inFlight > 0).map((point) => point.at));
        assert.strictEqual(lastBusy, 375);
        assert.ok(down[1].at - lastBusy >= 300, "scaled to zero within the cooldown");
        assert.strictEqual(wakeFigure(result)?.toZero?.at, 690);
    });

    it("never wakes without the add-on: the engine's metrics need a pod", async () => {
        const quiet = await replay(withoutPush(target), [{ rps: 0, seconds: 30 }, { rps: 8, seconds: 120 }], {
            scrapeIntervalSeconds: 15, podStartSeconds: START, requestSeconds: 5, hpaSyncSeconds: HPA_SYNC,
        });
        assert.deepStrictEqual(quiet.decisions, []);
        // Every read: 0 from the guard, not active (activation is > 0).
        const read = quiet.points.filter((point) => point.values);
        assert.ok(read.length > 0, "no reads: the check below would hold of nothing");
        assert.ok(read.every((point) => point.values!.length > 0 && point.values!.every((value) => value === 0)), JSON.stringify(read.map((point) => point.values)));
        // The engine model holds the 8 x 120 = 960 requests nobody serves.
        assert.strictEqual(quiet.engine[quiet.engine.length - 1].waiting, 960);
    });
});

function scrapeOf(result: ReplayResult): number {
    return result.timing.scrapeIntervalSeconds;
}

describe("scaling replay: the local model at zero wakes on the interceptor's request rate (Prometheus activation)", function () {
    this.timeout(60_000);
    let target: ReplayTarget;
    let scrape: number;

    before(async () => {
        const missing = missingBinaries();
        assert.ok(!missing, missing);
        const stack = await stackReplay("local", withModel(readStackFile(stackFilePath(PROJECT_DIR, "local")), { minReplicas: 0 }));
        target = stack.targets[0];
        scrape = stack.scrapeIntervalSeconds;
        assert.strictEqual(START_SECONDS.local, POD_START);
    });

    it("is called through the interceptor at zero: the request-rate trigger and the add-on's push", () => {
        assert.deepStrictEqual(target.triggers.map((one) => [one.kind, one.name, one.activationThreshold]), [["prometheus", "requestRate", 2], ["push", "requests", 0]]);
        assert.deepStrictEqual([target.minReplicaCount, target.pollingInterval, target.cooldownPeriod], [0, 15, 120]);
    });

    it("wakes on the rate alone within 2 scrapes + a polling interval + the start delay, and returns to zero a cooldown after the rate fell", async () => {
        // The add-on's scaler left out: what Prometheus activation does by itself.
        const result = await replay(withoutPush(target), [{ rps: 0, seconds: 60 }, { rps: 12, seconds: 120 }, { rps: 0, seconds: 420 }], {
            scrapeIntervalSeconds: scrape, podStartSeconds: POD_START, hpaSyncSeconds: HPA_SYNC,
        });
        /*
         * The bound. The counter exists from the first scrape after the first request (60 s) and
         * rate() needs two samples: by 60 + 2 S. Two samples S apart at 12 req/s read at least
         * 12 x S / 60 = 3 req/s over the 1m window (their difference, 12 x S, extrapolated back to
         * the counter's zero point and not past it: promql/functions.go extrapolatedRate), above
         * the activation 2; KEDA polls at most P later and the pod is Ready the start delay after:
         *   decision <= 60 + 2 S + P = 105 s, Ready <= 105 + 30 = 135 s (S = P = 15).
         * Here: samples 180 at 75 s and 360 at 90 s; at 90 s the rate reads 180 x 30/15 / 60 = 6.
         */
        const wake = wakeFigure(result);
        assert.ok(wake?.decision, "no wake");
        const bound = 60 + 2 * scrape + target.pollingInterval;
        assert.strictEqual(bound, 105);
        assert.deepStrictEqual([wake.decision.by, wake.decision.at, wake.decision.readyAt], ["keda", 90, 120]);
        assert.ok(wake.decision.at <= bound && wake.toReady! <= bound - 60 + POD_START);
        const read90 = result.points.find((point) => point.at === 90 && point.values);
        assert.deepStrictEqual(read90?.values, [6]);
        /*
         * The rate: the load stops at 180 s; the 1m window at 225 s still holds the last rise
         * (1260 at 165 s is out, 1440 at 180 s... the samples from 165 s: 180 over 60 s = 3 > 2),
         * at 240 s it holds none (0): last active poll 225 s. Zero at the first poll after
         * 225 + 120 (cooldown) = 345 s: 360 s, whatever the HPA did in between.
         */
        const toZero = result.decisions.find((decision) => decision.to === 0);
        assert.deepStrictEqual([toZero?.at, toZero?.by], [360, "keda"]);
        const lastActive = Math.max(...result.points.filter((point) => point.values && (point.values[0] ?? 0) > 2).map((point) => point.at));
        assert.strictEqual(lastActive, 225);
        assert.ok(toZero!.at - lastActive > target.cooldownPeriod);
    });

    it("with the add-on, the push wakes it 0.7 s after the first request", async () => {
        const result = await replay(target, [{ rps: 0, seconds: 60 }, { rps: 12, seconds: 60 }], {
            scrapeIntervalSeconds: scrape, podStartSeconds: POD_START, hpaSyncSeconds: HPA_SYNC,
        });
        assert.deepStrictEqual([wakeFigure(result)?.decision?.by, wakeFigure(result)?.decision?.at, wakeFigure(result)?.toReady], ["push", 60.7, 30.7]);
    });
});

describe("a Prometheus backfilled step by step", function () {
    this.timeout(30_000);

    it("serves each scrape as recorded, rebuilds when a scrape differs from its speculation, and drops a series at the first scrape without it", async () => {
        const epoch = Date.UTC(2025, 0, 1, 0, 10) / 1000;
        const gauge = { metric: "vllm:num_requests_waiting", labels: { namespace: "llm" }, kind: "gauge" as const };
        const key = seriesKey(gauge);
        const scrape = (at: number, value?: number): Scrape => ({ at: epoch + at, values: new Map(value === undefined ? [] : [[key, value]]) });
        // Speculation: the value stays at whatever the last recorded scrape said, for the scrapes up to 60 s.
        let last = 0;
        let recordedUntil = -15;
        const speculate = () => [0, 15, 30, 45, 60].filter((at) => at > recordedUntil).map((at) => scrape(at, last));
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stepped-"));
        const prometheus = new SteppedPrometheus(dir, [gauge], 15 - 0.001, speculate);
        const step = (at: number, value?: number) => {
            prometheus.record(scrape(at, value));
            recordedUntil = at;
            last = value ?? last;
        };
        try {
            step(0, 3);
            assert.deepStrictEqual(await prometheus.query("sum(vllm:num_requests_waiting)", epoch), { value: 3 });
            // As speculated: no restart.
            step(15, 3);
            assert.deepStrictEqual(await prometheus.query("sum(vllm:num_requests_waiting)", epoch + 20), { value: 3 });
            assert.strictEqual(prometheus.stats().rebuilds, 1);
            // A different value: a rebuild, and the new value at its instant.
            step(30, 7);
            assert.deepStrictEqual(await prometheus.query("sum(vllm:num_requests_waiting)", epoch + 30), { value: 7 });
            assert.strictEqual(prometheus.stats().rebuilds, 2);
            // The series is not scraped at 45 s (its pod went away): gone at 45 s, as a staleness
            // marker would make it, not shown for 5 more minutes by the default lookback.
            step(45);
            assert.deepStrictEqual(await prometheus.query("sum(vllm:num_requests_waiting)", epoch + 44), { value: 7 });
            assert.deepStrictEqual(await prometheus.query("sum(vllm:num_requests_waiting)", epoch + 45), { error: "prometheus metrics 'prometheus' target may be lost, the result is empty" });
            assert.strictEqual(prometheus.stats().rebuilds, 3);
        } finally {
            await prometheus.stop();
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
