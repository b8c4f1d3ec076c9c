import * as assert from "assert";
import { PlatformConfig } from "../config";
import { engineCommand, engineProfile } from "../components/model-server/engines";
import { ENGINE_OVERHEAD_BYTES, gpuMemoryBudget, gpuTotalBytes, kvBytesPerToken, weightsPerGpuBytes } from "../lib/gpu-memory";
import { instanceFacts } from "../lib/instance-types";
import { architectureNotices, qwen25Model } from "../lib/model-architectures";
import { parseQuantity } from "../lib/quantity";
import { readStackFile, stackFilePath } from "../tools/offline/stack-file";
import { PROJECT_DIR, acceptedConfig, configProblems } from "./mocks";

const REVISION = "a09a35458c702b33eeacc393d103063234e8bc28";
const GIB = 2 ** 30;

/** An aws stack whose GPU pool is one instance type. */
function aws(instanceType: string, gpusPerNode = 1): Record<string, unknown> {
    return { target: "aws", cluster: { deployerCidrs: ["detect"] }, gpuPool: { instanceTypes: [instanceType], gpusPerNode, maxSize: 2 } };
}

function model(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return { name: "qwen", repo: "Qwen/Qwen2.5-7B-Instruct", revision: REVISION, modelSize: "15Gi", storage: { size: "50Gi" },
        // Fits one xlarge node of the pool families (4 vCPUs, 16 GiB) beside the node agents.
        resources: { cpu: "3", memory: "10Gi", cpuLimit: "3", memoryLimit: "10Gi" }, ...overrides };
}

/** KV tokens of a validated aws model on the smallest GPU of its pool, as the check computes them. */
function kvTokensOf(config: PlatformConfig, index = 0): number | undefined {
    const { vllm, repo, modelSize } = config.models[index];
    const gpus = (config.aws?.gpuPool.instanceTypes ?? []).map((type) => instanceFacts(type)?.gpu).filter((gpu) => gpu !== undefined);
    const gpuBytes = Math.min(...gpus.map((gpu) => gpuTotalBytes(gpu)));
    const architecture = qwen25Model(repo);
    assert.ok(architecture, repo);
    const parallel = { tensorParallel: vllm.tensorParallelSize, pipelineParallel: vllm.pipelineParallelSize };
    return gpuMemoryBudget({
        gpuBytes, utilization: vllm.gpuMemoryUtilization,
        weightsPerGpu: weightsPerGpuBytes(parseQuantity(modelSize)!, parallel.tensorParallel, parallel.pipelineParallel),
        kvBytesPerToken: kvBytesPerToken(architecture, parallel),
    }).kvTokens;
}

describe("Qwen2.5 architectures (lib/model-architectures.ts)", () => {
    it("matches repo ids case-insensitively, with the quantized variants, and nothing else of the family", () => {
        assert.deepStrictEqual(qwen25Model("qwen/QWEN2.5-7b-instruct-awq")?.name, "Qwen2.5-7B-Instruct-AWQ");
        assert.strictEqual(qwen25Model("Qwen/Qwen2.5-72B-Instruct-GPTQ-Int8")?.name, "Qwen2.5-72B-Instruct-GPTQ-Int8");
        assert.strictEqual(qwen25Model("Qwen/Qwen2.5-Coder-7B-Instruct"), undefined);
        assert.strictEqual(qwen25Model("Qwen/Qwen2.5-7B-Instruct-1M"), undefined);
        assert.strictEqual(qwen25Model("Qwen/Qwen2.5-7B-AWQ"), undefined, "Qwen publishes quantized builds of the Instruct models only");
    });

    it("has the config.json figures: layers, KV heads, head dim, native context", () => {
        const facts = (repo: string) => {
            const known = qwen25Model(repo);
            return known && [known.layers, known.kvHeads, known.headDim, known.maxContext];
        };
        assert.deepStrictEqual(facts("Qwen/Qwen2.5-0.5B-Instruct"), [24, 2, 64, 32768]);
        assert.deepStrictEqual(facts("Qwen/Qwen2.5-1.5B-Instruct"), [28, 2, 128, 32768]);
        assert.deepStrictEqual(facts("Qwen/Qwen2.5-3B"), [36, 2, 128, 32768]);
        assert.deepStrictEqual(facts("Qwen/Qwen2.5-7B-Instruct"), [28, 4, 128, 32768]);
        assert.deepStrictEqual(facts("Qwen/Qwen2.5-7B"), [28, 4, 128, 131072]);
        assert.deepStrictEqual(facts("Qwen/Qwen2.5-14B-Instruct"), [48, 8, 128, 32768]);
        assert.deepStrictEqual(facts("Qwen/Qwen2.5-32B-Instruct"), [64, 8, 128, 32768]);
        assert.deepStrictEqual(facts("Qwen/Qwen2.5-72B-Instruct"), [80, 8, 128, 32768]);
    });

    it("estimates the weights of the published builds (7B: 15.2 GB bf16, 5.6 GB AWQ)", () => {
        assert.ok(Math.abs(qwen25Model("Qwen/Qwen2.5-7B-Instruct")!.weightBytes / 1e9 - 15.2) < 0.1);
        assert.ok(Math.abs(qwen25Model("Qwen/Qwen2.5-7B-Instruct-AWQ")!.weightBytes / 1e9 - 5.6) < 0.1);
        assert.ok(qwen25Model("Qwen/Qwen2.5-7B-Instruct-GPTQ-Int8")!.weightBytes / 1e9 < 9);
    });

    it("KV bytes per token: 2 x layers x KV heads x head dim x 2 bytes, over tensor-parallel ranks and pipeline stages", () => {
        const seven = qwen25Model("Qwen/Qwen2.5-7B-Instruct")!;
        assert.strictEqual(kvBytesPerToken(seven), 57344);
        assert.strictEqual(kvBytesPerToken(seven, { tensorParallel: 2 }), 28672);
        assert.strictEqual(kvBytesPerToken(seven, { pipelineParallel: 2 }), 28672);
        assert.strictEqual(kvBytesPerToken(seven, { tensorParallel: 8 }), 14336, "more ranks than KV heads: one (replicated) head per rank");
        assert.strictEqual(kvBytesPerToken(seven, { dtypeBytes: 4 }), 114688);
    });
});

describe("config: weights and KV cache fit the GPUs (aws)", () => {
    it("accepts Qwen2.5-7B-Instruct on one L4 with maxModelLen 8192", async () => {
        const config = await acceptedConfig({ ...aws("g6.xlarge"), models: [model({ vllm: { maxModelLen: 8192 } })] });
        assert.ok(kvTokensOf(config)! > 8192);
    });

    it("accepts its AWQ build on one T4", async () => {
        await acceptedConfig({ ...aws("g4dn.xlarge"), models: [model({ repo: "Qwen/Qwen2.5-7B-Instruct-AWQ", modelSize: "6Gi", vllm: { quantization: "awq", dtype: "half", maxModelLen: 32768 } })] });
    });

    const refused: [string, Record<string, unknown>, string][] = [
        ["Qwen2.5-72B-Instruct on one L4", { ...aws("g6.xlarge"), models: [model({ repo: "Qwen/Qwen2.5-72B-Instruct", modelSize: "136Gi", storage: { size: "200Gi" } })] },
            'llm-platform:models[0].modelSize = "136Gi": 136.0 GiB of weights per GPU (1 GPU per replica) and 2.5 GiB of engine overhead do not fit vllm.gpuMemoryUtilization 0.9 of one nvidia-l4 (g6.xlarge, 22.5 GiB): 20.2 GiB; use more GPUs per replica, a larger GPU or a quantized build'],
        ["a KV cache too small for one sequence of maxModelLen", { ...aws("g6.xlarge"), models: [model({ vllm: { maxModelLen: 32768, gpuMemoryUtilization: 0.85 } })] },
            "llm-platform:models[0].vllm.maxModelLen = 32768: is larger than the maximum number of tokens that can be stored in KV cache: 30320 on one nvidia-l4 (g6.xlarge, 22.5 GiB), 1.6 GiB left after 15.0 GiB of weights and 2.5 GiB of overhead at 57344 bytes per token; lower it, raise vllm.gpuMemoryUtilization or use more GPUs"],
        ["TGI weights that do not fit", { ...aws("g6.xlarge"), models: [model({ engine: "tgi", repo: "Qwen/Qwen2.5-32B-Instruct", modelSize: "62Gi", storage: { size: "100Gi" } })] },
            'llm-platform:models[0].modelSize = "62Gi": 62.0 GiB of weights per GPU (1 GPU per replica) and 2.5 GiB of engine overhead do not fit vllm.gpuMemoryUtilization 0.9 of one nvidia-l4 (g6.xlarge, 22.5 GiB): 20.2 GiB; use more GPUs per replica, a larger GPU or a quantized build'],
        ["a known repo declared smaller than its weights (the checks would pass a 72B model as 1Gi)", { ...aws("g6.xlarge"), models: [model({ repo: "Qwen/Qwen2.5-72B-Instruct", modelSize: "1Gi" })] },
            "llm-platform:models[0].modelSize = \"1Gi\": is less than the weights of Qwen2.5-72B-Instruct (about 135.4 GiB): the GPU memory checks would size them by it; set the size of the repo's weight files"],
    ];
    for (const [what, config, expected] of refused) {
        it(`refuses ${what}`, async () => {
            assert.deepStrictEqual(await configProblems(config), [expected]);
        });
    }

    it("takes the smallest GPU of a pool with several types", async () => {
        // 32B in bf16 over 2 GPUs: 31 GiB each fits an L40S, not an A10G.
        const big = model({ repo: "Qwen/Qwen2.5-32B-Instruct", modelSize: "62Gi", storage: { size: "100Gi" }, gpusPerReplica: 2, vllm: { tensorParallelSize: 2 } });
        await acceptedConfig({ ...aws("g6e.12xlarge", 4), models: [big] });
        const mixed = { ...aws("g6e.12xlarge", 4), gpuPool: { instanceTypes: ["g6e.12xlarge", "g5.12xlarge"], gpusPerNode: 4, maxSize: 2 } };
        assert.deepStrictEqual((await configProblems({ ...mixed, models: [big] })).map((line) => line.split(": ")[0]), ['llm-platform:models[0].modelSize = "62Gi"']);
    });

    it("skips the GPU checks on target local (its GPUs are unknown)", async () => {
        await acceptedConfig({ target: "local", models: [model({ repo: "Qwen/Qwen2.5-72B-Instruct", modelSize: "136Gi", storage: { size: "200Gi" } })] });
    });

    it("skips the KV check without architecture facts, and the plan says so in one line", async () => {
        const other = model({ repo: "meta-llama/Llama-3.1-8B-Instruct", vllm: { maxModelLen: 131072 } });
        await acceptedConfig({ ...aws("g6.xlarge"), models: [other] });
        assert.deepStrictEqual(architectureNotices([other, model()]),
            ["note: models[0] meta-llama/Llama-3.1-8B-Instruct: no architecture facts (not a Qwen2.5 repo, no architecture block): its KV cache and context length checks are skipped"]);
        const described = model({ repo: "meta-llama/Llama-3.1-8B-Instruct", architecture: { layers: 32, kvHeads: 8, headDim: 128, maxContext: 131072 }, vllm: { maxModelLen: 131072 } });
        assert.deepStrictEqual(architectureNotices([described]), []);
        const [line] = await configProblems({ ...aws("g6.xlarge"), models: [described] });
        assert.match(line, /^llm-platform:models\[0\]\.vllm\.maxModelLen = 131072: is larger than the maximum number of tokens that can be stored in KV cache: \d+ on one nvidia-l4/);
    });
});

describe("config: maxModelLen and the native context (vLLM)", () => {
    it("refuses maxModelLen 131072 on Qwen2.5-1.5B-Instruct without an extension", async () => {
        assert.deepStrictEqual(await configProblems({ target: "local", models: [model({ repo: "Qwen/Qwen2.5-1.5B-Instruct", modelSize: "4Gi", vllm: { maxModelLen: 131072 } })] }), [
            "llm-platform:models[0].vllm.maxModelLen = 131072: is above the native context of Qwen2.5-1.5B-Instruct (max_position_embeddings 32768): vLLM refuses it unless the rope is scaled; lower it, or set vllm.yarnFactor",
        ]);
    });

    it("names Qwen's documented YaRN factor for 7B and up, and accepts it", async () => {
        assert.deepStrictEqual(await configProblems({ target: "local", models: [model({ vllm: { maxModelLen: 131072 } })] }), [
            "llm-platform:models[0].vllm.maxModelLen = 131072: is above the native context of Qwen2.5-7B-Instruct (max_position_embeddings 32768): vLLM refuses it unless the rope is scaled; lower it, or set vllm.yarnFactor (Qwen documents YaRN factor 4 for Qwen2.5-7B-Instruct)",
        ]);
        await acceptedConfig({ target: "local", models: [model({ vllm: { maxModelLen: 131072, yarnFactor: 4 } })] });
        assert.deepStrictEqual(await configProblems({ target: "local", models: [model({ vllm: { maxModelLen: 131072, yarnFactor: 2 } })] }), [
            "llm-platform:models[0].vllm.maxModelLen = 131072: is above the native context of Qwen2.5-7B-Instruct (32768) x vllm.yarnFactor (2) = 65536",
        ]);
        await acceptedConfig({ target: "local", models: [model({ repo: "Qwen/Qwen2.5-7B", vllm: { maxModelLen: 131072 } })] });
    });

    it("passes the extension to vLLM as --hf-overrides rope_parameters (with Qwen2.5's rope_theta), only when asked", async () => {
        const config = await acceptedConfig({ target: "local", models: [model({ vllm: { maxModelLen: 131072, yarnFactor: 4 } }), model({ name: "plain" })] });
        const args = (index: number) => engineCommand(config.models[index], engineProfile("vllm"), "/cache").args;
        assert.ok(args(0).includes('--hf-overrides={"rope_parameters":{"rope_type":"yarn","factor":4,"original_max_position_embeddings":32768,"rope_theta":1000000}}'), args(0).join(" "));
        assert.ok(!args(1).some((arg) => arg.startsWith("--hf-overrides")));
    });

    it("refuses a YaRN factor it cannot apply", async () => {
        assert.deepStrictEqual(await configProblems({ target: "local", models: [model({ engine: "tgi", vllm: { yarnFactor: 4 } })] }),
            ["llm-platform:models[0].vllm.yarnFactor = 4: applies to engine vllm only (--hf-overrides rope_parameters): tgi would serve the native context"]);
        assert.deepStrictEqual(await configProblems({ target: "local", models: [model({ repo: "Qwen/Qwen2.5-1.5B-Instruct", modelSize: "4Gi", vllm: { yarnFactor: 4 } })] }),
            ["llm-platform:models[0].vllm.yarnFactor = 4: is only known for the Qwen2.5 Instruct repos of 7B and up, whose cards document YaRN: Qwen/Qwen2.5-1.5B-Instruct is not one; lower vllm.maxModelLen to its native context instead"]);
        assert.deepStrictEqual(await configProblems({ target: "local", models: [model({ repo: "mistralai/Mistral-7B-Instruct-v0.3", vllm: { yarnFactor: 4 } })] }),
            ["llm-platform:models[0].vllm.yarnFactor = 4: is only known for the Qwen2.5 Instruct repos of 7B and up, whose cards document YaRN: mistralai/Mistral-7B-Instruct-v0.3 is not one; lower vllm.maxModelLen to its native context instead"]);
    });
});

describe("the shipped aws stacks fit their GPUs", () => {
    for (const stack of ["dev", "prod"]) {
        it(`${stack}: its model's weights fit, its KV cache holds maxModelLen, and the stated modelSize covers the published weights`, async () => {
            const config = await acceptedConfig(readStackFile(stackFilePath(PROJECT_DIR, stack)).config);
            for (const [index, { repo, modelSize, vllm }] of config.models.entries()) {
                assert.ok(kvTokensOf(config, index)! >= vllm.maxModelLen);
                assert.ok(parseQuantity(modelSize)! >= qwen25Model(repo)!.weightBytes, `${stack} ${repo}: modelSize ${modelSize}`);
            }
        });
    }

    it("the overhead is the stated 2.5 GiB per GPU", () => {
        assert.strictEqual(ENGINE_OVERHEAD_BYTES, 2.5 * GIB);
    });
});
