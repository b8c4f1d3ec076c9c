import { z } from "zod";
import { parseQuantity } from "../lib/quantity";
import { count, dnsLabel, quantity, seconds } from "./fields";
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

const vllmSchema = z.strictObject({
    tensorParallelSize: count(1),
    maxModelLen: count(1),
    dtype: z.enum(["auto", "half", "bfloat16", "float16", "float32"]),
    quantization: z.enum(["", "awq", "gptq"]),
    gpuMemoryUtilization: z.number().gt(0).max(1),
    maxNumSeqs: count(1),
    enablePrefixCaching: z.boolean(),
    enableChunkedPrefill: z.boolean(),
});

const autoscalingSchema = z.strictObject({
    signal: z.enum(["queue", "requestRate"]),
    queuePerReplica: z.number().gt(0),
    runningPerReplica: z.number().gt(0),
    requestsPerSecondPerReplica: z.number().gt(0),
    activationThreshold: z.number().min(0),
    pollingIntervalSeconds: count(1),
    cooldownPeriodSeconds: seconds,
    scaleUpStabilizationSeconds: seconds,
    scaleDownStabilizationSeconds: seconds,
    fallbackReplicas: count(0),
});

const baseModelSchema = z.strictObject({
    name: dnsLabel(40),
    repo: z.string().regex(HF_REPO_ID, "is not a Hugging Face repo id (owner/name, like Qwen/Qwen2.5-0.5B-Instruct)"),
    revision: z.string().regex(COMMIT_HASH, "is not pinned: use the model's 40-character commit hash, not a branch or tag"),
    modelSize: quantity,
    engine: z.enum(ENGINES),
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
        accessMode: z.enum(["ReadWriteOnce", "ReadWriteMany", "ReadOnlyMany"]),
    }),
    startupBudgetSeconds: count(1),
    drainSeconds: seconds,
    vllm: vllmSchema,
    autoscaling: autoscalingSchema,
    ingress: z.strictObject({ host: z.string(), className: z.string() }),
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

/**
 * Checks across the fields of the models. They run on the raw values, even where a field
 * failed its own check, so that every problem is reported at once.
 */
export function modelListProblems(models: readonly unknown[]): CrossFieldProblem[] {
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
    });
    return problems;
}

function checkModel(model: Partial<ModelConfig>, problem: (path: (string | number)[], input: unknown, message: string) => void): void {
    const { resources, storage, vllm } = model;

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
    const tensorParallel = vllm?.tensorParallelSize;
    if (model.engine === "vllm" && isCount(model.gpusPerReplica) && model.gpusPerReplica > 0 && isCount(tensorParallel)
        && tensorParallel > 0 && model.gpusPerReplica % tensorParallel !== 0) {
        problem(["vllm", "tensorParallelSize"], tensorParallel, `does not divide gpusPerReplica (${model.gpusPerReplica})`);
    }
}

function isCount(value: unknown): value is number {
    return Number.isInteger(value);
}

/** True when both parse as quantities and the first is larger (or equal, when asked). */
function exceeds(first: unknown, second: unknown, { orEqual = false } = {}): boolean {
    const [a, b] = [first, second].map((value) => (typeof value === "string" || typeof value === "number" ? parseQuantity(value) : undefined));
    return a !== undefined && b !== undefined && (orEqual ? a >= b : a > b);
}
