/**
 * GPU memory of one model replica, as vLLM budgets it: the weights per GPU, a stated engine
 * overhead, and the KV cache left in `gpuMemoryUtilization` of the GPU.
 *
 * vLLM (vllm/v1/worker/gpu_worker.py Worker.init_device and determine_available_memory, with
 * vllm/utils/mem_utils.py memory_profiling): requested = total GPU memory x gpu_memory_utilization;
 * KV cache = requested - (weights + the torch peak of a profile run at max_num_batched_tokens
 * (activations, sampler) + the non-torch increase (NCCL, attention workspaces) + the CUDA graph
 * estimate (GPUModelRunner.profile_cudagraph_memory, applied with VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS,
 * on by default in the releases after v0.21)). The CUDA context itself is allocated before that
 * snapshot and lives in the other (1 - utilization). Then it refuses to start when one sequence of
 * max_model_len does not fit the cache ("The model's max seq len is larger than the maximum number
 * of tokens that can be stored in KV cache"; vllm/v1/core/kv_cache_utils.py check_enough_kv_cache_memory).
 * TGI sizes its cache the same way within --cuda-memory-fraction (components/model-server/engines.ts passes
 * gpuMemoryUtilization).
 */
import type { GpuFacts } from "./instance-types";

const MIB = 2 ** 20;
const GIB = 2 ** 30;

/**
 * The engine's memory besides weights and KV cache, per GPU, inside the utilization budget: 2.5 GiB.
 * - activations 1.5 GiB: vLLM logs "PyTorch activation peak memory takes 1.09 / 1.39 / 1.40 GiB" for
 *   Qwen2.5-7B-Instruct on 24 GB cards at its default max_num_batched_tokens (public vLLM start logs);
 *   the smaller models take less, so this holds for the family up to 7B per GPU;
 * - non-torch 0.25 GiB: logged 0.09 to 0.20 GiB on one GPU; NCCL buffers add to it with tensor parallelism;
 * - CUDA graphs 0.75 GiB: vLLM's own estimate ("Estimated CUDA graph memory: 0.73 GiB total" for its
 *   default capture sizes up to 512, gpu_model_runner.py profile_cudagraph_memory).
 */
export const ENGINE_OVERHEAD_BYTES = 2.5 * GIB;

/**
 * The memory the driver reports (nvidia-smi memory.total, what torch.cuda.mem_get_info gives vLLM
 * as the total) for the GPUs of the pool families: less than the figure on the instance pages
 * (lib/instance-types.ts memoryGiB), which is the marketing size. Read in public nvidia-smi output:
 * Tesla T4 15360MiB, NVIDIA A10G 23028MiB, NVIDIA L4 23034MiB, NVIDIA L40S 46068MiB,
 * NVIDIA H100 80GB HBM3 81559MiB. Other GPUs: 95% of the page figure.
 */
const REPORTED_MIB: Readonly<Record<string, number>> = {
    "nvidia-t4": 15360,
    "nvidia-a10g": 23028,
    "nvidia-l4": 23034,
    "nvidia-l40s": 46068,
    "nvidia-h100": 81559,
};

/** The total memory of one GPU as the engine sees it, in bytes. */
export function gpuTotalBytes(gpu: Pick<GpuFacts, "model" | "memoryGiB">): number {
    const reported = REPORTED_MIB[gpu.model];
    return reported === undefined ? Math.floor(gpu.memoryGiB * GIB * 0.95) : reported * MIB;
}

/** The weights one GPU holds: tensor parallelism splits each layer, pipeline parallelism the layers. */
export function weightsPerGpuBytes(modelBytes: number, tensorParallel: number, pipelineParallel = 1): number {
    return modelBytes / (tensorParallel * pipelineParallel);
}

/** The KV cache dtype: vLLM's --kv-cache-dtype auto follows the model dtype; 2 bytes but for float32. */
export function kvDtypeBytes(dtype: string | undefined): number {
    return dtype === "float32" ? 4 : 2;
}

export interface KvLayout {
    readonly layers: number;
    readonly kvHeads: number;
    readonly headDim: number;
}

/**
 * KV cache bytes per token on one GPU: 2 (K and V) x layers x KV heads x head dim x dtype bytes,
 * the KV heads divided over the tensor-parallel ranks (at least one each: vLLM replicates a KV
 * head when there are more ranks than heads, ModelConfig.get_num_kv_heads) and the layers over
 * the pipeline stages (the largest stage holds ceil(layers / stages)).
 */
export function kvBytesPerToken(arch: KvLayout, { tensorParallel = 1, pipelineParallel = 1, dtypeBytes = 2 } = {}): number {
    const headsPerRank = Math.max(1, Math.floor(arch.kvHeads / tensorParallel));
    const layersPerStage = Math.ceil(arch.layers / pipelineParallel);
    return 2 * layersPerStage * headsPerRank * arch.headDim * dtypeBytes;
}

/** vLLM allocates the KV cache in blocks of 16 tokens (CacheConfig block_size default on CUDA). */
const BLOCK_TOKENS = 16;

export interface GpuMemoryInput {
    /** Total memory of one GPU, bytes (gpuTotalBytes). */
    readonly gpuBytes: number;
    readonly utilization: number;
    readonly weightsPerGpu: number;
    /** KV bytes per token per GPU; undefined when the architecture is unknown. */
    readonly kvBytesPerToken?: number;
}

export interface GpuMemoryBudget {
    /** utilization x GPU memory */
    readonly budget: number;
    readonly weightsPerGpu: number;
    readonly overhead: number;
    /** What is left for the KV cache (negative: the weights do not fit). */
    readonly kvBytes: number;
    /** KV cache in tokens, whole blocks; undefined without an architecture. */
    readonly kvTokens?: number;
}

/** The budget of one GPU: KV tokens = (utilization x GPU memory - weights - overhead) / KV bytes per token. */
export function gpuMemoryBudget({ gpuBytes, utilization, weightsPerGpu, kvBytesPerToken: perToken }: GpuMemoryInput): GpuMemoryBudget {
    const budget = utilization * gpuBytes;
    const kvBytes = budget - weightsPerGpu - ENGINE_OVERHEAD_BYTES;
    const kvTokens = perToken === undefined ? undefined : Math.max(0, Math.floor(kvBytes / perToken / BLOCK_TOKENS) * BLOCK_TOKENS);
    return { budget, weightsPerGpu, overhead: ENGINE_OVERHEAD_BYTES, kvBytes, ...(kvTokens === undefined ? {} : { kvTokens }) };
}

/** Bytes as GiB with one decimal, for messages. */
export function gib(bytes: number): string {
    return `${(bytes / GIB).toFixed(1)} GiB`;
}
