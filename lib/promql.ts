/** A PromQL string literal: double-quoted, with backslashes and quotes escaped. */
export function promqlString(value: string): string {
    return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}
