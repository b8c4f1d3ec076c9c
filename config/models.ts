import * as z from "zod";
import { instanceFacts } from "../lib/instance-types";
import { ENGINE_OVERHEAD_BYTES, gib, gpuMemoryBudget, gpuTotalBytes, kvBytesPerToken, kvDtypeBytes, weightsPerGpuBytes } from "../lib/gpu-memory";
import { KnownModel, modelArchitecture, qwen25Model } from "../lib/model-architectures";
import { parseQuantity } from "../lib/quantity";
import { count, dnsLabel, isCount, quantity, seconds } from "./fields";
import { isRecord } from "./project";

/**
 * Hugging Face repo ids as the Hub validates them (huggingface_hub `validate_repo_id`):
 * `owner/name`, each part of word characters, '-' and '.', at most 96 characters, not
 * starting or ending with '-' or '.', no '--' or '..'.
 */
const HF_PART = String.raw`[A-Za-z0-9_](?:[\w.-]{0,94}[A-Za-z0-9_])?`;
const HF_REPO_ID = new RegExp(`^(?!.*(?:--|\\.\\.))${HF_PART}/${HF_PART}$`);

/** A pinned revision is a full commit hash: branches and tags move under you. */
const COMMIT_HASH = /^[0-9a-f]{40}$/;

export const ENGINES = ["vllm", "tgi", "ollama"] as const;
export type Engine = (typeof ENGINES)[number];

/** Whether a model's clients need a bearer key (`apiKey`, per model or for the stack). */
export const API_KEY_MODES = ["required", "none"] as const;
export type ApiKeyMode = (typeof API_KEY_MODES)[number];

/**
 * Engines with a bearer-key check of their own, and the environment variable that sets it:
 * vLLM (`VLLM_API_KEY`, or `--api-key`; vllm/entrypoints/serve/middleware/register.py takes
 * `args.api_key or [envs.VLLM_API_KEY]`) and TGI 3.3.2 (the launcher's `--api-key`, clap `env`:
 * `API_KEY`, handed to the router: launcher/src/main.rs). Ollama has none: it reads no key setting
 * (envconfig/config.go), and its routes pass only CORS and a Host check for loopback listeners
 * (server/routes.go GenerateRoutes, allowedHostsMiddleware), so it cannot require one.
 */
export const API_KEY_ENV: Readonly<Record<Engine, string | undefined>> = { vllm: "VLLM_API_KEY", tgi: "API_KEY", ollama: undefined };

const vllmSchema = z.strictObject({
    tensorParallelSize: count(1),
    // vLLM --pipeline-parallel-size (vllm/config/parallel.py ParallelConfig, default 1): layers split over GPUs.
    pipelineParallelSize: count(1),
    maxModelLen: count(1),
    dtype: z.enum(["auto", "half", "bfloat16", "float16", "float32"]),
    quantization: z.enum(["", "awq", "gptq"]),
    gpuMemoryUtilization: z.number().gt(0).max(1),
    maxNumSeqs: count(1),
    enablePrefixCaching: z.boolean(),
    enableChunkedPrefill: z.boolean(),
    // (vllm) YaRN rope scaling over the native context: 1 is none; Qwen2.5 7B and up document 4 (32768 -> 131072).
    // Passed as --hf-overrides rope_parameters (components/model-server/engines.ts); maxModelLen may then reach native x factor.
    yarnFactor: z.number().min(1),
});

/**
 * What a model scales on (components/model-server/scaled-object.ts): `queue` (waiting and running
 * requests), `requestRate` (requests per second: the engine's own counter, or, for an engine without
 * metrics, the KEDA HTTP add-on's interceptor), `gpuUtilization` (DCGM's utilisation of the model's
 * own GPUs, next to the queue: the weaker signal).
 */
export const SCALING_SIGNALS = ["queue", "requestRate", "gpuUtilization"] as const;

const autoscalingSchema = z.strictObject({
    signal: z.enum(SCALING_SIGNALS),
    queuePerReplica: z.number().gt(0),
    runningPerReplica: z.number().gt(0),
    requestsPerSecondPerReplica: z.number().gt(0),
    gpuUtilizationPercent: z.number().gt(0).max(100),
    // The signal's own trigger (req/s, GPU percent, or cpu cores); queue and running activate above 0.
    activationThreshold: z.number().min(0),
    pollingIntervalSeconds: count(1),
    cooldownPeriodSeconds: seconds,
    scaleUpStabilizationSeconds: seconds,
    scaleDownStabilizationSeconds: seconds,
    // At least 1: the pack's keda-fallback rule refuses a fallback of no replicas.
    fallbackReplicas: count(1),
    cpuUtilization: z.number().gt(0).max(1),
});

const baseModelSchema = z.strictObject({
    name: dnsLabel(40),
    repo: z.string().regex(HF_REPO_ID, "is not a Hugging Face repo id (owner/name, like Qwen/Qwen2.5-0.5B-Instruct)"),
    revision: z.string().regex(COMMIT_HASH, "is not pinned: use the model's 40-character commit hash, not a branch or tag"),
    modelSize: quantity,
    engine: z.enum(ENGINES),
    image: z.string().regex(/^(?!.*:latest$)(\S+(:[\w.-]+|@sha256:[0-9a-f]{64}))?$/, "is not a pinned image (name:tag, not latest, or name@sha256:digest)"),
    servedModelName: z.string(),
    minReplicas: count(0),
    maxReplicas: count(1),
    gpusPerReplica: count(0),
    resources: z.strictObject({
        cpu: quantity,
        memory: quantity,
        cpuLimit: quantity,
        memoryLimit: quantity,
        shmSize: quantity,
    }),
    storage: z.strictObject({
        size: quantity,
        storageClass: z.string(),
        // Not ReadOnlyMany: the download Job writes the weights into the claim.
        accessMode: z.enum(["ReadWriteOnce", "ReadWriteMany"]),
    }),
    startupBudgetSeconds: count(1),
    drainSeconds: seconds,
    vllm: vllmSchema,
    autoscaling: autoscalingSchema,
    // "" takes the stack's apiKey (config.ts); resolved before the model reaches the program.
    apiKey: z.enum(["", ...API_KEY_MODES]),
    ingress: z.strictObject({
        host: z.string(),
        className: z.string(),
        // The certificate of `host` (components/model-server/resources.ts serverIngress): an existing TLS Secret, or
        // one cert-manager issues from `clusterIssuer` into `secretName` (default <model>-tls).
        tls: z.strictObject({ secretName: z.string(), clusterIssuer: z.string() }),
    }),
    // For a repo the Qwen2.5 table (lib/model-architectures.ts) does not know: what the KV cache check needs,
    // from its config.json (num_hidden_layers, num_key_value_heads, hidden_size / num_attention_heads,
    // max_position_embeddings). Absent: that check is skipped, and the plan says so.
    architecture: z.strictObject({ layers: count(1), kvHeads: count(1), headDim: count(1), maxContext: count(1) }).optional(),
});

/** `modelDefaults`: any model field but the ones that identify a model. */
export const modelDefaultsSchema = baseModelSchema.omit({ name: true, repo: true, revision: true, modelSize: true }).partial();

export const modelSchema = baseModelSchema.transform((model) => ({ ...model, servedModelName: model.servedModelName || model.repo }));

export type ModelConfig = z.output<typeof modelSchema>;

/** A problem found by a check across fields: where, the value, what is wrong. */
export interface CrossFieldProblem {
    readonly path: (string | number)[];
    readonly input: unknown;
    readonly message: string;
}

/** What the model checks need to know about the rest of the stack (raw values: they may be invalid). */
export interface ModelCheckContext {
    readonly target?: unknown;
    /** The stack's `gpuPool`, merged over its defaults. Only read for target aws. */
    readonly gpuPool?: unknown;
    /** The stack's `apiKey` (required | none), what a model's "" takes. */
    readonly apiKey?: unknown;
}

/**
 * Checks across the fields of the models. They run on the raw values, even where a field
 * failed its own check, so that every problem is reported at once.
 */
export function modelListProblems(models: readonly unknown[], context: ModelCheckContext = {}): CrossFieldProblem[] {
    const problems: CrossFieldProblem[] = [];
    const seen = new Set<unknown>();
    models.forEach((model, index) => {
        const fields = (isRecord(model) ? model : {}) as Partial<ModelConfig>;
        const problem = (path: (string | number)[], input: unknown, message: string) => problems.push({ path: [index, ...path], input, message });
        if (fields.name !== undefined && seen.has(fields.name)) {
            problem(["name"], fields.name, "is used by an earlier model");
        }
        seen.add(fields.name);
        checkModel(fields, problem);
        checkEndpoint(fields, context, problem);
        checkPlacement(fields, context, problem);
        checkGpuMemory(fields, context, problem);
    });
    return problems;
}

function checkModel(model: Partial<ModelConfig>, problem: (path: (string | number)[], input: unknown, message: string) => void): void {
    const { resources, storage } = model;

    if (isCount(model.minReplicas) && isCount(model.maxReplicas) && model.minReplicas > model.maxReplicas) {
        problem(["minReplicas"], model.minReplicas, `is greater than maxReplicas (${model.maxReplicas})`);
    }
    if (exceeds(resources?.cpu, resources?.cpuLimit)) {
        problem(["resources", "cpu"], resources?.cpu, `is more than resources.cpuLimit (${resources?.cpuLimit})`);
    }
    if (exceeds(resources?.memory, resources?.memoryLimit)) {
        problem(["resources", "memory"], resources?.memory, `is more than resources.memoryLimit (${resources?.memoryLimit})`);
    }
    if (exceeds(model.modelSize, storage?.size, { orEqual: true })) {
        problem(["storage", "size"], storage?.size, `does not exceed modelSize (${model.modelSize}): the weights would not fit`);
    }
    if (model.engine !== "ollama" && model.gpusPerReplica === 0 && !model.image) {
        problem(["gpusPerReplica"], 0, `is 0, but the ${model.engine ?? "vllm"} image needs an NVIDIA GPU: use engine ollama on CPU, or set image to a CPU build`);
    }
    if (model.autoscaling?.signal === "gpuUtilization" && model.gpusPerReplica === 0) {
        problem(["autoscaling", "signal"], "gpuUtilization", "needs GPUs, but gpusPerReplica is 0: scale on queue or requestRate");
    }
    const fallback = model.autoscaling?.fallbackReplicas;
    if (isCount(fallback) && isCount(model.maxReplicas) && fallback > model.maxReplicas) {
        problem(["autoscaling", "fallbackReplicas"], fallback, `is greater than maxReplicas (${model.maxReplicas})`);
    }
    checkParallelism(model, problem);
}

/** The key mode of a model: its own `apiKey`, or the stack's when it sets "" (or nothing). */
export function effectiveApiKey(modelApiKey: unknown, stackApiKey: unknown): unknown {
    return modelApiKey === "" || modelApiKey === undefined ? stackApiKey : modelApiKey;
}

/**
 * Who may call the model. A key needs an engine that checks one (API_KEY_ENV). An Ingress
 * publishes the model outside the cluster: it needs the key and a TLS certificate, or the key
 * would cross the network in clear.
 */
function checkEndpoint(model: Partial<ModelConfig>, context: ModelCheckContext, problem: Problem): void {
    const mode = effectiveApiKey(model.apiKey, context.apiKey);
    const inherited = model.apiKey === "" || model.apiKey === undefined;
    const engine = model.engine ?? "vllm";
    const keyless = (ENGINES as readonly unknown[]).includes(engine) && API_KEY_ENV[engine] === undefined;
    if (mode === "required" && keyless) {
        problem(["apiKey"], inherited ? `"" (the stack's apiKey: required)` : "required",
            `engine ${engine} has no API key check of its own (it reads no key and serves every caller): set this model's apiKey: none, or serve it with vllm or tgi`);
    }
    const host = model.ingress?.host;
    if (typeof host !== "string" || host === "") {
        return;
    }
    if (mode !== "required" && !keyless) {
        problem(["ingress", "host"], host, `publishes the model outside the cluster without an API key: set apiKey: required (this model's, or the stack's llm-platform:apiKey)`);
    } else if (keyless) {
        problem(["ingress", "host"], host, `publishes the model outside the cluster, but engine ${engine} has no API key check: serve it with vllm or tgi to publish it`);
    }
    const tls = model.ingress?.tls;
    if (!tls?.secretName && !tls?.clusterIssuer) {
        problem(["ingress", "host"], host, "is set without TLS: set ingress.tls.secretName (an existing TLS Secret in the model's namespace) or ingress.tls.clusterIssuer (cert-manager issues it)");
    }
}

/**
 * The GPUs of a replica are the engine's workers, exactly. vLLM starts tensorParallelSize x
 * pipelineParallelSize workers, one GPU each (its world size); TGI starts one shard per GPU
 * (--num-shard, tensor parallel only: launcher/src/main.rs find_num_shards) and has no pipeline
 * parallelism. More GPUs than workers sit idle; fewer and the engine fails at start.
 */
function checkParallelism(model: Partial<ModelConfig>, problem: (path: (string | number)[], input: unknown, message: string) => void): void {
    const gpus = model.gpusPerReplica;
    const tensorParallel = model.vllm?.tensorParallelSize;
    const pipelineParallel = model.vllm?.pipelineParallelSize ?? 1;
    if (model.engine === "ollama" || !isCount(gpus) || gpus === 0 || !isCount(tensorParallel) || !isCount(pipelineParallel)) {
        return;
    }
    if (model.engine === "tgi") {
        if (pipelineParallel !== 1) {
            problem(["vllm", "pipelineParallelSize"], pipelineParallel, "must be 1 with engine tgi: TGI has no pipeline parallelism");
        } else if (tensorParallel !== gpus) {
            problem(["vllm", "tensorParallelSize"], tensorParallel, `must equal gpusPerReplica (${gpus}) with engine tgi: TGI runs one shard per GPU (--num-shard)`);
        }
        return;
    }
    if (tensorParallel * pipelineParallel !== gpus) {
        problem(["vllm", "tensorParallelSize"], tensorParallel,
            `x vllm.pipelineParallelSize (${pipelineParallel}) is ${tensorParallel * pipelineParallel}, not gpusPerReplica (${gpus}): vLLM runs one worker per GPU`);
    }
}

/**
 * Checks against the GPU pool (target aws): one replica fits one node (tensor parallelism
 * does not cross nodes), all replicas fit the pool at its max size, and replicas on several
 * nodes share one copy of the weights (ReadWriteMany). On target local the cluster's shape
 * is unknown: a GPU model there is accepted and its pods stay Pending unless the cluster has
 * nodes labelled nvidia.com/gpu.present=true with the NVIDIA device plugin.
 */
function checkPlacement(model: Partial<ModelConfig>, context: ModelCheckContext, problem: (path: (string | number)[], input: unknown, message: string) => void): void {
    if (context.target !== "aws") {
        return;
    }
    const pool = isRecord(context.gpuPool) ? context.gpuPool : {};
    const { gpusPerReplica, maxReplicas } = model;
    const perNode = pool.gpusPerNode;
    const maxNodes = pool.maxSize;
    if (isCount(gpusPerReplica) && isCount(perNode) && gpusPerReplica > perNode) {
        problem(["gpusPerReplica"], gpusPerReplica, `does not fit one node (gpuPool.gpusPerNode = ${perNode})`);
    }
    if (isCount(gpusPerReplica) && gpusPerReplica > 0 && isCount(maxReplicas) && isCount(perNode) && isCount(maxNodes)
        && maxReplicas * gpusPerReplica > maxNodes * perNode) {
        problem(["maxReplicas"], maxReplicas, `x gpusPerReplica (${gpusPerReplica}) needs ${maxReplicas * gpusPerReplica} GPUs; the GPU pool holds ${maxNodes * perNode} at its max size (gpuPool.maxSize ${maxNodes} x gpusPerNode ${perNode})`);
    }
    const accessMode = model.storage?.accessMode;
    if (isCount(maxReplicas) && maxReplicas > 1 && accessMode !== undefined && accessMode !== "ReadWriteMany") {
        problem(["storage", "accessMode"], accessMode, `must be ReadWriteMany on aws when maxReplicas > 1: replicas on different nodes share one copy of the weights (EFS)`);
    }
    if (accessMode === "ReadWriteMany" && model.storage?.storageClass === "") {
        problem(["storage", "storageClass"], "", `must name a shared class (efs-models) for ReadWriteMany: the cluster's default class is EBS, which cannot share a volume`);
    }
}

type Problem = (path: (string | number)[], input: unknown, message: string) => void;

/**
 * GPU memory of one replica (lib/gpu-memory.ts), on target aws where the pool's GPUs are known
 * (lib/instance-types.ts; a replica may land on any type of the pool: the smallest GPU decides):
 * the weights per GPU plus the engine overhead fit gpuMemoryUtilization of the GPU (vLLM and TGI,
 * whose --cuda-memory-fraction is the same setting), and vLLM's KV cache holds one sequence of
 * maxModelLen, or vLLM exits at start. The KV check needs the architecture (Qwen2.5 table or the
 * model's `architecture` block); without it the plan prints a note (architectureNotices).
 * On target local the GPUs are unknown: skipped.
 */
/**
 * The GPU checks size the weights by `modelSize`: for a known repo it may not be much less than its
 * weights (parameters x bytes per parameter of the build, lib/model-architectures.ts), or a 72B model
 * declared as 1Gi would pass them. 10% of slack for the estimate (embeddings, shard padding).
 */
function checkModelSize(model: Partial<ModelConfig>, problem: Problem): void {
    const known = typeof model.repo === "string" ? qwen25Model(model.repo) : undefined;
    const declared = parseQuantity(model.modelSize);
    if (known && declared !== undefined && declared < 0.9 * known.weightBytes) {
        problem(["modelSize"], model.modelSize, `is less than the weights of ${known.name} (about ${gib(known.weightBytes)}): the GPU memory checks would size them by it; set the size of the repo's weight files`);
    }
}

function checkGpuMemory(model: Partial<ModelConfig>, context: ModelCheckContext, problem: Problem): void {
    checkContextLength(model, problem);
    checkModelSize(model, problem);
    const engine = model.engine ?? "vllm";
    const vllm = model.vllm;
    if (context.target !== "aws" || engine === "ollama" || !isCount(model.gpusPerReplica) || model.gpusPerReplica === 0) {
        return;
    }
    const modelBytes = parseQuantity(model.modelSize);
    const tensorParallel = vllm?.tensorParallelSize;
    const pipelineParallel = engine === "tgi" ? 1 : vllm?.pipelineParallelSize ?? 1;
    const utilization = vllm?.gpuMemoryUtilization;
    const gpu = smallestPoolGpu(context.gpuPool);
    if (modelBytes === undefined || !isCount(tensorParallel) || tensorParallel === 0 || !isCount(pipelineParallel) || pipelineParallel === 0
        || typeof utilization !== "number" || utilization <= 0 || utilization > 1 || !gpu) {
        return;
    }
    const weightsPerGpu = weightsPerGpuBytes(modelBytes, tensorParallel, pipelineParallel);
    const architecture = engine === "vllm" ? modelArchitecture(model.repo, model.architecture) : undefined;
    const perToken = architecture && kvBytesPerToken(architecture, { tensorParallel, pipelineParallel, dtypeBytes: kvDtypeBytes(vllm?.dtype) });
    const budget = gpuMemoryBudget({ gpuBytes: gpu.bytes, utilization, weightsPerGpu, kvBytesPerToken: perToken });
    const where = `${gpu.model} (${gpu.type}, ${gib(gpu.bytes)})`;
    if (budget.kvBytes <= 0) {
        problem(["modelSize"], model.modelSize, `${gib(weightsPerGpu)} of weights per GPU (${gpuCount(tensorParallel * pipelineParallel)} per replica) and ${gib(ENGINE_OVERHEAD_BYTES)} of engine overhead do not fit vllm.gpuMemoryUtilization ${utilization} of one ${where}: ${gib(budget.budget)}; use more GPUs per replica, a larger GPU or a quantized build`);
        return;
    }
    const maxModelLen = vllm?.maxModelLen;
    if (budget.kvTokens !== undefined && isCount(maxModelLen) && maxModelLen > budget.kvTokens) {
        problem(["vllm", "maxModelLen"], maxModelLen, `is larger than the maximum number of tokens that can be stored in KV cache: ${budget.kvTokens} on one ${where}, ${gib(budget.kvBytes)} left after ${gib(weightsPerGpu)} of weights and ${gib(ENGINE_OVERHEAD_BYTES)} of overhead at ${perToken} bytes per token; lower it, raise vllm.gpuMemoryUtilization or use more GPUs`);
    }
}

/** The pool's GPU with the least memory, over its known instance types (also what the plan's summary sizes the KV cache on: tools/offline/summary.ts). */
export function smallestPoolGpu(pool: unknown): { type: string; model: string; bytes: number } | undefined {
    const types = isRecord(pool) && Array.isArray(pool.instanceTypes) ? pool.instanceTypes : [];
    const gpus = types.flatMap((type: unknown) => {
        const gpu = typeof type === "string" ? instanceFacts(type)?.gpu : undefined;
        return gpu && typeof type === "string" ? [{ type, model: gpu.model, bytes: gpuTotalBytes(gpu) }] : [];
    });
    return gpus.reduce<(typeof gpus)[number] | undefined>((smallest, gpu) => (smallest === undefined || gpu.bytes < smallest.bytes ? gpu : smallest), undefined);
}

/**
 * vLLM refuses a max_model_len above the model's max_position_embeddings unless rope scaling
 * extends it: with YaRN, up to original_max_position_embeddings x factor (vllm/config/model.py
 * _get_and_verify_max_len: "User-specified max_model_len ... is greater than the derived
 * max_model_len"). vllm.yarnFactor says how it is extended (vLLM only: components/model-server/engines.ts).
 */
function checkContextLength(model: Partial<ModelConfig>, problem: Problem): void {
    const engine = model.engine ?? "vllm";
    const factor = model.vllm?.yarnFactor;
    const extended = typeof factor === "number" && factor > 1;
    if (engine !== "vllm") {
        if (extended) {
            problem(["vllm", "yarnFactor"], factor, `applies to engine vllm only (--hf-overrides rope_parameters): ${engine} would serve the native context`);
        }
        return;
    }
    const architecture = modelArchitecture(model.repo, model.architecture);
    const yarnRepo = model.architecture === undefined && typeof model.repo === "string" ? qwen25Model(model.repo) : undefined;
    if (extended && !yarnRepo?.yarnContext) {
        // YaRN needs the model's own rope parameters (components/model-server/engines.ts yarnOverride): only the
        // Qwen2.5 repos whose cards document it (Instruct, 7B and up) are known to take it.
        problem(["vllm", "yarnFactor"], factor, `is only known for the Qwen2.5 Instruct repos of 7B and up, whose cards document YaRN: ${String(model.repo)} is not one; lower vllm.maxModelLen to its native context instead`);
        return;
    }
    if (!architecture) {
        return;
    }
    const maxModelLen = model.vllm?.maxModelLen;
    const limit = Math.floor(architecture.maxContext * (extended ? factor : 1));
    if (!isCount(maxModelLen) || maxModelLen <= limit) {
        return;
    }
    const known: KnownModel | undefined = model.architecture === undefined && typeof model.repo === "string" ? qwen25Model(model.repo) : undefined;
    const name = known?.name ?? String(model.repo);
    if (extended) {
        problem(["vllm", "maxModelLen"], maxModelLen, `is above the native context of ${name} (${architecture.maxContext}) x vllm.yarnFactor (${factor}) = ${limit}`);
        return;
    }
    const documented = known?.yarnContext && known.yarnContext > architecture.maxContext ? ` (Qwen documents YaRN factor ${known.yarnContext / architecture.maxContext} for ${name})` : "";
    problem(["vllm", "maxModelLen"], maxModelLen, `is above the native context of ${name} (max_position_embeddings ${architecture.maxContext}): vLLM refuses it unless the rope is scaled; lower it, or set vllm.yarnFactor${documented}`);
}

/**
 * TGI models run in the sibling namespace `<namespace>-tgi` (components/model-server/engines.ts
 * servingNamespace), which must be a DNS label of at most 63 characters too.
 */
export function tgiNamespaceProblems(namespace: unknown, models: readonly unknown[]): CrossFieldProblem[] {
    const servesTgi = models.some((model) => isRecord(model) && model.engine === "tgi");
    if (!servesTgi || typeof namespace !== "string" || `${namespace}-tgi`.length <= 63) {
        return [];
    }
    return [{ path: ["namespace"], input: namespace, message: `is ${namespace.length} characters: TGI models run in ${namespace}-tgi, which must be at most 63` }];
}

function gpuCount(count: number): string {
    return `${count} GPU${count === 1 ? "" : "s"}`;
}

/** True when both parse as quantities and the first is larger (or equal, when asked). */
function exceeds(first: unknown, second: unknown, { orEqual = false } = {}): boolean {
    const [a, b] = [first, second].map(parseQuantity);
    return a !== undefined && b !== undefined && (orEqual ? a >= b : a > b);
}
