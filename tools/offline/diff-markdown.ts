/**
 * diff.md: the plan diff (./diff.ts) as a reviewer reads it on a pull request, in a minute: a
 * headline, the capacity and cost table, the violations and secrets, then one collapsed
 * `<details>` section per changed resource. GitHub renders it in the job summary and the PR
 * comment (GitHub Flavored Markdown: HTML `<details>` blocks need a blank line before Markdown
 * inside them).
 */
import { Figure, PlanDiff, beforeAfter, figureValue, headline } from "./diff";
import { violationLine } from "./policies";

/** Lines of one resource's changes shown before "and N more (diff.json)". */
export const MAX_LINES_PER_RESOURCE = 40;
/** Characters of one change line shown (a value added whole is one line of JSON); the rest is in diff.json. */
export const MAX_LINE_CHARS = 1000;
/**
 * diff.md's size at most, in bytes: GitHub drops a step's summary over 1 MiB whole ("$GITHUB_STEP_SUMMARY
 * upload aborted, supports content up to a size of 1024k"; docs, workflow commands, "Adding a job
 * summary"). Changed resources past it are counted, not shown.
 */
export const MAX_MARKDOWN_BYTES = 512 * 1024;

/** The Markdown of one stack's diff; one line when nothing differs. */
export function diffMarkdown(diff: PlanDiff): string {
    if (!diff.changed) {
        return `**\`${diff.stack}\`**: no change (same resources, violations, secrets and summary as the base).\n`;
    }
    const before = [
        [`#### \`${diff.stack}\`: ${dollars(headline(diff))}`],
        figuresTable(diff.summary?.figures ?? []),
        list("New violations", diff.violations.introduced.map((v) => code(violationLine(v)))),
        list("Fixed violations", diff.violations.fixed.map((v) => code(violationLine(v)))),
        diff.secrets === null
            ? ["Secrets: not compared (a plan without secrets.json)."]
            : list("Secrets (the stack file's `secure:` values, compared by a digest of their ciphertext; never shown)",
                diff.secrets.map((secret) => `${code(secret.key)}: ${secret.change} (secret)`)),
        details(`+ ${count(diff.resources.added.length, "resource")} added`, diff.resources.added.map((resource) => `- ${code(resource)}`)),
        details(`- ${count(diff.resources.removed.length, "resource")} removed`, diff.resources.removed.map((resource) => `- ${code(resource)}`)),
    ];
    const after = [
        details(`summary.json: ${count(diff.summary?.changes.length ?? 0, "change")}`, fenced((diff.summary?.changes ?? []).map((change) => change.line)), true),
    ];
    const changed = diff.resources.changed.map(({ resource, changes }) =>
        details(`~ <code>${escapeHtml(resource)}</code>: ${count(changes.length, "change")}`, fenced(changes.map((change) => change.line)), true));
    const shown = withinBudget(changed, MAX_MARKDOWN_BYTES - bytes([...before, ...after]) - 100);
    const more = changed.length - shown.length;
    const sections = [...before, ...shown, more > 0 ? [`and ${count(more, "more changed resource")} (diff.json)`] : [], ...after];
    return `${sections.filter((section) => section.length > 0).map((section) => section.join("\n")).join("\n\n")}\n`;
}

/** The first sections whose Markdown fits in `budget` bytes. */
function withinBudget(sections: readonly string[][], budget: number): string[][] {
    let used = 0;
    const fitting = sections.findIndex((section) => {
        used += bytes([section]);
        return used > budget;
    });
    return fitting === -1 ? [...sections] : sections.slice(0, fitting);
}

/** The bytes of sections as diffMarkdown joins them (UTF-8, with the blank line between). */
function bytes(sections: readonly string[][]): number {
    return sections.reduce((total, section) => total + Buffer.byteLength(section.join("\n")) + 2, 0);
}

/** `| | at min | at max |`, each cell `before -> after`; none without a summary in both plans. */
function figuresTable(figures: readonly Figure[]): string[] {
    if (figures.length === 0) {
        return [];
    }
    const cell = (figure: Figure, end: "min" | "max") => beforeAfter(figureValue(figure, "before", end), figureValue(figure, "after", end));
    return [
        "| | at min | at max |",
        "|---|---|---|",
        ...figures.map((figure) => dollars(`| ${figure.what} | ${cell(figure, "min")} | ${cell(figure, "max")} |`)),
    ];
}

function list(title: string, items: readonly string[]): string[] {
    return items.length === 0 ? [] : [`**${title}**`, "", ...items.map((item) => (item.startsWith("- ") ? item : `- ${item}`))];
}

/** A collapsed section; none when it would be empty (a summary of "0 ..." is not shown). */
function details(summary: string, body: readonly string[], raw = false): string[] {
    if (body.length === 0) {
        return [];
    }
    return [`<details><summary>${raw ? summary : escapeHtml(summary)}</summary>`, "", ...body, "", "</details>"];
}

/** Lines in a fenced block, longer than any run of backticks inside; at most MAX_LINES_PER_RESOURCE. */
function fenced(lines: readonly string[]): string[] {
    if (lines.length === 0) {
        return [];
    }
    const shown = lines.slice(0, MAX_LINES_PER_RESOURCE).map((line) =>
        (line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)}… (${line.length - MAX_LINE_CHARS} more characters: diff.json)` : line));
    const more = lines.length - shown.length;
    const longest = Math.max(2, ...shown.map((line) => Math.max(0, ...(line.match(/`+/g) ?? []).map((run) => run.length))));
    const fence = "`".repeat(longest + 1);
    return [`${fence}text`, ...shown, fence, ...(more > 0 ? [`and ${more} more (diff.json)`] : [])];
}

/** Inline code that no backtick inside can end early. */
function code(text: string): string {
    const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
    const ticks = "`".repeat(longest + 1);
    return longest > 0 ? `${ticks} ${text} ${ticks}` : `${ticks}${text}${ticks}`;
}

/** `$` escaped outside code: GitHub reads `$...$` as math. */
function dollars(text: string): string {
    return text.replace(/\$/g, "\\$");
}

function escapeHtml(text: string): string {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function count(n: number, noun: string): string {
    return `${n} ${noun}${n === 1 ? "" : "s"}`;
}
