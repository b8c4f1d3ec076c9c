import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { PlatformConfig } from "../config";
import { EC2_PRICES, onDemandPrice } from "../tools/offline/ec2-prices";
import { StackSummary, stackSummary, summaryLines } from "../tools/offline/summary";
import { PROJECT_DIR, loadConfigWith } from "./mocks";

/** A shipped stack file's config (full keys, YAML values), to change before loading. */
function stackFile(stack: string): Record<string, unknown> {
    const file = parse(fs.readFileSync(path.join(PROJECT_DIR, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> };
    return file.config;
}

async function load(config: Record<string, unknown>): Promise<PlatformConfig> {
    const result = await loadConfigWith(config);
    assert.ok(!(result instanceof Error), result instanceof Error ? result.message : "");
    return result as PlatformConfig;
}

/** The summary the plan makes of `config`, in the region its `aws:region` names (or `region`). */
async function summaryOf(stack: string, config: Record<string, unknown>, region = config["aws:region"] as string | undefined): Promise<StackSummary> {
    return stackSummary({ stack, config: await load(config), region });
}

const prodModel = (changes: Record<string, unknown>) => {
    const prod = stackFile("prod");
    const [model] = prod["llm-platform:models"] as Record<string, unknown>[];
    return { ...prod, "llm-platform:models": [{ ...model, ...changes }] };
};

describe("the plan's summary (tools/offline/summary.ts)", () => {
    /*
     * Worked figures (lib/gpu-memory.ts, as config/models.ts checks them):
     * - a GPU as the driver reports it: A10G 23028 MiB, L4 23034 MiB; 0.9 of an A10G = 20725.2 MiB.
     *   dev's pool mixes g6.xlarge (L4) and g5.xlarge (A10G): the KV check, and so the summary, sizes on the smaller, the A10G.
     * - KV bytes per token: 2 x layers x KV heads per rank x head dim 128 x 2 bytes.
     *   Qwen2.5-1.5B (28 layers, 2 KV heads): 28672. Qwen2.5-7B (28 layers, 4 KV heads) over 2 ranks: 2 x 28 x 2 x 128 x 2 = 28672.
     * - dev: 20725.2 MiB - 4 GiB of weights - 2.5 GiB of overhead = 14069.2 MiB = 14752625459 bytes / 28672
     *   = 514530 tokens, in blocks of 16: 514528; / 8192 = 62 sequences.
     * - prod: 20725.2 MiB - 8 GiB (16Gi over tensor parallel 2) - 2.5 GiB = 9973.2 MiB = 10457658163 bytes / 28672
     *   = 364734 tokens, in blocks of 16: 364720; / 32768 = 11 sequences.
     * - cold start: dev's model scales from zero, so it is called through the interceptor, which holds a request for its
     *   startup budget + 1200 s (a GPU node joining and the image pulled): 600 + 1200 = 1800. local's (requestRate on
     *   Ollama) too. prod's model never scales to zero and has engine metrics: its own Service, no hold.
     * - prices in us-west-2 (tools/offline/ec2-prices.ts, 2026-01-21): g5.12xlarge $5.672/h: 1 node $5.67, 3 nodes $17.016;
     *   g5.xlarge $1.006/h, g6.xlarge $0.8048/h: dev's pool at max, 2 x the dearer one = $2.012. The table has no m6i
     *   in us-west-2: the system pool, and so the total, have no price there.
     */
    it("dev: a spot pool of two types, a model at zero held by the interceptor", async () => {
        const summary = await summaryOf("dev", stackFile("dev"));
        assert.deepStrictEqual(summaryLines(summary), [
            "summary of stack dev (aws, us-west-2):",
            "  model qwen-1-5b: vllm 1 x nvidia-a10g or nvidia-l4 per replica, weights 4.0 GiB per GPU, KV cache 514528 tokens = 62 x 8192 (maxModelLen) on nvidia-a10g (g5.xlarge), replicas 0..2, cold start 600 s (startupBudgetSeconds), requests held up to 1800 s at the interceptor",
            "  gpu pool: g6.xlarge, g5.xlarge SPOT, 0..2 nodes, 0..2 GPUs; $0.00/h at min, $2.01/h at max (g5.xlarge, the dearest type); spot: these on-demand prices are its ceiling",
            "  system pool: m6i.large ON_DEMAND, 2..4 nodes; no price (m6i.large in us-west-2)",
            "  total: no price (system pool: no price)",
            "  prices: on-demand, Linux, USD per hour in us-west-2, as of 2026-01-21 (tsaol/aws-gpu data/*_instances.js @ 7412fd2 (instances.vantage.sh data))",
        ]);
        assert.deepStrictEqual(summary.pools?.gpu.pricePerHour, { min: 0, max: 2.012 });
        assert.strictEqual(summary.pools?.gpu.ceilingOnly, true);
    });

    it("prod: tensor parallel over two A10Gs, one warm node", async () => {
        const summary = await summaryOf("prod", stackFile("prod"));
        assert.deepStrictEqual(summaryLines(summary), [
            "summary of stack prod (aws, us-west-2):",
            "  model qwen-7b: vllm 2 x nvidia-a10g per replica, weights 8.0 GiB per GPU, KV cache 364720 tokens = 11 x 32768 (maxModelLen) on nvidia-a10g (g5.12xlarge), replicas 2..4, cold start 1200 s (startupBudgetSeconds)",
            "  gpu pool: g5.12xlarge ON_DEMAND, 1..3 nodes, 4..12 GPUs; $5.67/h at min, $17.02/h at max",
            "  system pool: m6i.large ON_DEMAND, 3..6 nodes; no price (m6i.large in us-west-2)",
            "  total: no price (system pool: no price)",
            "  prices: on-demand, Linux, USD per hour in us-west-2, as of 2026-01-21 (tsaol/aws-gpu data/*_instances.js @ 7412fd2 (instances.vantage.sh data))",
        ]);
        assert.deepStrictEqual(summary.models[0].kvCache, { tokens: 364720, sequences: 11, maxModelLen: 32768, sizedOn: "nvidia-a10g (g5.12xlarge)", unknown: null });
        assert.deepStrictEqual(summary.models[0].coldStart, { startupBudgetSeconds: 1200, interceptorHoldSeconds: null });
        assert.deepStrictEqual(summary.pools?.gpu.gpus, { min: 4, max: 12 });
        assert.strictEqual(summary.totalPerHour, null);
    });

    it("local: a CPU model, no pools and no price", async () => {
        const summary = await summaryOf("local", stackFile("local"));
        assert.deepStrictEqual(summaryLines(summary), [
            "summary of stack local (local):",
            "  model qwen-0-5b: ollama on CPU, KV cache unknown: ollama on CPU, not estimated, replicas 1..5, cold start 600 s (startupBudgetSeconds), requests held up to 1800 s at the interceptor",
            "  nodes: the local box (above); no cloud price",
        ]);
        assert.deepStrictEqual(summary.models[0].gpu, "cpu");
        assert.strictEqual(summary.models[0].weightsPerGpuGiB, null);
        assert.deepStrictEqual([summary.region, summary.pools, summary.totalPerHour, summary.prices], [null, null, null, null]);
    });

    it("prices both pools and the total where the table has them (prod in us-east-1)", async () => {
        // g5.12xlarge $5.672 x 1..3 = 5.672..17.016; m6i.large $0.096 x 3..6 (1..2 in each of 3 zones) = 0.288..0.576; total 5.96..17.59.
        const summary = await summaryOf("prod", { ...stackFile("prod"), "aws:region": "us-east-1" });
        assert.deepStrictEqual(summaryLines(summary).slice(2), [
            "  gpu pool: g5.12xlarge ON_DEMAND, 1..3 nodes, 4..12 GPUs; $5.67/h at min, $17.02/h at max",
            "  system pool: m6i.large ON_DEMAND, 3..6 nodes; $0.29/h at min, $0.58/h at max",
            "  total: $5.96/h at min, $17.59/h at max",
            "  prices: on-demand, Linux, USD per hour in us-east-1, as of 2026-07-20 (aws/karpenter-provider-aws pkg/providers/pricing/zz_generated.pricing_aws.go @ 6fc13b5)",
        ]);
        assert.deepStrictEqual(summary.totalPerHour, { min: 5.96, max: 17.592 });
    });

    it("says the spot pool's total is its on-demand ceiling (dev in us-east-1)", async () => {
        // g5.xlarge (the dearer of the two) $1.006 x 0..2 + m6i.large $0.096 x 2..4 (1..2 in each of 2 zones) = 0.192..2.396.
        const summary = await summaryOf("dev", { ...stackFile("dev"), "aws:region": "us-east-1" });
        assert.strictEqual(summaryLines(summary)[4], "  total: $0.19/h at min, $2.40/h at max (the spot pool at its on-demand ceiling)");
        assert.deepStrictEqual(summary.totalPerHour, { min: 0.192, max: 2.396 });
    });

    it("says no price for a region the table does not have, never a guess", async () => {
        const summary = await summaryOf("prod", { ...stackFile("prod"), "aws:region": "ap-south-2" });
        assert.deepStrictEqual(summaryLines(summary).slice(2), [
            "  gpu pool: g5.12xlarge ON_DEMAND, 1..3 nodes, 4..12 GPUs; no price (g5.12xlarge in ap-south-2)",
            "  system pool: m6i.large ON_DEMAND, 3..6 nodes; no price (m6i.large in ap-south-2)",
            "  total: no price (gpu pool and system pool: no price)",
            "  prices: none for ap-south-2 in the pinned table (tools/offline/ec2-prices.ts)",
        ]);
        assert.deepStrictEqual([summary.pools?.gpu.pricePerHour, summary.totalPerHour, summary.prices], [null, null, null]);
    });

    it("says no price for a stack without aws:region", async () => {
        const { "aws:region": _region, ...config } = stackFile("prod");
        const summary = await summaryOf("prod", config);
        assert.strictEqual(summaryLines(summary)[0], "summary of stack prod (aws, no aws:region):");
        assert.strictEqual(summary.pools?.gpu.pricePerHour, null);
    });

    it("says no price for a type the table lacks in a region it has, and for a pool with one such type", async () => {
        // g6 is not offered in eu-west-1 in the source: a pool of g5.xlarge and g6.xlarge cannot be bounded there.
        assert.strictEqual(onDemandPrice("eu-west-1", "g6.xlarge"), undefined);
        assert.strictEqual(onDemandPrice("eu-west-1", "g5.xlarge"), 1.123);
        assert.strictEqual(onDemandPrice("us-east-1", "p5e.48xlarge"), undefined);
        const summary = await summaryOf("dev", { ...stackFile("dev"), "aws:region": "eu-west-1" });
        assert.strictEqual(summaryLines(summary)[2], "  gpu pool: g6.xlarge, g5.xlarge SPOT, 0..2 nodes, 0..2 GPUs; no price (g6.xlarge in eu-west-1)");
    });

    it("says the KV cache is unknown, not a number, for a model without architecture facts", async () => {
        const summary = await summaryOf("prod", prodModel({ repo: "mistralai/Mistral-7B-Instruct-v0.3" }));
        const [model] = summary.models;
        assert.deepStrictEqual(model.kvCache, {
            tokens: null, sequences: null, maxModelLen: 32768, sizedOn: null, unknown: "no architecture facts (not a Qwen2.5 repo, no architecture block)",
        });
        assert.match(summaryLines(summary)[1], /, KV cache unknown: no architecture facts \(not a Qwen2\.5 repo, no architecture block\), replicas 2\.\.4,/);
        assert.doesNotMatch(summaryLines(summary)[1], /NaN|undefined/);
    });

    it("estimates it from an architecture block (Mistral-7B's: 32 layers, 8 KV heads, head dim 128)", async () => {
        // 2 x 32 x (8 / 2 ranks) x 128 x 2 = 65536 bytes per token; 10457658163 / 65536 = 159571, in blocks of 16: 159568; / 32768 = 4.
        const summary = await summaryOf("prod", prodModel({
            repo: "mistralai/Mistral-7B-Instruct-v0.3", architecture: { layers: 32, kvHeads: 8, headDim: 128, maxContext: 32768 },
        }));
        assert.deepStrictEqual([summary.models[0].kvCache.tokens, summary.models[0].kvCache.sequences], [159568, 4]);
    });

    it("sizes the KV cache as the config check does: maxModelLen at the estimate passes, one block above is refused", async () => {
        // Qwen2.5-7B-Instruct (16Gi) on one L4: 0.9 x 23034 MiB - 16 GiB - 2.5 GiB = 1786.6 MiB = 1873385881 bytes
        // / 57344 (2 x 28 x 4 x 128 x 2) = 32669 tokens, in blocks of 16: 32656.
        const dev = stackFile("dev");
        const [model] = dev["llm-platform:models"] as Record<string, unknown>[];
        const on = (maxModelLen: number) => ({
            ...dev,
            "llm-platform:gpuPool": { ...(dev["llm-platform:gpuPool"] as object), instanceTypes: ["g6.xlarge"] },
            "llm-platform:models": [{ ...model, repo: "Qwen/Qwen2.5-7B-Instruct", modelSize: "16Gi", storage: { ...(model.storage as object), size: "50Gi" }, vllm: { maxModelLen, maxNumSeqs: 64 } }],
        });
        const summary = await summaryOf("dev", on(8192));
        assert.deepStrictEqual(summary.models[0].kvCache, { tokens: 32656, sequences: 3, maxModelLen: 8192, sizedOn: "nvidia-l4 (g6.xlarge)", unknown: null });
        await load(on(32656));
        const refused = await loadConfigWith(on(32656 + 16));
        assert.ok(refused instanceof Error && /vllm\.maxModelLen = 32672: is larger than the maximum number of tokens that can be stored in KV cache: 32656 /.test(refused.message), String(refused));
    });

    it("says the GPU model is unknown on local for a GPU model, and names no KV figure", async () => {
        const local = stackFile("local");
        const [model] = local["llm-platform:models"] as Record<string, unknown>[];
        const summary = await summaryOf("local", {
            ...local, "llm-platform:models": [{ ...model, engine: "vllm", gpusPerReplica: 1, autoscaling: { signal: "queue" } }],
        });
        assert.strictEqual(summary.models[0].gpu, "unknown");
        assert.strictEqual(summary.models[0].weightsPerGpuGiB, 1);
        assert.strictEqual(summary.models[0].kvCache.unknown, "the GPU model is unknown on target local");
    });

    it("keeps a stable key order and no timestamps (summary.json)", async () => {
        const summary = await summaryOf("prod", stackFile("prod"));
        assert.deepStrictEqual(Object.keys(summary), ["stack", "target", "region", "models", "pools", "totalPerHour", "prices"]);
        assert.deepStrictEqual(Object.keys(summary.models[0]), ["name", "engine", "gpusPerReplica", "gpu", "weightsPerGpuGiB", "kvCache", "replicas", "coldStart"]);
        assert.deepStrictEqual(Object.keys(summary.pools?.gpu ?? {}), ["instanceTypes", "capacityType", "nodes", "gpus", "pricePerHour", "pricedType", "ceilingOnly"]);
        // No timestamps: the one date in it is the price table's, when its prices were read (two runs a few
        // milliseconds apart, compared with each other, would not tell a clock reading from a constant).
        assert.deepStrictEqual(summary.prices, { source: EC2_PRICES.sources["us-west-2"], date: EC2_PRICES.dates["us-west-2"] });
        assert.deepStrictEqual(JSON.stringify(summary).match(/\d{4}-\d{2}-\d{2}|\d{2}:\d{2}:\d{2}|\b1[6-9]\d{11}\b/g), [EC2_PRICES.dates["us-west-2"]]);
        assert.strictEqual(JSON.stringify(summary), JSON.stringify(await summaryOf("prod", stackFile("prod"))));
    });

    it("dates and sources every region of the price table", () => {
        for (const region of Object.keys(EC2_PRICES.onDemand)) {
            assert.match(EC2_PRICES.dates[region] ?? "", /^\d{4}-\d{2}-\d{2}$/, region);
            assert.ok(EC2_PRICES.sources[region], region);
        }
        assert.deepStrictEqual(Object.keys(EC2_PRICES.onDemand).sort(), ["eu-west-1", "us-east-1", "us-west-2"]);
    });
});
