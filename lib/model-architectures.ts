/**
 * What the GPU memory checks need to know of a model's architecture: layers, KV heads, head
 * dimension and native context (lib/gpu-memory.ts), for the Qwen2.5 family by repo id, and for
 * any other repo from the model's optional `architecture` block.
 *
 * Qwen2.5, as each repo's config.json on the Hugging Face Hub publishes it (the Hub is not
 * reachable from here; read in copies, two per figure where they exist):
 * - layers (num_hidden_layers), KV heads (num_key_value_heads), hidden_size / num_attention_heads,
 *   parameters: the model cards copied in ZHUI/paddlenlp_model_readme Qwen/Qwen2.5-<size>[-Instruct]/index.md
 *   ("Number of Layers", "Number of Attention Heads (GQA): Q for Q and K for KV", "Number of Parameters",
 *   "(Non-Embedding)"), and config.json dumps: citsjtu2020/LLM-Prof sglang/Model_Config.md (Qwen2.5-3B,
 *   7B, 14B, 32B base: hidden_size, num_attention_heads, num_hidden_layers, num_key_value_heads,
 *   max_position_embeddings), and in public code the Qwen2.5-0.5B (896/14, 24 layers, 2 KV),
 *   1.5B (1536/12, 28 layers, 2 KV) and 72B-Instruct (8192/64, 80 layers, 8 KV, max_position_embeddings
 *   32768) config.json copies found by their intermediate_size (4864, 8960, 29568).
 * - native context (max_position_embeddings): every -Instruct repo publishes 32768 (its card: "The
 *   current config.json is set for context length up to 32,768 tokens", 7B and up extend to 131072
 *   with YaRN factor 4: "rope_scaling": {"factor": 4.0, "original_max_position_embeddings": 32768,
 *   "type": "yarn"}); the base repos publish 32768 for 0.5B, 1.5B, 3B ("Context Length: Full 32,768
 *   tokens") and 131072 for 7B, 14B, 32B, 72B ("Context Length: 131,072 tokens"; config.json of 7B,
 *   14B, 32B in LLM-Prof). The 0.5B to 3B cards document no YaRN extension.
 * - quantized variants (-AWQ, -GPTQ-Int4, -GPTQ-Int8, Instruct only): the same architecture; the
 *   linear layers are packed (4 or 8 bits, a 16-bit scale and a packed zero point per group of 128
 *   weights), the embeddings (and the separate lm_head of 7B and up) stay 16-bit. So the weights
 *   are about nonEmbedding x bytesPerParameter + embedding x 2 bytes: for 7B-AWQ 6.53e9 x 0.52 +
 *   1.09e9 x 2 = 5.6 GB, the size the AWQ repo publishes.
 */

/** What the KV cache check needs of a model. */
export interface ModelArchitecture {
    /** num_hidden_layers */
    readonly layers: number;
    /** num_key_value_heads */
    readonly kvHeads: number;
    /** hidden_size / num_attention_heads (or head_dim where config.json sets it) */
    readonly headDim: number;
    /** max_position_embeddings: what vLLM takes as the longest model length without rope scaling */
    readonly maxContext: number;
}

/** A known model: its architecture, where it came from, and its weights in bytes. */
export interface KnownModel extends ModelArchitecture {
    /** The family member the repo id matched, like `Qwen2.5-7B-Instruct-AWQ`. */
    readonly name: string;
    /** The context the model card documents with YaRN (factor 4 over 32768), when it documents one. */
    readonly yarnContext?: number;
    /** Weights in bytes, estimated from the parameters and the variant's bytes per parameter. */
    readonly weightBytes: number;
}

interface Size {
    readonly layers: number;
    readonly kvHeads: number;
    readonly hiddenSize: number;
    readonly attentionHeads: number;
    /** Parameters, in billions: all, and those outside the embeddings (model card). */
    readonly parameters: number;
    readonly nonEmbedding: number;
    /** max_position_embeddings of the base repo (the -Instruct repos publish 32768). */
    readonly baseContext: number;
    readonly yarn: boolean;
}

const QWEN25_SIZES: Readonly<Record<string, Size>> = {
    "0.5B": { layers: 24, kvHeads: 2, hiddenSize: 896, attentionHeads: 14, parameters: 0.49, nonEmbedding: 0.36, baseContext: 32768, yarn: false },
    "1.5B": { layers: 28, kvHeads: 2, hiddenSize: 1536, attentionHeads: 12, parameters: 1.54, nonEmbedding: 1.31, baseContext: 32768, yarn: false },
    "3B": { layers: 36, kvHeads: 2, hiddenSize: 2048, attentionHeads: 16, parameters: 3.09, nonEmbedding: 2.77, baseContext: 32768, yarn: false },
    "7B": { layers: 28, kvHeads: 4, hiddenSize: 3584, attentionHeads: 28, parameters: 7.61, nonEmbedding: 6.53, baseContext: 131072, yarn: true },
    "14B": { layers: 48, kvHeads: 8, hiddenSize: 5120, attentionHeads: 40, parameters: 14.7, nonEmbedding: 13.1, baseContext: 131072, yarn: true },
    "32B": { layers: 64, kvHeads: 8, hiddenSize: 5120, attentionHeads: 40, parameters: 32.5, nonEmbedding: 31.0, baseContext: 131072, yarn: true },
    "72B": { layers: 80, kvHeads: 8, hiddenSize: 8192, attentionHeads: 64, parameters: 72.7, nonEmbedding: 70.0, baseContext: 131072, yarn: true },
};

/** Bytes per weight of the linear layers: bf16, and the quantized builds (bits/8 plus one fp16 scale and a packed zero per 128). */
const BYTES_PER_PARAMETER: Readonly<Record<string, number>> = {
    "": 2,
    "-AWQ": 0.5 + (2 + 0.5) / 128,
    "-GPTQ-Int4": 0.5 + (2 + 0.5) / 128,
    "-GPTQ-Int8": 1 + (2 + 1) / 128,
};

/** The native context Qwen documents with YaRN for 7B and up: 4 x 32768. */
const QWEN25_YARN_CONTEXT = 131072;

const QWEN25_REPO = /^qwen\/qwen2\.5-(0\.5b|1\.5b|3b|7b|14b|32b|72b)(-instruct(-awq|-gptq-int4|-gptq-int8)?)?$/;

/** The Qwen2.5 model a repo id names (case-insensitive), or undefined. Coder, Math, VL and -1M repos are other architectures. */
export function qwen25Model(repo: string): KnownModel | undefined {
    const match = QWEN25_REPO.exec(repo.toLowerCase());
    if (!match) {
        return undefined;
    }
    const sizeKey = Object.keys(QWEN25_SIZES).find((key) => key.toLowerCase() === match[1]);
    const size = sizeKey === undefined ? undefined : QWEN25_SIZES[sizeKey];
    if (!size || sizeKey === undefined) {
        return undefined;
    }
    const instruct = match[2] !== undefined;
    const variant = Object.keys(BYTES_PER_PARAMETER).find((key) => key.toLowerCase() === (match[3] ?? "")) ?? "";
    const embedding = size.parameters - size.nonEmbedding;
    return {
        name: `Qwen2.5-${sizeKey}${instruct ? "-Instruct" : ""}${variant}`,
        layers: size.layers,
        kvHeads: size.kvHeads,
        headDim: size.hiddenSize / size.attentionHeads,
        maxContext: instruct ? 32768 : size.baseContext,
        ...(size.yarn ? { yarnContext: QWEN25_YARN_CONTEXT } : {}),
        weightBytes: Math.round((size.nonEmbedding * BYTES_PER_PARAMETER[variant] + embedding * 2) * 1e9),
    };
}

/**
 * The architecture the checks use for a model: its `architecture` block when it has one (the
 * operator knows best), else the Qwen2.5 table; undefined when neither knows the repo.
 */
export function modelArchitecture(repo: unknown, architecture: unknown): ModelArchitecture | undefined {
    if (isArchitecture(architecture)) {
        return architecture;
    }
    return typeof repo === "string" ? qwen25Model(repo) : undefined;
}

function isArchitecture(value: unknown): value is ModelArchitecture {
    if (typeof value !== "object" || value === null) {
        return false;
    }
    const fields = value as Record<string, unknown>;
    return ["layers", "kvHeads", "headDim", "maxContext"].every((key) => Number.isInteger(fields[key]) && (fields[key] as number) > 0);
}

/**
 * One line per GPU model served by vLLM whose architecture is unknown: the plan prints it, as
 * its KV cache check is skipped. `models` are the stack's raw models (engine vllm by default).
 */
export function architectureNotices(models: unknown): string[] {
    if (!Array.isArray(models)) {
        return [];
    }
    return models.flatMap((model: unknown, index) => {
        const fields = (typeof model === "object" && model !== null ? model : {}) as Record<string, unknown>;
        const engine = fields.engine ?? "vllm";
        if (engine !== "vllm" || fields.gpusPerReplica === 0 || modelArchitecture(fields.repo, fields.architecture)) {
            return [];
        }
        return [`note: models[${index}] ${String(fields.repo)}: no architecture facts (not a Qwen2.5 repo, no architecture block): its KV cache and context length checks are skipped`];
    });
}
