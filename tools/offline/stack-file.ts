import * as fs from "fs";
import * as path from "path";
import { CORE_SCHEMA, load } from "js-yaml";
import { isRecord } from "../../config/project";

/** Stands in for a `secure:` value, which only the Pulumi CLI can decrypt. Kept secret. */
export const SECRET_PLACEHOLDER = "offline-placeholder-not-a-real-secret";

export interface StackConfig {
    readonly config: Record<string, string>;
    readonly secretKeys: string[];
}

/** Usage or input problems the plan reports with exit status 2. */
export class InputError extends Error {
    override name = "InputError";
}

/** The `--stack` option of a command: a stack name, or an InputError with the command's usage. */
export function stackOption(stack: string | undefined, usage: string): string {
    if (!stack || !/^[\w.-]+$/.test(stack)) {
        throw new InputError(stack ? `--stack "${stack}" is not a stack name; ${usage}` : usage);
    }
    return stack;
}

export function stackFilePath(projectDir: string, stack: string): string {
    return path.join(projectDir, `Pulumi.${stack}.yaml`);
}

/**
 * The config of a stack file as the engine would hand it to the program: full keys to
 * strings (structured values as JSON), with `secure:` values replaced by a placeholder.
 */
export function readStackFile(file: string): StackConfig {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch {
        throw new InputError(`${file}: cannot read the stack file`);
    }
    let document: unknown;
    try {
        // The core schema, as the Pulumi CLI reads YAML: `2025-01-01` stays a string, not a Date.
        document = load(text, { schema: CORE_SCHEMA });
    } catch (error) {
        throw new InputError(`${file}: not valid YAML: ${firstLine(error)}`);
    }
    if (document !== null && document !== undefined && !isRecord(document)) {
        throw new InputError(`${file}: expected a mapping with a config: section`);
    }
    const entries = document?.config ?? {};
    if (!isRecord(entries)) {
        throw new InputError(`${file}: config: must be a mapping of keys to values`);
    }
    const config: Record<string, string> = {};
    const secretKeys: string[] = [];
    for (const [key, value] of Object.entries(entries)) {
        if (!/^[^:]+:[^:]+$/.test(key)) {
            throw new InputError(`${file}: config key "${key}" must be namespaced, like llm-platform:${key}`);
        }
        const { value: plain, secret } = replaceSecureValues(value);
        config[key] = typeof plain === "string" ? plain : JSON.stringify(plain);
        if (secret) {
            secretKeys.push(key);
        }
    }
    return { config, secretKeys };
}

function replaceSecureValues(value: unknown): { value: unknown; secret: boolean } {
    if (isRecord(value) && Object.keys(value).length === 1 && typeof value.secure === "string") {
        return { value: SECRET_PLACEHOLDER, secret: true };
    }
    if (Array.isArray(value)) {
        const items = value.map(replaceSecureValues);
        return { value: items.map((item) => item.value), secret: items.some((item) => item.secret) };
    }
    if (isRecord(value)) {
        const entries = Object.entries(value).map(([key, child]) => [key, replaceSecureValues(child)] as const);
        return {
            value: Object.fromEntries(entries.map(([key, child]) => [key, child.value])),
            secret: entries.some(([, child]) => child.secret),
        };
    }
    return { value, secret: false };
}

function firstLine(error: unknown): string {
    return String(error instanceof Error ? error.message : error).split("\n")[0];
}
