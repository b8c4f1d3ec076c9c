import type {
    EnforcementLevel, PolicyConfigSchema, PolicyResource, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy,
    StackValidationPolicy,
} from "@pulumi/policy";
import type { PolicyConfigJSONSchema } from "@pulumi/policy/schema";
import { isHelmHook } from "./helm-hooks";
import { Workload, workloadOf } from "./pods";
import { Props, objectName, objectNamespace } from "./values";

/** One named exemption from a rule, with the reason it is acceptable. */
export interface Exemption {
    readonly name: string;
    readonly namespace?: string;
    readonly reason: string;
}

/** Every rule takes `exemptions`: resources (by metadata.name, or Pulumi name) it skips, each with a reason. */
export const exemptionsSchema: PolicyConfigJSONSchema = {
    type: "array",
    default: [],
    description: "Resources this rule does not apply to, each with the reason.",
    items: {
        type: "object",
        additionalProperties: false,
        required: ["name", "reason"],
        properties: {
            name: { type: "string", minLength: 1 },
            namespace: { type: "string" },
            reason: { type: "string", minLength: 1 },
        },
    },
};

export interface RuleMetadata {
    readonly name: string;
    readonly description: string;
    readonly enforcementLevel: EnforcementLevel;
    /** Rule-specific settings; `exemptions` is added to every rule. */
    readonly properties?: PolicyConfigSchema["properties"];
    /** The rule also sees Helm hook objects, which every other rule ignores (lib/helm-hooks.ts). */
    readonly seesHelmHooks?: boolean;
}

export type RuleConfig = { readonly exemptions: readonly Exemption[] } & Record<string, unknown>;

export function configSchema(properties: PolicyConfigSchema["properties"] = {}): PolicyConfigSchema {
    return { properties: { ...properties, exemptions: exemptionsSchema } };
}

export function isExempt(config: RuleConfig, props: Props, fallbackName: string): boolean {
    const name = objectName(props, fallbackName);
    const namespace = objectNamespace(props);
    return (config.exemptions ?? []).some((exemption) =>
        exemption.name === name && (exemption.namespace === undefined || exemption.namespace === namespace));
}

/** A rule on every resource with a pod spec; `check` sees the workload and the rule's config. */
export function podRule<C extends RuleConfig>(
    metadata: RuleMetadata,
    check: (workload: Workload, config: C, reportViolation: ReportViolation) => void,
): ResourceValidationPolicy {
    return resourceRule<C>(metadata, (args, config, reportViolation) => {
        const workload = workloadOf(args.type, args.props, args.name);
        if (workload) {
            check(workload, config, reportViolation);
        }
    });
}

/** A rule on resources of the given Pulumi types. */
export function typedRule<C extends RuleConfig>(
    metadata: RuleMetadata, types: readonly string[],
    check: (props: Props, config: C, reportViolation: ReportViolation, args: ResourceValidationArgs) => void,
): ResourceValidationPolicy {
    return resourceRule<C>(metadata, (args, config, reportViolation) => {
        if (types.includes(args.type)) {
            check(args.props, config, reportViolation, args);
        }
    });
}

function policyMetadata(metadata: RuleMetadata) {
    const { name, description, enforcementLevel } = metadata;
    return { name, description, enforcementLevel, configSchema: configSchema(metadata.properties) };
}

function resourceRule<C extends RuleConfig>(
    metadata: RuleMetadata,
    validate: (args: ResourceValidationArgs, config: C, reportViolation: ReportViolation) => void,
): ResourceValidationPolicy {
    return {
        ...policyMetadata(metadata),
        validateResource: (args, reportViolation) => {
            const config = args.getConfig<C>();
            if (!isHelmHook(args.props) && !isExempt(config, args.props, args.name)) {
                validate(args, config, reportViolation);
            }
        },
    };
}

/**
 * A rule over the whole stack. `check` sees every resource (an exempt one still counts as
 * the target or the budget of another) and reports with the URN of the resource each
 * violation is about; violations about exempt resources are dropped.
 */
export function stackRule<C extends RuleConfig>(
    metadata: RuleMetadata,
    check: (resources: readonly PolicyResource[], config: C, reportViolation: ReportViolation) => void,
): StackValidationPolicy {
    return {
        ...policyMetadata(metadata),
        validateStack: (args, reportViolation) => {
            const config = args.getConfig<C>();
            // By name, then URN: the engine lists a stack's resources in no set order (pulumi/pulumi
            // pkg/resource/deploy/step_generator.go AnalyzeResources ranges over a sync.Map), so which
            // of two resources a rule meets first must not depend on the order it is given.
            const listed = [...args.resources].sort((a, b) => compareStrings(a.name, b.name) || compareStrings(a.urn, b.urn));
            const resources = metadata.seesHelmHooks ? listed : listed.filter((resource) => !isHelmHook(resource.props));
            const exempt = new Set(resources.filter((resource) => isExempt(config, resource.props, resource.name)).map((resource) => resource.urn));
            check(resources, config, (message, urn) => {
                if (urn === undefined || !exempt.has(urn)) {
                    reportViolation(message, urn);
                }
            });
        },
    };
}

/** Code-unit order, the same on every machine (localeCompare is not). */
function compareStrings(a: string, b: string): number {
    return a < b ? -1 : a > b ? 1 : 0;
}

/** A short, safe rendering of a value for a message: never more than a line, never a secret. */
export function show(value: unknown): string {
    const text = JSON.stringify(value) ?? String(value);
    return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

