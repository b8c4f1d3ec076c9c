import type { EnforcementLevel, Policies, PolicyPackConfig } from "@pulumi/policy";
import * as fs from "fs";
import * as path from "path";
import { PROJECT_DIR, isRecord } from "../../config/project";
import { InputError } from "./stack-file";

const LEVELS: readonly EnforcementLevel[] = ["advisory", "mandatory", "remediate", "disabled"];

type Schema = Record<string, unknown>;

/** The pack config of a stack, `policies/config/<stack>.json`, as `--policy-pack-config` takes it. */
export function packConfigPath(stack: string): string {
    return path.join(PROJECT_DIR, "policies", "config", `${stack}.json`);
}

/** A stack's pack config (`npm run plan` and `npm run check -- --stack`); undefined when the file is not there. */
export function readPackConfig(file: string, policies: Policies): PolicyPackConfig | undefined {
    if (!fs.existsSync(file)) {
        return undefined;
    }
    let config: unknown;
    try {
        config = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (error) {
        throw new InputError(`${file}: not valid JSON: ${(error as Error).message.split("\n")[0]}`);
    }
    const problems = packConfigProblems(policies, config);
    if (problems.length > 0) {
        throw new InputError(problems.map((problem) => `${file}: ${problem}`).join("\n"));
    }
    return config as PolicyPackConfig;
}

/**
 * Checks a pack config the way the Pulumi CLI checks it against the rules' configSchema:
 * an unknown rule or property, a bad level or a value of the wrong type is a problem,
 * never silently dropped. One line per problem, naming `<rule>.<property>`.
 */
export function packConfigProblems(policies: Policies, config: unknown): string[] {
    if (!isRecord(config)) {
        return ["the policy pack config must be a mapping of rule names to settings"];
    }
    const byName = new Map(policies.map((policy) => [policy.name, policy]));
    return Object.entries(config).flatMap(([name, settings]) => {
        if (name === "all") {
            return levelProblems(name, typeof settings === "string" ? settings : isRecord(settings) ? settings.enforcementLevel : settings);
        }
        const policy = byName.get(name);
        if (!policy) {
            return [`${name}: no such rule in the pack`];
        }
        if (typeof settings === "string") {
            return levelProblems(name, settings);
        }
        if (!isRecord(settings)) {
            return [`${name}: expected an enforcement level or a mapping of settings`];
        }
        const properties = (policy.configSchema?.properties ?? {}) as Record<string, Schema>;
        return Object.entries(settings).flatMap(([key, value]) => {
            if (key === "enforcementLevel") {
                return levelProblems(name, value);
            }
            const schema = properties[key];
            return schema ? valueProblems(`${name}.${key}`, value, schema) : [`${name}.${key}: no such setting (known: ${Object.keys(properties).join(", ") || "none"})`];
        });
    });
}

function levelProblems(where: string, level: unknown): string[] {
    return typeof level === "string" && (LEVELS as readonly string[]).includes(level)
        ? [] : [`${where}: enforcement level ${JSON.stringify(level)} is not one of ${LEVELS.join(", ")}`];
}

/** The subset of JSON Schema the rules use: type, enum, minimum, minLength, items, properties, required. */
function valueProblems(where: string, value: unknown, schema: Schema): string[] {
    const type = schema.type as string | undefined;
    if (type && !hasType(value, type)) {
        return [`${where}: expected ${type}, got ${JSON.stringify(value)}`];
    }
    if (Array.isArray(schema.enum) && !schema.enum.includes(value)) {
        return [`${where}: ${JSON.stringify(value)} is not one of ${schema.enum.map((v) => JSON.stringify(v)).join(", ")}`];
    }
    if (typeof schema.minimum === "number" && typeof value === "number" && value < schema.minimum) {
        return [`${where}: ${value} is less than ${schema.minimum}`];
    }
    if (typeof schema.minLength === "number" && typeof value === "string" && value.length < schema.minLength) {
        return [`${where}: must not be empty`];
    }
    if (Array.isArray(value) && isRecord(schema.items)) {
        return value.flatMap((item, index) => valueProblems(`${where}[${index}]`, item, schema.items as Schema));
    }
    if (isRecord(value) && isRecord(schema.properties)) {
        const properties = schema.properties as Record<string, Schema>;
        const missing = ((schema.required as string[] | undefined) ?? []).filter((key) => !(key in value)).map((key) => `${where}.${key}: required`);
        const entries = Object.entries(value).flatMap(([key, child]) => properties[key]
            ? valueProblems(`${where}.${key}`, child, properties[key])
            : schema.additionalProperties === false ? [`${where}.${key}: no such setting`] : []);
        return [...missing, ...entries];
    }
    return [];
}

function hasType(value: unknown, type: string): boolean {
    switch (type) {
        case "array": return Array.isArray(value);
        case "object": return isRecord(value);
        case "integer": return Number.isInteger(value);
        case "number": return typeof value === "number" && Number.isFinite(value);
        default: return typeof value === type;
    }
}


