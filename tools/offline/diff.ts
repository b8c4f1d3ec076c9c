/**
 * The diff of two plans of one stack (`npm run plan -- --diff <base-dir>`): what a change does,
 * for the reviewer of a pull request. Pure functions over what `--out` writes:
 * - resources.json: resources added, removed and changed, keyed by type, parent and name (what a
 *   URN is made of), each change down to its path in the inputs (`values.loki.limits_config...`,
 *   `spec.template.spec.containers[0].args[9]`); a secret input is `[secret]` on both sides
 *   (./run.ts SECRET) and so never differs, nor is shown;
 * - secrets.json (./diff-secrets.ts): a digest per `secure:` value of the stack file, so that a
 *   changed secret shows as `changed (secret)`, never its value;
 * - policy-report.json: violations introduced and fixed;
 * - summary.json (./summary.ts), when both plans wrote one: capacity and cost at min and at max.
 * Markdown is ./diff-markdown.ts's.
 */
import { isRecord } from "../../config/project";
import { Violation, violationLine } from "./policies";
import type { StackSummary } from "./summary";

/** One entry of resources.json (tools/plan.ts plannedResources; tools/sdk-floor.ts replays them). */
export interface PlannedResource {
    readonly type: string;
    readonly name: string;
    /** The parent's name, or null for a top-level resource. */
    readonly parent: string | null;
    readonly inputs: Record<string, unknown>;
}

/** What a plan's out directory holds, as the diff reads it. */
export interface PlanFiles {
    readonly resources: readonly PlannedResource[];
    readonly violations: readonly Violation[];
    /** summary.json; null when the plan wrote none. */
    readonly summary: StackSummary | null;
    /** secrets.json: digest per secure key; null when the plan wrote none (a plan before secrets.json). */
    readonly secrets: Readonly<Record<string, string>> | null;
}

/** One value that differs: `before` or `after` is absent where the path is new or gone. */
export interface ValueChange {
    readonly path: string;
    readonly before?: unknown;
    readonly after?: unknown;
    /** `path: before -> after`, as printed. */
    readonly line: string;
}

export interface ResourceChange {
    /** `<type> <name>`. */
    readonly resource: string;
    readonly changes: readonly ValueChange[];
}

export interface SecretChange {
    readonly key: string;
    readonly change: "added" | "removed" | "changed";
    /** `<key>: changed (secret)`. */
    readonly line: string;
}

/** A figure of the summary at min and at max (null: not known, as summary.json says). */
export interface Figure {
    readonly what: string;
    readonly before: MinMax | null;
    readonly after: MinMax | null;
    /** Dollars per hour (printed as $x.xx/h) rather than a count. */
    readonly usd: boolean;
}

export interface MinMax {
    readonly min: number;
    readonly max: number;
}

export interface PlanDiff {
    readonly stack: string;
    /** Anything differs at all. */
    readonly changed: boolean;
    readonly resources: {
        readonly added: readonly string[];
        readonly removed: readonly string[];
        readonly changed: readonly ResourceChange[];
    };
    /** null when either plan has no secrets.json (not compared). */
    readonly secrets: readonly SecretChange[] | null;
    readonly violations: { readonly introduced: readonly Violation[]; readonly fixed: readonly Violation[] };
    /** null when either plan has no summary.json. */
    readonly summary: { readonly figures: readonly Figure[]; readonly changes: readonly ValueChange[] } | null;
}

/** The diff of `head` against `base`. */
export function diffPlans(stack: string, base: PlanFiles, head: PlanFiles): PlanDiff {
    const resources = diffResources(base.resources, head.resources);
    const secrets = base.secrets && head.secrets ? diffSecrets(base.secrets, head.secrets) : null;
    const violations = diffViolations(base.violations, head.violations);
    const summary = base.summary && head.summary
        ? { figures: summaryFigures(base.summary, head.summary), changes: diffValues(base.summary, head.summary) }
        : null;
    const changed = resources.added.length + resources.removed.length + resources.changed.length
        + (secrets?.length ?? 0) + violations.introduced.length + violations.fixed.length + (summary?.changes.length ?? 0) > 0;
    return { stack, changed, resources, secrets, violations, summary };
}

/** `<type> <name>`: how the plan names a resource. */
export function resourceLabel(resource: Pick<PlannedResource, "type" | "name">): string {
    return `${resource.type} ${resource.name}`;
}

/** Resources by type, parent and name (a URN's parts), in resources.json's order. */
export function diffResources(base: readonly PlannedResource[], head: readonly PlannedResource[]): PlanDiff["resources"] {
    const key = (resource: PlannedResource) => `${resource.type}\u0000${resource.parent ?? ""}\u0000${resource.name}`;
    const before = new Map(base.map((resource) => [key(resource), resource]));
    const after = new Map(head.map((resource) => [key(resource), resource]));
    const changed = head.flatMap((resource) => {
        const old = before.get(key(resource));
        // Most resources are the same: one comparison of their text, then the walk only where they differ.
        const changes = old && !sameJson(old.inputs, resource.inputs) ? diffValues(old.inputs, resource.inputs) : [];
        return changes.length > 0 ? [{ resource: resourceLabel(resource), changes }] : [];
    });
    return {
        added: head.filter((resource) => !before.has(key(resource))).map(resourceLabel),
        removed: base.filter((resource) => !after.has(key(resource))).map(resourceLabel),
        changed,
    };
}

/** Every leaf that differs between two JSON values, with its path (`a.b[2]["x/y"]`). */
export function diffValues(before: unknown, after: unknown, path = ""): ValueChange[] {
    if (isRecord(before) && isRecord(after)) {
        const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
        return keys.flatMap((key) => childDiff(before, after, key, joinKey(path, key)));
    }
    if (Array.isArray(before) && Array.isArray(after)) {
        const moved = movedByName(before, after);
        if (moved) {
            return namedItemsDiff(before, after, moved, path);
        }
        const length = Math.max(before.length, after.length);
        return Array.from({ length }, (_, index) => childDiff(before, after, index, `${path}[${index}]`)).flat();
    }
    if (typeof before === "string" && typeof after === "string" && before !== after) {
        if (before.includes("\n") || after.includes("\n")) {
            return [textChange(path, before, after)];
        }
        if (Math.max(before.length, after.length) > LONG_LINE) {
            return [longLineChange(path, before, after)];
        }
    }
    return sameJson(before, after) ? [] : [valueChange(path, { before, after })];
}

/**
 * The names of two lists' items when every item is an object with a name of its own and an item
 * of both lists is at another index (an env var inserted first); undefined otherwise. Kubernetes
 * merges containers, env and volumes by name (k8s.io/api core/v1 types.go: `patchMergeKey:"name"`),
 * so items with names are compared by name, not by an index that shifted (other named lists too,
 * such as ports, which it merges by containerPort: their names are as unique).
 */
function movedByName(before: readonly unknown[], after: readonly unknown[]): { before: string[]; after: string[] } | undefined {
    const names = (items: readonly unknown[]) => {
        const found = items.map((item) => (isRecord(item) && typeof item.name === "string" ? item.name : undefined));
        return found.every((name): name is string => name !== undefined) && new Set(found).size === found.length ? found : undefined;
    };
    const [old, now] = [names(before), names(after)];
    return old && now && old.some((name, index) => now.includes(name) && now[index] !== name) ? { before: old, after: now } : undefined;
}

/** `env[name=PORT].value: "8000" -> "8080"`: items matched by name, then the order of the names both have if it changed. */
function namedItemsDiff(before: readonly unknown[], after: readonly unknown[], names: { before: string[]; after: string[] }, path: string): ValueChange[] {
    const at = (name: string) => `${path}[name=${/^[\w.-]+$/.test(name) ? name : JSON.stringify(name)}]`;
    const changes = [
        ...names.after.flatMap((name, index) => {
            const old = names.before.indexOf(name);
            return old === -1 ? [valueChange(at(name), { after: after[index] })] : diffValues(before[old], after[index], at(name));
        }),
        ...names.before.flatMap((name, index) => (names.after.includes(name) ? [] : [valueChange(at(name), { before: before[index] })])),
    ];
    const [kept, order] = [names.before.filter((name) => names.after.includes(name)), names.after.filter((name) => names.before.includes(name))];
    return sameJson(kept, order) ? changes : [...changes, valueChange(`${path} (order of names)`, { before: kept, after: order })];
}

/** A one-line string longer than this is shown by the characters that differ, not whole. */
const LONG_LINE = 200;
/** Characters shown either side of what differs in a long line, and of what differs at most. */
const LONG_LINE_CONTEXT = 20;
const LONG_LINE_MIDDLE = 120;

/** How many items two sequences (characters, lines) share at their start, and then at their end. */
function commonEnds<T>(a: ArrayLike<T>, b: ArrayLike<T>): { start: number; end: number } {
    let start = 0;
    while (start < a.length && start < b.length && a[start] === b[start]) {
        start++;
    }
    let end = 0;
    while (end < a.length - start && end < b.length - start && a[a.length - 1 - end] === b[b.length - 1 - end]) {
        end++;
    }
    return { start, end };
}

/**
 * Two long one-line strings differ (a Grafana dashboard that kube-prometheus-stack renders as one
 * line of JSON, 27 kB): what differs between their common start and end, with a little context,
 * `path, at character 7636: …a[5m]b… -> …a[1m]b…`; both texts whole in diff.json.
 */
function longLineChange(path: string, before: string, after: string): ValueChange {
    const { start, end } = commonEnds(before, after);
    const excerpt = (text: string) => {
        const from = Math.max(0, start - LONG_LINE_CONTEXT);
        const middle = text.slice(start, text.length - end);
        const to = Math.min(text.length, text.length - end + LONG_LINE_CONTEXT);
        return [
            from > 0 ? "…" : "", text.slice(from, start),
            middle.length > LONG_LINE_MIDDLE ? `${middle.slice(0, LONG_LINE_MIDDLE)}…` : middle,
            text.slice(text.length - end, to), to < text.length ? "…" : "",
        ].join("");
    };
    return { path, before, after, line: `${path}, at character ${start + 1}: ${formatValue(excerpt(before))} -> ${formatValue(excerpt(after))}` };
}

/**
 * Two texts (a config file in a ConfigMap or a chart value) differ: the lines between their common
 * first and last lines, `path, line 12: old -> new` (`lines 12-14` for a block, `(none)` for none).
 */
function textChange(path: string, before: string, after: string): ValueChange {
    const [old, now] = [before.split("\n"), after.split("\n")];
    const { start, end } = commonEnds(old, now);
    const block = (lines: string[]) => {
        const middle = lines.slice(start, lines.length - end);
        return middle.length === 0 ? "(none)" : formatValue(middle.join("\n"));
    };
    const last = Math.max(old.length, now.length) - end;
    const where = last - start > 1 ? `lines ${start + 1}-${last}` : `line ${start + 1}`;
    return { path, before, after, line: `${path}, ${where}: ${block(old)} -> ${block(now)}` };
}

function childDiff(before: object, after: object, key: string | number, path: string): ValueChange[] {
    const inBefore = Object.hasOwn(before, key);
    const inAfter = Object.hasOwn(after, key);
    const value = (side: object) => (side as Record<string | number, unknown>)[key];
    if (inBefore && inAfter) {
        return diffValues(value(before), value(after), path);
    }
    return [valueChange(path, inBefore ? { before: value(before) } : { after: value(after) })];
}

function valueChange(path: string, sides: { before?: unknown; after?: unknown }): ValueChange {
    const shown = (side: "before" | "after") => (Object.hasOwn(sides, side) ? formatValue(sides[side]) : "(none)");
    let [from, to] = [shown("before"), shown("after")];
    // `--max-num-seqs=64 -> 128`: a command-line flag keeps its name once.
    const flag = /^--?[\w.-]+=/.exec(from)?.[0];
    if (flag && to.startsWith(flag) && typeof sides.before === "string" && typeof sides.after === "string") {
        to = to.slice(flag.length);
    }
    return { path: path || "(the value)", ...sides, line: `${path || "(the value)"}: ${from} -> ${to}` };
}

/**
 * A value as a diff line shows it: a plain string as itself (quoted as JSON where it could be
 * read as something else, or would break the line), anything else as compact JSON.
 */
export function formatValue(value: unknown): string {
    if (typeof value === "string") {
        const plain = value !== "" && !/^\s|\s$|[\n\r"]| -> /.test(value) && !/^(true|false|null|\(none\)|-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?)$/.test(value)
            && !value.startsWith("{") && !value.startsWith("[");
        return plain ? value : JSON.stringify(value);
    }
    return JSON.stringify(value) ?? "(none)";
}

function joinKey(path: string, key: string): string {
    if (/^[A-Za-z_$][\w$-]*$/.test(key)) {
        return path ? `${path}.${key}` : key;
    }
    return `${path}[${JSON.stringify(key)}]`;
}

function sameJson(a: unknown, b: unknown): boolean {
    return JSON.stringify(a) === JSON.stringify(b);
}

/** Secure keys added, removed or whose ciphertext changed; never a value. */
export function diffSecrets(base: Readonly<Record<string, string>>, head: Readonly<Record<string, string>>): SecretChange[] {
    const keys = [...new Set([...Object.keys(base), ...Object.keys(head)])].sort();
    return keys.flatMap((key): SecretChange[] => {
        const change = !Object.hasOwn(base, key) ? "added" : !Object.hasOwn(head, key) ? "removed" : base[key] !== head[key] ? "changed" : undefined;
        return change ? [{ key, change, line: `${key}: ${change} (secret)` }] : [];
    });
}

/** Violations in `head` and not in `base` (introduced), and the reverse (fixed); mandatory first. */
export function diffViolations(base: readonly Violation[], head: readonly Violation[]): PlanDiff["violations"] {
    const key = (v: Violation) => JSON.stringify([v.policy, v.enforcementLevel, v.resourceType, v.resourceName, v.message]);
    const only = (these: readonly Violation[], those: readonly Violation[]) => {
        const known = new Set(those.map(key));
        return these.filter((v) => !known.has(key(v))).sort((a, b) => rank(a) - rank(b));
    };
    return { introduced: only(head, base), fixed: only(base, head) };
}

function rank(violation: Violation): number {
    return violation.enforcementLevel === "mandatory" ? 0 : 1;
}

/**
 * Capacity and cost at min and at max, before and after: each model's replicas (by name), the GPU
 * pool's nodes and GPUs, its price and the total per hour. A figure only one side has (a model
 * added) is null on the other.
 */
export function summaryFigures(base: StackSummary, head: StackSummary): Figure[] {
    const models = [...new Set([...base.models, ...head.models].map((model) => model.name))];
    const replicas = (summary: StackSummary, name: string) => summary.models.find((model) => model.name === name)?.replicas ?? null;
    const figure = (what: string, pick: (summary: StackSummary) => MinMax | null | undefined, usd = false): Figure =>
        ({ what, before: pick(base) ?? null, after: pick(head) ?? null, usd });
    return [
        ...models.map((name) => figure(`model ${name} replicas`, (summary) => replicas(summary, name))),
        ...(base.pools || head.pools ? [
            figure("GPU nodes", (summary) => summary.pools?.gpu.nodes),
            figure("GPUs", (summary) => summary.pools?.gpu.gpus),
            figure("GPU cost per hour", (summary) => summary.pools?.gpu.pricePerHour, true),
            figure("total per hour", (summary) => summary.totalPerHour, true),
        ] : []),
    ];
}

/** A figure's one side, at min or max: `$17.02/h`, `12`, `no price`. */
export function figureValue(figure: Figure, side: "before" | "after", end: keyof MinMax): string {
    const range = figure[side];
    if (!range) {
        return figure.usd ? "no price" : "none";
    }
    return figure.usd ? `$${range[end].toFixed(2)}/h` : String(range[end]);
}

/** `a -> b`, or `a` when both are the same. */
export function beforeAfter(before: string, after: string): string {
    return before === after ? before : `${before} -> ${after}`;
}

/** The headline's cost: the GPU pool's cost per hour at max, before -> after. */
export function gpuCostAtMax(diff: PlanDiff): string {
    const figure = diff.summary?.figures.find((candidate) => candidate.what === "GPU cost per hour");
    if (!diff.summary) {
        return "GPU cost per hour at max: not compared (summary.json missing in a plan)";
    }
    if (!figure) {
        return "GPU cost per hour at max: none (no cloud pools)";
    }
    return `GPU cost per hour at max ${beforeAfter(figureValue(figure, "before", "max"), figureValue(figure, "after", "max"))}`;
}

/** `resources +a ~c -r, violations n new, f fixed, GPU cost ...`. */
export function headline(diff: PlanDiff): string {
    const { added, changed, removed } = diff.resources;
    const secrets = diff.secrets === null ? ", secrets not compared" : diff.secrets.length > 0 ? `, secrets ~${diff.secrets.length}` : "";
    return `resources +${added.length} ~${changed.length} -${removed.length}${secrets}, `
        + `violations ${diff.violations.introduced.length} new, ${diff.violations.fixed.length} fixed, ${gpuCostAtMax(diff)}`;
}

/** What the plan prints after its summary: the headline, then a line per resource, secret and violation. */
export function diffLines(diff: PlanDiff, baseDir: string): string[] {
    if (!diff.changed) {
        return [`diff against ${baseDir}: no change`];
    }
    const changeCount = (n: number) => `${n} change${n === 1 ? "" : "s"}`;
    return [
        `diff against ${baseDir}: ${headline(diff)}`,
        ...diff.resources.added.map((resource) => `  + ${resource}`),
        ...diff.resources.changed.map(({ resource, changes }) => `  ~ ${resource}: ${changeCount(changes.length)}`),
        ...diff.resources.removed.map((resource) => `  - ${resource}`),
        ...(diff.secrets ?? []).map((secret) => `  ~ secret ${secret.line}`),
        ...diff.violations.introduced.map((v) => `  new violation ${violationLine(v)}`),
        ...diff.violations.fixed.map((v) => `  fixed violation ${violationLine(v)}`),
        ...(diff.summary?.changes ?? []).map((change) => `  summary ${change.line}`),
    ];
}
