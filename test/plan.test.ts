import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse, parseAllDocuments, stringify } from "yaml";
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { EXIT, exitStatus, packConfigPath, plan } from "../tools/plan";
import { withStackTraceOnFailure } from "../tools/offline/stack-traces";
import { InputError } from "../tools/offline/stack-file";
import { PROJECT_DIR, buildTools } from "./mocks";

/** The compiled plan, as `npm run plan` runs it (built once, in the first `before`). */
const PLAN = path.join(PROJECT_DIR, "bin", "tools", "plan.js");

interface PlanResult {
    readonly status: number | null;
    readonly stdout: string;
    readonly stderr: string;
    readonly outDir: string;
}

/** `npm run plan -- <args>`, as a user runs it, into a fresh output directory. */
function runPlan(args: string[], { withOut = true } = {}): PlanResult {
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), "plan-"));
    const result = spawnSync(process.execPath, [PLAN, ...args, ...(withOut ? ["--out", outDir] : [])], {
        cwd: PROJECT_DIR, encoding: "utf8", timeout: 120_000,
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr, outDir };
}

function writeStackFile(text: string): string {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "stack-")), "Pulumi.test.yaml");
    fs.writeFileSync(file, text);
    return file;
}

/** A stack file with Pulumi.dev.yaml's config and `cluster` merged over its llm-platform:cluster. */
function devWith(cluster: Record<string, unknown>): string {
    const dev = parse(fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.dev.yaml"), "utf8")) as { config: Record<string, unknown> };
    return writeStackFile(stringify({ config: { ...dev.config, "llm-platform:cluster": { ...(dev.config["llm-platform:cluster"] as object), ...cluster } } }));
}

function readJson<T>(file: string): T {
    return JSON.parse(fs.readFileSync(file, "utf8")) as T;
}

describe("npm run plan", function () {
    this.timeout(180_000);

    before(() => {
        buildTools();
    });

    describe("on the local stack", () => {
        let result: PlanResult;
        before(() => {
            result = runPlan(["--stack", "local"]);
        });

        it("exits 0 and writes the four files", () => {
            assert.strictEqual(result.status, EXIT.ok, result.stderr);
            for (const file of ["resources.json", "manifests.yaml", "policy-report.json", "summary.json"]) {
                assert.ok(fs.existsSync(path.join(result.outDir, file)), `${file} is written`);
            }
        });

        it("lists every registered resource as { type, name, parent, inputs }", () => {
            const resources = readJson<Record<string, unknown>[]>(path.join(result.outDir, "resources.json"));
            assert.ok(resources.length > 0);
            for (const entry of resources) {
                assert.deepStrictEqual(Object.keys(entry), ["type", "name", "parent", "inputs"]);
            }
            const provider = resources.find((entry) => entry.type === "pulumi:providers:kubernetes");
            assert.strictEqual(provider?.parent, "local");
            assert.strictEqual(resources.find((entry) => entry.type === "llm-platform:cluster:LocalCluster")?.parent, null);
        });

        it("writes complete Kubernetes objects to manifests.yaml", () => {
            const documents = parseAllDocuments(fs.readFileSync(path.join(result.outDir, "manifests.yaml"), "utf8"));
            assert.ok(documents.length > 0);
            for (const document of documents) {
                const object = document.toJS() as { apiVersion?: string; kind?: string; metadata?: { name?: string } };
                assert.ok(object.apiVersion && object.kind && object.metadata?.name, JSON.stringify(object));
            }
        });

        it("writes the policy report in the contract's shape", () => {
            const report = readJson<{ violations: unknown[] }>(path.join(result.outDir, "policy-report.json"));
            assert.ok(Array.isArray(report.violations));
        });

        it("writes summary.json in the README's shape: the local box's model, no pools, no price", () => {
            // test/summary.test.ts has the figures; here, what the plan writes is that summary.
            const summary = readJson<Record<string, unknown>>(path.join(result.outDir, "summary.json"));
            assert.deepStrictEqual(summary, {
                stack: "local", target: "local", region: null,
                models: [{
                    name: "qwen-0-5b", engine: "ollama", gpusPerReplica: 0, gpu: "cpu", weightsPerGpuGiB: null,
                    kvCache: { tokens: null, sequences: null, maxModelLen: 2048, sizedOn: null, unknown: "ollama on CPU, not estimated" },
                    replicas: { min: 1, max: 5 },
                    coldStart: { startupBudgetSeconds: 600, interceptorHoldSeconds: 1800 },
                }],
                pools: null, totalPerHour: null, prices: null,
            });
        });

        it("prints the summary after the policy result", () => {
            const lines = result.stdout.split("\n");
            const policy = lines.findIndex((line) => line.startsWith("policy pack "));
            const summary = lines.indexOf("summary of stack local (local):");
            assert.ok(policy >= 0 && summary > policy, result.stdout);
            assert.match(lines[summary + 1], /^  model qwen-0-5b: ollama on CPU, KV cache unknown: /);
            assert.match(result.stdout, /^wrote resources\.json, manifests\.yaml, policy-report\.json, summary\.json, secrets\.json to /m);
        });

        it("prints a summary of resources by type", () => {
            assert.match(result.stdout, /^\s+1\s+llm-platform:cluster:LocalCluster$/m);
            assert.match(result.stdout, /policy pack llm-platform:/);
        });

        it("is deterministic: a second run writes the same files", () => {
            const again = runPlan(["--stack", "local"]);
            for (const file of ["resources.json", "manifests.yaml", "policy-report.json", "summary.json"]) {
                assert.strictEqual(fs.readFileSync(path.join(again.outDir, file), "utf8"), fs.readFileSync(path.join(result.outDir, file), "utf8"), file);
            }
        });
    });

    it("writes to out/<stack> by default", () => {
        const defaultDir = path.join(PROJECT_DIR, "out", "local");
        fs.rmSync(defaultDir, { recursive: true, force: true });
        const result = runPlan(["--stack", "local"], { withOut: false });
        assert.strictEqual(result.status, EXIT.ok, result.stderr);
        assert.ok(fs.existsSync(path.join(defaultDir, "resources.json")));
    });

    it("takes the config from --config in place of the stack file", () => {
        const file = writeStackFile("config:\n  llm-platform:target: local\n  llm-platform:namespace: from-config-file\n");
        const result = runPlan(["--stack", "anything", "--config", file]);
        assert.strictEqual(result.status, EXIT.ok, result.stderr);
        assert.match(fs.readFileSync(path.join(result.outDir, "manifests.yaml"), "utf8"), /name: from-config-file/);
    });

    it("notes a model without architecture facts from the config with its defaults applied", () => {
        // modelDefaults make both models Ollama on CPU (no KV check to skip), and the third is vLLM on
        // a GPU: only it is noted. The stack file's raw models say neither engine nor GPUs.
        const file = writeStackFile([
            "config:",
            "  llm-platform:target: local",
            "  llm-platform:modelDefaults: { engine: ollama, gpusPerReplica: 0 }",
            "  llm-platform:models:",
            "    - { name: a, repo: meta-llama/Llama-3.1-8B-Instruct, revision: 7ae557604adf67be50417f59c2c2f167def9a775, modelSize: 16Gi }",
            "    - { name: b, repo: mistralai/Mistral-7B-Instruct-v0.3, revision: 7ae557604adf67be50417f59c2c2f167def9a775, modelSize: 15Gi }",
            "    - { name: c, repo: mistralai/Mistral-7B-Instruct-v0.3, revision: 7ae557604adf67be50417f59c2c2f167def9a775, modelSize: 15Gi, engine: vllm, gpusPerReplica: 1 }",
            "",
        ].join("\n"));
        const result = runPlan(["--stack", "notes", "--config", file]);
        assert.deepStrictEqual(result.stdout.split("\n").filter((line) => line.startsWith("note: ")),
            ["note: models[2] mistralai/Mistral-7B-Instruct-v0.3: no architecture facts (not a Qwen2.5 repo, no architecture block): its KV cache and context length checks are skipped"]);
    });

    it("keeps secure values secret: the placeholder never reaches an output file", () => {
        const file = writeStackFile("config:\n  llm-platform:target: local\n  llm-platform:hfToken:\n    secure: v1:AAAABBBBCCCC\n");
        const result = runPlan(["--stack", "test", "--config", file]);
        assert.strictEqual(result.status, EXIT.ok, result.stderr);
        for (const name of fs.readdirSync(result.outDir)) {
            const text = fs.readFileSync(path.join(result.outDir, name), "utf8");
            assert.ok(!text.includes("offline-placeholder") && !text.includes("AAAABBBBCCCC"), name);
        }
    });

    describe("bad input exits 2 with one line per problem and no stack trace", () => {
        const cases: [string, () => string[], RegExp[]][] = [
            ["bad config", () => ["--stack", "t", "--config", writeStackFile("config:\n  llm-platform:target: local\n  llm-platform:modles: []\n  llm-platform:namespace: Bad_Name\n")], [
                /^error: llm-platform:modles: unknown key \(did you mean models\?\)$/,
                /^error: llm-platform:namespace = "Bad_Name": is not a DNS label/,
            ]],
            ["no --stack", () => [], [/^error: usage: npm run plan -- --stack <name>/]],
            ["an unknown option", () => ["--stack", "local", "--stak", "x"], [/^error: Unknown option '--stak'.*; usage: /]],
            ["a stack without a file", () => ["--stack", "nosuchstack"], [/^error: .*Pulumi\.nosuchstack\.yaml: cannot read the stack file$/]],
            ["a stack file that is not YAML", () => ["--stack", "t", "--config", writeStackFile("config: [unclosed\n")], [/^error: .*Pulumi\.test\.yaml: not valid YAML: /]],
            ["a key without a namespace", () => ["--stack", "t", "--config", writeStackFile("config:\n  target: local\n")], [/^error: .*: config key "target" must be namespaced, like llm-platform:target$/]],
            // Refused while the program runs (the offline caller would create the cluster), not by loadConfig.
            ["an admin role that is the role creating the cluster", () => ["--stack", "t", "--config", devWith({ adminRoleArns: ["arn:aws:iam::123456789012:role/offline-deployer"] })], [
                /^error: llm-platform:cluster\.adminRoleArns\[0\] = "arn:aws:iam::123456789012:role\/offline-deployer": .*409 ResourceInUseException/,
            ]],
        ];
        for (const [what, args, expected] of cases) {
            it(`on ${what}`, () => {
                const result = runPlan(args());
                assert.strictEqual(result.status, EXIT.invalidInput, result.stdout + result.stderr);
                const lines = result.stderr.trim().split("\n");
                assert.strictEqual(lines.length, expected.length, result.stderr);
                expected.forEach((pattern, index) => assert.match(lines[index], pattern));
                assert.ok(!/\n\s+at /.test(result.stderr), "no stack trace");
                assert.deepStrictEqual(fs.readdirSync(result.outDir), [], "nothing is written");
            });
        }
    });

    describe("exit status from the policy report", () => {
        const forbidNamespaces = (enforcementLevel: "mandatory" | "advisory"): ResourceValidationPolicy => ({
            name: "no-namespaces",
            description: "A test rule that every Namespace breaks.",
            enforcementLevel,
            validateResource: (args, reportViolation) => {
                if (args.type === "kubernetes:core/v1:Namespace") {
                    reportViolation("namespaces are forbidden here");
                }
            },
        });

        it("is 1 when a mandatory policy is violated, naming the rule and the resource", async () => {
            const result = await plan("exit-status", path.join(PROJECT_DIR, "Pulumi.local.yaml"), { policies: [forbidNamespaces("mandatory")] });
            assert.strictEqual(exitStatus(result), EXIT.mandatoryViolation);
            assert.ok(result.report.violations.length > 0);
            assert.deepStrictEqual(new Set(result.report.violations.map((v) => `${v.policy} ${v.enforcementLevel} ${v.resourceType}`)),
                new Set(["no-namespaces mandatory kubernetes:core/v1:Namespace"]));
        });

        it("is 0 when only advisory policies are violated", async () => {
            const result = await plan("exit-status", path.join(PROJECT_DIR, "Pulumi.local.yaml"), { policies: [forbidNamespaces("advisory")] });
            assert.ok(result.report.violations.length > 0);
            assert.strictEqual(exitStatus(result), EXIT.ok);
        });
    });
});

describe("the policy pack on deliberately broken stacks", function () {
    this.timeout(120_000);

    it("fails a broken program, naming each broken rule", async () => {
        const result = await plan("broken", path.join(PROJECT_DIR, "Pulumi.local.yaml"), { program: path.join(__dirname, "fixtures", "broken-program") });
        assert.strictEqual(exitStatus(result), EXIT.mandatoryViolation);
        const broken = new Set(result.report.violations.filter((v) => v.enforcementLevel === "mandatory").map((v) => v.policy));
        for (const rule of ["resources-required", "model-weights-on-pvc", "gpu-pod-placement", "image-pinned", "eks-endpoint-restricted"]) {
            assert.ok(broken.has(rule), `${rule} is reported; got ${[...broken].join(", ")}`);
        }
    });

    it("fails the real program when config opens what the rules forbid (a public API endpoint)", () => {
        const dev = parse(fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.dev.yaml"), "utf8")) as { config: Record<string, unknown> };
        const cluster = { ...(dev.config["llm-platform:cluster"] as object), endpointPublicAccess: true, publicAccessCidrs: ["0.0.0.0/0"], allowPublicEndpointFromAnywhere: true };
        const file = writeStackFile(stringify({ config: { ...dev.config, "llm-platform:cluster": cluster } }));
        const result = runPlan(["--stack", "open-endpoint", "--config", file]);
        assert.strictEqual(result.status, EXIT.mandatoryViolation, result.stdout + result.stderr);
        assert.match(result.stdout, /\[mandatory\] eks-endpoint-restricted: aws:eks\/cluster:Cluster /);
        const report = readJson<{ violations: { policy: string }[] }>(path.join(result.outDir, "policy-report.json"));
        assert.deepStrictEqual([...new Set(report.violations.map((v) => v.policy))], ["eks-endpoint-restricted"]);
    });
});

describe("per-stack policy pack config", function () {
    this.timeout(120_000);

    it("exempts by name what a laptop cluster needs, each with its reason", async () => {
        const config = JSON.parse(fs.readFileSync(packConfigPath("local"), "utf8")) as Record<string, { exemptions?: { name: string; reason: string }[] }>;
        const exemptions = Object.values(config).flatMap((rule) => rule.exemptions ?? []);
        assert.ok(exemptions.length > 0 && exemptions.every((exemption) => exemption.name && exemption.reason.length > 20));
        const withExemptions = await plan("local", path.join(PROJECT_DIR, "Pulumi.local.yaml"));
        assert.deepStrictEqual(withExemptions.report.violations, []);
        const without = await plan("local-without-exemptions", path.join(PROJECT_DIR, "Pulumi.local.yaml"));
        assert.deepStrictEqual([...new Set(without.report.violations.map((v) => v.policy))].sort(), Object.keys(config).sort());
    });

    it("rejects a pack config that names an unknown rule, with exit 2", () => {
        const file = packConfigPath("bad-pack-config");
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, JSON.stringify({ "image-pined": "mandatory" }));
        try {
            const result = runPlan(["--stack", "bad-pack-config", "--config", path.join(PROJECT_DIR, "Pulumi.local.yaml")]);
            assert.strictEqual(result.status, EXIT.invalidInput, result.stdout + result.stderr);
            assert.match(result.stderr.trim(), /^error: .*bad-pack-config.json: image-pined: no such rule in the pack$/);
        } finally {
            fs.rmSync(file);
        }
    });
});

describe("stack traces in the plan", () => {
    it("runs once without them, and repeats a failed run with them to say where it failed", async () => {
        const stacks: (string | undefined)[] = [];
        const failure = await withStackTraceOnFailure(async () => {
            const error = new Error("the program broke");
            stacks.push(error.stack);
            throw error;
        }).catch((error: Error) => error);
        assert.strictEqual(stacks.length, 2);
        assert.doesNotMatch(stacks[0] ?? "", /\n\s+at /, "the first run records no frames");
        assert.match(failure.stack ?? "", /\n\s+at /, "the reported error says where");
    });

    it("does not repeat a run that failed on bad input, nor one that succeeded", async () => {
        let runs = 0;
        await withStackTraceOnFailure(async () => { runs++; throw new InputError("bad"); }).catch(() => undefined);
        assert.strictEqual(await withStackTraceOnFailure(async () => ++runs), 2);
        assert.ok(Error.stackTraceLimit > 0, "the limit is restored");
    });
});
