import * as assert from "assert";
import { gracefulDrain, llmProbes, modelWeightsOnPvc } from "../../policies/rules/pods-model-server";
import { cpuService, mainContainer, modelServer, podSpec } from "./fixtures";
import { cases, k8s, messagesBothWays, mutated, violations } from "./harness";

describe("model-weights-on-pvc", () => {
    cases(modelWeightsOnPvc, modelServer, [
        ["weights mounted read-write", (o) => { mainContainer(o).volumeMounts[0].readOnly = false; podSpec(o).volumes[0].persistentVolumeClaim.readOnly = false; },
            [/container "vllm" mounts claim "qwen-weights" read-write; mount the weights readOnly: true/]],
        ["no claim at all, weights from an emptyDir filled by an init container", (o) => {
            podSpec(o).volumes[0] = { name: "weights", emptyDir: {} };
            podSpec(o).initContainers = [{ name: "fetch", image: "python:3.12-slim", command: ["sh", "-c", "hf download Qwen/Qwen2.5-7B-Instruct --local-dir /models"],
                volumeMounts: [{ name: "weights", mountPath: "/models" }] }];
        }, [/container "vllm" mounts no PersistentVolumeClaim/, /initContainer "fetch" downloads into an emptyDir at start/]],
        ["weights on a hostPath", (o) => { podSpec(o).volumes[0] = { name: "weights", hostPath: { path: "/mnt/models" } }; },
            [/mounts no PersistentVolumeClaim/, /volume "weights" is a hostPath/]],
        ["a model server recognised by label only", (o) => {
            mainContainer(o).image = "registry.example.com/inference/llama-server:1.0";
            delete mainContainer(o).volumeMounts;
        }, [/container "vllm" mounts no PersistentVolumeClaim/]],
    ], [
        ["read-only set on the volume instead of the mount", (o) => { delete mainContainer(o).volumeMounts[0].readOnly; }],
        ["a workload that is no model server", (o) => { Object.assign(o, cpuService()); }],
        ["a missing spec", (o) => { delete o.spec; o.metadata.labels = {}; }],
    ]);

    it("recognises serving engines by the configured image list", async () => {
        const custom = mutated(modelServer(), (o) => {
            o.metadata.labels = {};
            o.spec.template.metadata.labels = { app: "qwen" };
            mainContainer(o).image = "example.com/sglang:0.4";
            podSpec(o).volumes[0] = { name: "weights", emptyDir: {} };
        });
        assert.deepStrictEqual(await messagesBothWays(modelWeightsOnPvc, [custom]), []);
        assert.strictEqual((await messagesBothWays(modelWeightsOnPvc, [custom], { modelServerImages: ["example.com/sglang"] })).length, 1);
    });
});

describe("llm-probes", () => {
    cases(llmProbes, modelServer, [
        ["no startup probe", (o) => { delete mainContainer(o).startupProbe; }, [/container "vllm" has no startupProbe/]],
        ["a startup budget shorter than a model load (Kubernetes defaults: 3 x 10 s)", (o) => { mainContainer(o).startupProbe = { httpGet: { path: "/health", port: 8000 } }; },
            [/startupProbe allows 30 s, less than the 300 s a model load needs/]],
        ["no readiness probe", (o) => { delete mainContainer(o).readinessProbe; }, [/has no readinessProbe/]],
    ], [
        ["a budget made of an initial delay", (o) => { mainContainer(o).startupProbe = { initialDelaySeconds: 240, periodSeconds: 20, failureThreshold: 3, tcpSocket: { port: 8000 } }; }],
    ]);

    it("takes the load time from config", async () => {
        assert.match((await messagesBothWays(llmProbes, [modelServer()], { minStartupSeconds: 1200 }))[0], /allows 900 s, less than the 1200 s/);
    });
});

describe("graceful-drain (advisory)", () => {
    cases(gracefulDrain, modelServer, [
        ["no preStop hook", (o) => { delete mainContainer(o).lifecycle; }, [/container "vllm" has no preStop hook/]],
        ["the default 30 s grace period, which a 30 s preStop sleep also uses up", (o) => { delete podSpec(o).terminationGracePeriodSeconds; },
            [/terminationGracePeriodSeconds is 30, less than 60/, /preStop sleeps 30 s, not less than the 30 s grace period/]],
        ["a preStop sleep as long as the grace period", (o) => { mainContainer(o).lifecycle.preStop.sleep.seconds = 60; }, [/preStop sleeps 60 s, not less than the 60 s grace period/]],
    ]);

    it("reports at advisory level", async () => {
        const found = await violations(gracefulDrain, [k8s(mutated(modelServer(), (o) => { delete mainContainer(o).lifecycle; }))]);
        assert.deepStrictEqual(found.map((v) => v.enforcementLevel), ["advisory"]);
    });
});
