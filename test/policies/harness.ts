/**
 * Runs policy rules the two ways users run them: as Pulumi validation args (the
 * evaluator the offline plan uses, with each rule's config defaults applied) and as YAML
 * manifests through `npm run check`'s code path.
 */
import * as assert from "assert";
import type { PolicyPackConfig, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { stringify } from "yaml";
import { Violation, evaluatePolicies } from "../../tools/offline/policies";
import { checkManifests } from "../../tools/check";
import { typeToken } from "../../tools/offline/manifests";

export type Rule = ResourceValidationPolicy | StackValidationPolicy;

export interface Subject {
    readonly type: string;
    /** The Pulumi resource name; defaults to metadata.name. */
    readonly name?: string;
    readonly props: Record<string, unknown>;
}

/** A Kubernetes object as a subject, typed by its apiVersion and kind. */
export function k8s(object: Record<string, unknown>): Subject {
    return { type: typeToken(String(object.apiVersion), String(object.kind)), props: object };
}

/** The violations `rule` reports on these resources (one stack), through Pulumi validation args. */
export async function violations(rule: Rule, subjects: readonly Subject[], settings?: Record<string, unknown> | string): Promise<Violation[]> {
    const config = packConfig(rule, settings);
    const report = await evaluatePolicies([rule], subjects.map((subject, index) => {
        const name = subject.name ?? String((subject.props.metadata as { name?: unknown } | undefined)?.name ?? `r${index}`);
        return { type: subject.type, name, urn: `urn:pulumi:test::llm-platform::${subject.type}::${name}`, props: subject.props };
    }), { config });
    return report.violations;
}

/** The messages `rule` reports on these Kubernetes objects written as one YAML file. */
export async function violationsFromYaml(rule: Rule, objects: readonly Record<string, unknown>[], settings?: Record<string, unknown> | string): Promise<Violation[]> {
    const text = objects.map((object) => stringify(object)).join("---\n");
    return (await checkManifests([{ file: "fixture.yaml", text }], [rule], packConfig(rule, settings))).violations;
}

/**
 * The messages `rule` reports on these Kubernetes objects, checked both ways: through
 * Pulumi validation args and as YAML through `npm run check`. Fails if the two disagree.
 */
export async function messagesBothWays(rule: Rule, objects: readonly Record<string, unknown>[], settings?: Record<string, unknown> | string): Promise<string[]> {
    const [fromArgs, fromYaml] = await Promise.all([violations(rule, objects.map(k8s), settings), violationsFromYaml(rule, objects, settings)]);
    const messages = fromArgs.map((v) => v.message);
    if (JSON.stringify(messages) !== JSON.stringify(fromYaml.map((v) => v.message))) {
        throw new Error(`validation args and YAML disagree:\n${messages.join("\n")}\n---\n${fromYaml.map((v) => v.message).join("\n")}`);
    }
    return messages;
}

function packConfig(rule: Rule, settings: Record<string, unknown> | string | undefined): PolicyPackConfig | undefined {
    return settings === undefined ? undefined : { [rule.name]: settings as PolicyPackConfig[string] };
}

/** A deep copy with `mutate` applied: each failing case breaks one thing of a compliant object. */
export function mutated<T>(object: T, mutate: (copy: T) => void): T {
    const copy = structuredClone(object);
    mutate(copy);
    return copy;
}

type Fixture = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- fixtures are mutated freely
export type FailingCase = [what: string, mutate: (object: Fixture) => void, expected: RegExp[]];
export type PassingCase = [what: string, mutate: (object: Fixture) => void];

/**
 * The standard suite of a pod rule: the compliant fixture passes, each passing mutation
 * passes, and each failing mutation reports exactly the expected messages, both ways.
 */
export function cases(rule: Rule, factory: () => Fixture, failing: FailingCase[], passing: PassingCase[] = []): void {
    it("passes a compliant workload", async () => {
        assert.deepStrictEqual(await messagesBothWays(rule, [factory()]), []);
    });
    for (const [what, mutate] of passing) {
        it(`passes ${what}`, async () => {
            assert.deepStrictEqual(await messagesBothWays(rule, [mutated(factory(), mutate)]), []);
        });
    }
    for (const [what, mutate, expected] of failing) {
        it(`fails ${what}`, async () => {
            const messages = await messagesBothWays(rule, [mutated(factory(), mutate)]);
            assert.strictEqual(messages.length, expected.length, messages.join("\n"));
            expected.forEach((pattern, index) => assert.match(messages[index], pattern));
        });
    }
}
