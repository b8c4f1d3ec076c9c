/**
 * The plan's summary: per model what it runs on and how much KV cache it gets, per stack how many
 * nodes and GPUs its pools hold and what they cost per hour. Pure functions over the validated
 * config (loadConfig) and the stack's region; every figure comes from the modules the config
 * checks use, so the summary says what the checks accepted:
 * - GPUs and nodes: lib/instance-types.ts; the GPU the KV cache is sized on is the pool's
 *   smallest (config/models.ts smallestPoolGpu), as the KV check sizes it;
 * - weights per GPU, KV bytes per token and KV tokens: lib/gpu-memory.ts, called as
 *   config/models.ts checkGpuMemory calls it; the architecture: lib/model-architectures.ts;
 * - cold start: the model's startupBudgetSeconds, and for a model called through the KEDA HTTP
 *   add-on the time its interceptor holds a request while the model wakes
 *   (components/model-server/request-routing.ts usesInterceptor, coldStartSeconds);
 * - prices: ./ec2-prices.ts, a pinned, dated table; "no price" where it has none. The region is
 *   the stack file's `aws:region`: the program asks the AWS provider for its region
 *   (components/cluster/eks-cluster.ts aws.getRegionOutput), which is that config key (or AWS_REGION when
 *   it is unset: then no price here, the plan does not read the environment); offline the fakes
 *   answer a fixed region whatever the stack says (./fakes.ts OFFLINE_REGION), so the recorded
 *   resources cannot tell it.
 */
import type { ModelConfig, PlatformConfig } from "../../config";
import { smallestPoolGpu } from "../../config/models";
import { engineProfile } from "../../components/model-server/engines";
import { coldStartSeconds, usesInterceptor } from "../../components/model-server/request-routing";
import { clusterZoneCount } from "../../lib/eks";
import { gpuMemoryBudget, kvBytesPerToken, kvDtypeBytes, weightsPerGpuBytes } from "../../lib/gpu-memory";
import { instanceFacts } from "../../lib/instance-types";
import { modelArchitecture } from "../../lib/model-architectures";
import { parseQuantity } from "../../lib/quantity";
import { EC2_PRICES, PriceTable, onDemandPrice } from "./ec2-prices";

const GIB = 2 ** 30;

/** What the summary reads of the GPU pool to name and size its GPUs. */
type GpuPool = { readonly instanceTypes: readonly string[] };

export interface KvCacheSummary {
    /** Tokens the KV cache of one replica holds (whole blocks); null when not estimated. */
    readonly tokens: number | null;
    /** Sequences of maxModelLen tokens that fit at once: floor(tokens / maxModelLen); null with tokens. */
    readonly sequences: number | null;
    readonly maxModelLen: number;
    /** The GPU it is sized on: the pool's smallest, as the KV check sizes it ("nvidia-a10g (g5.xlarge)"). */
    readonly sizedOn: string | null;
    /** Why there is no estimate, or null. */
    readonly unknown: string | null;
}

export interface ModelSummary {
    readonly name: string;
    readonly engine: ModelConfig["engine"];
    readonly gpusPerReplica: number;
    /** "cpu", the GPU model(s) of the pool ("nvidia-l4", "nvidia-a10g or nvidia-l4"), or "unknown" (GPUs on target local). */
    readonly gpu: string;
    /** modelSize over tensor x pipeline parallelism, GiB (2 decimals); null on CPU. */
    readonly weightsPerGpuGiB: number | null;
    readonly kvCache: KvCacheSummary;
    readonly replicas: { readonly min: number; readonly max: number };
    readonly coldStart: {
        readonly startupBudgetSeconds: number;
        /** How long the add-on's interceptor holds a request while the model wakes; null when clients call the model's own Service. */
        readonly interceptorHoldSeconds: number | null;
    };
}

export interface PoolSummary {
    readonly instanceTypes: readonly string[];
    readonly capacityType: "ON_DEMAND" | "SPOT";
    readonly nodes: { readonly min: number; readonly max: number };
    /** GPUs at min and max size (the GPU pool); null for the system pool. */
    readonly gpus: { readonly min: number; readonly max: number } | null;
    /**
     * On-demand USD per hour at min and max size, of the pool's most expensive instance type (the
     * node group may launch any of them); null when a type has no price in the region. For a SPOT
     * pool it is the ceiling: spot prices are at most on-demand (ceilingOnly).
     */
    readonly pricePerHour: { readonly min: number; readonly max: number } | null;
    /** The type priced, or the first one without a price. */
    readonly pricedType: string;
    readonly ceilingOnly: boolean;
}

export interface StackSummary {
    readonly stack: string;
    readonly target: "aws" | "local";
    /** `aws:region` of the stack file; null on local, or when the stack sets none. */
    readonly region: string | null;
    readonly models: readonly ModelSummary[];
    /** (aws) The node pools; null on local (one box, README "Stacks"). */
    readonly pools: { readonly gpu: PoolSummary; readonly system: PoolSummary } | null;
    /** Both pools, at min and max; null when either has no price, or on local. */
    readonly totalPerHour: { readonly min: number; readonly max: number } | null;
    /** Where the region's prices come from and when they were read; null without prices for the region. */
    readonly prices: { readonly source: string; readonly date: string } | null;
}

export interface SummaryInput {
    readonly stack: string;
    readonly config: Pick<PlatformConfig, "target" | "aws" | "models">;
    /** `aws:region` from the stack file. */
    readonly region?: string;
    readonly prices?: PriceTable;
}

/** The summary of a validated stack config. */
export function stackSummary({ stack, config, region, prices = EC2_PRICES }: SummaryInput): StackSummary {
    const aws = config.target === "aws" ? config.aws : undefined;
    const gpuPool = aws?.gpuPool;
    const models = config.models.map((model) => modelSummary(model, config.target, gpuPool));
    if (!aws) {
        return { stack, target: config.target, region: null, models, pools: null, totalPerHour: null, prices: null };
    }
    const where = region ?? null;
    const pools = {
        gpu: poolSummary(aws.gpuPool.instanceTypes, aws.gpuPool.capacityType, aws.gpuPool, aws.gpuPool.gpusPerNode, where, prices),
        // One system node group per zone, each sized systemPool (components/cluster/eks-cluster.ts systemNodeGroups).
        system: poolSummary(aws.cluster.systemPool.instanceTypes, "ON_DEMAND", perZone(aws.cluster.systemPool, clusterZoneCount(aws.cluster)), undefined, where, prices),
    };
    const [gpu, system] = [pools.gpu.pricePerHour, pools.system.pricePerHour];
    const totalPerHour = gpu && system ? { min: dollars(gpu.min + system.min), max: dollars(gpu.max + system.max) } : null;
    const known = where !== null && Object.hasOwn(prices.onDemand, where);
    return {
        stack, target: config.target, region: where, models, pools, totalPerHour,
        prices: known ? { source: prices.sources[where], date: prices.dates[where] } : null,
    };
}

/** One model: its GPUs, weights per GPU and KV cache (as config/models.ts checkGpuMemory computes them), replicas and cold start. */
export function modelSummary(model: ModelConfig, target: "aws" | "local", gpuPool?: GpuPool): ModelSummary {
    const onGpu = model.gpusPerReplica > 0;
    const tensorParallel = model.vllm.tensorParallelSize;
    const pipelineParallel = model.engine === "tgi" ? 1 : model.vllm.pipelineParallelSize;
    const modelBytes = parseQuantity(model.modelSize);
    const weightsPerGpu = onGpu && modelBytes !== undefined ? weightsPerGpuBytes(modelBytes, tensorParallel, pipelineParallel) : undefined;
    return {
        name: model.name,
        engine: model.engine,
        gpusPerReplica: model.gpusPerReplica,
        gpu: !onGpu ? "cpu" : target === "aws" && gpuPool ? poolGpuModels(gpuPool.instanceTypes) : "unknown",
        weightsPerGpuGiB: weightsPerGpu === undefined ? null : round(weightsPerGpu / GIB, 2),
        kvCache: kvCache(model, target, gpuPool, weightsPerGpu, { tensorParallel, pipelineParallel }),
        replicas: { min: model.minReplicas, max: model.maxReplicas },
        coldStart: {
            startupBudgetSeconds: model.startupBudgetSeconds,
            interceptorHoldSeconds: usesInterceptor(model, engineProfile(model.engine, model.image)) ? coldStartSeconds(model) : null,
        },
    };
}

function kvCache(
    model: ModelConfig, target: "aws" | "local", gpuPool: GpuPool | undefined, weightsPerGpu: number | undefined,
    parallel: { tensorParallel: number; pipelineParallel: number },
): KvCacheSummary {
    const maxModelLen = model.vllm.maxModelLen;
    const unknown = (why: string): KvCacheSummary => ({ tokens: null, sequences: null, maxModelLen, sizedOn: null, unknown: why });
    if (model.gpusPerReplica === 0) {
        return unknown(`${model.engine} on CPU, not estimated`);
    }
    if (model.engine !== "vllm") {
        return unknown(`not estimated for ${model.engine} (the KV cache check is vLLM's)`);
    }
    const gpu = target === "aws" ? smallestPoolGpu(gpuPool) : undefined;
    if (!gpu || weightsPerGpu === undefined) {
        return unknown(target === "aws" ? "the GPU pool's GPUs are not in lib/instance-types.ts" : "the GPU model is unknown on target local");
    }
    const architecture = modelArchitecture(model.repo, model.architecture);
    if (!architecture) {
        return unknown("no architecture facts (not a Qwen2.5 repo, no architecture block)");
    }
    const perToken = kvBytesPerToken(architecture, { ...parallel, dtypeBytes: kvDtypeBytes(model.vllm.dtype) });
    const budget = gpuMemoryBudget({ gpuBytes: gpu.bytes, utilization: model.vllm.gpuMemoryUtilization, weightsPerGpu, kvBytesPerToken: perToken });
    const tokens = budget.kvTokens ?? 0;
    return { tokens, sequences: Math.floor(tokens / maxModelLen), maxModelLen, sizedOn: `${gpu.model} (${gpu.type})`, unknown: null };
}

/** The GPU models of a pool's instance types, sorted, "a or b". */
function poolGpuModels(types: readonly string[]): string {
    const models = [...new Set(types.flatMap((type) => instanceFacts(type)?.gpu?.model ?? []))].sort();
    return models.length > 0 ? models.join(" or ") : "unknown";
}

/** The sizes of `zones` node groups of `size` each. */
function perZone(size: { readonly minSize: number; readonly maxSize: number }, zones: number): { minSize: number; maxSize: number } {
    return { minSize: size.minSize * zones, maxSize: size.maxSize * zones };
}

function poolSummary(
    instanceTypes: readonly string[], capacityType: "ON_DEMAND" | "SPOT", size: { readonly minSize: number; readonly maxSize: number },
    gpusPerNode: number | undefined, region: string | null, prices: PriceTable,
): PoolSummary {
    const priced = instanceTypes.map((type) => ({ type, price: onDemandPrice(region ?? undefined, type, prices) }));
    const missing = priced.find((entry) => entry.price === undefined);
    const dearest = priced.reduce((top, entry) => ((entry.price ?? 0) > (top.price ?? 0) ? entry : top), priced[0]);
    const perNode = missing ? undefined : dearest.price;
    return {
        instanceTypes: [...instanceTypes],
        capacityType,
        nodes: { min: size.minSize, max: size.maxSize },
        gpus: gpusPerNode === undefined ? null : { min: size.minSize * gpusPerNode, max: size.maxSize * gpusPerNode },
        pricePerHour: perNode === undefined ? null : { min: dollars(size.minSize * perNode), max: dollars(size.maxSize * perNode) },
        pricedType: (missing ?? dearest).type,
        ceilingOnly: capacityType === "SPOT",
    };
}

/** USD to 4 decimals (the tables' precision), without binary noise. */
function dollars(value: number): number {
    return round(value, 4);
}

function round(value: number, decimals: number): number {
    const factor = 10 ** decimals;
    return Math.round(value * factor) / factor;
}

/** The printed block: one line per model, per pool, the total and the prices' source. */
export function summaryLines(summary: StackSummary): string[] {
    const where = summary.target === "aws" ? `aws, ${summary.region ?? "no aws:region"}` : summary.target;
    return [
        `summary of stack ${summary.stack} (${where}):`,
        ...summary.models.map((model) => `  model ${model.name}: ${modelLine(model)}`),
        ...(summary.pools ? [
            `  gpu pool: ${poolLine(summary.pools.gpu, summary.region)}`,
            `  system pool: ${poolLine(summary.pools.system, summary.region)}`,
            `  total: ${totalLine(summary.pools, summary.totalPerHour)}`,
            summary.prices
                ? `  prices: on-demand, Linux, USD per hour in ${summary.region}, as of ${summary.prices.date} (${summary.prices.source})`
                : `  prices: none for ${summary.region ?? "a stack without aws:region"} in the pinned table (tools/offline/ec2-prices.ts)`,
        ] : ["  nodes: the local box (above); no cloud price"]),
    ];
}

function totalLine(pools: { readonly gpu: PoolSummary; readonly system: PoolSummary }, total: StackSummary["totalPerHour"]): string {
    if (!total) {
        const unpriced = [pools.gpu.pricePerHour ? [] : ["gpu pool"], pools.system.pricePerHour ? [] : ["system pool"]].flat();
        return `no price (${unpriced.join(" and ")}: no price)`;
    }
    const ceiling = pools.gpu.ceilingOnly ? " (the spot pool at its on-demand ceiling)" : "";
    return `${usd(total.min)} at min, ${usd(total.max)} at max${ceiling}`;
}

function modelLine(model: ModelSummary): string {
    const where = model.gpu === "cpu" ? "on CPU" : `${model.gpusPerReplica} x ${model.gpu} per replica`;
    const weights = model.weightsPerGpuGiB === null ? [] : [`weights ${model.weightsPerGpuGiB.toFixed(1)} GiB per GPU`];
    const kv = model.kvCache;
    const cache = kv.tokens === null
        ? `KV cache unknown: ${kv.unknown}`
        : `KV cache ${kv.tokens} tokens = ${kv.sequences} x ${kv.maxModelLen} (maxModelLen) on ${kv.sizedOn}`;
    const hold = model.coldStart.interceptorHoldSeconds === null ? "" : `, requests held up to ${model.coldStart.interceptorHoldSeconds} s at the interceptor`;
    return [
        `${model.engine} ${where}`, ...weights, cache,
        `replicas ${model.replicas.min}..${model.replicas.max}`,
        `cold start ${model.coldStart.startupBudgetSeconds} s (startupBudgetSeconds)${hold}`,
    ].join(", ");
}

function poolLine(pool: PoolSummary, region: string | null): string {
    const gpus = pool.gpus ? `, ${pool.gpus.min}..${pool.gpus.max} GPUs` : "";
    const head = `${pool.instanceTypes.join(", ")} ${pool.capacityType}, ${pool.nodes.min}..${pool.nodes.max} nodes${gpus}`;
    if (!pool.pricePerHour) {
        return `${head}; no price (${pool.pricedType} in ${region ?? "no region"})`;
    }
    const dearest = pool.instanceTypes.length > 1 ? ` (${pool.pricedType}, the dearest type)` : "";
    const ceiling = pool.ceilingOnly ? "; spot: these on-demand prices are its ceiling" : "";
    return `${head}; ${usd(pool.pricePerHour.min)} at min, ${usd(pool.pricePerHour.max)} at max${dearest}${ceiling}`;
}

function usd(value: number): string {
    return `$${value.toFixed(2)}/h`;
}
