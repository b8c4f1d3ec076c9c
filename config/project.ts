import * as fs from "fs";
import * as path from "path";
import { CORE_SCHEMA, load } from "js-yaml";

/** Pulumi's project config namespace: stack keys look like `llm-platform:models`. */
export const PROJECT = "llm-platform";

/** The directory of Pulumi.yaml: above this file, whether it runs from source or from bin/. */
export const PROJECT_DIR = findProjectDir(__dirname);

export const PROJECT_FILE = path.join(PROJECT_DIR, "Pulumi.yaml");

function findProjectDir(start: string): string {
    for (let dir = start; ; dir = path.dirname(dir)) {
        if (fs.existsSync(path.join(dir, "Pulumi.yaml"))) {
            return dir;
        }
        if (path.dirname(dir) === dir) {
            throw new Error(`no Pulumi.yaml above ${start}`);
        }
    }
}

/** One entry of the `config:` block of Pulumi.yaml. */
export type ConfigDeclaration =
    | { readonly kind: "typed"; readonly type: "string" | "integer" | "boolean" | "array"; readonly default?: unknown }
    | { readonly kind: "value"; readonly value: unknown };

let cached: ReadonlyMap<string, ConfigDeclaration> | undefined;

/** The config keys Pulumi.yaml declares, with their types and defaults (read once). */
export function configDeclarations(): ReadonlyMap<string, ConfigDeclaration> {
    cached ??= parseDeclarations(fs.readFileSync(PROJECT_FILE, "utf8"));
    return cached;
}

function parseDeclarations(text: string): ReadonlyMap<string, ConfigDeclaration> {
    const project = load(text, { schema: CORE_SCHEMA }) as { config?: Record<string, unknown> };
    const declarations = new Map<string, ConfigDeclaration>();
    for (const [key, entry] of Object.entries(project.config ?? {})) {
        declarations.set(key, toDeclaration(key, entry));
    }
    return declarations;
}

function toDeclaration(key: string, entry: unknown): ConfigDeclaration {
    if (isRecord(entry) && "type" in entry) {
        const type = entry.type;
        if (type !== "string" && type !== "integer" && type !== "boolean" && type !== "array") {
            throw new Error(`${PROJECT_FILE}: config.${key}.type must be string, integer, boolean or array`);
        }
        return { kind: "typed", type, default: entry.default };
    }
    if (isRecord(entry) && "value" in entry) {
        return { kind: "value", value: entry.value };
    }
    return { kind: "value", value: entry };
}

export function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}
