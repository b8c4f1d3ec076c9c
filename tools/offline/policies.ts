import type {
    EnforcementLevel, Policies, PolicyPackConfig, PolicyResource, ResourceValidationArgs, ResourceValidationPolicy,
    StackValidationPolicy,
} from "@pulumi/policy";
import { PROJECT } from "../../config/project";

/** A resource as the policies see it: what the program sent to the engine. */
export interface PolicySubject {
    readonly type: string;
    readonly name: string;
    readonly urn: string;
    readonly parentUrn?: string;
    readonly props: Record<string, unknown>;
    /** Pulumi's `protect`, which the analyzer hands rules in `opts`. */
    readonly protect?: boolean;
}

/** One entry of policy-report.json. */
export interface Violation {
    readonly policy: string;
    readonly enforcementLevel: EnforcementLevel;
    readonly resourceType: string;
    readonly resourceName: string;
    readonly message: string;
}

/** A violation as the plan and the check print it. */
export function violationLine(v: Violation): string {
    return `[${v.enforcementLevel}] ${v.policy}: ${v.resourceType} ${v.resourceName}: ${v.message}`;
}

export interface PolicyReport {
    readonly violations: Violation[];
}

export interface EvaluationOptions {
    /** Pack config, as `pulumi preview --policy-pack-config` takes it. */
    readonly config?: PolicyPackConfig;
    /** The pack's default level; CrossGuard's is advisory. */
    readonly packEnforcementLevel?: EnforcementLevel;
    /** Names the stack in violations that are about no one resource. */
    readonly stack?: string;
}

const ROOT_STACK_TYPE = "pulumi:pulumi:Stack";

/** The root stack resource is `<project>-<stack>` (pulumi/pulumi sdk/nodejs/runtime/stack.ts; sdk/go/common/resource/stack.go DefaultRootStackURN). */
function rootStackName(stack: string | undefined): string {
    return stack ? `${PROJECT}-${stack}` : "";
}

type ResourceClass = { __pulumiType?: string; isInstance?: (value: unknown) => boolean };

/**
 * Evaluates a policy pack on resources the way the CrossGuard analyzer does: resource
 * policies once per resource, stack policies once over all, each with its config
 * (schema defaults, then the pack config) and its effective enforcement level.
 */
export async function evaluatePolicies(policies: Policies, subjects: readonly PolicySubject[], options: EvaluationOptions = {}): Promise<PolicyReport> {
    const violations: Violation[] = [];
    const byUrn = new Map(subjects.map((subject) => [subject.urn, subject]));
    const checks = subjects.map(typeChecks);
    let stackResources: readonly PolicyResource[] | undefined;
    for (const policy of policies) {
        const level = enforcementLevel(policy.name, policy.enforcementLevel, options);
        if (level === "disabled") {
            continue;
        }
        // As the engine attributes a violation: a resource policy's to the resource analyzed, whatever URN
        // it names (pulumi/pulumi pkg/resource/deploy/analyze_snapshot.go analyzeResource: OnPolicyViolation(r.URN, d));
        // a stack policy's to the resource its URN names, else to the root stack (resolveStackPolicyViolationURN).
        const report = (analyzed: PolicySubject | undefined) => (message: string, urn?: string) => {
            const subject = analyzed ?? (urn ? byUrn.get(urn) : undefined);
            violations.push({
                policy: policy.name,
                enforcementLevel: level === "remediate" ? "mandatory" : level,
                resourceType: subject?.type ?? ROOT_STACK_TYPE,
                resourceName: subject?.name ?? rootStackName(options.stack),
                message,
            });
        };
        // Built once per rule, not at every call: a resource rule asks for it once per resource.
        const config = policyConfig(policy.name, policy.configSchema, options.config);
        const getConfig = <T extends object>() => config as T;
        if ("validateStack" in policy) {
            stackResources ??= toPolicyResources(subjects, checks);
            await runStackPolicy(policy, stackResources, getConfig, report(undefined));
        } else {
            await runResourcePolicy(policy, subjects, checks, getConfig, report);
        }
    }
    return { violations };
}

/** A resource's isType and asType: built once, for every rule. */
type TypeChecks = Pick<ResourceValidationArgs, "isType" | "asType">;

function typeChecks(subject: PolicySubject): TypeChecks {
    return {
        isType: (resourceClass) => isTypeOf(subject.type, resourceClass),
        asType: ((resourceClass: unknown) => (isTypeOf(subject.type, resourceClass) ? subject.props : undefined)) as ResourceValidationArgs["asType"],
    };
}

/**
 * The stack's tags, as the analyzer hands them to every rule: one map, read-only (@pulumi/policy
 * 1.21.0 server.js freezeMap), so a rule that tried to set one fails there and here alike.
 * Offline, a stack has none.
 */
const STACK_TAGS: ReadonlyMap<string, string> = ((tags: Map<string, string>) => Object.freeze({
    entries: tags.entries.bind(tags), forEach: tags.forEach.bind(tags), get: tags.get.bind(tags), has: tags.has.bind(tags),
    keys: tags.keys.bind(tags), size: tags.size, values: tags.values.bind(tags), [Symbol.iterator]: tags[Symbol.iterator].bind(tags),
}))(new Map());

/**
 * A resource rule's validations, each with args and options of its own, as the analyzer builds
 * them for each (@pulumi/policy 1.21.0 server.js makeAnalyzeRpcFun). Unlike there, `props` are
 * the recorded inputs themselves, shared by every rule: no rule in policies/ writes to them
 * (test/offline.test.ts evaluates the pack on each stack's inputs frozen).
 */
async function runResourcePolicy(
    policy: ResourceValidationPolicy, subjects: readonly PolicySubject[], checks: readonly TypeChecks[],
    getConfig: <T extends object>() => T, report: (subject: PolicySubject) => (message: string, urn?: string) => void,
): Promise<void> {
    const validations = policy.validateResource === undefined ? []
        : Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource];
    for (const [index, subject] of subjects.entries()) {
        const reportViolation = report(subject);
        const { isType, asType } = checks[index];
        for (const validate of validations) {
            // Spelled out, not spread: this object is built for every rule and resource.
            const args: ResourceValidationArgs = {
                type: subject.type, props: subject.props, urn: subject.urn, name: subject.name, opts: resourceOptions(subject),
                stackTags: STACK_TAGS, isType, asType, getConfig, notApplicable: throwNotApplicable,
            };
            const pending = whenApplicable(() => validate(args, reportViolation));
            if (pending) {
                await pending;
            }
        }
    }
}

/**
 * Each stack rule gets its own list, as the analyzer builds one for each (@pulumi/policy 1.21.0
 * server.js makeAnalyzeStackRpcFun). The resources in it are built once and frozen, their options
 * too: the analyzer's are each rule's own, so a rule that changed one would change it for the
 * rules after it only here; frozen, such a rule fails the plan instead. Their props are shared as
 * a resource rule's are (above).
 */
async function runStackPolicy(
    policy: StackValidationPolicy, resources: readonly PolicyResource[], getConfig: <T extends object>() => T,
    reportViolation: (message: string, urn?: string) => void,
): Promise<void> {
    await whenApplicable(() => policy.validateStack({ resources: [...resources], stackTags: STACK_TAGS, getConfig, notApplicable: throwNotApplicable }, reportViolation));
}

function toPolicyResources(subjects: readonly PolicySubject[], checks: readonly TypeChecks[]): PolicyResource[] {
    const resources = subjects.map((subject, index): PolicyResource => ({
        type: subject.type,
        props: subject.props,
        urn: subject.urn,
        name: subject.name,
        opts: resourceOptions(subject),
        dependencies: [],
        propertyDependencies: {},
        ...checks[index],
    }));
    const byUrn = new Map(resources.map((resource) => [resource.urn, resource]));
    subjects.forEach((subject, index) => {
        resources[index].parent = subject.parentUrn ? byUrn.get(subject.parentUrn) : undefined;
    });
    for (const resource of resources) {
        deepFreeze(resource.opts);
        Object.freeze(resource.dependencies);
        Object.freeze(resource.propertyDependencies);
        Object.freeze(resource);
    }
    return resources;
}

function deepFreeze(value: object): void {
    Object.values(value).forEach((child) => typeof child === "object" && child !== null && deepFreeze(child));
    Object.freeze(value);
}

function resourceOptions(subject: PolicySubject): ResourceValidationArgs["opts"] {
    return {
        protect: subject.protect ?? false, ignoreChanges: [], aliases: [], additionalSecretOutputs: [],
        customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
        parent: subject.parentUrn,
    };
}

/** As CrossGuard matches a resource class: its `__pulumiType`, else its `isInstance`. */
function isTypeOf(type: string, resourceClass: unknown): boolean {
    const { __pulumiType, isInstance } = resourceClass as ResourceClass;
    return __pulumiType ? __pulumiType === type : isInstance?.({ __pulumiType: type }) === true;
}

class NotApplicable extends Error {}

function throwNotApplicable(reason?: string): never {
    throw new NotApplicable(reason);
}

/**
 * Runs a rule, as passed when it calls notApplicable(). A promise only for a rule that returned a
 * thenable, which the analyzer awaits (Promise.resolve of whatever the rule returns); any other
 * value is ignored, as there. Most rules are synchronous, and an await for each rule and resource adds up.
 */
function whenApplicable(validate: () => unknown): Promise<void> | undefined {
    try {
        const result = validate();
        return isThenable(result) ? Promise.resolve(result).then(() => undefined, ignoreNotApplicable) : undefined;
    } catch (error) {
        ignoreNotApplicable(error);
        return undefined;
    }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
    return (typeof value === "object" || typeof value === "function") && value !== null && typeof (value as PromiseLike<unknown>).then === "function";
}

function ignoreNotApplicable(error: unknown): void {
    if (!(error instanceof NotApplicable)) {
        throw error;
    }
}

/** As the CLI resolves it: the rule's own configured level, then `all`, then the level the rule declares, then the pack's. */
function enforcementLevel(name: string, declared: EnforcementLevel | undefined, options: EvaluationOptions): EnforcementLevel {
    const levelOf = (configured: unknown) => (typeof configured === "string" ? configured as EnforcementLevel
        : (configured as { enforcementLevel?: EnforcementLevel } | undefined)?.enforcementLevel);
    return levelOf(options.config?.[name]) ?? levelOf(options.config?.all) ?? declared ?? options.packEnforcementLevel ?? "advisory";
}

/** The policy's config: its schema's defaults, overridden by the pack config. */
function policyConfig(name: string, schema: ResourceValidationPolicy["configSchema"], config: PolicyPackConfig | undefined): Record<string, unknown> {
    const defaults = Object.fromEntries(Object.entries(schema?.properties ?? {})
        .filter(([, property]) => property.default !== undefined)
        .map(([key, property]) => [key, property.default]));
    const configured = config?.[name];
    const { enforcementLevel: _level, ...values } = typeof configured === "object" ? configured : {};
    return { ...defaults, ...values };
}
