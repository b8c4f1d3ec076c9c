import type { Engine, ModelConfig } from "../../config";
import { API_KEY_ENV } from "../../config/models";
import { modelArchitecture } from "../../lib/model-architectures";

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
    /** Readiness: the configured model is loaded and served. Never a path the engine's API key guards. */
    readonly readinessPath: (servedModelName: string) => string;
    /**
     * The environment variable that makes the engine require `Authorization: Bearer <key>`
     * (config/models.ts API_KEY_ENV); undefined for an engine without a key check (Ollama).
     */
    readonly apiKeyEnv?: string;
    /**
     * Environment set beside the key that keeps it out of the engine's own logs (apiKeyEnv): TGI's
     * launcher prints its arguments, the key among them, at start (TGI_KEYED_LOG_LEVEL).
     */
    readonly apiKeyLogEnv?: readonly { readonly name: string; readonly value: string }[];
    /** Prometheus exposition path; undefined when the engine exports none. */
    readonly metricsPath?: string;
    /** The label that names the served model on its metrics; undefined when there is none. */
    readonly modelLabel?: string;
    /** Load metrics: requests waiting in the queue, requests being served, finished requests. */
    readonly load?: { readonly waiting: LoadMetric; readonly running: LoadMetric; readonly finished: LoadMetric };
    /**
     * The user the server runs as. vLLM and Ollama run as any uid (1000 here); TGI only as root
     * (0): its image keeps Python under /root, which no other uid can enter (TGI_ROOT_REASON).
     */
    readonly runAsUser: number;
    /**
     * The Pod Security Standard level its pods need: `restricted` (non-root), or `baseline` for
     * TGI, which therefore runs in its own namespace (servingNamespace).
     */
    readonly podSecurity: "restricted" | "baseline";
    /**
     * What the engine does on SIGTERM. `drains`: it stops taking requests and lets the in-flight
     * ones finish, for at most the timeout engineCommand gives it (drainSeconds). `closes`: it drops
     * every connection at once, so the drain has to happen before the signal (drainTiming).
     */
    readonly onSigterm: "drains" | "closes";
}

/** The uid of every non-root container here (vLLM, Ollama, init containers, the download Job). */
export const NON_ROOT_UID = 1000;

/**
 * Why TGI runs as root, checked in huggingface/text-generation-inference at v3.3.2 (and still at
 * v3.3.7): its `Dockerfile` runs `uv python install` as root, which puts the interpreter under
 * /root/.local/share/uv/python, and sets `LD_LIBRARY_PATH=...:/root/.local/share/uv/python/
 * cpython-3.11.11-linux-x86_64-gnu/lib/`; /usr/src/.venv/bin/python links there, and the launcher
 * binary itself loads libpython3.11.so from there. /root is mode 0700 (Ubuntu), so any other uid
 * fails before main: "text-generation-launcher: error while loading shared libraries:
 * libpython3.11.so.1.0" (issue #3082, open; the fix, PR #3197, is unmerged). No non-root
 * container can make /root readable, so TGI models are served from their own namespace at the
 * `baseline` level, as root with every other restricted setting kept (README "Model serving").
 */
export const TGI_ROOT_REASON = "TGI 3.3.2 installs its Python under /root (mode 0700) and its launcher loads libpython from there (huggingface/text-generation-inference Dockerfile, issue #3082): it starts only as root. It runs in the baseline namespace with no capabilities, no privilege escalation and the RuntimeDefault seccomp profile.";

/**
 * The namespace a model's server runs in: the models' namespace, which enforces `restricted`,
 * or for an engine that needs `baseline` (TGI) a sibling namespace `<namespace>-tgi` that
 * enforces `baseline` (and warns and audits at `restricted`), so that the other models keep
 * the stricter admission.
 */
export function servingNamespace(namespace: string, engine: Engine): string {
    return PROFILES[engine].podSecurity === "restricted" ? namespace : `${namespace}-${engine}`;
}

/** Pod Security admission labels of a serving namespace (Kubernetes Pod Security Standards). */
export function podSecurityLabels(level: EngineProfile["podSecurity"]): Record<string, string> {
    return {
        "pod-security.kubernetes.io/enforce": level,
        "pod-security.kubernetes.io/enforce-version": "latest",
        // A weaker namespace still says what restricted would refuse, in warnings and the audit log.
        ...(level === "restricted" ? {} : { "pod-security.kubernetes.io/warn": "restricted", "pod-security.kubernetes.io/audit": "restricted" }),
    };
}

/**
 * TGI's log filter when it has a key. Its launcher reads the key (clap `env` API_KEY into
 * `Args.api_key`) and, at start, logs every argument with `tracing::info!("{:#?}", args)`, a
 * derived Debug that prints `api_key: Some("<the key>")` in clear (huggingface/text-generation-inference
 * v3.3.2 launcher/src/main.rs main, unchanged at v3.3.7): into the pod's log, which Alloy ships to
 * Loki for anyone with Grafana. LOG_LEVEL is a tracing EnvFilter for the launcher and the router
 * (launcher/src/main.rs main and router/src/logging.rs init_logging pass any value other than
 * warn/info/debug to `parse_lossy`): `info` for every target, but the launcher's own
 * (`text_generation_launcher`, which its events carry, a prefix match) at `warn`. The router keeps its
 * info logs; the launcher keeps its warnings and errors, and the shards' info lines it relays at
 * info (PythonLogMessage::trace) are dropped with the argument dump.
 */
export const TGI_KEYED_LOG_LEVEL = "info,text_generation_launcher=warn";

const PROFILES: Readonly<Record<Engine, Omit<EngineProfile, "image">>> = {
    vllm: {
        engine: "vllm",
        port: 8000,
        healthPath: "/health",
        // /health, not /v1/models: with a key, vLLM answers every path starting with /v1 (and /v2,
        // /inference) 401 without the bearer header (AuthenticationMiddleware, a path-prefix test:
        // vllm/entrypoints/serve/utils/server_utils.py in 0.27 to 0.29, vllm-project/vllm#58144), and a
        // probe cannot send a header from a Secret. /health is as late: vLLM builds the engine (loads the weights) before
        // its HTTP server serves, and /health answers 503 once the engine is dead.
        readinessPath: () => "/health",
        apiKeyEnv: API_KEY_ENV.vllm,
        metricsPath: "/metrics",
        // vLLM labels every metric with model_name (the served model name).
        modelLabel: "model_name",
        load: {
            waiting: { name: "vllm:num_requests_waiting" },
            running: { name: "vllm:num_requests_running" },
            finished: { name: "vllm:request_success_total", counter: true },
        },
        runAsUser: NON_ROOT_UID,
        podSecurity: "restricted",
        // vllm-project/vllm PR #34730 / #36666 (since v0.18.0): on SIGTERM the API server answers new
        // requests 503 and waits up to --shutdown-timeout for the running ones; the default, 0, aborts them.
        onSigterm: "drains",
    },
    tgi: {
        engine: "tgi",
        port: 8080,
        healthPath: "/health",
        // TGI's /health returns 200 only once the shards are loaded and warmed up.
        readinessPath: () => "/health",
        // TGI v3.3.2 router/src/server.rs: the key layer wraps only the generation routes (/, /generate,
        // /generate_stream, /v1/chat/completions, /v1/completions, /vertex, /invocations, /tokenize);
        // /health, /metrics, /info and /v1/models stay open. It compares the header case-insensitively
        // (to_lowercase), so a key's letters count once: the generated key is long for that reason.
        apiKeyEnv: API_KEY_ENV.tgi,
        apiKeyLogEnv: [{ name: "LOG_LEVEL", value: TGI_KEYED_LOG_LEVEL }],
        metricsPath: "/metrics",
        // TGI's metrics carry no model label: one TGI serves one model, selected by namespace and service.
        load: {
            waiting: { name: "tgi_queue_size" },
            running: { name: "tgi_batch_current_size" },
            finished: { name: "tgi_request_success", counter: true },
        },
        runAsUser: 0,
        podSecurity: "baseline",
        // TGI v3.3.2 launcher/src/main.rs: SIGTERM (ctrlc "termination") makes the launcher send
        // SIGTERM to the router and wait up to --graceful-termination-timeout (default 90 s) before
        // killing it, then stop the shards the same way. The router (router/src/server.rs) serves
        // with axum's with_graceful_shutdown: it stops accepting and finishes the open requests.
        onSigterm: "drains",
    },
    ollama: {
        engine: "ollama",
        port: 11434,
        // GET / answers "Ollama is running" as soon as the server listens.
        healthPath: "/",
        // OpenAI-compatible "retrieve model": 404 until the model has been created from the weights.
        readinessPath: (served) => `/v1/models/${encodeURIComponent(served)}`,
        // Ollama exports no Prometheus metrics: it scales on CPU (see scaled-object.ts).
        runAsUser: NON_ROOT_UID,
        podSecurity: "restricted",
        // ollama/ollama server/routes.go Serve (v0.33.0-rc2 and main): on SIGINT/SIGTERM it calls
        // http.Server.Close, which closes the listener and every connection at once: no drain.
        onSigterm: "closes",
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

/**
 * vLLM runs as uid 1000, which has no passwd entry in the image (vllm/vllm-openai keeps USER root;
 * since vllm-project/vllm PR #40275 it also ships a user `vllm`, uid 2000 gid 0, that an older or
 * custom image override would not have). Torch before 2.13 calls getpass.getuser() for its
 * compile caches, which raises when the uid has no passwd entry; getuser() reads LOGNAME and USER
 * before it asks pwd (CPython Lib/getpass.py), so naming the user here works with any image.
 * HOME is the cache emptyDir, writable by the pod's fsGroup.
 */
const VLLM_USER_ENV = [{ name: "USER", value: "vllm" }, { name: "LOGNAME", value: "vllm" }];

/**
 * The Ollama container's script. The server must be up to import the model (`ollama create`
 * talks to it), so it starts in the background; sh is then PID 1, and PID 1 ignores a signal it
 * has no handler for: without the trap SIGTERM never reached `ollama serve`, and every pod lived
 * out its grace period until SIGKILL. The trap forwards TERM (and INT) to the server; `wait`
 * returns early when a trapped signal arrives, so the script waits again until the server has
 * exited, and exits with its status. `-e` would end the script at a failing `wait`: hence `||`.
 */
export const OLLAMA_SCRIPT = [
    "ollama serve & server=$!",
    // Stopped while starting: end the server and an import in progress, and exit with the server's
    // status. The import runs in the background: sh runs a trap only once a foreground command ends.
    `trap 'kill -TERM "$server" $creating 2>/dev/null; status=0; wait "$server" || status=$?; exit "$status"' TERM INT`,
    "creating=",
    "i=0; until ollama list >/dev/null 2>&1; do i=$((i+1)); [ $i -lt 120 ] || exit 1; sleep 1; done",
    `printf 'FROM %s\\n' "$MODEL_DIR" > "$HOME/Modelfile"`,
    `ollama create "$SERVED_MODEL_NAME" -f "$HOME/Modelfile" & creating=$!`,
    // A trapped TERM interrupts `wait`; dash runs the trap only after the whole `||` list, so a
    // failed import is told apart in a command of its own, after the trap has had its turn.
    `created=0; wait "$creating" || created=$?`,
    `[ "$created" -eq 0 ] || { kill "$server"; exit 1; }`,
    // Serving: forward TERM and wait for the server's own exit.
    `trap 'kill -TERM "$server" 2>/dev/null' TERM INT`,
    `status=0; wait "$server" || status=$?`,
    `while kill -0 "$server" 2>/dev/null; do status=0; wait "$server" || status=$?; done`,
    `exit "$status"`,
].join("\n");

/**
 * vllm.yarnFactor > 1: YaRN rope scaling over the model's native context, as a config.json override
 * in the form current vLLM takes it (docs.vllm.ai, Features > Context Extension: "--rope-scaling ...
 * is no longer supported. Please use the --hf-overrides method with rope_parameters", whose example
 * serves a Qwen model with rope_type yarn, factor, original_max_position_embeddings and rope_theta;
 * vllm/config/model.py _get_and_verify_max_len then allows original x factor). rope_theta is part
 * of rope_parameters there: 1000000 in every Qwen2.5 config.json, the only repos the config lets
 * set yarnFactor (config/models.ts checkContextLength).
 */
const QWEN25_ROPE_THETA = 1_000_000;

function yarnOverride(model: ModelConfig): string[] {
    const factor = model.vllm.yarnFactor;
    const native = modelArchitecture(model.repo, model.architecture)?.maxContext;
    if (!(factor > 1) || native === undefined) {
        return [];
    }
    const ropeParameters = { rope_type: "yarn", factor, original_max_position_embeddings: native, rope_theta: QWEN25_ROPE_THETA };
    return [`--hf-overrides=${JSON.stringify({ rope_parameters: ropeParameters })}`];
}

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
                    `--pipeline-parallel-size=${vllm.pipelineParallelSize}`,
                    `--max-model-len=${vllm.maxModelLen}`,
                    ...yarnOverride(model),
                    `--dtype=${vllm.dtype}`,
                    ...(vllm.quantization ? [`--quantization=${vllm.quantization}`] : []),
                    `--gpu-memory-utilization=${vllm.gpuMemoryUtilization}`,
                    `--max-num-seqs=${vllm.maxNumSeqs}`,
                    vllm.enablePrefixCaching ? "--enable-prefix-caching" : "--no-enable-prefix-caching",
                    vllm.enableChunkedPrefill ? "--enable-chunked-prefill" : "--no-enable-chunked-prefill",
                    "--disable-uvicorn-access-log",
                    // In-flight requests get drainSeconds after SIGTERM (see drainTiming).
                    `--shutdown-timeout=${model.drainSeconds}`,
                ],
                env: [...OFFLINE_ENV, ...home, ...VLLM_USER_ENV, { name: "VLLM_NO_USAGE_STATS", value: "1" }, { name: "DO_NOT_TRACK", value: "1" }],
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
                    // The router finishes its open requests for at most this long after SIGTERM (drainTiming).
                    `--graceful-termination-timeout=${model.drainSeconds}`,
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
                args: [OLLAMA_SCRIPT],
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

/** The key in a model's API key Secret (components/model-server/resources.ts apiKeySecretMetadata). */
export const API_KEY_SECRET_KEY = "key";

/**
 * The serving container's key setting, from the model's API key Secret: never a literal, so the
 * key is in no manifest, plan or pod spec. [] when the model requires no key or its engine has no
 * check (the config refuses that combination: config/models.ts checkEndpoint).
 */
export function apiKeyEnv<Name>(profile: Pick<EngineProfile, "apiKeyEnv" | "apiKeyLogEnv">, secretName: Name | undefined) {
    if (!profile.apiKeyEnv || !secretName) {
        return [];
    }
    return [
        { name: profile.apiKeyEnv, valueFrom: { secretKeyRef: { name: secretName, key: API_KEY_SECRET_KEY } } },
        ...(profile.apiKeyLogEnv ?? []),
    ];
}
