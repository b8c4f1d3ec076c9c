/**
 * The scaling replay (tools/replay/): the seed design's load table against the `local` stack's
 * ScaledObject as the program builds it, through a real Prometheus serving a backfilled block,
 * KEDA's reads and the HPA's algorithm. No waiting on wall time: the samples carry their own
 * timestamps and the queries run at past instants.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { engineProfile } from "../components/engines";
import { modelServerNames } from "../components/model-server/names";
import { loadTriggers } from "../components/model-server/scaled-object";
import { readStackFile, stackFilePath } from "../tools/offline/stack-file";
import { externalPerPodReplicas } from "../tools/replay/hpa";
import { seedProfile } from "../tools/replay/profile";
import { PrometheusServer, backfill, missingBinaries } from "../tools/replay/prometheus";
import { stackReplay } from "../tools/replay/setup";
import { ReplayResult, ReplayTarget, replay } from "../tools/replay/simulate";
import { loadConfigWith, PROJECT_DIR } from "./mocks";

/** Seconds a pod takes to become Ready in this replay. */
const POD_START = 30;
/** The HPA's sync period (kube-controller-manager default). */
const HPA_SYNC = 15;

describe("scaling replay of the seed's load table against the local stack", function () {
    this.timeout(60_000);
    let target: ReplayTarget;
    let scrape: number;
    let result: ReplayResult;
    let elapsed = 0;

    before(async () => {
        const missing = missingBinaries();
        assert.ok(!missing, missing);
        const stack = await stackReplay("local", readStackFile(stackFilePath(PROJECT_DIR, "local")));
        target = stack.targets[0];
        scrape = stack.scrapeIntervalSeconds;
        const started = Date.now();
        // The quiet tail (900 s) is longer than the 300 s stabilisation window plus two 120 s scale-down periods.
        result = await replay(target, seedProfile(900), { scrapeIntervalSeconds: scrape, podStartSeconds: POD_START, hpaSyncSeconds: HPA_SYNC });
        elapsed = Date.now() - started;
    });

    it("replays the seed's signal: request rate at the interceptor, 10 req/s per replica, activation 2, 1 to 5 replicas, 300 s down", () => {
        assert.deepStrictEqual(target.triggers.map((trigger) => [trigger.name, trigger.series.metric, trigger.threshold, trigger.activationThreshold]),
            [["requestRate", "interceptor_request_count_total", 10, 2]]);
        assert.match(target.triggers[0].query, /^sum\(rate\(interceptor_request_count_total\{[^}]*route_namespace="llm"[^}]*\}\[1m\]\)\)/);
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
        const window = Number(/\[(\d+)m\]\)\)/.exec(target.triggers[0].query)?.[1]) * 60;
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
        for (const fall of falls) {
            const lastHigher = Math.max(...result.proposals.filter((read) => read.at < fall.at && (read.proposal ?? 0) >= fall.from).map((read) => read.at));
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
