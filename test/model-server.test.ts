import * as assert from "assert";
import type { Engine } from "../config";
import { ENGINE_IMAGES } from "../components/model-server/engines";
import { KEDA_CHART } from "../components/autoscaling/keda";
import { KEDA_HTTP_CHART, interceptorScaledObjectFallback } from "../components/autoscaling/keda-http-add-on";
import { revisionHash } from "../components/model-server/names";
import { KubernetesObject } from "../tools/offline/manifests";
import { ProgramRun, SECRET } from "../tools/offline/run";
import { readStackFile, stackFilePath } from "../tools/offline/stack-file";
import { validateObjects } from "../tools/offline/schemas";
import { PROJECT_DIR, STACKS, objects, resource, resourcesOfType, runStack, runStackFile } from "./mocks";
import type { RecordedResource } from "../tools/offline/run";

/* eslint-disable @typescript-eslint/no-explicit-any */
type Json = Record<string, any>;

const REVISION = "7ae557604adf67be50417f59c2c2f167def9a775";

function find(run: ProgramRun, kind: string, name: string): Json | undefined {
    return objects(run).find((o) => o.kind === kind && o.metadata.name === name) as Json | undefined;
}

function must(run: ProgramRun, kind: string, name: string): Json {
    const found = find(run, kind, name);
    assert.ok(found, `no ${kind} named ${name}; there are: ${objects(run).map((o) => `${o.kind}/${o.metadata.name}`).join(", ")}`);
    return found;
}

function subset(selector: Record<string, string>, labels: Record<string, string>): boolean {
    return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

/** The stack config's models as the program sees them (the config files' own lists). */
function stackModels(stack: string): Json[] {
    const { config } = readStackFile(stackFilePath(PROJECT_DIR, stack));
    return JSON.parse(config["llm-platform:models"] ?? "[]") as Json[];
}

/** Everything the issue asks of one model server, checked on the objects the program declared. */
interface ModelServerExpectation {
    gpus: number; engine: Engine; token: boolean; ingress: boolean; maxReplicas: number; startupBudgetSeconds: number; fallbackReplicas: number;
}

function assertCompleteModelServer(run: ProgramRun, name: string, expect: ModelServerExpectation): void {
    const deployment = must(run, "Deployment", name);
    const namespace = deployment.metadata.namespace;
    assert.ok(namespace, "the Deployment is namespaced");
    const pod = deployment.spec.template.spec;
    const server = pod.containers.find((c: Json) => c.name === "server");

    // The autoscaler owns the replica count.
    assert.strictEqual(deployment.spec.replicas, undefined);
    assert.ok(subset(deployment.spec.selector.matchLabels, deployment.spec.template.metadata.labels), "the selector matches the pods");
    assert.strictEqual(deployment.spec.template.metadata.labels["llm-platform.io/role"], "model-server");

    // Weights: the claim exists, is mounted read-only, and the Job fills the same claim.
    const weights = pod.volumes.find((v: Json) => v.persistentVolumeClaim);
    const claim = must(run, "PersistentVolumeClaim", weights.persistentVolumeClaim.claimName);
    assert.strictEqual(claim.metadata.namespace, namespace);
    assert.strictEqual(weights.persistentVolumeClaim.readOnly, true);
    assert.deepStrictEqual(server.volumeMounts.filter((m: Json) => m.name === weights.name).map((m: Json) => m.readOnly), [true]);
    const job = objects(run).find((o) => o.kind === "Job" && (o.metadata.name ?? "").startsWith(`${name}-download-`)) as Json;
    assert.ok(job, "a download Job");
    const jobPod = job.spec.template.spec;
    assert.ok(jobPod.volumes.some((v: Json) => v.persistentVolumeClaim?.claimName === claim.metadata.name), "the Job writes the serving claim");
    assert.ok(!subset(deployment.spec.selector.matchLabels, job.spec.template.metadata.labels), "Job pods are not serving pods");
    const [repo, revision, directory] = jobPod.containers[0].args;
    assert.match(revision, /^[0-9a-f]{40}$/);
    assert.ok(job.metadata.name.endsWith(revisionHash({ repo, revision })), "the Job's name carries the revision hash");
    // The init container waits for the marker the Job writes, in the directory the server loads.
    assert.ok(pod.initContainers[0].command.join(" ").includes(`${directory}/.complete`));
    assert.ok([...(server.args ?? []), ...server.env.map((e: Json) => e.value)].some((a: string) => typeof a === "string" && a.includes(directory)));
    assert.ok(server.env.some((e: Json) => e.name === "HF_HUB_OFFLINE" && e.value === "1"), "offline at start");

    // Token: from a Secret by reference, never a literal.
    const tokenEnv = jobPod.containers[0].env.find((e: Json) => e.name === "HF_TOKEN");
    if (expect.token) {
        const secret = must(run, "Secret", tokenEnv?.valueFrom?.secretKeyRef?.name);
        assert.strictEqual(tokenEnv.value, undefined);
        assert.deepStrictEqual(secret.stringData, { [tokenEnv.valueFrom.secretKeyRef.key]: SECRET }, "the Secret's data is a Pulumi secret");
    } else {
        assert.strictEqual(tokenEnv, undefined);
    }
    for (const container of [...pod.containers, ...pod.initContainers, ...jobPod.containers]) {
        assert.ok(!container.env?.some((e: Json) => /token/i.test(e.name) && e.value !== undefined), `${container.name}: no literal token`);
    }

    // Resources, GPU placement, shm, spread, probes, drain, security.
    const { requests, limits } = server.resources;
    assert.ok(requests.cpu && requests.memory && limits.cpu && limits.memory);
    if (expect.gpus > 0) {
        assert.strictEqual(limits["nvidia.com/gpu"], String(expect.gpus));
        assert.strictEqual(requests["nvidia.com/gpu"], limits["nvidia.com/gpu"]);
        assert.deepStrictEqual(pod.tolerations, [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }]);
        assert.deepStrictEqual(pod.nodeSelector, { "nvidia.com/gpu.present": "true" });
    } else {
        assert.strictEqual(limits["nvidia.com/gpu"], undefined);
        assert.strictEqual(pod.tolerations, undefined);
        assert.strictEqual(pod.nodeSelector, undefined);
    }
    const shm = pod.volumes.find((v: Json) => v.name === "dshm");
    assert.strictEqual(shm.emptyDir.medium, "Memory");
    assert.ok(shm.emptyDir.sizeLimit);
    assert.ok(server.volumeMounts.some((m: Json) => m.mountPath === "/dev/shm" && m.name === "dshm"));
    assert.deepStrictEqual(pod.topologySpreadConstraints.map((t: Json) => t.topologyKey), ["kubernetes.io/hostname", "topology.kubernetes.io/zone"]);
    assert.ok(pod.topologySpreadConstraints.every((t: Json) => subset(t.labelSelector.matchLabels, deployment.spec.template.metadata.labels)));
    // The kubelet kills a container whose startup probe failed failureThreshold times, periodSeconds apart,
    // after initialDelaySeconds: that sum must cover the budget (the arithmetic is written out, not the code's own).
    const startup = server.startupProbe;
    assert.ok(startup.initialDelaySeconds + startup.failureThreshold * startup.periodSeconds >= expect.startupBudgetSeconds,
        `the startup probe allows ${startup.initialDelaySeconds} + ${startup.failureThreshold} x ${startup.periodSeconds} s, under the budget ${expect.startupBudgetSeconds} s`);
    assert.ok(server.readinessProbe.httpGet.path);
    assert.ok(server.livenessProbe.httpGet.path);
    const sleep = Number(server.lifecycle.preStop.exec.command[1]);
    assert.ok(pod.terminationGracePeriodSeconds > sleep, "the grace period outlasts the preStop drain");
    assert.strictEqual(pod.securityContext.runAsNonRoot, expect.engine !== "tgi", "non-root, but TGI (root, in its baseline namespace)");
    assert.deepStrictEqual(pod.securityContext.seccompProfile, { type: "RuntimeDefault" });
    for (const container of [...pod.containers, ...pod.initContainers, ...jobPod.containers]) {
        assert.strictEqual(container.securityContext.allowPrivilegeEscalation, false);
        assert.deepStrictEqual(container.securityContext.capabilities.drop, ["ALL"]);
        assert.ok(container.resources.requests.cpu && container.resources.limits.memory, `${container.name}: requests and limits`);
        assert.ok(/[:@]/.test(container.image.split("/").pop()) && !container.image.endsWith(":latest"), `${container.name}: pinned image`);
    }
    assert.strictEqual(server.image, ENGINE_IMAGES[expect.engine]);

    // Service selects the serving pods on the container's port.
    const service = must(run, "Service", name);
    assert.ok(subset(service.spec.selector, deployment.spec.template.metadata.labels));
    assert.ok(server.ports.some((p: Json) => p.name === service.spec.ports[0].targetPort));

    // ServiceMonitor selects the Service (engines with metrics).
    const monitor = find(run, "ServiceMonitor", name);
    if (expect.engine === "ollama") {
        assert.strictEqual(monitor, undefined);
    } else {
        assert.ok(monitor);
        assert.ok(subset(monitor.spec.selector.matchLabels, service.metadata.labels));
        assert.deepStrictEqual(monitor.spec.namespaceSelector.matchNames, [namespace]);
        assert.ok(service.spec.ports.some((p: Json) => p.name === monitor.spec.endpoints[0].port));
        assert.strictEqual(monitor.spec.endpoints[0].path, "/metrics");
        // Scraped at Prometheus's own interval, the platform's observability.scrapeInterval.
        assert.strictEqual(monitor.spec.endpoints[0].interval, undefined);
    }

    // PodDisruptionBudget when there can be two replicas.
    const pdb = find(run, "PodDisruptionBudget", name);
    if (expect.maxReplicas >= 2) {
        assert.ok(pdb);
        assert.strictEqual(pdb.spec.maxUnavailable, 1);
        assert.deepStrictEqual(pdb.spec.selector.matchLabels, deployment.spec.selector.matchLabels);
    } else {
        assert.strictEqual(pdb, undefined);
    }

    const ingress = find(run, "Ingress", name);
    assert.strictEqual(ingress !== undefined, expect.ingress);
    if (ingress) {
        const backend = ingress.spec.rules[0].http.paths[0].backend.service;
        assert.strictEqual(backend.name, service.metadata.name);
        assert.ok(service.spec.ports.some((p: Json) => p.name === backend.port.name));
    }

    // The ScaledObject targets the Deployment's real name and fails safe.
    const scaler = must(run, "ScaledObject", name);
    assert.strictEqual(scaler.metadata.namespace, namespace);
    assert.deepStrictEqual(scaler.spec.scaleTargetRef, { apiVersion: "apps/v1", kind: "Deployment", name: deployment.metadata.name });
    assert.strictEqual(scaler.spec.maxReplicaCount, expect.maxReplicas);
    assert.ok(Number.isInteger(scaler.spec.minReplicaCount));
    assert.strictEqual(scaler.spec.fallback.failureThreshold, 3);
    assert.strictEqual(scaler.spec.fallback.replicas, expect.fallbackReplicas);
    assert.ok(scaler.spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp.stabilizationWindowSeconds >= 0);
    assert.ok(scaler.spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds >= 0);
    const engineTriggers = scaler.spec.triggers.filter((t: Json) => t.type === "prometheus");
    assert.ok(engineTriggers.length >= 1);
    // Besides the engine's metrics, only the HTTP add-on's trigger that wakes a model scaled to zero.
    assert.deepStrictEqual(scaler.spec.triggers.filter((t: Json) => t.type !== "prometheus").map((t: Json) => t.type),
        scaler.spec.minReplicaCount === 0 ? ["external-push"] : []);
    for (const trigger of engineTriggers) {
        assert.strictEqual(trigger.type, "prometheus");
        assert.strictEqual(trigger.metadata.ignoreNullValues, "false");
        assert.match(trigger.metadata.query, /^sum\(/);
        assert.match(trigger.metadata.threshold, /^\d+(\.\d+)?$/);
        assert.match(trigger.metadata.activationThreshold, /^\d+(\.\d+)?$/);
        assert.strictEqual(trigger.metadata.serverAddress, "http://prometheus-operated.monitoring.svc:9090");
        assert.ok(trigger.metadata.query.includes(`namespace="${namespace}"`));
    }
}

const ENGINE_CASES: { engine: Engine; gpus: number; image?: string }[] = [
    { engine: "vllm", gpus: 2 },
    { engine: "tgi", gpus: 1 },
    { engine: "ollama", gpus: 0 },
];

describe("model server under mocks", () => {
    for (const { engine, gpus } of ENGINE_CASES) {
        describe(`engine ${engine}`, () => {
            let run: ProgramRun;
            before(async () => {
                run = await runStack({
                    target: "local",
                    hfToken: "hf_not_a_real_token",
                    models: [{
                        name: "qwen", repo: "Qwen/Qwen2.5-0.5B-Instruct", revision: REVISION, modelSize: "1Gi", storage: { size: "5Gi" },
                        engine, gpusPerReplica: gpus, minReplicas: 1, maxReplicas: 3, startupBudgetSeconds: 905,
                        vllm: { tensorParallelSize: Math.max(gpus, 1), quantization: engine === "ollama" ? "" : "awq" },
                        // Ollama checks no key, so it cannot be published (config/models.ts checkEndpoint).
                        ...(engine === "ollama" ? {} : { apiKey: "required", ingress: { host: "qwen.example.com", className: "nginx", tls: { secretName: "qwen-cert" } } }),
                    }],
                }, "test", ["hfToken"]);
            });

            it("declares a complete, consistently wired model server", () => {
                assertCompleteModelServer(run, "qwen", { gpus, engine, token: true, ingress: engine !== "ollama", maxReplicas: 3, startupBudgetSeconds: 905, fallbackReplicas: 1 });
            });

            if (engine !== "ollama") {
                it("publishes it only with TLS and the engine's key from a Secret", () => {
                    const ingress = must(run, "Ingress", "qwen");
                    assert.deepStrictEqual(ingress.spec.tls, [{ hosts: ["qwen.example.com"], secretName: "qwen-cert" }]);
                    const env = must(run, "Deployment", "qwen").spec.template.spec.containers[0].env as Json[];
                    const key = env.find((variable) => variable.name === (engine === "vllm" ? "VLLM_API_KEY" : "API_KEY"));
                    // The Secret Pulumi names (<resource>-<random suffix>; zeros offline): a new key, a new name, a rollout.
                    assert.deepStrictEqual(key, { name: key?.name, valueFrom: { secretKeyRef: { name: "qwen-api-key-00000000", key: "key" } } });
                    const secret = run.resources.find((resource) => resource.type === "kubernetes:core/v1:Secret" && resource.name === "qwen-api-key")?.inputs as Json;
                    assert.strictEqual(secret.metadata.name, undefined);
                    assert.strictEqual(secret.immutable, true);
                    assert.strictEqual(secret.metadata.namespace, must(run, "Deployment", "qwen").metadata.namespace);
                    assert.strictEqual(run.outputs.apiKey, "[secret]");
                });
            }

            it("gives a 905 s startup budget a startup probe of 91 checks 10 s apart, on the readiness path", () => {
                const server = must(run, "Deployment", "qwen").spec.template.spec.containers.find((c: Json) => c.name === "server");
                const { initialDelaySeconds, periodSeconds, failureThreshold, httpGet } = server.startupProbe;
                assert.deepStrictEqual({ initialDelaySeconds, periodSeconds, failureThreshold }, { initialDelaySeconds: 0, periodSeconds: 10, failureThreshold: 91 });
                assert.strictEqual(httpGet.path, server.readinessProbe.httpGet.path);
            });

            it("validates against the upstream schemas (Kubernetes, KEDA and Prometheus operator CRDs)", async () => {
                assert.deepStrictEqual(await validateObjects(objects(run)), []);
            });

            it("rolls the server out only after the download Job, and the scaler after KEDA and the server", () => {
                const job = resource(run, "kubernetes:batch/v1:Job", "qwen-download");
                const server = resource(run, "kubernetes:apps/v1:Deployment", "qwen-server");
                const scaler = resource(run, "kubernetes:keda.sh/v1alpha1:ScaledObject", "qwen-scaler");
                const kedaChart = run.resources.find((r) => r.type === "kubernetes:helm.sh/v4:Chart" && r.inputs.chart === "keda");
                assert.ok(server.dependencies.includes(job.urn), "the Deployment waits for the Job");
                const deadline = (job.inputs.spec as { activeDeadlineSeconds: number }).activeDeadlineSeconds;
                assert.ok(Number.parseInt(job.createTimeout ?? "0", 10) * 60 > deadline, `Pulumi waits (${job.createTimeout}) as long as the Job may run (${deadline}s)`);
                assert.ok(kedaChart && scaler.dependencies.includes(kedaChart.urn), "the ScaledObject waits for KEDA's CRDs");
                assert.ok(scaler.dependencies.includes(server.urn), "the ScaledObject waits for its target");
            });

            it("never writes the token in clear anywhere", () => {
                assert.ok(!JSON.stringify(run.resources).includes("hf_not_a_real_token"));
            });

            it("exports the model's URL and served name", () => {
                assert.deepStrictEqual(run.outputs.models, {
                    qwen: { url: `http://qwen.${engine === "tgi" ? "llm-tgi" : "llm"}.svc.cluster.local/v1`, servedModelName: "Qwen/Qwen2.5-0.5B-Instruct" },
                });
            });
        });
    }

    it("passes the config to vLLM as OpenAI server arguments", async () => {
        const run = await runStack({
            target: "local",
            models: [{
                name: "qwen", repo: "Qwen/Qwen2.5-7B-Instruct-AWQ", revision: REVISION, modelSize: "6Gi", gpusPerReplica: 2, servedModelName: "qwen-7b",
                vllm: { tensorParallelSize: 2, maxModelLen: 16384, dtype: "half", quantization: "awq", gpuMemoryUtilization: 0.85, maxNumSeqs: 32, enablePrefixCaching: false, enableChunkedPrefill: true },
            }],
        });
        const server = (must(run, "Deployment", "qwen").spec.template.spec.containers as Json[])[0];
        assert.deepStrictEqual(server.command, ["vllm", "serve"]);
        assert.deepStrictEqual(server.args.slice(0, 1), [`/models/Qwen/Qwen2.5-7B-Instruct-AWQ/${REVISION}`]);
        for (const arg of ["--served-model-name=qwen-7b", "--tensor-parallel-size=2", "--max-model-len=16384", "--dtype=half", "--quantization=awq",
            "--gpu-memory-utilization=0.85", "--max-num-seqs=32", "--no-enable-prefix-caching", "--enable-chunked-prefill"]) {
            assert.ok(server.args.includes(arg), `${arg} in ${server.args.join(" ")}`);
        }
        assert.ok(!must(run, "Job", `qwen-download-${revisionHash({ repo: "Qwen/Qwen2.5-7B-Instruct-AWQ", revision: REVISION })}`).spec.template.spec.containers[0].env.some((e: Json) => e.name === "HF_TOKEN"),
            "no token, no HF_TOKEN");
        assert.strictEqual(find(run, "Secret", "qwen-hf-token"), undefined);
    });

    it("serves several models in one stack, each with its own objects", async () => {
        const base = { repo: "Qwen/Qwen2.5-0.5B-Instruct", revision: REVISION, modelSize: "1Gi", storage: { size: "5Gi" }, maxReplicas: 2 };
        const run = await runStack({ target: "local", models: [{ ...base, name: "a" }, { ...base, name: "b", engine: "ollama", gpusPerReplica: 0, servedModelName: "b" }] });
        for (const name of ["a", "b"]) {
            must(run, "Deployment", name);
            must(run, "ScaledObject", name);
            must(run, "PersistentVolumeClaim", `${name}-weights`);
        }
        assert.deepStrictEqual(Object.keys(run.outputs.models as Json), ["a", "b"]);
    });

    it("installs KEDA from its pinned chart with its metrics server, off the GPU nodes", async () => {
        const run = await runStack({ target: "local" });
        const chart = resourcesOfType(run, "kubernetes:helm.sh/v4:Chart").find((candidate) => candidate.inputs.chart === "keda");
        assert.ok(chart, "the KEDA chart is declared");
        assert.strictEqual(chart.inputs.version, KEDA_CHART.version);
        assert.deepStrictEqual(chart.inputs.repositoryOpts, { repo: "https://kedacore.github.io/charts" });
        assert.strictEqual(chart.inputs.namespace, "keda");
        // What reached the engine, not the builder's own return value.
        const values = chart.inputs.values as Json;
        assert.strictEqual(values.metricsServer.enabled, true);
        assert.deepStrictEqual(values.tolerations, []);
        // Linux only, by the chart itself: its Deployments write `kubernetes.io/os: linux` and append
        // these maps below it (kedacore/charts v2.20.2 keda/templates/*/deployment.yaml), so a repeat renders the key twice.
        for (const selector of [values.nodeSelector, values.operator?.nodeSelector, values.metricsServer.nodeSelector, values.webhooks?.nodeSelector]) {
            assert.ok(!(selector && "kubernetes.io/os" in selector), `the values repeat the chart's own nodeSelector key: ${JSON.stringify(selector)}`);
        }
        for (const part of Object.values(values.resources) as Json[]) {
            assert.ok(part.requests.cpu && part.requests.memory && part.limits.cpu && part.limits.memory);
        }
        must(run, "Namespace", "keda");
        // Its scaler metrics reach Prometheus (the autoscaling dashboard, the KEDA alerts), once the operator's CRDs exist.
        assert.deepStrictEqual(values.prometheus.operator, { enabled: true, serviceMonitor: { enabled: true } });
        const operatorChart = run.resources.find((r) => r.type === "kubernetes:helm.sh/v4:Chart" && r.inputs.chart === "kube-prometheus-stack");
        assert.ok(operatorChart && chart.dependencies.includes(operatorChart.urn), "KEDA waits for the Prometheus operator");
    });

    for (const stack of STACKS) {
        it(`the ${stack} stack file declares a complete model server for every configured model`, async () => {
            const run = await runStackFile(stack);
            const models = stackModels(stack);
            assert.ok(models.length > 0, `${stack} configures a model`);
            for (const model of models) {
                assertCompleteModelServer(run, model.name, {
                    gpus: model.gpusPerReplica ?? 1, engine: model.engine ?? "vllm", token: false, ingress: Boolean(model.ingress?.host),
                    maxReplicas: model.maxReplicas, startupBudgetSeconds: model.startupBudgetSeconds ?? 900,
                    fallbackReplicas: model.autoscaling?.fallbackReplicas ?? 1,
                });
            }
            const planned: KubernetesObject[] = objects(run);
            assert.deepStrictEqual(await validateObjects(planned), []);
        });
    }
});

/** The autoscalers of the run that scale this Deployment: ScaledObjects, HPAs, and HTTPScaledObjects that create a ScaledObject. */
function autoscalersOf(run: ProgramRun, deployment: Json): Json[] {
    return (objects(run) as Json[]).filter((o) => o.metadata.namespace === deployment.metadata.namespace && (
        (o.kind === "ScaledObject" && o.spec.scaleTargetRef.name === deployment.metadata.name)
        || (o.kind === "HorizontalPodAutoscaler" && o.spec.scaleTargetRef.name === deployment.metadata.name)
        || (o.kind === "HTTPScaledObject" && o.metadata.annotations?.["httpscaledobject.keda.sh/skip-scaledobject-creation"] !== "true")));
}

function httpAddOnChart(run: ProgramRun): RecordedResource | undefined {
    return resourcesOfType(run, "kubernetes:helm.sh/v4:Chart").find((candidate) => candidate.inputs.chart === KEDA_HTTP_CHART.chart);
}

describe("scale from zero through the KEDA HTTP add-on", () => {
    describe("the dev stack (minReplicas 0)", () => {
        const name = "qwen-1-5b";
        let run: ProgramRun;
        before(async () => {
            run = await runStackFile("dev");
        });

        it("scales the model to zero", () => {
            assert.strictEqual(must(run, "ScaledObject", name).spec.minReplicaCount, 0);
        });

        it("routes the model's proxy host names to its Service and port with an InterceptorRoute", () => {
            const route = must(run, "InterceptorRoute", name);
            const service = must(run, "Service", name);
            assert.strictEqual(route.apiVersion, "http.keda.sh/v1beta1");
            assert.strictEqual(route.metadata.namespace, service.metadata.namespace);
            assert.deepStrictEqual(route.spec.target, { service: service.metadata.name, port: service.spec.ports[0].port });
            assert.deepStrictEqual(route.spec.rules, [{ hosts: [`${name}-proxy`, `${name}-proxy.llm`, `${name}-proxy.llm.svc`, `${name}-proxy.llm.svc.cluster.local`] }]);
            // In-flight target = running + waiting targets of the stack (48 + 4): it never outbids the engine's triggers.
            assert.deepStrictEqual(route.spec.scalingMetric, { concurrency: { targetValue: 52 } });
            // Held for the startup budget (600 s) plus 20 minutes for a GPU node and the image.
            assert.deepStrictEqual(route.spec.timeouts, { readiness: "1800s", responseHeader: "0s" });
            assert.strictEqual(find(run, "HTTPScaledObject", name), undefined, "no HTTPScaledObject: InterceptorRoute creates no ScaledObject");
        });

        it("adds the add-on's external-push trigger, naming the InterceptorRoute, to the model's one ScaledObject", () => {
            const scaler = must(run, "ScaledObject", name);
            const push = scaler.spec.triggers.filter((t: Json) => t.type === "external-push");
            assert.deepStrictEqual(push, [{
                type: "external-push", name: "requests", metricType: "AverageValue",
                metadata: { scalerAddress: "keda-add-ons-http-external-scaler.keda:9090", interceptorRoute: must(run, "InterceptorRoute", name).metadata.name },
            }]);
            // The engine's queue and running triggers still scale 1..N.
            assert.deepStrictEqual(scaler.spec.triggers.filter((t: Json) => t.type === "prometheus").map((t: Json) => t.name), ["queue", "running"]);
        });

        it("keeps exactly one autoscaler per Deployment", () => {
            for (const deployment of (objects(run) as Json[]).filter((o) => o.kind === "Deployment")) {
                assert.deepStrictEqual(autoscalersOf(run, deployment).map((o) => `${o.kind}/${o.metadata.name}`), [`ScaledObject/${deployment.metadata.name}`]);
            }
        });

        it("exports the URL of an ExternalName Service that leads to the interceptor, with a Host the route matches", () => {
            const proxy = must(run, "Service", `${name}-proxy`);
            assert.deepStrictEqual(proxy.spec, {
                type: "ExternalName",
                externalName: "keda-add-ons-http-interceptor-proxy.keda.svc.cluster.local",
                ports: [{ name: "http", port: 8080, protocol: "TCP" }],
            });
            const models = run.outputs.models as Json;
            assert.deepStrictEqual(models[name], { url: `http://${name}-proxy.llm.svc.cluster.local:8080/v1`, servedModelName: "Qwen/Qwen2.5-1.5B-Instruct" });
            const url = new URL(models[name].url);
            assert.strictEqual(url.port, String((httpAddOnChart(run)?.inputs.values as Json).interceptor.proxy.port), "the port the installed interceptor listens on");
            assert.ok(must(run, "InterceptorRoute", name).spec.rules[0].hosts.includes(url.hostname), "the Host clients send is routed");
        });

        it("creates the InterceptorRoute after the add-on, and the ScaledObject after the InterceptorRoute", () => {
            const route = resource(run, "kubernetes:http.keda.sh/v1beta1:InterceptorRoute", `${name}-route`);
            const scaler = resource(run, "kubernetes:keda.sh/v1alpha1:ScaledObject", `${name}-scaler`);
            assert.ok(route.dependencies.includes(httpAddOnChart(run)!.urn), "the route waits for the add-on's CRDs");
            assert.ok(scaler.dependencies.includes(route.urn), "the ScaledObject waits for its InterceptorRoute");
        });

        it("installs the add-on from its pinned chart, after KEDA, in KEDA's namespace, off the GPU nodes, restricted", () => {
            const chart = httpAddOnChart(run);
            assert.ok(chart, "the add-on's chart is declared");
            assert.strictEqual(chart.inputs.version, "0.15.0");
            assert.deepStrictEqual(chart.inputs.repositoryOpts, { repo: "https://kedacore.github.io/charts" });
            assert.strictEqual(chart.inputs.namespace, "keda");
            const kedaChart = resourcesOfType(run, "kubernetes:helm.sh/v4:Chart").find((candidate) => candidate.inputs.chart === "keda")!;
            assert.ok(chart.dependencies.includes(kedaChart.urn), "after KEDA: the chart renders a ScaledObject");
            const values = chart.inputs.values as Json;
            assert.strictEqual(values.crds.install, true);
            for (const part of [values.operator, values.scaler, values.interceptor]) {
                assert.deepStrictEqual(part.tolerations, []);
                assert.ok(part.resources.requests.cpu && part.resources.requests.memory && part.resources.limits.cpu && part.resources.limits.memory);
            }
            assert.deepStrictEqual(values.podSecurityContext, { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
            assert.strictEqual(values.securityContext.allowPrivilegeEscalation, false);
            assert.deepStrictEqual(values.securityContext.capabilities.drop, ["ALL"]);
            assert.ok(values.interceptor.replicas.min >= 2, "every request of a scale-to-zero model passes an interceptor");
        });

        it("gives the chart's own interceptor ScaledObject a fallback (keda-fallback), and touches nothing else", () => {
            const opts = {};
            const scaledObjectArgs = { type: "kubernetes:keda.sh/v1alpha1:ScaledObject", name: "x", custom: true, props: { spec: { minReplicaCount: 2, triggers: [] } }, opts };
            assert.deepStrictEqual(interceptorScaledObjectFallback(scaledObjectArgs), {
                props: { spec: { minReplicaCount: 2, triggers: [], fallback: { failureThreshold: 3, replicas: 2, behavior: "currentReplicasIfHigher" } } }, opts,
            });
            assert.strictEqual(interceptorScaledObjectFallback({ ...scaledObjectArgs, type: "kubernetes:apps/v1:Deployment" }), undefined);
        });

        it("validates against the schemas (the InterceptorRoute against its transcribed CRD schema)", async () => {
            assert.deepStrictEqual(await validateObjects(objects(run)), []);
        });
    });

    // local scales on request rate counted by the interceptor: test/scaled-object.test.ts.
    for (const stack of ["prod"]) {
        it(`leaves ${stack} (a warm minimum) calling its Service directly, without the add-on`, async () => {
            const run = await runStackFile(stack);
            assert.strictEqual(httpAddOnChart(run), undefined);
            assert.ok(!objects(run).some((o) => o.kind === "InterceptorRoute" || o.kind === "HTTPScaledObject" || (o.metadata.name ?? "").endsWith("-proxy")));
            for (const [model, exported] of Object.entries(run.outputs.models as Json)) {
                assert.strictEqual(exported.url, `http://${model}.llm.svc.cluster.local/v1`);
            }
        });
    }

    it("sends a scale-to-zero model's Ingress through the proxy Service, and routes its host", async () => {
        const run = await runStack({
            target: "local",
            models: [{
                name: "qwen", repo: "Qwen/Qwen2.5-0.5B-Instruct", revision: REVISION, modelSize: "1Gi", storage: { size: "5Gi" },
                gpusPerReplica: 1, minReplicas: 0, maxReplicas: 1, apiKey: "required",
                ingress: { host: "qwen.example.com", className: "nginx", tls: { clusterIssuer: "letsencrypt" } },
            }, {
                name: "tiny", repo: "Qwen/Qwen2.5-0.5B-Instruct", revision: REVISION, modelSize: "1Gi", storage: { size: "5Gi" },
                engine: "ollama", gpusPerReplica: 0, minReplicas: 0, maxReplicas: 1,
            }],
        });
        assert.ok(httpAddOnChart(run), "the add-on is installed where a model scales to zero");
        const backend = must(run, "Ingress", "qwen").spec.rules[0].http.paths[0].backend.service;
        assert.deepStrictEqual(backend, { name: "qwen-proxy", port: { name: "http" } });
        assert.ok(must(run, "Service", "qwen-proxy").spec.ports.some((p: Json) => p.name === backend.port.name));
        assert.ok(must(run, "InterceptorRoute", "qwen").spec.rules[0].hosts.includes("qwen.example.com"));
        assert.deepStrictEqual(must(run, "Ingress", "qwen").spec.tls, [{ hosts: ["qwen.example.com"], secretName: "qwen-tls" }]);
        assert.strictEqual(must(run, "Ingress", "qwen").metadata.annotations["cert-manager.io/cluster-issuer"], "letsencrypt");
        // CPU models too: the external-push trigger sits next to the CPU query.
        assert.deepStrictEqual(must(run, "ScaledObject", "tiny").spec.triggers.map((t: Json) => t.type), ["prometheus", "external-push"]);
        assert.deepStrictEqual(await validateObjects(objects(run)), []);
    });
});
