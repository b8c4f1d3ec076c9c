import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import * as z from "zod";
import { ConfigError, describeIssues, problemAt, unknownKey } from "./config/errors";
import { ClusterConfig, GpuPoolConfig, awsProblems, clusterSchema, gpuPoolSchema } from "./config/aws";
import { dnsLabel } from "./config/fields";
import { nodeFitProblems } from "./config/fit";
import { API_KEY_MODES, ApiKeyMode, ModelConfig, effectiveApiKey, modelDefaultsSchema, modelListProblems, modelSchema, tgiNamespaceProblems } from "./config/models";
import {
    ClusterFlavour, ObservabilityConfig, clusterFlavourProblems, clusterFlavourSchema, effectiveFlavour, observabilityProblems, observabilitySchema,
} from "./config/observability";
import { ConfigDeclaration, PROJECT, configDeclarations, isRecord } from "./config/project";

export { ConfigError } from "./config/errors";
export type { ClusterConfig, GpuPoolConfig } from "./config/aws";
export type { ApiKeyMode, Engine, ModelConfig } from "./config/models";
export type { ClusterFlavour, ObservabilityConfig } from "./config/observability";

/** The stack config, validated, with every default applied. */
export interface PlatformConfig {
    readonly target: "aws" | "local";
    /** Namespace of the model servers. */
    readonly namespace: string;
    /** Namespaces whose pods may call the models, and the Ingress controller's (the network fence: components/network-policies.ts). */
    readonly network: { readonly clientNamespaces: readonly string[]; readonly ingressControllerNamespace: string };
    /** (local) Where the kubeconfig is; undefined fields mean the Kubernetes defaults. */
    readonly kubernetes: { readonly kubeconfig?: string; readonly context?: string };
    /** The Kubernetes the stack runs on: `eks` on aws, else `clusterFlavour` (k3s, kind, minikube, generic). */
    readonly clusterFlavour: ClusterFlavour;
    /** (aws) The EKS cluster and its GPU node pool; undefined for other targets. */
    readonly aws?: { readonly cluster: ClusterConfig; readonly gpuPool: GpuPoolConfig };
    /** Every model with its `apiKey` resolved: its own, or the stack's (never ""). */
    readonly models: readonly ModelConfig[];
    /**
     * The bearer key of the models with `apiKey: required` (secret `apiKeyValue`); undefined when the
     * stack sets none (index.ts then generates one, if any model requires it).
     */
    readonly apiKeyValue?: pulumi.Output<string>;
    /** Hugging Face token, secret; undefined when the stack sets none. */
    readonly hfToken?: pulumi.Output<string>;
    /** Prometheus, Loki, Grafana and alert thresholds. */
    readonly observability: ObservabilityConfig;
    /** Grafana's admin password, secret; undefined when the stack sets none (one is generated). */
    readonly grafanaAdminPassword?: pulumi.Output<string>;
}

const platformSchema = z.strictObject({
    target: z.enum(["aws", "local"]),
    namespace: dnsLabel(63),
    clientNamespaces: z.array(dnsLabel(63)),
    ingressControllerNamespace: dnsLabel(63),
    kubeconfig: z.string(),
    kubeContext: z.string(),
    clusterFlavour: clusterFlavourSchema,
    cluster: clusterSchema,
    gpuPool: gpuPoolSchema,
    apiKey: z.enum(API_KEY_MODES),
    modelDefaults: modelDefaultsSchema,
    models: z.array(modelSchema),
    observability: observabilitySchema,
});

/**
 * Reads the stack config once, applies the defaults declared in Pulumi.yaml and validates
 * everything, throwing one ConfigError that lists every problem.
 */
export function loadConfig(): PlatformConfig {
    const config = validatedConfig();
    keepForTools(config);
    return config;
}

/**
 * The offline plan runs the program from its bundle (bin/index.js), then reads the config from its
 * own (bin/tools/plan.js): two copies of this module in one process, so a variable here would not
 * carry the program's result over. It is kept on the global object, beside a digest of the raw config
 * it came from (a digest: a real run's raw config holds the decrypted secrets).
 */
const KEPT_CONFIG = Symbol.for("llm-platform.config");

interface KeptConfig {
    readonly digest: string;
    readonly config: PlatformConfig;
}

function keepForTools(config: PlatformConfig): void {
    (globalThis as Record<symbol, KeptConfig | undefined>)[KEPT_CONFIG] = { digest: rawConfigDigest(), config };
}

/**
 * The config the program validated in this process, for the offline tools that ask after running
 * it (tools/plan.ts): what loadConfig() would return, without validating it a second time (about
 * 40 ms of the prod plan). When the runtime's config is no longer the one it read, loadConfig().
 */
export function programConfig(): PlatformConfig {
    const kept = (globalThis as Record<symbol, KeptConfig | undefined>)[KEPT_CONFIG];
    return kept !== undefined && kept.digest === rawConfigDigest() ? kept.config : loadConfig();
}

function rawConfigDigest(): string {
    return createHash("sha256").update(JSON.stringify(pulumi.runtime.allConfig())).digest("hex");
}

function validatedConfig(): PlatformConfig {
    const declarations = configDeclarations();
    const config = new pulumi.Config(PROJECT);
    const problems = unknownStackKeys(declarations);

    const values: Record<string, unknown> = {};
    for (const [key, declaration] of declarations) {
        const read = readKey(key, config.get(key), declaration);
        if ("problem" in read) {
            // Validate the rest against the default, so that this key is reported once.
            problems.push(read.problem);
            values[key] = declaration.kind === "value" ? declaration.value : declaration.default;
        } else {
            values[key] = read.value;
        }
    }

    const models = Array.isArray(values.models) ? values.models.map((model) => mergeDefaults(values.modelDefaults, model)) : values.models;
    const parsed = platformSchema.safeParse({ ...values, models }, { reportInput: true });
    if (!parsed.success) {
        problems.push(...describeIssues(parsed.error.issues));
    }
    if (Array.isArray(models)) {
        problems.push(...modelListProblems(models, { target: values.target, gpuPool: values.gpuPool, apiKey: values.apiKey }).map(({ path, input, message }) => problemAt(["models", ...path], input, message)));
        problems.push(...tgiNamespaceProblems(values.namespace, models).map(({ path, input, message }) => problemAt(path, input, message)));
        problems.push(...nodeFitProblems(models, { target: values.target, gpuPool: values.gpuPool, observability: values.observability }).map(({ path, input, message }) => problemAt(["models", ...path], input, message)));
    }
    problems.push(...awsProblems(values.cluster, values.gpuPool, values.target).map(({ path, input, message }) => problemAt(path, input, message)));
    problems.push(...observabilityProblems(values.observability, values.target).map(({ path, input, message }) => problemAt(path, input, message)));
    problems.push(...clusterFlavourProblems(values.clusterFlavour, values.target).map(({ path, input, message }) => problemAt(path, input, message)));
    if (problems.length > 0 || !parsed.success) {
        throw new ConfigError(problems);
    }
    const { target, namespace, kubeconfig, kubeContext, cluster, gpuPool } = parsed.data;
    return {
        target,
        namespace,
        network: { clientNamespaces: parsed.data.clientNamespaces, ingressControllerNamespace: parsed.data.ingressControllerNamespace },
        kubernetes: { kubeconfig: kubeconfig || undefined, context: kubeContext || undefined },
        clusterFlavour: effectiveFlavour(target, parsed.data.clusterFlavour),
        aws: target === "aws" ? { cluster, gpuPool } : undefined,
        models: parsed.data.models.map((model) => ({ ...model, apiKey: effectiveApiKey(model.apiKey, parsed.data.apiKey) as ApiKeyMode })),
        apiKeyValue: config.getSecret("apiKeyValue"),
        hfToken: config.getSecret("hfToken"),
        observability: parsed.data.observability,
        grafanaAdminPassword: config.getSecret("grafanaAdminPassword"),
    };
}

/**
 * Optional secrets, read with getSecret. Pulumi.yaml cannot declare them: a typed key
 * without a default is required there, and a secret cannot have a plain default.
 */
export const SECRET_KEYS = ["hfToken", "grafanaAdminPassword", "apiKeyValue"] as const;

function unknownStackKeys(declarations: ReadonlyMap<string, ConfigDeclaration>): string[] {
    const prefix = `${PROJECT}:`;
    const known = [...declarations.keys(), ...SECRET_KEYS];
    return Object.keys(pulumi.runtime.allConfig())
        .filter((key) => key.startsWith(prefix) && !known.includes(key.slice(prefix.length)))
        .sort()
        .map((key) => unknownKey([key.slice(prefix.length)], known));
}

type Read = { value: unknown } | { problem: string };

/** One stack value as its declared type, or the declared default when the stack sets none. */
function readKey(key: string, raw: string | undefined, declaration: ConfigDeclaration): Read {
    if (declaration.kind === "value") {
        return raw === undefined ? { value: declaration.value } : parseStructured(key, raw, declaration.value);
    }
    if (raw === undefined) {
        return { value: declaration.default };
    }
    switch (declaration.type) {
        case "string":
            return { value: raw };
        case "integer":
            return /^-?\d+$/.test(raw) ? { value: Number(raw) } : { problem: problemAt([key], raw, "expected a whole number") };
        case "boolean":
            return raw === "true" || raw === "false" ? { value: raw === "true" } : { problem: problemAt([key], raw, "expected true or false") };
        case "array":
            return parseStructured(key, raw, declaration.default);
    }
}

function parseStructured(key: string, raw: string, defaults: unknown): Read {
    let value: unknown;
    try {
        value = JSON.parse(raw);
    } catch {
        // Pulumi passes structured values as JSON; anything else is a plain string.
        value = raw;
    }
    const expected = Array.isArray(defaults) ? "a list" : isRecord(defaults) ? "a mapping" : undefined;
    if (expected === "a list" && !Array.isArray(value)) {
        return { problem: problemAt([key], value, `expected ${expected}`) };
    }
    if (expected === "a mapping" && !isRecord(value)) {
        return { problem: problemAt([key], value, `expected ${expected}`) };
    }
    return { value: mergeDefaults(defaults, value) };
}

/** `value` over `defaults`, recursively for mappings; lists and scalars replace. */
function mergeDefaults(defaults: unknown, value: unknown): unknown {
    if (!isRecord(defaults) || !isRecord(value)) {
        return value;
    }
    const merged: Record<string, unknown> = { ...defaults };
    for (const [key, child] of Object.entries(value)) {
        merged[key] = mergeDefaults(defaults[key], child);
    }
    return merged;
}
