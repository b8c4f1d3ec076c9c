import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { PlatformConfig, SECRET_KEYS, loadConfig, programConfig } from "../config";
import { PROJECT_DIR, configDeclarations } from "../config/project";
import { loadProgram, runUnderMocks } from "../tools/offline/run";
import { configProblems, engineConfig, loadConfigWith } from "./mocks";

const REVISION = "7ae557604adf67be50417f59c2c2f167def9a775";

/** A model with only the required fields; everything else comes from modelDefaults. */
function model(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return { name: "qwen", repo: "Qwen/Qwen2.5-0.5B-Instruct", revision: REVISION, modelSize: "1Gi", ...overrides };
}

async function load(config: Record<string, unknown>, secretKeys: string[] = []): Promise<PlatformConfig> {
    const result = await loadConfigWith({ target: "local", ...config }, secretKeys);
    if (result instanceof Error) {
        throw result;
    }
    return result;
}

/** The problems loadConfig reports for this config; fails if it accepts it. */
function problems(config: Record<string, unknown>): Promise<readonly string[]> {
    return configProblems({ target: "local", ...config });
}

function declaredValue(key: string): unknown {
    const declaration = configDeclarations().get(key);
    assert.ok(declaration, `Pulumi.yaml declares ${key}`);
    return declaration.kind === "value" ? declaration.value : declaration.default;
}

describe("config", () => {
    describe("defaults come from Pulumi.yaml", () => {
        it("applies the declared scalar defaults when the stack sets nothing but who deploys (required on aws, the default target)", async () => {
            const config = await loadConfigWith({ cluster: { deployerCidrs: ["detect"] } });
            assert.ok(!(config instanceof Error), String(config));
            assert.strictEqual(config.target, declaredValue("target"));
            assert.strictEqual(config.namespace, declaredValue("namespace"));
            assert.deepStrictEqual(config.kubernetes, { kubeconfig: undefined, context: undefined });
        });

        it("fills every model field the stack leaves out from modelDefaults, recursively", async () => {
            const defaults = declaredValue("modelDefaults") as Record<string, Record<string, unknown>>;
            const config = await load({ models: [model({ vllm: { maxModelLen: 4096 } })] });
            const [loaded] = config.models;
            assert.strictEqual(loaded.engine, defaults.engine);
            assert.strictEqual(loaded.vllm.maxModelLen, 4096);
            assert.strictEqual(loaded.vllm.gpuMemoryUtilization, defaults.vllm.gpuMemoryUtilization);
            assert.deepStrictEqual(loaded.autoscaling, defaults.autoscaling);
        });

        it("lets a stack change modelDefaults for all its models", async () => {
            const config = await load({ modelDefaults: { gpusPerReplica: 0, engine: "ollama" }, models: [model(), model({ name: "other" })] });
            assert.deepStrictEqual(config.models.map((m) => m.gpusPerReplica), [0, 0]);
        });

        it("serves a model under its repo id unless servedModelName is set", async () => {
            const config = await load({ models: [model(), model({ name: "b", servedModelName: "qwen-small" })] });
            assert.deepStrictEqual(config.models.map((m) => m.servedModelName), ["Qwen/Qwen2.5-0.5B-Instruct", "qwen-small"]);
        });

        it("keeps the kubeconfig path and context of the local target", async () => {
            const config = await load({ kubeconfig: "~/.kube/k3s.yaml", kubeContext: "k3s" });
            assert.deepStrictEqual(config.kubernetes, { kubeconfig: "~/.kube/k3s.yaml", context: "k3s" });
        });

        it("returns the Hugging Face token as a Pulumi secret", async () => {
            const config = await load({ hfToken: "hf_not_a_real_token" }, ["hfToken"]);
            assert.ok(config.hfToken);
            assert.strictEqual(await pulumi.isSecret(config.hfToken), true);
        });
    });

    describe("bad input: one line per problem, naming the full key", () => {
        const cases: [string, Record<string, unknown>, string][] = [
            ["an unknown top-level key, with a suggestion", { modles: [] }, "llm-platform:modles: unknown key (did you mean models?)"],
            ["an unknown model field", { models: [model({ maxReplica: 3 })] }, "llm-platform:models[0].maxReplica: unknown key (did you mean maxReplicas?)"],
            ["an unknown nested field", { models: [model({ vllm: { tensorParalelSize: 2 } })] }, "llm-platform:models[0].vllm.tensorParalelSize: unknown key (did you mean tensorParallelSize?)"],
            ["a target that does not exist", { target: "gcp" }, 'llm-platform:target = "gcp": expected one of "aws", "local"'],
            ["a string where a number goes", { models: [model({ maxReplicas: "three" })] }, 'llm-platform:models[0].maxReplicas = "three": expected a number'],
            ["a fraction where a count goes", { models: [model({ vllm: { tensorParallelSize: 1.5 } })] }, "llm-platform:models[0].vllm.tensorParallelSize = 1.5: expected a whole number"],
            ["a number where a boolean goes", { models: [model({ vllm: { enablePrefixCaching: 1 } })] }, "llm-platform:models[0].vllm.enablePrefixCaching = 1: expected true or false"],
            ["a mapping where a list goes", { models: { name: "qwen" } }, "llm-platform:models = a mapping: expected a list"],
            ["min greater than max", { models: [model({ minReplicas: 3, maxReplicas: 2 })] }, "llm-platform:models[0].minReplicas = 3: is greater than maxReplicas (2)"],
            ["a model name that is not a Hugging Face repo id", { models: [model({ repo: "qwen2.5" })] }, 'llm-platform:models[0].repo = "qwen2.5": is not a Hugging Face repo id (owner/name, like Qwen/Qwen2.5-0.5B-Instruct)'],
            ["a repo id with a double dash", { models: [model({ repo: "Qwen/Qwen--x" })] }, 'llm-platform:models[0].repo = "Qwen/Qwen--x": is not a Hugging Face repo id (owner/name, like Qwen/Qwen2.5-0.5B-Instruct)'],
            ["a branch as revision", { models: [model({ revision: "main" })] }, `llm-platform:models[0].revision = "main": is not pinned: use the model's 40-character commit hash, not a branch or tag`],
            ["a short hash as revision", { models: [model({ revision: "7ae5576" })] }, `llm-platform:models[0].revision = "7ae5576": is not pinned: use the model's 40-character commit hash, not a branch or tag`],
            ["a size with a lowercase unit", { models: [model({ modelSize: "1gi" })] }, 'llm-platform:models[0].modelSize = "1gi": is not a Kubernetes quantity (like 500m, 4, 16Gi)'],
            ["an empty size", { models: [model({ storage: { size: "" } })] }, 'llm-platform:models[0].storage.size = "": is not a Kubernetes quantity (like 500m, 4, 16Gi)'],
            ["weights larger than their volume", { models: [model({ modelSize: "20Gi", storage: { size: "10Gi" } })] }, 'llm-platform:models[0].storage.size = "10Gi": does not exceed modelSize (20Gi): the weights would not fit'],
            ["a memory request above its limit", { models: [model({ resources: { memory: "32Gi", memoryLimit: "16Gi" } })] }, 'llm-platform:models[0].resources.memory = "32Gi": is more than resources.memoryLimit (16Gi)'],
            ["two models with one name", { models: [model(), model()] }, 'llm-platform:models[1].name = "qwen": is used by an earlier model'],
            ["a name that is not a DNS label", { models: [model({ name: "Qwen_7B" })] }, `llm-platform:models[0].name = "Qwen_7B": is not a DNS label: lowercase letters, digits and '-', starting with a letter, at most 40 characters`],
            ["a missing required field", { models: [{ name: "qwen", repo: "Qwen/Qwen2.5-0.5B-Instruct", modelSize: "1Gi" }] }, "llm-platform:models[0].revision: required"],
            ["an engine that does not exist", { models: [model({ engine: "llamacpp" })] }, 'llm-platform:models[0].engine = "llamacpp": expected one of "vllm", "tgi", "ollama"'],
        ];
        for (const [what, config, expected] of cases) {
            it(`rejects ${what}`, async () => {
                assert.deepStrictEqual(await problems(config), [expected]);
            });
        }

        it("reports every problem at once", async () => {
            const found = await problems({ modles: [], models: [model({ revision: "main", minReplicas: 4, maxReplicas: 1, modelSize: "1gi" })] });
            assert.strictEqual(found.length, 4, found.join("\n"));
        });

        it("never prints a stack trace or a multi-line problem", async () => {
            const found = await problems({ models: [model({ revision: "main" })] });
            assert.ok(found.every((line) => !line.includes("\n") && !/\bat .*\.ts:\d+/.test(line)));
        });

        it("fails before any resource is registered", async () => {
            let thrown: unknown;
            const run = await runUnderMocks({ stack: "test", config: engineConfig({ target: "local", models: [model({ revision: "main" })] }) }, () => {
                try {
                    loadProgram();
                } catch (error) {
                    thrown = error;
                }
            });
            assert.ok(thrown instanceof Error && thrown.name === "ConfigError", "the program throws the ConfigError");
            assert.deepStrictEqual(run.resources, []);
        });
    });
});

describe("programConfig: the config the program validated, for the offline tools", () => {
    it("is the program's own result while the runtime's config is unchanged, and a new validation once it changes", async () => {
        const config = engineConfig({ target: "local", models: [model()] });
        await runUnderMocks({ stack: "test", config }, () => {
            const validated = loadConfig();
            assert.strictEqual(programConfig(), validated, "not validated a second time");
            pulumi.runtime.setAllConfig({ ...config, ...engineConfig({ namespace: "other" }) });
            const changed = programConfig();
            assert.notStrictEqual(changed, validated);
            assert.strictEqual(changed.namespace, "other");
        });
    });

    it("never hands a later run the config of an earlier one", async () => {
        await runUnderMocks({ stack: "test", config: engineConfig({ target: "local", models: [model()] }) }, () => { loadConfig(); });
        await runUnderMocks({ stack: "test", config: engineConfig({ target: "local", models: [model({ name: "second" })] }) }, () => {
            assert.deepStrictEqual(programConfig().models.map((m) => m.name), ["second"]);
        });
    });
});

describe("Pulumi.yaml", () => {
    it("gives every typed key a default: Pulumi refuses a stack that sets no value for one without", () => {
        const required = [...configDeclarations()].filter(([, declaration]) => declaration.kind === "typed" && declaration.default === undefined);
        assert.deepStrictEqual(required.map(([key]) => key), []);
    });

    it("keeps the optional secrets out of the schema, and the loader still knows them", async () => {
        for (const key of SECRET_KEYS) {
            assert.ok(!configDeclarations().has(key), key);
        }
        const config = await loadConfigWith({ target: "local", grafanaAdminPassword: "not-a-real-password" }, ["grafanaAdminPassword"]);
        assert.ok(!(config instanceof Error), String(config));
        assert.strictEqual(await pulumi.isSecret(config.grafanaAdminPassword!), true);
    });
});

describe("the Node that runs pulumi up", () => {
    const manifest = (file: string) => JSON.parse(fs.readFileSync(path.join(PROJECT_DIR, file), "utf8")) as { engines?: { node?: string }; devDependencies?: Record<string, string> };
    const major = (range: string | undefined) => Number(/^>=\s*(\d+)/.exec(range ?? "")?.[1]);

    it("asks for the Node major @pulumi/pulumi requires (>=22 since 3.249.0), in package.json's engines", () => {
        const sdk = manifest("node_modules/@pulumi/pulumi/package.json").engines?.node;
        assert.ok(major(sdk) >= 22, `@pulumi/pulumi asks for ${sdk}`);
        assert.strictEqual(manifest("package.json").engines?.node, sdk);
    });

    it("names that major for version managers (.nvmrc, .node-version) and in the Node the tests install", () => {
        const wanted = major(manifest("package.json").engines?.node);
        for (const file of [".nvmrc", ".node-version"]) {
            assert.strictEqual(fs.readFileSync(path.join(PROJECT_DIR, file), "utf8").trim(), String(wanted), file);
        }
        assert.strictEqual(Number(manifest("package.json").devDependencies?.node?.split(".")[0]), wanted, "devDependencies.node");
    });
});
