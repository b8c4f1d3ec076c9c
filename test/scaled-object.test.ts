/**
 * The KEDA scaling signals (components/model-server/scaled-object.ts): fallback behaviour,
 * activation thresholds, request rate counted by the HTTP add-on's interceptor for an engine
 * without metrics (the local stack), GPU utilisation from DCGM, and the series each query reads.
 * Every expectation is a literal: nothing here is computed by the code under test.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { stringify } from "yaml";
import type { ModelConfig, PlatformConfig } from "../config";
import { engineProfile } from "../components/model-server/engines";
import { interceptorMetricsPort, interceptorPodMonitor, interceptorScaledObjectFallback } from "../components/autoscaling/keda-http-add-on";
import { modelServerNames } from "../components/model-server/names";
import { loadTriggers, scaledObject } from "../components/model-server/scaled-object";
import type { ProgramRun } from "../tools/offline/run";
import { stackFilePath } from "../tools/offline/stack-file";
import { applyTransforms } from "../tools/offline/transforms";
import { plan } from "../tools/plan";
import { PROJECT_DIR, loadConfigWith, objects, resourcesOfType, runStack, runStackFile } from "./mocks";
import { promtool, requirePromtool } from "./promtool";

/* eslint-disable @typescript-eslint/no-explicit-any */
type Json = Record<string, any>;

const REVISION = "7ae557604adf67be50417f59c2c2f167def9a775";

async function model(fields: Record<string, unknown>, target: "local" | "aws" = "local"): Promise<ModelConfig> {
    const loaded = await loadConfigWith({
        target,
        models: [{ name: "qwen", repo: "Qwen/Qwen2.5-0.5B-Instruct", revision: REVISION, modelSize: "1Gi", storage: { size: "5Gi" }, ...fields }],
    });
    assert.ok(!(loaded instanceof Error), loaded instanceof Error ? loaded.message : "");
    return (loaded as PlatformConfig).models[0];
}

function prometheusTriggers(spec: Json): Json[] {
    return spec.triggers.filter((trigger: Json) => trigger.type === "prometheus");
}

/** name -> [threshold, activationThreshold], as the ScaledObject writes them. */
function thresholds(spec: Json): Record<string, [string, string]> {
    return Object.fromEntries(prometheusTriggers(spec).map((t) => [t.name, [t.metadata.threshold, t.metadata.activationThreshold]]));
}

const names = modelServerNames({ name: "qwen", repo: "Qwen/Qwen2.5-0.5B-Instruct", revision: REVISION }, "llm");

describe("ScaledObject: fallback", () => {
    it("holds the current replicas when they are more than fallbackReplicas (currentReplicasIfHigher), not the static count", async () => {
        const vllm = await model({ gpusPerReplica: 1, maxReplicas: 4, autoscaling: { fallbackReplicas: 2 } });
        assert.deepStrictEqual(scaledObject(vllm, { names, profile: engineProfile("vllm") }).spec.fallback,
            { failureThreshold: 3, replicas: 2, behavior: "currentReplicasIfHigher" });
    });

    it("gives the add-on's own interceptor ScaledObject the same behaviour", () => {
        const result = interceptorScaledObjectFallback({ type: "kubernetes:keda.sh/v1alpha1:ScaledObject", name: "x", custom: true, props: { spec: {} }, opts: {} });
        assert.deepStrictEqual((result?.props as Json).spec.fallback, { failureThreshold: 3, replicas: 2, behavior: "currentReplicasIfHigher" });
    });
});

describe("ScaledObject: activation thresholds (KEDA compares value > activationThreshold)", () => {
    it("queue signal: one waiting or one running request keeps the model active (0, 0)", async () => {
        const vllm = await model({ gpusPerReplica: 1, minReplicas: 0, autoscaling: { activationThreshold: 1, queuePerReplica: 4, runningPerReplica: 32 } });
        assert.deepStrictEqual(thresholds(scaledObject(vllm, { names, profile: engineProfile("vllm") }).spec), {
            queue: ["4", "0"],
            running: ["32", "0"],
        });
    });

    it("requestRate on an engine with metrics: the queue at 0, the rate at the configured activation (req/s)", async () => {
        const vllm = await model({ gpusPerReplica: 1, autoscaling: { signal: "requestRate", requestsPerSecondPerReplica: 6, activationThreshold: 3 } });
        assert.deepStrictEqual(thresholds(scaledObject(vllm, { names, profile: engineProfile("vllm") }).spec), {
            queue: ["4", "0"],
            requestRate: ["6", "3"],
        });
    });

    it("CPU (ollama, signal queue): the configured activation, in cores (an idle server is never at exactly 0)", async () => {
        const ollama = await model({ engine: "ollama", gpusPerReplica: 0, resources: { cpu: "2" }, autoscaling: { activationThreshold: 0.25, cpuUtilization: 0.5 } });
        assert.deepStrictEqual(thresholds(scaledObject(ollama, { names, profile: engineProfile("ollama") }).spec), { cpu: ["1", "0.25"] });
    });
});

describe("ScaledObject: gpuUtilization", () => {
    it("scales on the queue and on DCGM's GPU utilisation of the model's own pods, averaged per pod", async () => {
        const vllm = await model({ gpusPerReplica: 2, vllm: { tensorParallelSize: 2 }, autoscaling: { signal: "gpuUtilization", gpuUtilizationPercent: 60, activationThreshold: 5 } });
        const triggers = prometheusTriggers(scaledObject(vllm, { names, profile: engineProfile("vllm") }).spec);
        assert.deepStrictEqual(triggers.map((t) => [t.name, t.metadata.query, t.metadata.threshold, t.metadata.activationThreshold]), [
            ["queue", 'sum(vllm:num_requests_waiting{namespace="llm",model_name="Qwen/Qwen2.5-0.5B-Instruct"}) or sum(kube_deployment_status_replicas{namespace="llm",deployment="qwen"} == 0)', "4", "0"],
            ["gpuUtilization", 'sum(avg by (pod) (DCGM_FI_DEV_GPU_UTIL{namespace="llm",container="server",pod=~"qwen-[a-z0-9]+-[a-z0-9]+"})) or sum(kube_deployment_status_replicas{namespace="llm",deployment="qwen"} == 0)', "60", "5"],
        ]);
    });

    it("is a config error without GPUs", async () => {
        const result = await loadConfigWith({
            target: "local",
            models: [{ name: "qwen", repo: "Qwen/Qwen2.5-0.5B-Instruct", revision: REVISION, modelSize: "1Gi", storage: { size: "5Gi" }, engine: "ollama", gpusPerReplica: 0, autoscaling: { signal: "gpuUtilization" } }],
        });
        assert.ok(result instanceof Error);
        assert.deepStrictEqual(result.message.split("\n"),
            ['llm-platform:models[0].autoscaling.signal = "gpuUtilization": needs GPUs, but gpusPerReplica is 0: scale on queue or requestRate']);
    });

    it("refuses a threshold outside 0..100 percent", async () => {
        const result = await loadConfigWith({
            target: "local",
            models: [{ name: "qwen", repo: "Qwen/Qwen2.5-0.5B-Instruct", revision: REVISION, modelSize: "1Gi", storage: { size: "5Gi" }, gpusPerReplica: 1, autoscaling: { signal: "gpuUtilization", gpuUtilizationPercent: 150 } }],
        });
        assert.ok(result instanceof Error);
        assert.deepStrictEqual(result.message.split("\n"), ["llm-platform:models[0].autoscaling.gpuUtilizationPercent = 150: must be at most 100"]);
    });
});

describe("LoadTrigger.series: what a fake exporter must emit for each query (the scaling replay's interface)", () => {
    it("names metric, equality labels, kind and pod pattern of every signal", async () => {
        const vllm = await model({ gpusPerReplica: 1, autoscaling: { signal: "requestRate" } });
        const ollama = await model({ engine: "ollama", gpusPerReplica: 0 });
        const rate = await model({ engine: "ollama", gpusPerReplica: 0, autoscaling: { signal: "requestRate" } });
        const gpu = await model({ gpusPerReplica: 1, autoscaling: { signal: "gpuUtilization" } });
        const tgi = await model({ engine: "tgi", gpusPerReplica: 1 });
        const series = (m: ModelConfig, engine: "vllm" | "tgi" | "ollama") => loadTriggers(m, engineProfile(engine), names).map((t) => [t.name, t.series, t.guard]);
        const replicas = { metric: "kube_deployment_status_replicas", labels: { namespace: "llm", deployment: "qwen" }, kind: "gauge" };
        const vllmLabels = { namespace: "llm", model_name: "Qwen/Qwen2.5-0.5B-Instruct" };
        assert.deepStrictEqual(series(vllm, "vllm"), [
            ["queue", { metric: "vllm:num_requests_waiting", labels: vllmLabels, kind: "gauge" }, replicas],
            ["requestRate", { metric: "vllm:request_success_total", labels: vllmLabels, kind: "counter" }, replicas],
        ]);
        assert.deepStrictEqual(series(tgi, "tgi"), [
            ["queue", { metric: "tgi_queue_size", labels: { namespace: "llm", service: "qwen" }, kind: "gauge" }, replicas],
            ["running", { metric: "tgi_batch_current_size", labels: { namespace: "llm", service: "qwen" }, kind: "gauge" }, replicas],
        ]);
        assert.deepStrictEqual(series(ollama, "ollama"), [
            ["cpu", { metric: "container_cpu_usage_seconds_total", labels: { namespace: "llm", container: "server" }, kind: "counter", podPattern: "qwen-[a-z0-9]+-[a-z0-9]+" }, replicas],
        ]);
        assert.deepStrictEqual(series(rate, "ollama"), [
            ["requestRate", { metric: "interceptor_request_count_total", labels: { route_namespace: "llm", route_name: "qwen" }, kind: "counter" },
                { metric: "up", labels: { job: "keda/keda-add-ons-http-interceptor" }, kind: "gauge" }],
        ]);
        assert.deepStrictEqual(series(gpu, "vllm")[1], [
            "gpuUtilization", { metric: "DCGM_FI_DEV_GPU_UTIL", labels: { namespace: "llm", container: "server" }, kind: "gauge", podPattern: "qwen-[a-z0-9]+-[a-z0-9]+" }, replicas,
        ]);
    });
});

describe("request rate through the KEDA HTTP add-on's interceptor (the local stack: Ollama has no metrics)", function () {
    this.timeout(120_000);
    let run: ProgramRun;
    const find = (kind: string, name: string) => objects(run).find((o) => o.kind === kind && o.metadata.name === name) as Json | undefined;

    before(async () => {
        run = await runStackFile("local");
    });

    it("scales qwen-0-5b on the seed's numbers: requests per second at the interceptor, 10 per replica, activation 2, 1..5, 300 s down", () => {
        const scaler = find("ScaledObject", "qwen-0-5b")!;
        assert.strictEqual(scaler.spec.minReplicaCount, 1);
        assert.strictEqual(scaler.spec.maxReplicaCount, 5);
        assert.strictEqual(scaler.spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds, 300);
        assert.deepStrictEqual(scaler.spec.fallback, { failureThreshold: 3, replicas: 1, behavior: "currentReplicasIfHigher" });
        assert.deepStrictEqual(scaler.spec.triggers, [{
            type: "prometheus",
            name: "requestRate",
            metricType: "AverageValue",
            metadata: {
                serverAddress: "http://prometheus-operated.monitoring.svc:9090",
                query: 'sum(rate(interceptor_request_count_total{route_namespace="llm",route_name="qwen-0-5b"}[1m])) or (sum(up{job="keda/keda-add-ons-http-interceptor"} == 1) * 0)',
                threshold: "10",
                activationThreshold: "2",
                ignoreNullValues: "false",
            },
        }], "no CPU trigger, and no external-push trigger: a warm minimum needs no waking");
    });

    it("is called through the interceptor: InterceptorRoute, proxy Service, and the proxy URL as its output", () => {
        assert.deepStrictEqual(find("InterceptorRoute", "qwen-0-5b")?.spec.target, { service: "qwen-0-5b", port: 80 });
        assert.strictEqual(find("Service", "qwen-0-5b-proxy")?.spec.externalName, "keda-add-ons-http-interceptor-proxy.keda.svc.cluster.local");
        assert.deepStrictEqual((run.outputs.models as Json)["qwen-0-5b"].url, "http://qwen-0-5b-proxy.llm.svc.cluster.local:8080/v1");
    });

    it("installs the add-on, with the PodMonitor that scrapes the interceptors' request counts, and the chart transform that declares their port", async () => {
        const chart = resourcesOfType(run, "kubernetes:helm.sh/v4:Chart").find((c) => c.inputs.chart === "keda-add-ons-http");
        assert.ok(chart, "the add-on's chart");
        assert.strictEqual(chart.transforms.length, 2, "the fallback and the metrics port");
        // The chart's transforms, run as the engine runs them on its children: they add the metrics port
        // to the interceptor Deployment (a count of transforms would pass with any two callbacks).
        const interceptor = {
            type: "kubernetes:apps/v1:Deployment", name: "keda-http-chart:keda/keda-add-ons-http-interceptor", custom: true, parentUrn: chart.urn,
            props: { metadata: { name: "keda-add-ons-http-interceptor", namespace: "keda" }, spec: { template: { spec: { containers: [{ name: "keda-add-ons-http-interceptor", ports: [] }] } } } },
        };
        const transformed = await applyTransforms(chart.transforms, interceptor) as Json;
        assert.deepStrictEqual(transformed.spec.template.spec.containers[0].ports, [{ name: "metrics", containerPort: 2223, protocol: "TCP" }]);
        const monitor = find("PodMonitor", "keda-add-ons-http-interceptor");
        assert.deepStrictEqual(monitor, {
            apiVersion: "monitoring.coreos.com/v1",
            kind: "PodMonitor",
            metadata: { name: "keda-add-ons-http-interceptor", namespace: "keda", labels: { "app.kubernetes.io/part-of": "llm-platform" } },
            spec: {
                selector: { matchLabels: { "app.kubernetes.io/component": "interceptor", "app.kubernetes.io/name": "http-add-on" } },
                podMetricsEndpoints: [{ port: "metrics", path: "/metrics" }],
            },
        });
    });

    it("leaves a queue-signal ollama model on CPU, called on its Service, without the add-on", async () => {
        const cpuRun = await runStack({
            target: "local",
            models: [{ name: "qwen", repo: "Qwen/Qwen2.5-0.5B-Instruct", revision: REVISION, modelSize: "1Gi", storage: { size: "5Gi" }, engine: "ollama", gpusPerReplica: 0, minReplicas: 1 }],
        });
        assert.ok(!resourcesOfType(cpuRun, "kubernetes:helm.sh/v4:Chart").some((c) => c.inputs.chart === "keda-add-ons-http"));
        assert.deepStrictEqual((cpuRun.outputs.models as Json).qwen.url, "http://qwen.llm.svc.cluster.local/v1");
        const scaler = objects(cpuRun).find((o) => o.kind === "ScaledObject") as Json;
        assert.deepStrictEqual(scaler.spec.triggers.map((t: Json) => t.name), ["cpu"]);
    });
});

describe("the interceptor's metrics port (chart transform)", () => {
    const deployment = (name: string, container: Json) => ({
        type: "kubernetes:apps/v1:Deployment", name: `keda-http-chart:keda/${name}`, custom: true, opts: {},
        props: { metadata: { name, namespace: "keda" }, spec: { template: { spec: { containers: [container] } } } },
    });
    const chartContainer = {
        name: "keda-add-ons-http-interceptor",
        env: [{ name: "KEDA_HTTP_PROXY_PORT", value: "8080" }],
        ports: [{ containerPort: 9090, name: "admin" }, { containerPort: 8080, name: "proxy" }],
    };

    it("declares port 2223 as `metrics` on the interceptor container, and pins the exporter to it", () => {
        const result = interceptorMetricsPort(deployment("keda-add-ons-http-interceptor", chartContainer));
        assert.deepStrictEqual((result?.props as Json).spec.template.spec.containers, [{
            name: "keda-add-ons-http-interceptor",
            env: [{ name: "KEDA_HTTP_PROXY_PORT", value: "8080" }, { name: "OTEL_PROM_EXPORTER_PORT", value: "2223" }],
            ports: [{ containerPort: 9090, name: "admin" }, { containerPort: 8080, name: "proxy" }, { name: "metrics", containerPort: 2223, protocol: "TCP" }],
        }]);
    });

    it("touches nothing else", () => {
        assert.strictEqual(interceptorMetricsPort(deployment("keda-add-ons-http-scaler", { ...chartContainer, name: "keda-add-ons-http-scaler" })), undefined);
        assert.strictEqual(interceptorMetricsPort({ ...deployment("keda-add-ons-http-interceptor", chartContainer), type: "kubernetes:core/v1:Service" }), undefined);
    });

    it("selects what the PodMonitor scrapes by the port's name", () => {
        assert.deepStrictEqual(interceptorPodMonitor("keda").spec.podMetricsEndpoints, [{ port: "metrics", path: "/metrics" }]);
    });
});

/**
 * The real chart (kedacore/charts http-add-on 0.15.0) rendered with the program's transforms, where
 * a directory of upstream charts is given (as test/upstream-charts.test.ts: LLM_PLATFORM_CHARTS).
 */
describe("the interceptor's metrics port on the rendered chart (LLM_PLATFORM_CHARTS)", function () {
    this.timeout(300_000);
    const CHARTS = process.env.LLM_PLATFORM_CHARTS;
    before(function () {
        if (!CHARTS) {
            this.skip();
        }
    });

    it("the PodMonitor's selector and port name match the rendered interceptor pods", async () => {
        const result = await plan("local", stackFilePath(PROJECT_DIR, "local"), { charts: { dir: CHARTS! } });
        const rendered = result.objects as Json[];
        const deployment = rendered.find((o) => o.kind === "Deployment" && o.metadata.name === "keda-add-ons-http-interceptor");
        assert.ok(deployment, "the chart renders the interceptor Deployment");
        const monitor = rendered.find((o) => o.kind === "PodMonitor" && o.metadata.name === "keda-add-ons-http-interceptor")!;
        const labels = deployment.spec.template.metadata.labels;
        assert.ok(Object.entries(monitor.spec.selector.matchLabels).every(([key, value]) => labels[key] === value), "the PodMonitor selects the interceptor pods");
        assert.strictEqual(monitor.metadata.namespace, deployment.metadata.namespace);
        const container = deployment.spec.template.spec.containers.find((c: Json) => c.name === "keda-add-ons-http-interceptor");
        assert.deepStrictEqual(container.ports.filter((p: Json) => p.name === "metrics"), [{ name: "metrics", containerPort: 2223, protocol: "TCP" }]);
        assert.deepStrictEqual(container.env.filter((e: Json) => e.name.startsWith("OTEL_PROM_")), [{ name: "OTEL_PROM_EXPORTER_PORT", value: "2223" }]);
        assert.deepStrictEqual(result.report.violations, []);
    });

    it("dev: the rendered DCGM exporter maps GPUs to pods, and its ServiceMonitor keeps those labels (gpuUtilization's selector)", async () => {
        const result = await plan("dev", stackFilePath(PROJECT_DIR, "dev"), { charts: { dir: CHARTS! } });
        const rendered = result.objects as Json[];
        const daemonSet = rendered.find((o) => o.kind === "DaemonSet" && o.metadata.name === "dcgm-exporter");
        assert.ok(daemonSet, "the chart renders the exporter DaemonSet");
        const env = daemonSet.spec.template.spec.containers[0].env as Json[];
        assert.deepStrictEqual(env.filter((e) => e.name === "DCGM_EXPORTER_KUBERNETES" || e.name === "DCGM_EXPORTER_USE_OLD_NAMESPACE"),
            [{ name: "DCGM_EXPORTER_KUBERNETES", value: "true" }]);
        const monitor = rendered.find((o) => o.kind === "ServiceMonitor" && o.metadata.name === "dcgm-exporter")!;
        assert.strictEqual(monitor.spec.endpoints[0].honorLabels, true);
    });
});

/**
 * The queries themselves, evaluated by Prometheus' own engine (promtool test rules, Debian's
 * prometheus package, as .ci/run installs it) on literal series: what they return is what KEDA reads.
 */
describe("the new queries, evaluated by promtool", function () {
    this.timeout(60_000);
    let dir: string;
    before(() => {
        requirePromtool();
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "scaled-object-"));
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    function evaluate(tests: Json[]): { status: number | null; output: string } {
        fs.writeFileSync(path.join(dir, "rules.yaml"), stringify({ groups: [] }));
        fs.writeFileSync(path.join(dir, "test.yaml"), stringify({ rule_files: ["rules.yaml"], evaluation_interval: "15s", tests }));
        return promtool(["test", "rules", "test.yaml"], dir);
    }

    it("interceptor request rate: the per-second rate summed over interceptors; 0 for a route with no request yet; empty (the fallback) when no interceptor is scraped", async () => {
        const local = await model({ engine: "ollama", gpusPerReplica: 0, autoscaling: { signal: "requestRate" } });
        const [trigger] = loadTriggers(local, engineProfile("ollama"), names);
        const route = 'route_namespace="llm",route_name="qwen"';
        const up = 'up{job="keda/keda-add-ons-http-interceptor",namespace="keda",pod="interceptor-a"}';
        const result = evaluate([
            {
                interval: "15s",
                input_series: [
                    // Two interceptors: 2 req/s and 1 req/s (30 and 15 per 15 s), and another route's 5 req/s.
                    { series: `interceptor_request_count_total{${route},code="200",method="POST",pod="interceptor-a"}`, values: "0+30x10" },
                    { series: `interceptor_request_count_total{${route},code="200",method="POST",pod="interceptor-b"}`, values: "0+15x10" },
                    { series: 'interceptor_request_count_total{route_namespace="llm",route_name="other",code="200",method="POST",pod="interceptor-a"}', values: "0+75x10" },
                    { series: up, values: "1x10" },
                ],
                promql_expr_test: [{ expr: trigger.query, eval_time: "2m", exp_samples: [{ labels: "{}", value: 3 }] }],
            },
            {
                interval: "15s",
                input_series: [{ series: up, values: "1x10" }],
                promql_expr_test: [{ expr: trigger.query, eval_time: "2m", exp_samples: [{ labels: "{}", value: 0 }] }],
            },
            {
                interval: "15s",
                // The interceptor's target is down: its scrape fails, up is 0.
                input_series: [{ series: up, values: "0x10" }],
                promql_expr_test: [{ expr: trigger.query, eval_time: "2m", exp_samples: [] }],
            },
        ]);
        assert.strictEqual(result.status, 0, result.output);
    });

    it("GPU utilisation: each pod's mean over its GPUs, summed over the model's pods only", async () => {
        const vllm = await model({ gpusPerReplica: 2, vllm: { tensorParallelSize: 2 }, autoscaling: { signal: "gpuUtilization" } });
        const [, trigger] = loadTriggers(vllm, engineProfile("vllm"), names);
        const gpu = (pod: string, index: number) => `DCGM_FI_DEV_GPU_UTIL{gpu="${index}",namespace="llm",pod="${pod}",container="server",Hostname="node"}`;
        const result = evaluate([{
            interval: "15s",
            input_series: [
                { series: gpu("qwen-7c9f8d-a1b2c", 0), values: "80x4" },
                { series: gpu("qwen-7c9f8d-a1b2c", 1), values: "60x4" },
                { series: gpu("qwen-7c9f8d-d3e4f", 0), values: "50x4" },
                { series: gpu("qwen-7c9f8d-d3e4f", 1), values: "30x4" },
                // Another model's pod, and an idle GPU no pod holds (no pod label): not this model's.
                { series: gpu("qwen-big-6b5a4c-x1y2z", 0), values: "100x4" },
                { series: 'DCGM_FI_DEV_GPU_UTIL{gpu="3",Hostname="node"}', values: "100x4" },
            ],
            // (80 + 60) / 2 + (50 + 30) / 2 = 110: per replica, against gpuUtilizationPercent.
            promql_expr_test: [{ expr: trigger.query, eval_time: "45s", exp_samples: [{ labels: "{}", value: 110 }] }],
        }]);
        assert.strictEqual(result.status, 0, result.output);
    });
});
