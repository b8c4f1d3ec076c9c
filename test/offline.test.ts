import * as assert from "assert";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { Policies, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs } from "@pulumi/policy";
import { packArgs } from "../policies/pack";
import { packConfigPath, readPackConfig } from "../tools/offline/pack-config";
import { evaluatePolicies, PolicySubject } from "../tools/offline/policies";
import { OfflineMocks, SECRET } from "../tools/offline/run";
import { SECRET_PLACEHOLDER, readStackFile } from "../tools/offline/stack-file";
import { resource, runComponent, runStackFile } from "./mocks";

describe("offline runtime", () => {
    it("records secret inputs as [secret], never their value", async () => {
        const run = await runComponent(() => {
            new k8s.core.v1.Secret("token", { metadata: { name: "hf-token" }, stringData: { token: pulumi.secret("hf_do_not_print") } });
        });
        const secret = resource(run, "kubernetes:core/v1:Secret", "token");
        // Pulumi lifts secretness to the top-level property; its keys stay, its values are masked.
        assert.deepStrictEqual(secret.inputs.stringData, { token: SECRET });
        assert.deepStrictEqual(secret.inputs.metadata, { name: "hf-token" });
        assert.ok(!JSON.stringify(run.resources).includes("hf_do_not_print"));
    });

    it("records the parent of every child resource", async () => {
        const run = await runComponent(() => {
            const parent = new pulumi.ComponentResource("test:index:Parent", "outer");
            new k8s.core.v1.ConfigMap("inner", { metadata: { name: "inner" } }, { parent });
        });
        const child = resource(run, "kubernetes:core/v1:ConfigMap", "inner");
        assert.strictEqual(child.parentUrn, resource(run, "test:index:Parent", "outer").urn);
    });

    it("refuses a provider function it has no answer for", () => {
        assert.throws(() => new OfflineMocks().call({ token: "aws:index/getNothing:getNothing", inputs: {} }),
            /no answer for the provider function aws:index\/getNothing:getNothing/);
    });

    describe("stack files", () => {
        function stackFile(text: string): string {
            const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "stack-")), "Pulumi.x.yaml");
            fs.writeFileSync(file, text);
            return file;
        }

        it("reads YAML as the Pulumi CLI does: a date-like scalar stays a string", () => {
            const { config } = readStackFile(stackFile("config:\n  llm-platform:models:\n    - name: a\n      revision: 2025-01-01\n"));
            assert.strictEqual(config["llm-platform:models"], '[{"name":"a","revision":"2025-01-01"}]');
        });

        it("passes strings as they are and structured values as JSON", () => {
            const { config } = readStackFile(stackFile("config:\n  llm-platform:target: local\n  llm-platform:models:\n    - name: a\n      maxReplicas: 2\n"));
            assert.deepStrictEqual(config, { "llm-platform:target": "local", "llm-platform:models": '[{"name":"a","maxReplicas":2}]' });
        });

        it("replaces secure values, top-level and nested, by a placeholder and marks their keys secret", () => {
            const { config, secretKeys } = readStackFile(stackFile(
                "config:\n  llm-platform:hfToken:\n    secure: v1:abc\n  llm-platform:models:\n    - token:\n        secure: v1:def\n  llm-platform:target: aws\n"));
            assert.strictEqual(config["llm-platform:hfToken"], SECRET_PLACEHOLDER);
            assert.ok(config["llm-platform:models"].includes(SECRET_PLACEHOLDER) && !config["llm-platform:models"].includes("v1:def"));
            assert.deepStrictEqual(secretKeys, ["llm-platform:hfToken", "llm-platform:models"]);
        });
    });

    describe("policy evaluation", () => {
        const namespace: PolicySubject = { type: "kubernetes:core/v1:Namespace", name: "ns", urn: "urn:ns", props: { metadata: { name: "llm" } } };
        const configMap: PolicySubject = { type: "kubernetes:core/v1:ConfigMap", name: "cm", urn: "urn:cm", parentUrn: "urn:ns", props: {} };

        it("gives each rule its schema defaults overridden by the pack config", async () => {
            const seen: unknown[] = [];
            const policies: Policies = [{
                name: "limits", description: "d", enforcementLevel: "advisory",
                configSchema: { properties: { max: { type: "number", default: 2 }, allow: { type: "array", default: [] } } },
                validateResource: (args) => { seen.push(args.getConfig()); },
            }];
            await evaluatePolicies(policies, [namespace], { config: { limits: { max: 5 } } });
            assert.deepStrictEqual(seen, [{ max: 5, allow: [] }]);
        });

        it("applies the configured enforcement level, and skips disabled rules", async () => {
            const policies: Policies = [
                { name: "a", description: "d", enforcementLevel: "advisory", validateResource: (_args, report) => report("a") },
                { name: "b", description: "d", enforcementLevel: "mandatory", validateResource: (_args, report) => report("b") },
            ];
            const report = await evaluatePolicies(policies, [namespace], { config: { a: "mandatory", b: { enforcementLevel: "disabled" } } });
            assert.deepStrictEqual(report.violations.map((v) => [v.policy, v.enforcementLevel]), [["a", "mandatory"]]);
        });

        it("lets `all` set every rule's level, and a rule's own level win over it, even beside its settings", async () => {
            const policies: Policies = [
                { name: "a", description: "d", enforcementLevel: "mandatory", validateResource: (_args, report) => report("a") },
                { name: "b", description: "d", enforcementLevel: "mandatory", configSchema: { properties: { limit: { type: "number", default: 1 } } }, validateResource: (_args, report) => report("b") },
                { name: "c", description: "d", enforcementLevel: "advisory", validateResource: (_args, report) => report("c") },
            ];
            const report = await evaluatePolicies(policies, [namespace], { config: { all: "advisory", b: { limit: 2 }, c: "mandatory" } });
            assert.deepStrictEqual(report.violations.map((v) => [v.policy, v.enforcementLevel]), [["a", "advisory"], ["b", "advisory"], ["c", "mandatory"]]);
        });

        it("runs stack rules once over all resources, with parents linked, and attributes violations by URN", async () => {
            const policies: Policies = [{
                name: "stack", description: "d", enforcementLevel: "mandatory",
                validateStack: (args, report) => {
                    const child = args.resources.find((r) => r.name === "cm");
                    report(`parent is ${child?.parent?.name}`, child?.urn);
                },
            }];
            const report = await evaluatePolicies(policies, [namespace, configMap]);
            assert.deepStrictEqual(report.violations, [{
                policy: "stack", enforcementLevel: "mandatory", resourceType: "kubernetes:core/v1:ConfigMap", resourceName: "cm", message: "parent is ns",
            }]);
        });

        it("matches typed rules by the resource class's Pulumi type, and honours notApplicable", async () => {
            const policies: Policies = [{
                name: "typed", description: "d", enforcementLevel: "mandatory",
                validateResource: (args, report) => {
                    if (!args.isType(k8s.core.v1.Namespace)) {
                        args.notApplicable("not a namespace");
                    }
                    report("namespace seen");
                },
            }];
            const report = await evaluatePolicies(policies, [namespace, configMap]);
            assert.deepStrictEqual(report.violations.map((v) => v.resourceName), ["ns"]);
        });

        it("awaits the rules that return a promise, in order with the synchronous ones, and fails on an error that is not notApplicable", async () => {
            const rule = (name: string, validate: ResourceValidationPolicy["validateResource"]): ResourceValidationPolicy =>
                ({ name, description: "d", enforcementLevel: "mandatory", validateResource: validate });
            const policies: Policies = [
                rule("async", async (args, report) => {
                    await new Promise((resolve) => setImmediate(resolve));
                    if (args.name === "cm") {
                        args.notApplicable();
                    }
                    report("async saw it");
                }),
                rule("sync", (args, report) => report(`sync saw ${args.name}`)),
            ];
            const report = await evaluatePolicies(policies, [namespace, configMap]);
            assert.deepStrictEqual(report.violations.map((v) => `${v.policy} ${v.resourceName}: ${v.message}`),
                ["async ns: async saw it", "sync ns: sync saw ns", "sync cm: sync saw cm"]);
            for (const broken of [() => { throw new Error("broken rule"); }, async () => { throw new Error("broken rule"); }]) {
                await assert.rejects(evaluatePolicies([rule("broken", broken)], [namespace]), /broken rule/);
            }
        });

        it("takes any value a rule returns, as the analyzer does (Promise.resolve), awaiting a thenable", async () => {
            const rule = (name: string, validate: (args: ResourceValidationArgs, report: ReportViolation) => unknown): ResourceValidationPolicy =>
                ({ name, description: "d", enforcementLevel: "mandatory", validateResource: validate as ResourceValidationPolicy["validateResource"] });
            const thenable = (settle: () => void) => ({ then: (resolve: () => void, reject: (error: unknown) => void) => setImmediate(() => { try { settle(); resolve(); } catch (error) { reject(error); } }) });
            const policies: Policies = [
                rule("boolean", (args, report) => args.name === "ns" && report("a boolean rule")),
                rule("number", () => 42),
                rule("thenable", (args, report) => thenable(() => (args.name === "cm" ? args.notApplicable() : report("a thenable rule")))),
            ];
            const report = await evaluatePolicies(policies, [namespace, configMap]);
            assert.deepStrictEqual(report.violations.map((v) => `${v.policy} ${v.resourceName}`), ["boolean ns", "thenable ns"]);
        });

        it("gives each validation its own options, each stack rule its own list of frozen resources, and every rule one read-only map of stack tags, as the analyzer", async () => {
            const seen: string[] = [];
            const policies: Policies = [
                { name: "changes-opts", description: "d", enforcementLevel: "mandatory", validateResource: [
                    (args) => { args.opts.protect = true; (args as unknown as Record<string, unknown>).extra = 1; },
                    (args) => { seen.push(`same rule: protect ${args.opts.protect}, extra ${(args as unknown as Record<string, unknown>).extra}`); },
                ] },
                { name: "reads-opts", description: "d", enforcementLevel: "mandatory", validateResource: (args) => { seen.push(`next rule: protect ${args.opts.protect}`); } },
                { name: "sorts", description: "d", enforcementLevel: "mandatory", validateStack: (args) => { args.resources.sort((a, b) => a.name.localeCompare(b.name)); } },
                { name: "reads-order", description: "d", enforcementLevel: "mandatory", validateStack: (args) => { seen.push(`stack: ${args.resources.map((r) => r.name).join(",")}`); } },
            ];
            await evaluatePolicies(policies, [namespace]);
            assert.deepStrictEqual(seen, ["same rule: protect false, extra undefined", "next rule: protect false", "stack: ns"]);
            const withTwo = await evaluatePolicies(policies.slice(2), [namespace, configMap]).then(() => seen.pop());
            assert.strictEqual(withTwo, "stack: ns,cm");
            const changes = (name: string, change: (args: StackValidationArgs) => void): Policies => [{ name, description: "d", enforcementLevel: "mandatory", validateStack: change }];
            await assert.rejects(evaluatePolicies(changes("reparents", (args) => { args.resources[1].parent = undefined; }), [namespace, configMap]), /read only property 'parent'/);
            await assert.rejects(evaluatePolicies(changes("protects", (args) => { args.resources[0].opts.protect = true; }), [namespace]), /read only property 'protect'/);
            await assert.rejects(evaluatePolicies(changes("ignores", (args) => { args.resources[0].opts.ignoreChanges.push("spec"); }), [namespace]), /not extensible/);
            await assert.rejects(evaluatePolicies(changes("tags", (args) => { (args.stackTags as Map<string, string>).set("team", "ml"); }), [namespace]), /set is not a function/);
            const tags: number[] = [];
            await evaluatePolicies([{ name: "reads-tags", description: "d", enforcementLevel: "mandatory", validateResource: (args) => { tags.push(args.stackTags.size); } }], [namespace]);
            assert.deepStrictEqual(tags, [0]);
        });

        it("hands rules a resource's protect in opts, as the analyzer does", async () => {
            const seen: boolean[] = [];
            const policies: Policies = [
                { name: "resource", description: "d", enforcementLevel: "mandatory", validateResource: (args) => { seen.push(args.opts.protect); } },
                { name: "stack", description: "d", enforcementLevel: "mandatory", validateStack: (args) => { seen.push(...args.resources.map((r) => r.opts.protect)); } },
            ];
            await evaluatePolicies(policies, [{ ...namespace, protect: true }, configMap]);
            assert.deepStrictEqual(seen, [true, false, true, false]);
        });

        it("leaves every stack's recorded inputs as they were: the pack passes each shipped stack with its inputs frozen", async function () {
            this.timeout(60_000);
            for (const stack of ["dev", "prod", "local"]) {
                const run = await runStackFile(stack); // inputs deep-frozen
                const subjects = run.resources.map((r): PolicySubject => ({ type: r.type, name: r.name, urn: r.urn, parentUrn: r.parentUrn, props: r.inputs }));
                const report = await evaluatePolicies(packArgs.policies, subjects, { stack, config: readPackConfig(packConfigPath(stack), packArgs.policies) });
                assert.deepStrictEqual(report.violations, [], stack);
            }
        });
    });
});
