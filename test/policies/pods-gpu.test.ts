import * as assert from "assert";
import { gpuPodPlacement, nonGpuOffGpuNodes } from "../../policies/rules/pods-gpu";
import { cpuService, mainContainer, modelServer, podSpec } from "./fixtures";
import { cases, messagesBothWays, mutated } from "./harness";

const GPU_TOLERATION = { key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" };

describe("gpu-pod-placement", () => {
    cases(gpuPodPlacement, modelServer, [
        ["a GPU pod without the toleration", (o) => { delete podSpec(o).tolerations; }, [/uses GPUs but does not tolerate the nvidia.com\/gpu:NoSchedule taint/]],
        ["a GPU pod that tolerates only NO_SCHEDULE (the EKS spelling, not Kubernetes')", (o) => { podSpec(o).tolerations = [{ ...GPU_TOLERATION, effect: "NO_SCHEDULE" }]; },
            [/does not tolerate the nvidia.com\/gpu:NoSchedule taint/]],
        ["a GPU pod that selects no GPU node", (o) => { delete podSpec(o).nodeSelector; }, [/selects no GPU node label \(nvidia.com\/gpu.present=true\)/]],
        ["a GPU pod whose affinity has a term without the GPU label", (o) => {
            delete podSpec(o).nodeSelector;
            podSpec(o).affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [
                { matchExpressions: [{ key: "nvidia.com/gpu.present", operator: "In", values: ["true"] }] },
                { matchExpressions: [{ key: "kubernetes.io/arch", operator: "In", values: ["amd64"] }] },
            ] } } };
        }, [/selects no GPU node label/]],
        ["a Pod (not a template) asking for a GPU with neither", (o) => {
            const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "p" }, spec: { containers: [mainContainer(o)] } };
            Object.keys(o).forEach((key) => delete o[key]);
            Object.assign(o, pod);
        }, [/Pod p uses GPUs but does not tolerate/, /Pod p uses GPUs but selects no GPU node label/]],
    ], [
        ["a keyless Exists toleration and a required affinity on the GPU label", (o) => {
            podSpec(o).tolerations = [{ operator: "Exists" }];
            delete podSpec(o).nodeSelector;
            podSpec(o).affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [
                { matchExpressions: [{ key: "nvidia.com/gpu.present", operator: "In", values: ["true"] }] },
            ] } } };
        }],
        ["a CPU pod with neither", (o) => { o.spec.template.spec = cpuService().spec.template.spec; }],
        ["a missing spec", (o) => { delete o.spec; }],
    ]);

    it("takes the GPU node labels from config", async () => {
        const pool = mutated(modelServer(), (o) => { podSpec(o).nodeSelector = { "llm-platform.io/pool": "gpu" }; });
        assert.strictEqual((await messagesBothWays(gpuPodPlacement, [pool])).length, 1);
        assert.deepStrictEqual(await messagesBothWays(gpuPodPlacement, [pool], { gpuNodeLabels: ["llm-platform.io/pool=gpu"] }), []);
    });
});

describe("non-gpu-off-gpu-nodes", () => {
    cases(nonGpuOffGpuNodes, cpuService, [
        ["a CPU pod tolerating the GPU taint", (o) => { podSpec(o).tolerations = [GPU_TOLERATION]; }, [/Deployment web uses no GPU but tolerates the nvidia.com\/gpu taint/]],
        ["a CPU pod with a keyless Exists toleration", (o) => { podSpec(o).tolerations = [{ operator: "Exists" }]; }, [/uses no GPU but tolerates/]],
        ["a Deployment named like a node agent (only DaemonSets are)", (o) => { o.metadata.name = "alloy-gateway"; podSpec(o).tolerations = [GPU_TOLERATION]; }, [/Deployment alloy-gateway uses no GPU but tolerates/]],
    ], [
        ["a toleration for another taint", (o) => { podSpec(o).tolerations = [{ key: "dedicated", operator: "Equal", value: "infra", effect: "NoSchedule" }]; }],
        ["a GPU pod tolerating the taint", (o) => { o.spec.template.spec = modelServer().spec.template.spec; }],
        ["a node agent on the allowlist (nvidia-device-plugin-daemonset)", (o) => {
            o.kind = "DaemonSet";
            o.metadata.name = "nvidia-device-plugin-daemonset";
            podSpec(o).tolerations = [GPU_TOLERATION];
        }],
    ]);

    it("allows only the configured node agents", async () => {
        const shipper = mutated(cpuService(), (o) => { o.kind = "DaemonSet"; o.metadata.name = "vector"; podSpec(o).tolerations = [{ operator: "Exists" }]; });
        assert.strictEqual((await messagesBothWays(nonGpuOffGpuNodes, [shipper])).length, 1);
        assert.deepStrictEqual(await messagesBothWays(nonGpuOffGpuNodes, [shipper], { nodeAgents: ["vector"] }), []);
    });
});
