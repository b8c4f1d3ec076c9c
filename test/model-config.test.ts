import * as assert from "assert";
import { acceptedConfig, configProblems } from "./mocks";

const REVISION = "7ae557604adf67be50417f59c2c2f167def9a775";

function model(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return { name: "qwen", repo: "Qwen/Qwen2.5-7B-Instruct", revision: REVISION, modelSize: "16Gi", storage: { size: "50Gi" }, ...overrides };
}

/** An aws stack: a GPU pool of up to 2 nodes with 4 GPUs each (8 GPUs). */
const AWS = { target: "aws", cluster: { deployerCidrs: ["detect"] }, gpuPool: { instanceTypes: ["g6.12xlarge"], gpusPerNode: 4, maxSize: 2 } };
const RWX = { size: "50Gi", storageClass: "efs-models", accessMode: "ReadWriteMany" };

describe("model config: cross-field checks", () => {
    const cases: [string, Record<string, unknown>, string][] = [
        ["a tensor parallel size that does not divide the GPUs", { ...AWS, models: [model({ gpusPerReplica: 3, vllm: { tensorParallelSize: 2 } })] },
            "llm-platform:models[0].vllm.tensorParallelSize = 2: x vllm.pipelineParallelSize (1) is 2, not gpusPerReplica (3): vLLM runs one worker per GPU"],
        ["a replica larger than one node", { ...AWS, models: [model({ gpusPerReplica: 8, storage: RWX, vllm: { tensorParallelSize: 8 } })] },
            "llm-platform:models[0].gpusPerReplica = 8: does not fit one node (gpuPool.gpusPerNode = 4)"],
        ["more replicas than the pool holds at its max size", { ...AWS, models: [model({ gpusPerReplica: 2, maxReplicas: 5, storage: RWX, vllm: { tensorParallelSize: 2 } })] },
            "llm-platform:models[0].maxReplicas = 5: x gpusPerReplica (2) needs 10 GPUs; the GPU pool holds 8 at its max size (gpuPool.maxSize 2 x gpusPerNode 4)"],
        ["several aws replicas on a ReadWriteOnce claim", { ...AWS, models: [model({ maxReplicas: 2 })] },
            'llm-platform:models[0].storage.accessMode = "ReadWriteOnce": must be ReadWriteMany on aws when maxReplicas > 1: replicas on different nodes share one copy of the weights (EFS)'],
        ["a shared claim on the default (EBS) class", { ...AWS, models: [model({ maxReplicas: 2, storage: { accessMode: "ReadWriteMany" } })] },
            'llm-platform:models[0].storage.storageClass = "": must name a shared class (efs-models) for ReadWriteMany: the cluster\'s default class is EBS, which cannot share a volume'],
        ["a read-only claim the download Job could not fill", { target: "local", models: [model({ storage: { accessMode: "ReadOnlyMany" } })] },
            'llm-platform:models[0].storage.accessMode = "ReadOnlyMany": expected one of "ReadWriteOnce", "ReadWriteMany"'],
        ["a fallback of no replicas, which the pack's keda-fallback rule refuses", { target: "local", models: [model({ autoscaling: { fallbackReplicas: 0 } })] },
            "llm-platform:models[0].autoscaling.fallbackReplicas = 0: must be at least 1"],
        ["a claim no larger than the weights", { target: "local", models: [model({ modelSize: "50Gi" })] },
            'llm-platform:models[0].storage.size = "50Gi": does not exceed modelSize (50Gi): the weights would not fit'],
        ["min above max", { target: "local", models: [model({ minReplicas: 2, maxReplicas: 1 })] },
            "llm-platform:models[0].minReplicas = 2: is greater than maxReplicas (1)"],
        ["a CUDA engine without a GPU", { target: "local", models: [model({ engine: "tgi", gpusPerReplica: 0 })] },
            "llm-platform:models[0].gpusPerReplica = 0: is 0, but the tgi image needs an NVIDIA GPU: use engine ollama on CPU, or set image to a CPU build"],
        ["a namespace whose TGI sibling would be longer than a DNS label", { target: "local", namespace: "n".repeat(60), models: [model({ engine: "tgi" })] },
            `llm-platform:namespace = "${"n".repeat(60)}": is 60 characters: TGI models run in ${"n".repeat(60)}-tgi, which must be at most 63`],
        ["fallback replicas above max", { target: "local", models: [model({ maxReplicas: 2, autoscaling: { fallbackReplicas: 3 } })] },
            "llm-platform:models[0].autoscaling.fallbackReplicas = 3: is greater than maxReplicas (2)"],
        ["an image on latest", { target: "local", models: [model({ image: "vllm/vllm-openai:latest" })] },
            'llm-platform:models[0].image = "vllm/vllm-openai:latest": is not a pinned image (name:tag, not latest, or name@sha256:digest)'],
        ["an image without a tag", { target: "local", models: [model({ image: "registry:5000/vllm" })] },
            'llm-platform:models[0].image = "registry:5000/vllm": is not a pinned image (name:tag, not latest, or name@sha256:digest)'],
    ];
    for (const [what, config, expected] of cases) {
        it(`rejects ${what}`, async () => {
            assert.deepStrictEqual(await configProblems(config), [expected]);
        });
    }

    it("accepts a pool-sized aws model on EFS", async () => {
        await acceptedConfig({ ...AWS, models: [model({ gpusPerReplica: 2, maxReplicas: 4, storage: RWX, vllm: { tensorParallelSize: 2 } })] });
    });

    it("does not apply the GPU pool to the local target: a GPU model there waits for GPU nodes", async () => {
        await acceptedConfig({ target: "local", gpuPool: { gpusPerNode: 1, maxSize: 1 }, models: [model({ gpusPerReplica: 4, maxReplicas: 3, vllm: { tensorParallelSize: 4 } })] });
    });

    it("accepts ollama on CPU and a CPU build of vLLM by image override", async () => {
        await acceptedConfig({ target: "local", models: [model({ engine: "ollama", gpusPerReplica: 0 }), model({ name: "cpu", gpusPerReplica: 0, image: "vllm/vllm-openai-cpu:v0.28.0" })] });
    });
});
