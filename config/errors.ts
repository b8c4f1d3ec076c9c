import * as pulumi from "@pulumi/pulumi";
import type * as z from "zod";
import { PROJECT, isRecord } from "./project";

/**
 * Invalid stack config: one line per problem, each naming the full key. A RunError, so
 * `pulumi up` prints the lines without a stack trace, before any resource is registered.
 */
export class ConfigError extends pulumi.RunError {
    constructor(readonly problems: readonly string[]) {
        super(problems.join("\n"));
        this.name = "ConfigError";
    }
}

export type ConfigPath = readonly PropertyKey[];

/** `["models", 0, "maxReplicas"]` -> `llm-platform:models[0].maxReplicas`. */
export function configKey(path: ConfigPath): string {
    const [top, ...rest] = path;
    const tail = rest.map((part) => (typeof part === "number" ? `[${part}]` : `.${String(part)}`)).join("");
    return `${PROJECT}:${String(top)}${tail}`;
}

export function problemAt(path: ConfigPath, input: unknown, what: string): string {
    return input === undefined ? `${configKey(path)}: ${what}` : `${configKey(path)} = ${show(input)}: ${what}`;
}

/** A short rendering of the offending value; objects are summarised, never dumped. */
function show(value: unknown): string {
    if (Array.isArray(value)) {
        return `a list of ${value.length}`;
    }
    if (isRecord(value)) {
        return "a mapping";
    }
    const text = JSON.stringify(value) ?? String(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
    number: "a number",
    int: "a whole number",
    string: "a string",
    boolean: "true or false",
    object: "a mapping",
    array: "a list",
};

/** Zod's issues as config problems, one line each. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], pathPrefix: ConfigPath = []): string[] {
    return issues.flatMap((issue) => describeIssue(issue, [...pathPrefix, ...issue.path]));
}

function describeIssue(issue: z.core.$ZodIssue, path: ConfigPath): string[] {
    switch (issue.code) {
        case "unrecognized_keys": {
            const known = isRecord(issue.input) ? Object.keys(issue.input).filter((key) => !issue.keys.includes(key)) : [];
            return issue.keys.map((key) => unknownKey([...path, key], known));
        }
        case "invalid_type":
            return issue.input === undefined
                ? [problemAt(path, undefined, "required")]
                : [problemAt(path, issue.input, `expected ${TYPE_NAMES[issue.expected] ?? issue.expected}`)];
        case "invalid_value":
            return [problemAt(path, issue.input, `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`)];
        case "too_small":
            return [problemAt(path, issue.input, `must be ${issue.inclusive ? "at least" : "greater than"} ${String(issue.minimum)}`)];
        case "too_big":
            return [problemAt(path, issue.input, `must be ${issue.inclusive ? "at most" : "less than"} ${String(issue.maximum)}`)];
        default:
            return [problemAt(path, issue.input, issue.message)];
    }
}

export function unknownKey(path: ConfigPath, known: readonly string[]): string {
    const name = String(path[path.length - 1]);
    const guess = closest(name, known);
    return `${configKey(path)}: unknown key${guess ? ` (did you mean ${guess}?)` : ""}`;
}

/** The known key within two edits of a typo, if there is one. */
function closest(name: string, known: readonly string[]): string | undefined {
    let best: { key: string; distance: number } | undefined;
    for (const key of known) {
        const distance = editDistance(name.toLowerCase(), key.toLowerCase());
        if (distance <= 2 && (!best || distance < best.distance)) {
            best = { key, distance };
        }
    }
    return best?.key;
}

function editDistance(a: string, b: string): number {
    let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        const current = [i];
        for (let j = 1; j <= b.length; j++) {
            current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
        }
        previous = current;
    }
    return previous[b.length];
}
