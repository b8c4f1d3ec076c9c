import * as assert from "assert";
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { Engine, ModelConfig, PlatformConfig } from "../config";
import { OLLAMA_SCRIPT, TGI_ROOT_REASON, engineCommand, engineProfile, podSecurityLabels, servingNamespace } from "../components/model-server/engines";
import { REPLACE, SURGE, drainTiming, rollingUpdate, serverDeployment, serverResources } from "../components/model-server/deployment";
import { modelServerNames } from "../components/model-server/names";
import { podSecurityRestricted } from "../policies/rules/pods-security";
import { loadConfigWith, objects, runStack, runStackFile } from "./mocks";
import { violations, k8s } from "./policies/harness";

/* eslint-disable @typescript-eslint/no-explicit-any */
type Json = Record<string, any>;

const REVISION = "7ae557604adf67be50417f59c2c2f167def9a775";

function baseModel(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return { name: "qwen", repo: "Qwen/Qwen2.5-0.5B-Instruct", revision: REVISION, modelSize: "1Gi", storage: { size: "5Gi" }, ...overrides };
}

/** The models as the program sees them (every default applied), from a local stack's config. */
async function models(...overrides: Record<string, unknown>[]): Promise<ModelConfig[]> {
    const config = await loadConfigWith({ target: "local", models: overrides.map((o, i) => baseModel({ name: `m${i}`, ...o })) });
    assert.ok(!(config instanceof Error), config instanceof Error ? config.message : "");
    return [...(config as PlatformConfig).models];
}

async function deployment(overrides: Record<string, unknown>): Promise<Json> {
    const [model] = await models(overrides);
    const profile = engineProfile(model.engine, model.image);
    return serverDeployment(model, { names: modelServerNames(model, servingNamespace("llm", model.engine)), profile }) as Json;
}

function server(object: Json): Json {
    return object.spec.template.spec.containers.find((c: Json) => c.name === "server");
}

async function configProblems(config: Record<string, unknown>): Promise<readonly string[]> {
    const result = await loadConfigWith(config);
    return result instanceof Error ? (result as Error & { problems?: string[] }).problems ?? [result.message] : [];
}

describe("engines: drain", () => {
    // Literal timelines. Kubernetes sends SIGTERM when preStop returns and SIGKILL at the grace period.
    it("vLLM: 15 s preStop for endpoint removal, then --shutdown-timeout=drainSeconds, killed no sooner than 15 + 60 + 15 s", async () => {
        const object = await deployment({ drainSeconds: 60 });
        assert.deepStrictEqual(server(object).lifecycle.preStop.exec.command, ["sleep", "15"]);
        assert.ok(server(object).args.includes("--shutdown-timeout=60"), server(object).args.join(" "));
        assert.strictEqual(object.spec.template.spec.terminationGracePeriodSeconds, 90);
    });

    it("TGI: 15 s preStop, then --graceful-termination-timeout=drainSeconds (the router finishes open requests), grace 90 s", async () => {
        const object = await deployment({ engine: "tgi", drainSeconds: 60 });
        assert.deepStrictEqual(server(object).lifecycle.preStop.exec.command, ["sleep", "15"]);
        assert.ok(server(object).args.includes("--graceful-termination-timeout=60"), server(object).args.join(" "));
        assert.strictEqual(object.spec.template.spec.terminationGracePeriodSeconds, 90);
    });

    it("Ollama closes its connections on SIGTERM: the drain is the preStop sleep (drainSeconds), grace 60 + 15 s", async () => {
        const object = await deployment({ engine: "ollama", gpusPerReplica: 0, drainSeconds: 60 });
        assert.deepStrictEqual(server(object).lifecycle.preStop.exec.command, ["sleep", "60"]);
        assert.strictEqual(object.spec.template.spec.terminationGracePeriodSeconds, 75);
    });

    it("a drain shorter than the endpoint propagation still sleeps 15 s before SIGTERM", () => {
        assert.deepStrictEqual(drainTiming("closes", 5), { preStopSleepSeconds: 15, engineShutdownSeconds: 0, terminationGracePeriodSeconds: 30 });
        assert.deepStrictEqual(drainTiming("drains", 0), { preStopSleepSeconds: 15, engineShutdownSeconds: 0, terminationGracePeriodSeconds: 30 });
        assert.deepStrictEqual(drainTiming("drains", 600), { preStopSleepSeconds: 15, engineShutdownSeconds: 600, terminationGracePeriodSeconds: 630 });
    });
});

describe("engines: vLLM as uid 1000", () => {
    it("names the user (USER, LOGNAME) so getpass.getuser() needs no passwd entry, with HOME on the writable cache", async () => {
        const object = await deployment({});
        const env = Object.fromEntries((server(object).env as Json[]).map((e) => [e.name, e.value]));
        assert.deepStrictEqual({ USER: env.USER, LOGNAME: env.LOGNAME, HOME: env.HOME }, { USER: "vllm", LOGNAME: "vllm", HOME: "/cache" });
        assert.strictEqual(object.spec.template.spec.securityContext.runAsUser, 1000);
        assert.ok(server(object).volumeMounts.some((m: Json) => m.mountPath === "/cache"));
    });

    it("keeps it with an image override", async () => {
        const object = await deployment({ image: "registry.example.com/vllm-custom:1.0" });
        assert.ok((server(object).env as Json[]).some((e) => e.name === "USER" && e.value === "vllm"));
    });
});

describe("engines: TGI runs as root, in its own baseline namespace", () => {
    it("puts TGI in <namespace>-tgi at the baseline level, the other engines in the restricted namespace", () => {
        assert.deepStrictEqual((["vllm", "tgi", "ollama"] as Engine[]).map((engine) => servingNamespace("llm", engine)), ["llm", "llm-tgi", "llm"]);
        assert.deepStrictEqual(podSecurityLabels("baseline"), {
            "pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/enforce-version": "latest",
            "pod-security.kubernetes.io/warn": "restricted", "pod-security.kubernetes.io/audit": "restricted",
        });
    });

    it("runs the TGI server as uid 0 with no capabilities, no escalation, RuntimeDefault seccomp; its init container as 1000", async () => {
        const pod = (await deployment({ engine: "tgi" })).spec.template.spec;
        assert.deepStrictEqual({ user: pod.securityContext.runAsUser, nonRoot: pod.securityContext.runAsNonRoot }, { user: 0, nonRoot: false });
        assert.deepStrictEqual(pod.securityContext.seccompProfile, { type: "RuntimeDefault" });
        const main = pod.containers[0].securityContext;
        assert.deepStrictEqual({ ...main }, {
            allowPrivilegeEscalation: false, privileged: false, runAsNonRoot: false, capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" },
        });
        const init = pod.initContainers[0].securityContext;
        assert.deepStrictEqual({ user: init.runAsUser, nonRoot: init.runAsNonRoot }, { user: 1000, nonRoot: true });
        // Baseline: no host namespaces, no hostPath, no added capabilities, not privileged.
        assert.ok(!pod.hostNetwork && !pod.hostPID && !pod.hostIPC && !pod.volumes.some((v: Json) => v.hostPath));
    });

    it("declares the baseline namespace only when a TGI model exists, and serves the TGI model from it", async () => {
        const run = await runStack({ target: "local", models: [baseModel({ name: "v", gpusPerReplica: 1 }), baseModel({ name: "t", engine: "tgi", gpusPerReplica: 1 })] });
        const namespaces = objects(run).filter((o) => o.kind === "Namespace") as Json[];
        const level = (name: string) => namespaces.find((n) => n.metadata.name === name)?.metadata.labels["pod-security.kubernetes.io/enforce"];
        assert.deepStrictEqual({ llm: level("llm"), "llm-tgi": level("llm-tgi") }, { llm: "restricted", "llm-tgi": "baseline" });
        const ns = (kind: string, name: string) => (objects(run).find((o) => o.kind === kind && o.metadata.name === name) as Json).metadata.namespace;
        assert.deepStrictEqual([ns("Deployment", "v"), ns("Deployment", "t"), ns("PersistentVolumeClaim", "t-weights"), ns("ScaledObject", "t")], ["llm", "llm-tgi", "llm-tgi", "llm-tgi"]);
        assert.deepStrictEqual((run.outputs.models as Json).t, { url: "http://t.llm-tgi.svc.cluster.local/v1", servedModelName: "Qwen/Qwen2.5-0.5B-Instruct" });

        const vllmOnly = await runStack({ target: "local", models: [baseModel({ gpusPerReplica: 1 })] });
        assert.deepStrictEqual(objects(vllmOnly).filter((o) => o.kind === "Namespace" && String(o.metadata.name).startsWith("llm")).map((o) => o.metadata.name), ["llm"]);
    });

    it("fails pod-security-restricted unless the stack names the model in an exemption, with the reason", async () => {
        const object: Json = { apiVersion: "apps/v1", kind: "Deployment", ...(await deployment({ name: "t", engine: "tgi" })) };
        assert.strictEqual(object.metadata.namespace, "llm-tgi");
        const found = await violations(podSecurityRestricted, [k8s(object)]);
        assert.deepStrictEqual(found.map((v) => v.message), ['Deployment t: container "server" is not restricted: runAsNonRoot is not true; runAsUser is 0 (root).']);
        const exempt = { exemptions: [{ name: "t", namespace: "llm-tgi", reason: TGI_ROOT_REASON }] };
        assert.deepStrictEqual(await violations(podSecurityRestricted, [k8s(object)], exempt), []);
    });
});

describe("engines: Ollama's script forwards SIGTERM", function () {
    this.timeout(20_000);
    let dir: string;
    let child: ChildProcess | undefined;

    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "ollama-script-"));
        fs.mkdirSync(path.join(dir, "bin"));
        // A stand-in `ollama`: `serve` records TERM and exits 7 on it; `list` succeeds once serve is up.
        fs.writeFileSync(path.join(dir, "bin", "ollama"), [
            "#!/bin/sh",
            'case "$1" in',
            `serve) echo $$ > "$HOME/serve.pid"; trap 'echo "serve got TERM" >> "$HOME/log"; exit 7' TERM; echo "serve started" >> "$HOME/log"; touch "$HOME/up"; while :; do sleep 0.05; done ;;`,
            'list) [ -z "$NEVER_UP" ] && [ -f "$HOME/up" ] ;;',
            'create) echo "create $2 from $(cat "$4")" >> "$HOME/log"',
            '    [ -z "$FAIL_CREATE" ] || exit 3',
            `    [ -z "$SLOW_CREATE" ] || { trap 'echo "create got TERM" >> "$HOME/log"; exit 9' TERM; while :; do sleep 0.05; done; } ;;`,
            "esac",
        ].join("\n"), { mode: 0o755 });
    });

    afterEach(() => {
        // The stand-in server is ours: end it if the script left it running (the bug this checks).
        const pidFile = path.join(dir, "serve.pid");
        if (fs.existsSync(pidFile)) {
            try { process.kill(Number(fs.readFileSync(pidFile, "utf8")), "SIGKILL"); } catch { /* already gone */ }
        }
        if (child && child.exitCode === null && child.signalCode === null) {
            child.kill("SIGKILL");
        }
        fs.rmSync(dir, { recursive: true, force: true });
    });

    async function until(condition: () => boolean, what: string, ms = 8000): Promise<void> {
        const end = Date.now() + ms;
        while (!condition()) {
            assert.ok(Date.now() < end, `timed out waiting for ${what}`);
            await new Promise((resolve) => setTimeout(resolve, 50));
        }
    }

    const log = () => (fs.existsSync(path.join(dir, "log")) ? fs.readFileSync(path.join(dir, "log"), "utf8") : "");

    /**
     * The container's command with the stand-in on PATH; resolves with how it exited, or "hung" after
     * 10 s: far below the script's 120 s wait, and far above a loaded machine's slowest exit.
     */
    async function runScript(extraEnv: Record<string, string> = {}) {
        const [model] = await models({ engine: "ollama", gpusPerReplica: 0, servedModelName: "qwen-small" });
        const { command, args, env } = engineCommand(model, engineProfile("ollama"), dir);
        assert.deepStrictEqual(args, [OLLAMA_SCRIPT]);
        const vars = Object.fromEntries(env.map((e) => [e.name, e.value]));
        child = spawn(command[0], [...command.slice(1), ...args], {
            env: { PATH: `${path.join(dir, "bin")}:${process.env.PATH}`, HOME: dir, MODEL_DIR: vars.MODEL_DIR, SERVED_MODEL_NAME: vars.SERVED_MODEL_NAME, ...extraEnv },
            stdio: "ignore",
        });
        const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child!.on("exit", (code, signal) => resolve({ code, signal })));
        return () => Promise.race([exited, new Promise<"hung">((resolve) => setTimeout(() => resolve("hung"), 10_000))]);
    }

    it("stopped before the server answers, it stops the server and exits with its status at once (not after the 120 s wait)", async () => {
        const result = await runScript({ NEVER_UP: "1" });
        await until(() => log().includes("serve started"), "the server to start");
        child!.kill("SIGTERM");
        assert.deepStrictEqual(await result(), { code: 7, signal: null });
        assert.deepStrictEqual(log().trim().split("\n"), ["serve started", "serve got TERM"]);
    });

    it("stopped while it imports the model, it stops the import and the server and exits with the server's status at once", async () => {
        const result = await runScript({ SLOW_CREATE: "1" });
        await until(() => log().includes("create"), "the import to start");
        child!.kill("SIGTERM");
        assert.deepStrictEqual(await result(), { code: 7, signal: null });
        // The stand-in import notes the TERM after its current sleep: it may write just after the script exits.
        await until(() => log().includes("create got TERM"), "the import to be stopped", 2000);
        const lines = log().trim().split("\n");
        assert.deepStrictEqual(lines.slice(0, 2), ["serve started", `create qwen-small from FROM /models/Qwen/Qwen2.5-0.5B-Instruct/${REVISION}`]);
        assert.deepStrictEqual(lines.slice(2).sort(), ["create got TERM", "serve got TERM"]);
    });

    it("a failed import stops the server and fails the container (exit 1)", async () => {
        const result = await runScript({ FAIL_CREATE: "1" });
        assert.deepStrictEqual(await result(), { code: 1, signal: null });
        await until(() => log().includes("serve got TERM"), "the server to be stopped", 2000);
    });

    it("creates the model once the server is up, and on SIGTERM stops the server and exits with its status", async () => {
        const result = await runScript();
        await until(() => log().includes("create"), "the model to be created");
        child!.kill("SIGTERM");
        assert.deepStrictEqual(await result(), { code: 7, signal: null }, "the script exits with the server's own status");
        assert.deepStrictEqual(log().trim().split("\n"), [
            "serve started",
            `create qwen-small from FROM /models/Qwen/Qwen2.5-0.5B-Instruct/${REVISION}`,
            "serve got TERM",
        ]);
    });
});

describe("engines: rollout from GPU headroom", () => {
    const gpuModel = (name: string, gpusPerReplica: number, maxReplicas: number) => ({ name, gpusPerReplica, maxReplicas });

    it("dev: a pool of 2 x 1 GPU with the model at 2 replicas has no spare GPU: take one down first", () => {
        const model = gpuModel("qwen-1-5b", 1, 2);
        assert.deepStrictEqual(rollingUpdate(model, [model], { maxSize: 2, gpusPerNode: 1 }), { maxSurge: 0, maxUnavailable: 1 });
    });

    it("prod: 3 x 4 GPUs, 4 replicas x 2 GPUs leave a node's worth: surge one", () => {
        const model = gpuModel("qwen-7b", 2, 4);
        assert.deepStrictEqual(rollingUpdate(model, [model], { maxSize: 3, gpusPerNode: 4 }), { maxSurge: 1, maxUnavailable: 0 });
    });

    it("counts the room per node: three free GPUs on three nodes do not hold a 3-GPU replica", () => {
        const model = gpuModel("big", 3, 3);
        assert.deepStrictEqual(rollingUpdate(model, [model], { maxSize: 3, gpusPerNode: 4 }), REPLACE);
        assert.deepStrictEqual(rollingUpdate(gpuModel("small", 1, 1), [model, gpuModel("small", 1, 1)], { maxSize: 3, gpusPerNode: 4 }), SURGE);
    });

    it("counts the other GPU models, not the CPU ones; CPU models and local stacks surge", () => {
        const a = gpuModel("a", 1, 1);
        assert.deepStrictEqual(rollingUpdate(a, [a, gpuModel("b", 1, 1)], { maxSize: 2, gpusPerNode: 1 }), REPLACE);
        assert.deepStrictEqual(rollingUpdate(a, [a, gpuModel("cpu", 0, 5)], { maxSize: 2, gpusPerNode: 1 }), SURGE);
        assert.deepStrictEqual(rollingUpdate(gpuModel("cpu", 0, 5), [a], { maxSize: 1, gpusPerNode: 1 }), SURGE);
        assert.deepStrictEqual(rollingUpdate(a, [a], undefined), SURGE);
    });

    it("the shipped dev stack replaces, prod surges", async () => {
        const strategy = async (stack: string, name: string) =>
            ((await runStackFile(stack)).resources.find((r) => r.type === "kubernetes:apps/v1:Deployment" && r.name === `${name}-server`)?.inputs as Json).spec.strategy.rollingUpdate;
        assert.deepStrictEqual(await strategy("dev", "qwen-1-5b"), { maxSurge: 0, maxUnavailable: 1 });
        assert.deepStrictEqual(await strategy("prod", "qwen-7b"), { maxSurge: 1, maxUnavailable: 0 });
    });
});

describe("engines: pipeline parallelism", () => {
    it("serves a 2 x 2 vLLM model on 4 GPUs: requests 4, passes both sizes", async () => {
        const [model] = await models({ gpusPerReplica: 4, vllm: { tensorParallelSize: 2, pipelineParallelSize: 2 } });
        const { requests, limits } = serverResources(model) as Json;
        assert.deepStrictEqual([requests["nvidia.com/gpu"], limits["nvidia.com/gpu"]], ["4", "4"]);
        const { args } = engineCommand(model, engineProfile("vllm"), "/cache");
        assert.deepStrictEqual(args.filter((a) => /parallel-size/.test(a)), ["--tensor-parallel-size=2", "--pipeline-parallel-size=2"]);
    });

    it("defaults to 1", async () => {
        const [model] = await models({});
        assert.ok(engineCommand(model, engineProfile("vllm"), "/cache").args.includes("--pipeline-parallel-size=1"));
    });

    it("refuses sizes whose product is not the replica's GPUs, and pipeline parallelism with TGI, in one line naming the key", async () => {
        assert.deepStrictEqual(await configProblems({ target: "local", models: [baseModel({ gpusPerReplica: 4, vllm: { tensorParallelSize: 2 } })] }),
            ["llm-platform:models[0].vllm.tensorParallelSize = 2: x vllm.pipelineParallelSize (1) is 2, not gpusPerReplica (4): vLLM runs one worker per GPU"]);
        assert.deepStrictEqual(await configProblems({ target: "local", models: [baseModel({ gpusPerReplica: 2, vllm: { tensorParallelSize: 2, pipelineParallelSize: 2 } })] }),
            ["llm-platform:models[0].vllm.tensorParallelSize = 2: x vllm.pipelineParallelSize (2) is 4, not gpusPerReplica (2): vLLM runs one worker per GPU"]);
        assert.deepStrictEqual(await configProblems({ target: "local", models: [baseModel({ engine: "tgi", gpusPerReplica: 4, vllm: { tensorParallelSize: 2, pipelineParallelSize: 2 } })] }),
            ["llm-platform:models[0].vllm.pipelineParallelSize = 2: must be 1 with engine tgi: TGI has no pipeline parallelism"]);
        assert.deepStrictEqual(await configProblems({ target: "local", models: [baseModel({ engine: "tgi", gpusPerReplica: 2, vllm: { tensorParallelSize: 1 } })] }),
            ["llm-platform:models[0].vllm.tensorParallelSize = 1: must equal gpusPerReplica (2) with engine tgi: TGI runs one shard per GPU (--num-shard)"]);
        assert.deepStrictEqual(await configProblems({ target: "local", models: [baseModel({ engine: "tgi", gpusPerReplica: 2, vllm: { tensorParallelSize: 2 } })] }), []);
    });
});
