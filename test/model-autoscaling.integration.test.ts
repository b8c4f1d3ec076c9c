/**
 * The ScaledObject's PromQL against a real Prometheus: the `prometheus` binary scrapes a
 * fixture that speaks vLLM's (and kube-state-metrics') exposition format, and the test reads
 * what KEDA's Prometheus scaler would read (/api/v1/query) for several load levels, then the
 * replica count the HPA would ask for. Rates over time (the request-rate signal, which needed
 * a minute of waiting here), the queue over time as replicas become Ready, and a wake from zero
 * with load are replayed against backfilled blocks instead: test/scaling-replay.test.ts.
 */
import * as assert from "assert";
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import type { ModelConfig } from "../config";
import { engineProfile } from "../components/model-server/engines";
import { modelServerNames } from "../components/model-server/names";
import { scaledObject } from "../components/model-server/scaled-object";
import { desiredReplicas } from "./hpa-formula";
import { loadConfigWith } from "./mocks";
import { freePort } from "../tools/replay/prometheus";

const PROMETHEUS = process.env.PROMETHEUS_BIN ?? "/usr/bin/prometheus";
/** The ScaledObject's Prometheus queries for the test model, written out. */
const EXPECTED_QUERIES = [
    'sum(vllm:num_requests_waiting{namespace="llm",model_name="Qwen/Qwen2.5-1.5B-Instruct"}) or sum(kube_deployment_status_replicas{namespace="llm",deployment="qwen"} == 0)',
    'sum(vllm:num_requests_running{namespace="llm",model_name="Qwen/Qwen2.5-1.5B-Instruct"}) or sum(kube_deployment_status_replicas{namespace="llm",deployment="qwen"} == 0)',
];
const SERVED = "Qwen/Qwen2.5-1.5B-Instruct";

interface PodLoad { waiting: number; running: number; finished: number }

/** What the fixture serves; tests change it and wait for Prometheus to see the change. */
const state = {
    pods: { "qwen-7c9f8d-a1b2c": { waiting: 0, running: 0, finished: 0 }, "qwen-7c9f8d-d3e4f": { waiting: 0, running: 0, finished: 0 } } as Record<string, PodLoad>,
    podsUp: true,
    deploymentReplicas: 2,
};

function vllmExposition(model: string, load: PodLoad): string {
    const labels = `engine="0",model_name="${model}"`;
    return [
        "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.",
        "# TYPE vllm:num_requests_waiting gauge",
        `vllm:num_requests_waiting{${labels}} ${load.waiting}`,
        "# HELP vllm:num_requests_running Number of requests in model execution batches.",
        "# TYPE vllm:num_requests_running gauge",
        `vllm:num_requests_running{${labels}} ${load.running}`,
        "# HELP vllm:request_success_total Count of successfully processed requests.",
        "# TYPE vllm:request_success_total counter",
        `vllm:request_success_total{${labels},finished_reason="stop"} ${load.finished}`,
        "",
    ].join("\n");
}

function fixture(request: http.IncomingMessage, response: http.ServerResponse): void {
    const pod = decodeURIComponent((request.url ?? "").replace(/^\/pods\//, ""));
    let body: string | undefined;
    if (request.url === "/other") {
        // Another model in the same namespace, heavily loaded: it must not leak into our sums.
        body = vllmExposition("Qwen/Qwen2.5-7B-Instruct", { waiting: 100, running: 100, finished: 1000 });
    } else if (request.url === "/ksm") {
        body = `# TYPE kube_deployment_status_replicas gauge\nkube_deployment_status_replicas{namespace="llm",deployment="qwen"} ${state.deploymentReplicas}\n`
            + `kube_deployment_status_replicas{namespace="llm",deployment="other"} 1\n`;
    } else if (state.podsUp && state.pods[pod]) {
        body = vllmExposition(SERVED, state.pods[pod]);
    }
    response.writeHead(body === undefined ? 503 : 200, { "Content-Type": "text/plain; version=0.0.4" });
    response.end(body ?? "unavailable\n");
}


async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
        try {
            const value = await probe();
            if (value !== undefined) {
                return value;
            }
        } catch (error) {
            last = error;
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}

describe("autoscaling queries against a real Prometheus", function () {
    this.timeout(180_000);
    let prometheus: ChildProcess | undefined;
    let fixtureServer: http.Server | undefined;
    let storage: string | undefined;
    let baseUrl = "";
    let model: ModelConfig;
    let queries: string[];
    let thresholds: { threshold: number; activationThreshold: number }[];
    let output = "";

    /** The value KEDA would read for a query: the one sample's value, or undefined for an empty result. */
    async function read(query: string): Promise<number | undefined> {
        const response = await fetch(`${baseUrl}/api/v1/query?${new URLSearchParams({ query })}`);
        const body = await response.json() as { status: string; data: { resultType: string; result: { value: [number, string] }[] } };
        assert.strictEqual(body.status, "success", JSON.stringify(body));
        assert.strictEqual(body.data.resultType, "vector");
        assert.ok(body.data.result.length <= 1, `at most one series, got ${body.data.result.length}`);
        return body.data.result.length === 0 ? undefined : Number(body.data.result[0].value[1]);
    }

    /** Waits until every query returns the expected values (Prometheus scrapes once a second). */
    async function expectValues(expected: (number | undefined)[]): Promise<void> {
        await until(`values ${JSON.stringify(expected)}`, async () => {
            const values = await Promise.all(queries.map(read));
            return JSON.stringify(values) === JSON.stringify(expected) ? values : undefined;
        });
    }

    before(async () => {
        assert.ok(fs.existsSync(PROMETHEUS), `the integration test needs the prometheus binary at ${PROMETHEUS} (apt-get install prometheus, or set PROMETHEUS_BIN)`);
        const loaded = await loadConfigWith({
            target: "local",
            models: [{
                name: "qwen", repo: SERVED, revision: "989aa7980e4cf806f80c7fef2b1adb7bc71aa306", modelSize: "4Gi", storage: { size: "10Gi" },
                minReplicas: 0, maxReplicas: 4, autoscaling: { queuePerReplica: 4, runningPerReplica: 32, activationThreshold: 1, fallbackReplicas: 1 },
            }],
        });
        assert.ok(!(loaded instanceof Error), String(loaded));
        model = loaded.models[0];
        const names = modelServerNames(model, "llm");
        const spec = scaledObject(model, { names, profile: engineProfile("vllm") }).spec;
        // The Prometheus triggers (without the HTTP add-on's external-push trigger, which wakes the model from zero).
        const engineTriggers = spec.triggers.flatMap((trigger) => ("query" in trigger.metadata ? [trigger.metadata] : []));
        queries = engineTriggers.map((metadata) => metadata.query);
        thresholds = engineTriggers.map((metadata) => ({ threshold: Number(metadata.threshold), activationThreshold: Number(metadata.activationThreshold) }));
        // Literal expectations, not loadTriggers() (which scaledObject() calls): what the ScaledObject must query.
        assert.deepStrictEqual(queries, EXPECTED_QUERIES);
        // Activation 0: activationThreshold is a strict `>` (keda prometheus_scaler.go), so one running request keeps the model active.
        assert.deepStrictEqual(thresholds, [{ threshold: 4, activationThreshold: 0 }, { threshold: 32, activationThreshold: 0 }]);

        fixtureServer = http.createServer(fixture);
        await new Promise<void>((resolve) => fixtureServer!.listen(0, "127.0.0.1", resolve));
        const fixturePort = (fixtureServer.address() as net.AddressInfo).port;

        storage = fs.mkdtempSync(path.join(os.tmpdir(), "prometheus-"));
        const target = `127.0.0.1:${fixturePort}`;
        const podTargets = Object.keys(state.pods).map((pod) =>
            `      - targets: ["${target}"]\n        labels: { __metrics_path__: "/pods/${pod}", namespace: llm, pod: ${pod}, service: qwen }`).join("\n");
        fs.writeFileSync(path.join(storage, "prometheus.yml"), [
            "global: { scrape_interval: 1s, scrape_timeout: 900ms, evaluation_interval: 1s }",
            "scrape_configs:",
            "  - job_name: vllm",
            "    static_configs:",
            podTargets,
            `      - targets: ["${target}"]`,
            "        labels: { __metrics_path__: /other, namespace: llm, pod: other-5d6f7-x1y2z, service: other }",
            "  - job_name: kube-state-metrics",
            "    honor_labels: true",
            "    metrics_path: /ksm",
            `    static_configs: [{ targets: ["${target}"] }]`,
            "",
        ].join("\n"));

        const port = await freePort();
        baseUrl = `http://127.0.0.1:${port}`;
        prometheus = spawn(PROMETHEUS, [
            `--config.file=${path.join(storage, "prometheus.yml")}`,
            `--storage.tsdb.path=${path.join(storage, "data")}`,
            `--web.listen-address=127.0.0.1:${port}`,
            "--log.level=warn",
        ], { stdio: ["ignore", "pipe", "pipe"] });
        prometheus.stdout?.on("data", (chunk) => { output += String(chunk); });
        prometheus.stderr?.on("data", (chunk) => { output += String(chunk); });
        const exited = new Promise<never>((_, reject) => prometheus!.once("exit", (code) => reject(new Error(`prometheus exited (${code}): ${output.slice(-2000)}`))));
        await Promise.race([exited, until("Prometheus to be ready", async () => ((await fetch(`${baseUrl}/-/ready`)).ok ? true : undefined))]);
        exited.catch(() => undefined);
    });

    after(async () => {
        if (prometheus && prometheus.exitCode === null) {
            const stopped = new Promise((resolve) => prometheus!.once("exit", resolve));
            prometheus.kill("SIGTERM");
            await Promise.race([stopped, new Promise((resolve) => setTimeout(resolve, 5000))]);
            if (prometheus.exitCode === null) {
                prometheus.kill("SIGKILL");
            }
        }
        await new Promise((resolve) => (fixtureServer ? fixtureServer.close(resolve) : resolve(undefined)));
        if (storage) {
            fs.rmSync(storage, { recursive: true, force: true });
        }
    });

    const replicas = (values: (number | undefined)[]) =>
        desiredReplicas(values, thresholds, { min: model.minReplicas, max: model.maxReplicas, fallback: model.autoscaling.fallbackReplicas });

    it("queries the queue and the running requests of this model only, as single series", async () => {
        assert.deepStrictEqual(queries, EXPECTED_QUERIES);
    });

    it("idle: both pods report zero, which stays under the activation threshold (scale to zero)", async () => {
        await expectValues([0, 0]);
        assert.strictEqual(replicas([0, 0]), 0);
    });

    it("moderate load: 9 waiting and 50 running over two pods ask for ceil(9/4) = 3 replicas", async () => {
        state.pods["qwen-7c9f8d-a1b2c"] = { waiting: 3, running: 20, finished: 10 };
        state.pods["qwen-7c9f8d-d3e4f"] = { waiting: 6, running: 30, finished: 10 };
        await expectValues([9, 50]);
        assert.strictEqual(replicas([9, 50]), 3); // max(ceil(9/4) = 3, ceil(50/32) = 2)
    });

    it("running requests alone can drive the count: 2 waiting, 120 running ask for ceil(120/32) = 4", async () => {
        state.pods["qwen-7c9f8d-a1b2c"] = { waiting: 1, running: 60, finished: 20 };
        state.pods["qwen-7c9f8d-d3e4f"] = { waiting: 1, running: 60, finished: 20 };
        await expectValues([2, 120]);
        assert.strictEqual(replicas([2, 120]), 4);
    });

    it("heavy load is bounded by maxReplicas", async () => {
        state.pods["qwen-7c9f8d-a1b2c"] = { waiting: 30, running: 64, finished: 30 };
        state.pods["qwen-7c9f8d-d3e4f"] = { waiting: 30, running: 64, finished: 30 };
        await expectValues([60, 128]);
        assert.strictEqual(replicas([60, 128]), 4); // ceil(60/4) = 15, capped at maxReplicas 4
    });

    it("a lost metric (pods running, scrapes failing) is an empty result: an error for KEDA, so the fallback applies", async () => {
        state.podsUp = false;
        state.deploymentReplicas = 2;
        await expectValues([undefined, undefined]);
        assert.strictEqual(replicas([undefined, undefined]), 1); // the model's fallbackReplicas
    });

    it("a model scaled to zero (no pods, no series) reads as exactly 0, not as a lost metric", async () => {
        state.deploymentReplicas = 0;
        await expectValues([0, 0]);
        assert.strictEqual(replicas([0, 0]), 0);
    });
});
