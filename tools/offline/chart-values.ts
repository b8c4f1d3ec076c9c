/**
 * Values keys a chart ignores. Helm merges our values over the chart's values.yaml and the
 * templates read what they read: a key no template reads is dropped without a word, so a typo
 * or a key from another chart version is a setting that does nothing. A key path we set is
 * unknown when the map above it in the chart's values.yaml has entries and none of them is the
 * key, unless that map is free-form (labels, annotations, a selector, extra args or env, or a
 * Kubernetes-typed map such as resources or a securityContext, whose keys the schema check of
 * the rendered objects covers) or a template reads the path (keys a chart documents only in a
 * comment).
 */
import { isRecord } from "../../config/project";
import type { ChartFiles } from "./chart-files";

/** Maps whose keys are the user's own, whatever the chart's defaults hold. */
const FREE_FORM = /(labels|annotations|selector|nodeSelector|args|env|extraArgs|extraEnv|extraEnvVars|config|data|stringData|values|tolerations|affinity|resources|securityContext)$/i;

/** Key paths of `values` that the chart (and its subcharts, under their keys) does not declare. */
export function unknownValuesKeys(values: Record<string, unknown>, chart: ChartFiles): string[] {
    return unknownKeysBelow(values, chart.values, chart, [], true);
}

function unknownKeysBelow(
    values: Record<string, unknown>, defaults: Record<string, unknown>, chart: ChartFiles, path: readonly string[], chartRoot: boolean,
): string[] {
    const unknown: string[] = [];
    for (const [key, value] of Object.entries(values)) {
        const keyPath = [...path, key];
        const subchart = chartRoot ? chart.subcharts.get(key) : undefined;
        if (chartRoot && key === "global") {
            continue;
        }
        if (subchart) {
            // The parent's values.yaml may set the subchart's values too; they win over the subchart's own.
            const merged = mergeDefaults(subchart.values, isRecord(defaults[key]) ? defaults[key] : {});
            unknown.push(...(isRecord(value) ? unknownKeysBelow(value, merged, subchart, [], true) : [])
                .map((inner) => `${key}.${inner}`).filter((inner) => !chart.conditions.has(inner)));
            continue;
        }
        const declared = Object.keys(defaults).length === 0 || key in defaults || FREE_FORM.test(path[path.length - 1] ?? "")
            || (chartRoot && chart.conditions.has(keyPath.join(".")));
        if (!declared && !readByTemplate(chart.templates, keyPath)) {
            unknown.push(keyPath.join("."));
        } else if (isRecord(value) && isRecord(defaults[key]) && Object.keys(defaults[key]).length > 0) {
            unknown.push(...unknownKeysBelow(value, defaults[key], chart, keyPath, false));
        }
    }
    return unknown;
}

/**
 * A template reads the key itself (`.Values.a.b.key`), or dumps the map above it whole
 * (`toYaml .Values.loki.limits_config`, `tpl (toYaml ...)`, `{{ with .Values.x }}{{ toYaml . }}`):
 * then every key in it reaches the output, whether values.yaml lists it or not. A key read by
 * name with `index`, `dig` or `hasKey` (`dig "storage" "bucketNames" "chunks" "" .Values.loki`)
 * appears quoted. A map only handed to `with` or a helper does not count: its keys are read one
 * by one, and a misspelt one is read by none.
 */
function readByTemplate(templates: string, keyPath: readonly string[]): boolean {
    const key = keyPath[keyPath.length - 1];
    if (templates.includes(`"${key}"`)) {
        return true;
    }
    const values = (keys: readonly string[]) => (keys.every((k) => IDENTIFIER.test(k)) ? `\\$?\\.Values${keys.map((k) => `\\.${k}`).join("")}` : undefined);
    const path = values(keyPath);
    const parent = keyPath.length > 1 ? values(keyPath.slice(0, -1)) : undefined;
    return (path !== undefined && new RegExp(`${path}\\b`).test(templates))
        || (parent !== undefined && (new RegExp(`(toYaml|toJson|toPrettyJson|tpl)\\s*\\(?\\s*${parent}(?![\\w.])`).test(templates)
            || new RegExp(`with\\s+${parent}\\s*-?}}[^]{0,300}?toYaml\\s+\\.\\s*[|)}]`).test(templates)));
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function mergeDefaults(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
    const merged: Record<string, unknown> = { ...base };
    for (const [key, value] of Object.entries(over)) {
        merged[key] = isRecord(value) && isRecord(base[key]) ? mergeDefaults(base[key], value) : value;
    }
    return merged;
}
