import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { stringify } from "yaml";
import { checkManifests } from "../tools/check";
import { typeToken } from "../tools/offline/manifests";
import { modelServer } from "./policies/fixtures";
import { PROJECT_DIR, buildTools } from "./mocks";

const CHECK = path.join(PROJECT_DIR, "bin", "tools", "check.js");

function yamlFile(...documents: unknown[]): string {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "check-")), "manifests.yaml");
    fs.writeFileSync(file, documents.map((document) => (typeof document === "string" ? document : stringify(document))).join("---\n"));
    return file;
}

function check(...args: string[]) {
    return spawnSync(process.execPath, [CHECK, ...args], { cwd: PROJECT_DIR, encoding: "utf8", timeout: 60_000 });
}

const latest = () => {
    const broken = modelServer();
    broken.spec.template.spec.containers[0].image = "vllm/vllm-openai:latest";
    return broken;
};

/** The model namespace's default deny (namespace-default-deny): compliant manifests of a model server come with it. */
const DEFAULT_DENY = { apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name: "default-deny", namespace: "llm" }, spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] } };

describe("npm run check", function () {
    this.timeout(120_000);

    before(() => {
        buildTools();
    });

    it("maps kinds to Pulumi type tokens", () => {
        assert.strictEqual(typeToken("apps/v1", "Deployment"), "kubernetes:apps/v1:Deployment");
        assert.strictEqual(typeToken("v1", "Pod"), "kubernetes:core/v1:Pod");
        assert.strictEqual(typeToken("keda.sh/v1alpha1", "ScaledObject"), "kubernetes:keda.sh/v1alpha1:ScaledObject");
    });

    it("exits 0 on compliant manifests", () => {
        const result = check(yamlFile(modelServer(), DEFAULT_DENY));
        assert.strictEqual(result.status, 0, result.stdout + result.stderr);
        assert.doesNotMatch(result.stdout, /\[mandatory\]/);
    });

    it("exits 1 on a model server whose namespace has no default-deny NetworkPolicy", () => {
        const result = check(yamlFile(modelServer()));
        assert.strictEqual(result.status, 1, result.stdout + result.stderr);
        assert.match(result.stdout, /^\[mandatory\] namespace-default-deny: kubernetes:apps\/v1:Deployment qwen: namespace llm: runs model servers/m);
    });

    it("exits 1 on a mandatory violation and prints it", () => {
        const result = check(yamlFile(latest()));
        assert.strictEqual(result.status, 1, result.stderr);
        assert.match(result.stdout, /^\[mandatory\] image-pinned: kubernetes:apps\/v1:Deployment qwen: .*"vllm\/vllm-openai:latest" is not pinned/m);
    });

    it("prints only the report with --format json, resourceName being metadata.name", () => {
        const result = check("--format", "json", yamlFile(latest()));
        assert.strictEqual(result.status, 1, result.stderr);
        const report = JSON.parse(result.stdout) as { violations: { policy: string; resourceName: string; enforcementLevel: string; resourceType: string; message: string }[] };
        assert.deepStrictEqual(Object.keys(report), ["violations"]);
        const violation = report.violations.find((v) => v.policy === "image-pinned");
        assert.deepStrictEqual(violation && [violation.resourceName, violation.resourceType, violation.enforcementLevel], ["qwen", "kubernetes:apps/v1:Deployment", "mandatory"]);
    });

    it("checks the items of a List, as kubectl prints them", () => {
        const result = check(yamlFile({ apiVersion: "v1", kind: "List", items: [latest()] }));
        assert.strictEqual(result.status, 1, result.stdout + result.stderr);
        assert.match(result.stdout, /image-pinned: kubernetes:apps\/v1:Deployment qwen: /);
    });

    it("reads a key written twice as Kubernetes does, the last value winning, with a warning on stderr and the same exit status", () => {
        // `kubernetes.io/os` twice in a nodeSelector, as KEDA's chart renders it when values repeat its own key.
        const twice = (object: unknown) => stringify(object).replace(/^( *)kubernetes\.io\/os: linux\n/m, "$1kubernetes.io/os: windows\n$&");
        const compliant = modelServer();
        compliant.spec.template.spec.nodeSelector = { ...compliant.spec.template.spec.nodeSelector, "kubernetes.io/os": "linux" };
        const file = yamlFile(twice(compliant), DEFAULT_DENY);
        const line = fs.readFileSync(file, "utf8").split("\n").findIndex((text) => text.includes("kubernetes.io/os: linux")) + 1;
        const warning = `warning: ${file}:${line}: duplicate key "kubernetes.io/os" (the last value wins, as Kubernetes decodes it)`;

        const ok = check("--format", "json", file);
        assert.strictEqual(ok.status, 0, ok.stdout + ok.stderr);
        assert.strictEqual(ok.stderr, `${warning}\n`);
        assert.deepStrictEqual(Object.keys(JSON.parse(ok.stdout) as object), ["violations"]);

        const broken = latest();
        broken.spec.template.spec.nodeSelector = { ...broken.spec.template.spec.nodeSelector, "kubernetes.io/os": "linux" };
        const failing = check(yamlFile(twice(broken)));
        assert.strictEqual(failing.status, 1, failing.stdout + failing.stderr);
        assert.match(failing.stderr, /^warning: .*manifests\.yaml:\d+: duplicate key "kubernetes\.io\/os" \(the last value wins, as Kubernetes decodes it\)\n$/);
    });

    it("hands the last value of a duplicated key to the rules", async () => {
        const seen: unknown[] = [];
        const text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  nodeSelector:\n    kubernetes.io/os: windows\n    kubernetes.io/os: linux\n";
        const warnings: string[] = [];
        await checkManifests([{ file: "p.yaml", text }], [{
            name: "see", description: "d", enforcementLevel: "advisory",
            validateStack: (args) => { seen.push(...args.resources.map((r) => (r.props.spec as { nodeSelector: unknown }).nodeSelector)); },
        }], undefined, (warning) => warnings.push(warning));
        assert.deepStrictEqual(seen, [{ "kubernetes.io/os": "linux" }]);
        assert.deepStrictEqual(warnings, ['p.yaml:8: duplicate key "kubernetes.io/os" (the last value wins, as Kubernetes decodes it)']);
    });

    it("treats every document of every file as one stack", async () => {
        const seen: string[] = [];
        await checkManifests([
            { file: "a.yaml", text: `${stringify(modelServer())}---\n${stringify({ apiVersion: "v1", kind: "Service", metadata: { name: "qwen" } })}` },
            { file: "b.yaml", text: stringify({ apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name: "qwen-weights" } }) },
        ], [{ name: "count", description: "d", enforcementLevel: "advisory", validateStack: (args) => { seen.push(...args.resources.map((r) => r.name)); } }]);
        assert.deepStrictEqual(seen, ["qwen", "qwen", "qwen-weights"]);
    });

    describe("--stack: the stack's pack config, as the plan applies it", () => {
        const PLAN = path.join(PROJECT_DIR, "bin", "tools", "plan.js");
        let manifests: string;
        before(() => {
            // What the plan writes for local: a claim per model on a one-node cluster, which local's pack config exempts.
            const outDir = fs.mkdtempSync(path.join(os.tmpdir(), "check-local-"));
            const plan = spawnSync(process.execPath, [PLAN, "--stack", "local", "--out", outDir], { cwd: PROJECT_DIR, encoding: "utf8", timeout: 120_000 });
            assert.strictEqual(plan.status, 0, plan.stdout + plan.stderr);
            manifests = path.join(outDir, "manifests.yaml");
        });

        it("applies local's exemption: the manifests the plan of local passes pass", () => {
            const result = check("--stack", "local", manifests);
            assert.strictEqual(result.status, 0, result.stdout + result.stderr);
            assert.strictEqual(result.stdout, "0 violations in 1 files (stack local: policies/config/local.json)\n");
        });

        it("without --stack, the same manifests break the rule local exempts", () => {
            const result = check("--format", "json", manifests);
            const report = JSON.parse(result.stdout) as { violations: { policy: string; resourceName: string }[] };
            assert.deepStrictEqual(report.violations.map((v) => `${v.policy} ${v.resourceName}`), ["model-pvc-access-mode qwen-0-5b"]);
        });

        it("takes a stack without a pack config (the rules' own levels), and names the stack in stack-wide violations", async () => {
            const result = check("--stack", "prod", yamlFile({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "settings", namespace: "llm" }, data: { a: "b" } }));
            assert.strictEqual(result.status, 0, result.stdout + result.stderr);
            assert.strictEqual(result.stdout, "0 violations in 1 files (stack prod: no pack config, the rules' own levels)\n");
            const report = await checkManifests([{ file: "a.yaml", text: stringify(modelServer()) }], [{
                name: "stack-wide", description: "d", enforcementLevel: "advisory", validateStack: (_args, reportViolation) => reportViolation("always"),
            }], undefined, undefined, "prod");
            assert.deepStrictEqual(report.violations.map((v) => v.resourceName), ["llm-platform-prod"]);
        });

        it("refuses a --stack that npm took for itself (npm run check --stack=local, without --), in one line", () => {
            // npm hands an unknown option before `--` to the script as npm_config_<name>, not as an argument.
            for (const [value, args] of [["local", [manifests]], ["true", ["local", manifests]]] as const) {
                const result = spawnSync(process.execPath, [CHECK, ...args], { cwd: PROJECT_DIR, encoding: "utf8", timeout: 60_000, env: { ...process.env, npm_config_stack: value } });
                assert.strictEqual(result.status, 2, result.stdout + result.stderr);
                assert.strictEqual(result.stderr, "error: --stack went to npm, not to the check: npm run check -- --stack <name> <file.yaml>...\n");
            }
        });

        it("refuses a stack the project does not have, in one line naming the file", () => {
            const result = check("--stack", "nosuch", yamlFile(modelServer()));
            assert.strictEqual(result.status, 2, result.stdout + result.stderr);
            assert.strictEqual(result.stderr, "error: policies/config/nosuch.json: no such file, and no stack nosuch (Pulumi.nosuch.yaml); the stacks are dev, local, prod\n");
        });
    });

    describe("exits 2 on unreadable input, with one line naming the file", () => {
        const cases: [string, () => string[], RegExp][] = [
            ["a missing file", () => ["/nonexistent/manifests.yaml"], /^error: \/nonexistent\/manifests.yaml: cannot read the file$/],
            ["invalid YAML", () => [yamlFile("kind: [unclosed\n")], /^error: .*manifests.yaml: not valid YAML: /],
            ["a document that is no Kubernetes object", () => [yamlFile({ hello: "world" })], /^error: .*manifests.yaml: document 1: not a Kubernetes object \(apiVersion and kind are required\)$/],
            ["no file at all", () => [], /^error: usage: npm run check -- \[--format json\] \[--stack <name>\] <file.yaml>\.\.\.$/],
        ];
        for (const [what, args, expected] of cases) {
            it(`on ${what}`, () => {
                const result = check(...args());
                assert.strictEqual(result.status, 2, result.stdout + result.stderr);
                assert.strictEqual(result.stderr.trim().split("\n").length, 1, result.stderr);
                assert.match(result.stderr.trim(), expected);
            });
        }
    });
});
