import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse, stringify } from "yaml";
import { PlanDiff, PlanFiles, diffLines, diffPlans, diffSecrets, diffValues, diffViolations, formatValue, headline } from "../tools/offline/diff";
import { diffMarkdown } from "../tools/offline/diff-markdown";
import { secureDigests, stackFileSecureDigests } from "../tools/offline/diff-secrets";
import { SECRET_PLACEHOLDER } from "../tools/offline/stack-file";
import type { Violation } from "../tools/offline/policies";
import { plan, plannedResources } from "../tools/plan";
import { PROJECT_DIR, buildTools } from "./mocks";

type StackConfig = Record<string, unknown>;

function prodConfig(): StackConfig {
    return (parse(fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.prod.yaml"), "utf8")) as { config: StackConfig }).config;
}

function writeStackFile(config: StackConfig): string {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "plan-diff-")), "Pulumi.prod.yaml");
    fs.writeFileSync(file, stringify({ config }));
    return file;
}

/** What `npm run plan -- --stack prod --config <variant>` writes, as the diff reads it back (JSON round trip). */
async function planFiles(config: StackConfig): Promise<PlanFiles> {
    const file = writeStackFile(config);
    const result = await plan("prod", file);
    const files = { resources: plannedResources(result), violations: result.report.violations, summary: result.summary ?? null, secrets: stackFileSecureDigests(file) };
    return JSON.parse(JSON.stringify(files)) as PlanFiles;
}

/** The lines of a diff that matter to a reviewer: every change, by resource. */
function changeLines(diff: PlanDiff): string[] {
    return [
        ...diff.resources.added.map((resource) => `+ ${resource}`),
        ...diff.resources.removed.map((resource) => `- ${resource}`),
        ...diff.resources.changed.flatMap(({ resource, changes }) => changes.map((change) => `~ ${resource}: ${change.line}`)),
        ...(diff.secrets ?? []).map((secret) => `secret ${secret.line}`),
        ...diff.violations.introduced.map((v) => `new ${v.policy} ${v.resourceName} ${v.enforcementLevel}`),
        ...diff.violations.fixed.map((v) => `fixed ${v.policy} ${v.resourceName} ${v.enforcementLevel}`),
        ...(diff.summary?.changes ?? []).map((change) => `summary ${change.line}`),
    ];
}

const withModel = (config: StackConfig, change: (model: Record<string, unknown>) => Record<string, unknown>): StackConfig => {
    const [model, ...rest] = config["llm-platform:models"] as Record<string, unknown>[];
    return { ...config, "llm-platform:models": [change(model), ...rest] };
};

describe("plan diff (tools/offline/diff.ts)", () => {
    describe("values, down to the path", () => {
        it("names each changed leaf by its path, a flag once, keys that are no identifier in brackets", () => {
            const before = { spec: { args: ["--port=8000", "--max-num-seqs=64"], labels: { "app.kubernetes.io/name": "a" }, replicas: 1 } };
            const after = { spec: { args: ["--port=8000", "--max-num-seqs=128", "--enforce-eager"], labels: { "app.kubernetes.io/name": "b" } } };
            assert.deepStrictEqual(diffValues(before, after).map((change) => change.line), [
                "spec.args[1]: --max-num-seqs=64 -> 128",
                "spec.args[2]: (none) -> --enforce-eager",
                'spec.labels["app.kubernetes.io/name"]: a -> b',
                "spec.replicas: 1 -> (none)",
            ]);
        });

        it("quotes a string that could be read as another value, and shows objects as JSON", () => {
            assert.deepStrictEqual(
                [formatValue("64"), formatValue(""), formatValue("true"), formatValue("a b"), formatValue({ a: [1] }), formatValue("x -> y"), formatValue("2.20.2"), formatValue(64)],
                ['"64"', '""', '"true"', "a b", '{"a":[1]}', '"x -> y"', "2.20.2", "64"]);
        });

        it("shows the lines that differ in a text, not the whole text", () => {
            const text = (retention: string, extra: string[] = []) => ["loki {", `  retention = ${retention}`, ...extra, "}"].join("\n");
            assert.deepStrictEqual(diffValues({ config: text("7d") }, { config: text("14d") }).map((change) => change.line),
                ['config, line 2: "  retention = 7d" -> "  retention = 14d"']);
            assert.deepStrictEqual(diffValues({ config: text("7d") }, { config: text("7d", ["  a = 1", "  b = 2"]) }).map((change) => change.line),
                ['config, lines 3-4: (none) -> "  a = 1\\n  b = 2"']);
        });

        it("matches a list's items by name where an item moved (env, containers: Kubernetes merges them by name), and says when only the order changed", () => {
            const key = { name: "VLLM_API_KEY", valueFrom: { secretKeyRef: { name: "qwen-api-key", key: "key" } } };
            const before = { env: [{ name: "HF_HOME", value: "/models" }, { name: "PORT", value: "8000" }] };
            const after = { env: [key, { name: "HF_HOME", value: "/models" }, { name: "PORT", value: "8080" }] };
            assert.deepStrictEqual(diffValues(before, after).map((change) => change.line), [
                `env[name=VLLM_API_KEY]: (none) -> ${JSON.stringify(key)}`,
                'env[name=PORT].value: "8000" -> "8080"',
            ]);
            assert.deepStrictEqual(diffValues(before, { env: [before.env[1], before.env[0]] }).map((change) => change.line),
                ['env (order of names): ["HF_HOME","PORT"] -> ["PORT","HF_HOME"]']);
            // An item added at the end moves none: by index, as before.
            assert.deepStrictEqual(diffValues(before, { env: [...before.env, { name: "X", value: "1" }] }).map((change) => change.line),
                ['env[2]: (none) -> {"name":"X","value":"1"}']);
        });

        it("sees no change in two [secret]s, as both plans print them", () => {
            assert.deepStrictEqual(diffValues({ stringData: { token: "[secret]" } }, { stringData: { token: "[secret]" } }), []);
        });
    });

    describe("within GitHub's limits (a job summary over 1 MiB is dropped whole)", () => {
        /** A Grafana dashboard as kube-prometheus-stack renders it: one line of JSON, 27 kB for the largest. */
        const dashboard = (interval: string) => JSON.stringify({ panels: Array.from({ length: 200 }, (_, index) => ({ id: index, expr: `sum(rate(x{panel="${index}"}[${index === 150 ? interval : "5m"}]))` })) });

        it("shows a long one-line text by the characters that differ, with some context", () => {
            const [before, after] = [dashboard("5m"), dashboard("1m")];
            const [change] = diffValues({ data: { "pods.json": before } }, { data: { "pods.json": after } });
            const at = [...before].findIndex((char, index) => char !== after[index]) + 1;
            // The dashboard's text around `[5m]` -> `[1m]`: 20 characters either side, quoted as JSON (it holds quotes).
            const excerpt = (interval: string) => `…te(x{panel=\\"150\\"}[${interval}]))"},{"id":151,"ex…`;
            assert.strictEqual(change.line, `data["pods.json"], at character ${at}: ${JSON.stringify(excerpt("5m"))} -> ${JSON.stringify(excerpt("1m"))}`);
            assert.ok(change.line.length < 200, change.line);
        });

        it("keeps diff.md under 512 KiB and each line short, however many resources change; the rest is in diff.json", () => {
            const changes = Array.from({ length: 300 }, (_, index) => ({
                resource: `kubernetes:core/v1:ConfigMap monitoring/dashboard-${index}`,
                changes: ["a", "b", "c"].map((key) => ({ path: `data.${key}`, after: { big: "y".repeat(60_000) }, line: `data.${key}: (none) -> {"big":"${"y".repeat(60_000)}"}` })),
            }));
            const diff: PlanDiff = {
                stack: "prod", changed: true, resources: { added: [], removed: [], changed: changes }, secrets: [],
                violations: { introduced: [], fixed: [] }, summary: null,
            };
            const markdown = diffMarkdown(diff);
            assert.ok(Buffer.byteLength(markdown) <= 512 * 1024, `${Buffer.byteLength(markdown)} bytes`);
            assert.ok(markdown.split("\n").every((line) => line.length <= 1100), "a line over 1100 characters");
            assert.ok(markdown.startsWith("#### `prod`: resources +0 ~300 -0"), markdown.slice(0, 100));
            assert.match(markdown, /\nand \d+ more changed resources \(diff\.json\)\n$/);
            assert.match(markdown, /data\.a: \(none\) -> \{"big":"y+… \(\d+ more characters: diff\.json\)\n/);
        });
    });

    describe("secrets, by a digest of the stack file's ciphertexts", () => {
        it("records a sha256 per secure key and path, never the ciphertext", () => {
            const digests = secureDigests({ config: { "llm-platform:hfToken": { secure: "v1:AAAA" }, "llm-platform:models": [{ apiKey: { secure: "v1:BBBB" } }], "llm-platform:target": "aws" } });
            assert.deepStrictEqual(Object.keys(digests), ["llm-platform:hfToken", "llm-platform:models[0].apiKey"]);
            assert.match(digests["llm-platform:hfToken"], /^sha256:[0-9a-f]{64}$/);
            assert.ok(!JSON.stringify(digests).includes("AAAA") && !JSON.stringify(digests).includes("BBBB"));
        });

        it("says added, removed or changed (secret)", () => {
            assert.deepStrictEqual(diffSecrets({ a: "sha256:1", b: "sha256:2", c: "sha256:3" }, { a: "sha256:1", b: "sha256:9", d: "sha256:4" }).map((secret) => secret.line),
                ["b: changed (secret)", "c: removed (secret)", "d: added (secret)"]);
        });
    });

    describe("violations", () => {
        const violation = (policy: string, enforcementLevel: Violation["enforcementLevel"]): Violation =>
            ({ policy, enforcementLevel, resourceType: "kubernetes:apps/v1:Deployment", resourceName: "qwen", message: "m" });

        it("lists those introduced and those fixed, mandatory first", () => {
            const { introduced, fixed } = diffViolations([violation("a", "mandatory"), violation("b", "advisory")], [violation("b", "advisory"), violation("c", "advisory"), violation("d", "mandatory")]);
            assert.deepStrictEqual([introduced.map((v) => v.policy), fixed.map((v) => v.policy)], [["d", "c"], ["a"]]);
        });
    });

    describe("base and head plans of prod, one kind of change each", function () {
        this.timeout(180_000);
        let base: PlanFiles;
        before(async () => {
            base = await planFiles(prodConfig());
        });

        it("a config value (maxReplicas 4 -> 6): the scaler, the rollout that no longer fits a surge, the summary", async () => {
            const head = await planFiles(withModel(prodConfig(), (model) => ({ ...model, maxReplicas: 6 })));
            const diff = diffPlans("prod", base, head);
            assert.deepStrictEqual(changeLines(diff), [
                "~ kubernetes:apps/v1:Deployment qwen-7b-server: spec.strategy.rollingUpdate.maxSurge: 1 -> 0",
                "~ kubernetes:apps/v1:Deployment qwen-7b-server: spec.strategy.rollingUpdate.maxUnavailable: 0 -> 1",
                "~ kubernetes:keda.sh/v1alpha1:ScaledObject qwen-7b-scaler: spec.maxReplicaCount: 4 -> 6",
                "summary models[0].replicas.max: 4 -> 6",
            ]);
            assert.strictEqual(headline(diff), "resources +0 ~2 -0, violations 0 new, 0 fixed, GPU cost per hour at max $17.02/h");
        });

        it("a vLLM argument (maxNumSeqs 128 -> 64): the container's argument, the flag named once", async () => {
            const head = await planFiles(withModel(prodConfig(), (model) => ({ ...model, vllm: { ...(model.vllm as object), maxNumSeqs: 64 } })));
            assert.deepStrictEqual(changeLines(diffPlans("prod", base, head)), [
                "~ kubernetes:apps/v1:Deployment qwen-7b-server: spec.template.spec.containers[0].args[9]: --max-num-seqs=128 -> 64",
            ]);
        });

        it("a chart value (Loki's retention 168h -> 336h): the Helm release's values, and the bucket's expiry", async () => {
            const observability = prodConfig()["llm-platform:observability"] as { loki: object };
            const head = await planFiles({ ...prodConfig(), "llm-platform:observability": { ...observability, loki: { ...observability.loki, retention: "336h" } } });
            // The bucket keeps chunks a day longer than Loki's retention (components/cluster/loki-object-store.ts).
            assert.deepStrictEqual(changeLines(diffPlans("prod", base, head)), [
                "~ aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration loki-lifecycle: rules[0].expiration.days: 8 -> 15",
                "~ kubernetes:helm.sh/v4:Chart observability-loki: values.loki.limits_config.retention_period: 168h -> 336h",
            ]);
        });

        it("a chart version: the release's version, and a value of it", () => {
            const bumped = (files: PlanFiles): PlanFiles => ({
                ...files,
                resources: files.resources.map((resource) => (resource.name !== "keda-chart" ? resource
                    : { ...resource, inputs: { ...resource.inputs, version: "2.21.0", values: { ...(resource.inputs.values as object), crds: { install: false } } } })),
            });
            const keda = base.resources.find((resource) => resource.name === "keda-chart");
            assert.deepStrictEqual(changeLines(diffPlans("prod", base, bumped(base))), [
                "~ kubernetes:helm.sh/v4:Chart keda-chart: values.crds.install: true -> false",
                `~ kubernetes:helm.sh/v4:Chart keda-chart: version: ${String(keda?.inputs.version)} -> 2.21.0`,
            ]);
        });

        it("a model added: its resources, its row in the summary, and else only the alert rules' allowances", async () => {
            const second = {
                name: "qwen-1-5b", repo: "Qwen/Qwen2.5-1.5B-Instruct", revision: "989aa7980e4cf806f80c7fef2b1adb7bc71aa306", modelSize: "4Gi",
                gpusPerReplica: 1, minReplicas: 1, maxReplicas: 1,
                resources: { cpu: "3", memory: "12Gi", cpuLimit: "4", memoryLimit: "14Gi", shmSize: "2Gi" },
                storage: { size: "20Gi", storageClass: "efs-models", accessMode: "ReadWriteMany" },
                vllm: { maxModelLen: 8192 },
            };
            const config = prodConfig();
            const head = await planFiles({ ...config, "llm-platform:models": [...(config["llm-platform:models"] as object[]), second] });
            const diff = diffPlans("prod", base, head);
            assert.ok(diff.resources.added.length > 0 && diff.resources.added.every((resource) => resource.includes("qwen-1-5b")), diff.resources.added.join("\n"));
            assert.ok(diff.resources.added.includes("kubernetes:apps/v1:Deployment qwen-1-5b-server"), diff.resources.added.join("\n"));
            assert.deepStrictEqual(diff.resources.removed, []);
            // Nothing else: the one resource of the existing stack that changes is the PrometheusRule, which names each
            // model's cold-start allowance for LlmModelNoReadyReplicas (alert-rules.ts); no violation, no secret.
            assert.deepStrictEqual(diff.resources.changed.map((change) => change.resource), ["kubernetes:monitoring.coreos.com/v1:PrometheusRule observability-alert-rules"]);
            assert.deepStrictEqual(diff.violations, { introduced: [], fixed: [] });
            assert.deepStrictEqual(diff.secrets, []);
            assert.deepStrictEqual(diff.summary?.figures.find((figure) => figure.what === "model qwen-1-5b replicas"),
                { what: "model qwen-1-5b replicas", before: null, after: { min: 1, max: 1 }, usd: false });
            assert.ok(diff.summary?.changes.some((change) => change.line.startsWith('models[1]: (none) -> {"name":"qwen-1-5b"')));
            assert.match(diffMarkdown(diff), /^\| model qwen-1-5b replicas \| none -> 1 \| none -> 1 \|$/m);
        });

        it("a violation introduced (a public API endpoint), and the same pair the other way round: fixed", async () => {
            const cluster = { ...(prodConfig()["llm-platform:cluster"] as object), endpointPublicAccess: true, publicAccessCidrs: ["0.0.0.0/0"], allowPublicEndpointFromAnywhere: true };
            const open = await planFiles({ ...prodConfig(), "llm-platform:cluster": cluster });
            const introduced = diffPlans("prod", base, open);
            assert.deepStrictEqual(changeLines(introduced).filter((line) => !line.startsWith("~ ")), ["new eks-endpoint-restricted llm-eks mandatory"]);
            assert.match(diffMarkdown(introduced), /^\*\*New violations\*\*\n\n- `\[mandatory\] eks-endpoint-restricted: aws:eks\/cluster:Cluster llm-eks: /m);
            const fixed = diffPlans("prod", open, base);
            assert.deepStrictEqual(changeLines(fixed).filter((line) => !line.startsWith("~ ")), ["fixed eks-endpoint-restricted llm-eks mandatory"]);
            assert.match(headline(fixed), /, violations 0 new, 1 fixed, /);
        });

        it("a secret changed: `changed (secret)`, and neither ciphertext nor value anywhere", async () => {
            const secretA = "v1:QUFBQUFBQUFBQUFB:c2VjcmV0LWNpcGhlcnRleHQtQQ==";
            const secretB = "v1:QkJCQkJCQkJCQkJC:c2VjcmV0LWNpcGhlcnRleHQtQg==";
            const before = await planFiles({ ...prodConfig(), "llm-platform:hfToken": { secure: secretA } });
            const after = await planFiles({ ...prodConfig(), "llm-platform:hfToken": { secure: secretB } });
            const diff = diffPlans("prod", before, after);
            assert.deepStrictEqual(changeLines(diff), ["secret llm-platform:hfToken: changed (secret)"]);
            const everything = [JSON.stringify(diff), diffMarkdown(diff), diffLines(diff, "base").join("\n")].join("\n");
            for (const hidden of [secretA, secretB, "QUFBQUFB", "QkJCQkJC", SECRET_PLACEHOLDER]) {
                assert.ok(!everything.includes(hidden), hidden);
            }
            assert.match(diffMarkdown(diff), /^- `llm-platform:hfToken`: changed \(secret\)$/m);
        });

        it("no change: one line", () => {
            const diff = diffPlans("prod", base, base);
            assert.strictEqual(diff.changed, false);
            assert.strictEqual(diffMarkdown(diff), "**`prod`**: no change (same resources, violations, secrets and summary as the base).\n");
            assert.deepStrictEqual(diffLines(diff, "out/base"), ["diff against out/base: no change"]);
        });

        it("says secrets and the summary were not compared when the base plan has no secrets.json nor summary.json", () => {
            const old = { ...base, secrets: null, summary: null };
            const diff = diffPlans("prod", old, base);
            assert.strictEqual(diff.secrets, null);
            assert.strictEqual(headline(diff), "resources +0 ~0 -0, secrets not compared, violations 0 new, 0 fixed, GPU cost per hour at max: not compared (summary.json missing in a plan)");
        });
    });
});

describe("npm run plan -- --diff", function () {
    this.timeout(180_000);
    const PLAN = path.join(PROJECT_DIR, "bin", "tools", "plan.js");
    const run = (args: string[]) => spawnSync(process.execPath, [PLAN, ...args], { cwd: PROJECT_DIR, encoding: "utf8", timeout: 120_000 });

    before(() => {
        buildTools();
    });

    it("writes diff.json and diff.md, prints the short form, and never a secret", () => {
        const secretA = "v1:Q0NDQ0NDQ0NDQ0ND:ZTJlLWNpcGhlcnRleHQtQQ==";
        const secretB = "v1:RERERERERERERERE:ZTJlLWNpcGhlcnRleHQtQg==";
        const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), "plan-base-"));
        const headDir = fs.mkdtempSync(path.join(os.tmpdir(), "plan-head-"));
        const base = run(["--stack", "prod", "--config", writeStackFile({ ...prodConfig(), "llm-platform:hfToken": { secure: secretA } }), "--out", baseDir]);
        assert.strictEqual(base.status, 0, base.stdout + base.stderr);
        const headConfig = withModel({ ...prodConfig(), "llm-platform:hfToken": { secure: secretB } }, (model) => ({ ...model, maxReplicas: 6 }));
        const head = run(["--stack", "prod", "--config", writeStackFile(headConfig), "--out", headDir, "--diff", baseDir]);
        assert.strictEqual(head.status, 0, head.stdout + head.stderr);
        const shortForm = head.stdout.slice(head.stdout.indexOf("diff against "));
        assert.strictEqual(shortForm, [
            `diff against ${path.relative(PROJECT_DIR, baseDir)}: resources +0 ~2 -0, secrets ~1, violations 0 new, 0 fixed, GPU cost per hour at max $17.02/h`,
            "  ~ kubernetes:apps/v1:Deployment qwen-7b-server: 2 changes",
            "  ~ kubernetes:keda.sh/v1alpha1:ScaledObject qwen-7b-scaler: 1 change",
            "  ~ secret llm-platform:hfToken: changed (secret)",
            "  summary models[0].replicas.max: 4 -> 6",
            `wrote diff.json, diff.md to ${path.relative(PROJECT_DIR, headDir)}`,
            "",
        ].join("\n"));
        const json = fs.readFileSync(path.join(headDir, "diff.json"), "utf8");
        const markdown = fs.readFileSync(path.join(headDir, "diff.md"), "utf8");
        assert.strictEqual((JSON.parse(json) as PlanDiff).resources.changed[1].changes[0].line, "spec.maxReplicaCount: 4 -> 6");
        assert.match(markdown, /^<details><summary>~ <code>kubernetes:keda.sh\/v1alpha1:ScaledObject qwen-7b-scaler<\/code>: 1 change<\/summary>$/m);
        for (const [name, text] of [["stdout", head.stdout + base.stdout + head.stderr], ["diff.json", json], ["diff.md", markdown],
            ["secrets.json", fs.readFileSync(path.join(headDir, "secrets.json"), "utf8")]]) {
            for (const hidden of [secretA, secretB, "Q0NDQ0ND", "RERERERE", SECRET_PLACEHOLDER]) {
                assert.ok(!text.includes(hidden), `${name} holds ${hidden}`);
            }
        }
    });

    it("refuses a --diff directory without a plan, in one line, before planning", () => {
        const empty = fs.mkdtempSync(path.join(os.tmpdir(), "plan-empty-"));
        const result = run(["--stack", "local", "--out", fs.mkdtempSync(path.join(os.tmpdir(), "plan-out-")), "--diff", empty]);
        assert.strictEqual(result.status, 2, result.stdout + result.stderr);
        assert.strictEqual(result.stderr, `error: ${path.join(empty, "resources.json")}: cannot read it (--diff takes the --out directory of an earlier plan)\n`);
        assert.strictEqual(result.stdout, "");
    });
});
