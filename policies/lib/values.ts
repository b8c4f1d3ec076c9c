/**
 * Safe readers for resource properties. Rules see whatever a program or a YAML file
 * holds: missing fields, wrong types, values unknown during preview. None of these may
 * crash a rule, so every read goes through one of these.
 */

export type Props = Record<string, unknown>;

export function asRecord(value: unknown): Props {
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Props) : {};
}

export function asArray(value: unknown): unknown[] {
    return Array.isArray(value) ? value : [];
}

export function asString(value: unknown): string | undefined {
    return typeof value === "string" ? value : undefined;
}

export function asStringMap(value: unknown): Record<string, string> {
    return Object.fromEntries(Object.entries(asRecord(value)).filter((entry): entry is [string, string] => typeof entry[1] === "string"));
}

/** A value at a path of keys, or undefined where any step is missing. */
export function at(value: unknown, ...path: string[]): unknown {
    return path.reduce<unknown>((current, key) => asRecord(current)[key], value);
}

/** metadata.name, falling back to the resource's Pulumi name. */
export function objectName(props: Props, fallback: string): string {
    return asString(at(props, "metadata", "name")) ?? fallback;
}

export function objectNamespace(props: Props): string {
    return asString(at(props, "metadata", "namespace")) ?? "default";
}
