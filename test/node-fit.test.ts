import * as assert from "assert";
import { dcgmExporterValues, devicePluginValues } from "../components/gpu/gpu-runtime";
import { alloyValues } from "../components/observability/logging-values";
import { prometheusStackValues } from "../components/observability/prometheus-values";
import { PlatformConfig } from "../config";
import { GPU_NODE_AGENTS, nodeAgents, nodeFit } from "../config/fit";
import { GPUS_PER_INSTANCE_TYPE } from "../lib/gpu-instances";
import { INSTANCE_TYPES, allocatable, instanceFacts, kubeReservedCpuMillis, kubeReservedMemoryBytes } from "../lib/instance-types";
import { parseQuantity } from "../lib/quantity";
import { STACKS, acceptedConfig, configProblems, stackFileConfig } from "./mocks";

const REVISION = "7ae557604adf67be50417f59c2c2f167def9a775";
const MI = 2 ** 20;
const GI = 2 ** 30;

function model(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return { name: "qwen", repo: "Qwen/Qwen2.5-7B-Instruct", revision: REVISION, modelSize: "16Gi", storage: { size: "50Gi" }, ...overrides };
}

function aws(instanceTypes: string[], gpusPerNode: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { target: "aws", cluster: { deployerCidrs: ["detect"] }, gpuPool: { instanceTypes, gpusPerNode, maxSize: 2 }, ...extra };
}

const requests = (resources: { requests: { cpu: string; memory: string } }) =>
    ({ cpuMillis: Math.round(parseQuantity(resources.requests.cpu)! * 1000), memoryBytes: parseQuantity(resources.requests.memory)! });
const agent = (name: string) => {
    const found = GPU_NODE_AGENTS.find((candidate) => candidate.name === name);
    assert.ok(found, name);
    return { cpuMillis: found.cpuMillis, memoryBytes: found.memoryBytes };
};

describe("instance facts (lib/instance-types.ts)", () => {
    it("reserves CPU on nodeadm's ladder: 6% of the first core, 1% of the second, 0.5% of the next two, 0.25% above", () => {
        assert.deepStrictEqual([1, 2, 4, 8, 48, 192].map(kubeReservedCpuMillis), [60, 70, 80, 90, 190, 550]);
    });

    it("reserves 11 MiB per pod + 255 MiB of memory, with maxPods from the ENIs, capped as managed node groups cap it", () => {
        assert.strictEqual(kubeReservedMemoryBytes(29), 574 * MI);
        // m6i.large: 3 ENIs x (10 - 1) + 2 = 29; g5.12xlarge: 15 x 49 + 2 = 737, capped at 250 (48 vCPUs); g6.xlarge 58 (< 110).
        assert.deepStrictEqual(["m6i.large", "g5.12xlarge", "g6.xlarge", "g4dn.xlarge", "p5.48xlarge"].map((type) => instanceFacts(type)?.maxPods), [29, 250, 58, 29, 100]);
    });

    it("leaves pods capacity less kube-reserved and the 100Mi hard eviction threshold (m6i.large: the 1930m EKS reports)", () => {
        assert.deepStrictEqual(allocatable("m6i.large"), { cpuMillis: 1930, memoryBytes: 8 * GI - 574 * MI - 100 * MI, gpus: 0 });
        assert.deepStrictEqual(allocatable("g6.12xlarge"), { cpuMillis: 47810, memoryBytes: 192 * GI - (11 * 234 + 255) * MI - 100 * MI, gpus: 4 });
        // nodeadm reserves memory for its own max pods, the ENI limit (737 on a g5.12xlarge), not the
        // managed node group's cap of 250 (withDefaultReservedResources): 11 x 737 + 255 = 8362 MiB.
        assert.strictEqual(instanceFacts("g5.12xlarge")?.eniMaxPods, 737);
        assert.strictEqual(allocatable("g5.12xlarge")?.memoryBytes, 192 * GI - 8362 * MI - 100 * MI);
        assert.strictEqual(allocatable("g6.metal"), undefined);
    });

    it("names each GPU like the k8s.amazonaws.com/accelerator label and keeps the GPU counts config/aws.ts and the policy pack read", () => {
        assert.deepStrictEqual(["g4dn.xlarge", "g5.xlarge", "g6.xlarge", "g6e.xlarge", "p4d.24xlarge", "p4de.24xlarge", "p5.48xlarge", "p5en.48xlarge"]
            .map((type) => `${INSTANCE_TYPES[type].gpu?.model}/${INSTANCE_TYPES[type].gpu?.memoryGiB}`),
        ["nvidia-t4/16", "nvidia-a10g/24", "nvidia-l4/24", "nvidia-l40s/48", "nvidia-a100/40", "nvidia-a100/80", "nvidia-h100/80", "nvidia-h200/141"]);
        assert.deepStrictEqual([GPUS_PER_INSTANCE_TYPE["g5.12xlarge"], GPUS_PER_INSTANCE_TYPE["g6.48xlarge"], GPUS_PER_INSTANCE_TYPE["p5.4xlarge"], GPUS_PER_INSTANCE_TYPE["m6i.large"]], [4, 8, 1, undefined]);
        for (const [type, facts] of Object.entries(INSTANCE_TYPES)) {
            assert.ok(facts.vcpus > 0 && facts.memoryGiB >= 2 * facts.vcpus && facts.maxPods > 0 && (facts.gpu === undefined) === type.startsWith("m"), type);
        }
    });
});

describe("node agents (config/fit.ts): our figures are the values our components render", () => {
    let observability: PlatformConfig["observability"];
    before(async () => {
        observability = (await acceptedConfig(stackFileConfig("dev"))).observability;
    });

    it("device plugin, DCGM exporter, node exporter and Alloy's config reloader", () => {
        assert.deepStrictEqual(agent("nvidia-device-plugin"), requests(devicePluginValues().resources));
        assert.deepStrictEqual(agent("dcgm-exporter"), requests(dcgmExporterValues(true).resources));
        assert.deepStrictEqual(agent("node-exporter"), requests(prometheusStackValues(observability)["prometheus-node-exporter"].resources));
        assert.deepStrictEqual(agent("alloy config-reloader"), requests(alloyValues(observability).configReloader.resources));
    });

    it("Alloy at the stack's observability.alloy.resources", () => {
        const alloy = nodeAgents({ alloy: { resources: { cpu: "250m", memory: "1Gi" } } }).find((candidate) => candidate.name === "alloy");
        assert.deepStrictEqual(alloy, { name: "alloy", cpuMillis: 250, memoryBytes: GI });
    });
});

describe("nodeFit: one replica against one empty node", () => {
    const agents = nodeAgents({ alloy: { resources: { cpu: "50m", memory: "128Mi" } } });

    it("takes the node agents off the allocatable: 410m and 488Mi with Alloy at 50m/128Mi", () => {
        const fit = nodeFit({ resources: { cpu: "3", memory: "10Gi" }, gpusPerReplica: 1 }, "g6.xlarge", agents);
        assert.deepStrictEqual(fit?.free, { cpuMillis: 3920 - 410, memoryBytes: 16 * GI - (11 * 58 + 255) * MI - 100 * MI - 488 * MI, gpus: 1 });
        assert.deepStrictEqual(fit?.fits, { cpu: true, memory: true, gpus: true });
    });

    it("counts the replicas an empty node holds (prod: two 2-GPU replicas per g5.12xlarge)", () => {
        assert.strictEqual(nodeFit({ resources: { cpu: "20", memory: "80Gi" }, gpusPerReplica: 2 }, "g5.12xlarge", agents)?.replicasPerNode, 2);
        assert.strictEqual(nodeFit({ resources: { cpu: "30", memory: "80Gi" }, gpusPerReplica: 1 }, "g5.12xlarge", agents)?.replicasPerNode, 1);
        assert.strictEqual(nodeFit({ resources: { cpu: "60", memory: "8Gi" }, gpusPerReplica: 1 }, "g5.12xlarge", agents)?.replicasPerNode, 0);
    });

    it("has no answer for a type without facts", () => {
        assert.strictEqual(nodeFit({ resources: { cpu: "1", memory: "1Gi" }, gpusPerReplica: 1 }, "g6.metal", agents), undefined);
    });
});

describe("config: a replica fits one node of every GPU pool type; /dev/shm fits the memory limit", () => {
    const cases: [string, Record<string, unknown>, string][] = [
        ["more memory than a g6.12xlarge leaves pods", aws(["g6.12xlarge"], 4, { models: [model({ resources: { memory: "300Gi", memoryLimit: "300Gi" } })] }),
            'llm-platform:models[0].resources.memory = "300Gi": does not fit one g6.12xlarge node: 300Gi requested, 188.6Gi allocatable after the node agents (192 GiB node)'],
        ["more CPUs than a 48-vCPU node has", aws(["g6.12xlarge"], 4, { models: [model({ resources: { cpu: "60", cpuLimit: "60" } })] }),
            'llm-platform:models[0].resources.cpu = "60": does not fit one g6.12xlarge node: 60 requested, 47.4 CPUs allocatable after the node agents (48 vCPUs node)'],
        ["all the vCPUs of a 4-vCPU node, in a pool of two such types", aws(["g6.xlarge", "g5.xlarge"], 1, { models: [model({ resources: { cpu: "4" } })] }),
            'llm-platform:models[0].resources.cpu = "4": does not fit one g6.xlarge node (nor g5.xlarge): 4 requested, 3.51 CPUs allocatable after the node agents (4 vCPUs node)'],
        ["a request that fits the larger type of the pool only", aws(["g6e.xlarge", "g6.xlarge"], 1, { models: [model({ resources: { memory: "20Gi", memoryLimit: "24Gi" } })] }),
            'llm-platform:models[0].resources.memory = "20Gi": does not fit one g6.xlarge node: 20Gi requested, 14.5Gi allocatable after the node agents (16 GiB node)'],
        ["a memory-hungry Alloy on every node", aws(["g6.xlarge"], 1, { observability: { alloy: { resources: { memory: "2Gi", memoryLimit: "2Gi" } } }, models: [model({ resources: { memory: "13Gi" } })] }),
            'llm-platform:models[0].resources.memory = "13Gi": does not fit one g6.xlarge node: 13Gi requested, 12.6Gi allocatable after the node agents (16 GiB node)'],
        ["a /dev/shm above the memory limit (aws)", aws(["g6.xlarge"], 1, { models: [model({ resources: { shmSize: "13Gi", memoryLimit: "12Gi" } })] }),
            'llm-platform:models[0].resources.shmSize = "13Gi": is more than resources.memoryLimit (12Gi): /dev/shm is memory (emptyDir medium Memory) and counts against the container\'s memory limit'],
        ["a /dev/shm above the memory limit (local)", { target: "local", models: [model({ engine: "ollama", gpusPerReplica: 0, resources: { cpu: "1", memory: "1Gi", memoryLimit: "2Gi", shmSize: "4Gi" } })] },
            'llm-platform:models[0].resources.shmSize = "4Gi": is more than resources.memoryLimit (2Gi): /dev/shm is memory (emptyDir medium Memory) and counts against the container\'s memory limit'],
    ];
    for (const [what, config, expected] of cases) {
        it(`rejects ${what}`, async () => {
            assert.deepStrictEqual(await configProblems(config), [expected]);
        });
    }

    it("accepts requests up to what the tightest type leaves, a /dev/shm equal to the limit, and a CPU model (not on the GPU pool)", async () => {
        await acceptedConfig(aws(["g6.xlarge", "g5.xlarge"], 1, { models: [
            model({ resources: { cpu: "3510m", memory: "14.5Gi", memoryLimit: "14.5Gi", shmSize: "14.5Gi" } }),
            model({ name: "cpu", engine: "ollama", gpusPerReplica: 0, resources: { cpu: "64", memory: "300Gi", cpuLimit: "64", memoryLimit: "300Gi" } }),
        ] }));
    });

    it("does not size a local cluster it does not know", async () => {
        await acceptedConfig({ target: "local", models: [model({ resources: { cpu: "60", memory: "300Gi", cpuLimit: "60", memoryLimit: "300Gi" } })] });
    });

    it("accepts the project's model defaults on the default GPU pool (g6.xlarge)", async () => {
        await acceptedConfig({ target: "aws", cluster: { deployerCidrs: ["detect"] }, models: [model()] });
    });

    for (const stack of STACKS) {
        it(`accepts the shipped ${stack} stack`, async () => {
            await acceptedConfig(stackFileConfig(stack));
        });
    }
});
