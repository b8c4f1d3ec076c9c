import type { Engine, ModelConfig } from "../config";

/**
 * Serving engine profiles: what each engine runs, where it listens, how it says it is
 * alive and ready, where its metrics are and which of them measure load. Pure data and
 * functions; the model server component turns them into Kubernetes objects.
 */

/** The engine images, pinned by tag. Bump deliberately; each line says where the tag was checked. */
export const ENGINE_IMAGES: Readonly<Record<Engine, string>> = {
    // Docker Hub vllm/vllm-openai, release v0.28.0 (vllm-project/vllm releases; tag seen pulled as
    // `vllm/vllm-openai:v0.28.0` / `-cu129` in public deployments, Aug 2026).
    vllm: "vllm/vllm-openai:v0.28.0",
    // GHCR huggingface/text-generation-inference 3.3.2 (TGI 3.3.x line, upstream in maintenance mode).
    tgi: "ghcr.io/huggingface/text-generation-inference:3.3.2",
    // Docker Hub ollama/ollama 0.33.1 (ollama/ollama releases). Multi-arch, runs on CPU.
    ollama: "ollama/ollama:0.33.1",
};

/** A load metric the engine exports, and how to sum it for one model. */
export interface LoadMetric {
    /** Prometheus metric name. */
    readonly name: string;
    /** A counter: scaled on its per-second rate. */
    readonly counter?: boolean;
}

export interface EngineProfile {
    readonly engine: Engine;
    readonly image: string;
    /** The container port of the HTTP API (OpenAI-compatible under /v1). */
    readonly port: number;
    /** Liveness and startup: the process is up. */
    readonly healthPath: string;
    /** Readiness: the configured model is loaded and served. */
    readonly readinessPath: (servedModelName: string) => string;
    /** Prometheus exposition path; undefined when the engine exports none. */
    readonly metricsPath?: string;
    /** The label that names the served model on its metrics; undefined when there is none. */
    readonly modelLabel?: string;
    /** Load metrics: requests waiting in the queue, requests being served, finished requests. */
    readonly load?: { readonly waiting: LoadMetric; readonly running: LoadMetric; readonly finished: LoadMetric };
    /** The user the image can run as (all three run as root by default; none needs to). */
    readonly runAsUser: number;
}

const PROFILES: Readonly<Record<Engine, Omit<EngineProfile, "image">>> = {
    vllm: {
        engine: "vllm",
        port: 8000,
        healthPath: "/health",
        // /v1/models answers only once the engine has loaded the model (the API server starts after it).
        readinessPath: () => "/v1/models",
        metricsPath: "/metrics",
        // vLLM labels every metric with model_name (the served model name).
        modelLabel: "model_name",
        load: {
            waiting: { name: "vllm:num_requests_waiting" },
            running: { name: "vllm:num_requests_running" },
            finished: { name: "vllm:request_success_total", counter: true },
        },
        runAsUser: 1000,
    },
    tgi: {
        engine: "tgi",
        port: 8080,
        healthPath: "/health",
        // TGI's /health returns 200 only once the shards are loaded and warmed up.
        readinessPath: () => "/health",
        metricsPath: "/metrics",
        // TGI's metrics carry no model label: one TGI serves one model, selected by namespace and service.
        load: {
            waiting: { name: "tgi_queue_size" },
            running: { name: "tgi_batch_current_size" },
            finished: { name: "tgi_request_success", counter: true },
        },
        runAsUser: 1000,
    },
    ollama: {
        engine: "ollama",
        port: 11434,
        // GET / answers "Ollama is running" as soon as the server listens.
        healthPath: "/",
        // OpenAI-compatible "retrieve model": 404 until the model has been created from the weights.
        readinessPath: (served) => `/v1/models/${encodeURIComponent(served)}`,
        // Ollama exports no Prometheus metrics: it scales on CPU (see scaled-object.ts).
        runAsUser: 1000,
    },
};

/** The profile of an engine, with the image override when one is configured. */
export function engineProfile(engine: Engine, image = ""): EngineProfile {
    return { ...PROFILES[engine], image: image || ENGINE_IMAGES[engine] };
}

/** Where the weights of a pinned revision live on the claim: /models/<repo>/<revision>. */
export function modelDirectory(model: Pick<ModelConfig, "repo" | "revision">, mountPath = "/models"): string {
    return `${mountPath}/${model.repo}/${model.revision}`;
}

/** The marker the download Job writes once a revision is complete and verified. */
export function completeMarker(model: Pick<ModelConfig, "repo" | "revision">, mountPath = "/models"): string {
    return `${modelDirectory(model, mountPath)}/.complete`;
}

export interface EngineCommand {
    readonly command: string[];
    readonly args: string[];
    readonly env: { readonly name: string; readonly value: string }[];
}

/** Never reach the Hub at start: the weights are on the claim. */
const OFFLINE_ENV = [
    { name: "HF_HUB_OFFLINE", value: "1" },
    { name: "TRANSFORMERS_OFFLINE", value: "1" },
    { name: "HF_HUB_DISABLE_TELEMETRY", value: "1" },
];

/** The command line and environment of the serving container, from the model's config. */
export function engineCommand(model: ModelConfig, profile: EngineProfile, cacheDir: string): EngineCommand {
    const dir = modelDirectory(model);
    const home = [{ name: "HOME", value: cacheDir }, { name: "HF_HOME", value: `${cacheDir}/huggingface` }];
    const { vllm } = model;
    switch (profile.engine) {
        case "vllm":
            return {
                command: ["vllm", "serve"],
                args: [
                    dir,
                    "--host=0.0.0.0",
                    `--port=${profile.port}`,
                    `--served-model-name=${model.servedModelName}`,
                    `--tensor-parallel-size=${vllm.tensorParallelSize}`,
                    `--max-model-len=${vllm.maxModelLen}`,
                    `--dtype=${vllm.dtype}`,
                    ...(vllm.quantization ? [`--quantization=${vllm.quantization}`] : []),
                    `--gpu-memory-utilization=${vllm.gpuMemoryUtilization}`,
                    `--max-num-seqs=${vllm.maxNumSeqs}`,
                    vllm.enablePrefixCaching ? "--enable-prefix-caching" : "--no-enable-prefix-caching",
                    vllm.enableChunkedPrefill ? "--enable-chunked-prefill" : "--no-enable-chunked-prefill",
                    "--disable-uvicorn-access-log",
                ],
                env: [...OFFLINE_ENV, ...home, { name: "VLLM_NO_USAGE_STATS", value: "1" }, { name: "DO_NOT_TRACK", value: "1" }],
            };
        case "tgi": {
            // TGI's equivalents of the vLLM settings: shards = tensor parallel size, total tokens = model length.
            const dtype = vllm.dtype === "half" || vllm.dtype === "float16" ? "float16" : vllm.dtype === "bfloat16" ? "bfloat16" : undefined;
            return {
                command: ["text-generation-launcher"],
                args: [
                    `--model-id=${dir}`,
                    "--hostname=0.0.0.0",
                    `--port=${profile.port}`,
                    `--num-shard=${vllm.tensorParallelSize}`,
                    `--max-total-tokens=${vllm.maxModelLen}`,
                    `--max-input-tokens=${vllm.maxModelLen - 1}`,
                    `--max-concurrent-requests=${vllm.maxNumSeqs}`,
                    `--cuda-memory-fraction=${vllm.gpuMemoryUtilization}`,
                    ...(dtype ? [`--dtype=${dtype}`] : []),
                    ...(vllm.quantization ? [`--quantize=${vllm.quantization}`] : []),
                ],
                env: [...OFFLINE_ENV, ...home, { name: "HUGGINGFACE_HUB_CACHE", value: `${cacheDir}/huggingface/hub` }],
            };
        }
        case "ollama":
            // Ollama imports the safetensors directory (Qwen2 is a supported architecture) into its
            // own store on the cache emptyDir; nothing is fetched from the network.
            return {
                command: ["/bin/sh", "-ec"],
                args: [[
                    "ollama serve & server=$!",
                    "i=0; until ollama list >/dev/null 2>&1; do i=$((i+1)); [ $i -lt 120 ] || exit 1; sleep 1; done",
                    `printf 'FROM %s\\n' "$MODEL_DIR" > "$HOME/Modelfile"`,
                    `ollama create "$SERVED_MODEL_NAME" -f "$HOME/Modelfile" || { kill $server; exit 1; }`,
                    "wait $server",
                ].join("\n")],
                env: [
                    ...OFFLINE_ENV, ...home,
                    { name: "OLLAMA_HOST", value: `0.0.0.0:${profile.port}` },
                    { name: "OLLAMA_MODELS", value: `${cacheDir}/ollama` },
                    { name: "OLLAMA_NUM_PARALLEL", value: String(vllm.maxNumSeqs) },
                    { name: "OLLAMA_CONTEXT_LENGTH", value: String(vllm.maxModelLen) },
                    { name: "OLLAMA_KEEP_ALIVE", value: "-1" },
                    { name: "MODEL_DIR", value: dir },
                    { name: "SERVED_MODEL_NAME", value: model.servedModelName },
                ],
            };
    }
}
