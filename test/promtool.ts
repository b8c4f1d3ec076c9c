/**
 * Debian's `promtool` (the prometheus package, as .ci/run installs it) for the suites that check
 * PromQL and alert rules with it, and the expected alerts of `promtool test rules`.
 */
import { spawnSync } from "child_process";
import type { AlertRule } from "../components/observability/alert-rules";

/** Fails a suite's `before` with what to install when promtool is missing. */
export function requirePromtool(): void {
    const found = spawnSync("promtool", ["--version"], { encoding: "utf8" });
    if (found.error || found.status !== 0) {
        throw new Error("promtool is not installed: install Debian's prometheus package (apt-get install prometheus), as .ci/run does");
    }
}

export function promtool(args: string[], cwd: string): { status: number | null; output: string } {
    const result = spawnSync("promtool", args, { cwd, encoding: "utf8", timeout: 60_000 });
    return { status: result.status, output: `${result.stdout ?? ""}${result.stderr ?? ""}` };
}

/** `{{ $labels.x }}` rendered as Prometheus renders alert annotations. */
function render(template: string, labels: Record<string, string>): string {
    return template.replace(/\{\{\s*\$labels\.(\w+)\s*\}\}/g, (_, name: string) => labels[name] ?? "");
}

/** One alert of `rule` with `labels` as promtool's exp_alerts entry: its labels and rendered annotations. */
export function expectedAlert(rule: AlertRule, labels: Record<string, string>) {
    const all = { ...labels, ...rule.labels };
    return { exp_labels: all, exp_annotations: { summary: render(rule.annotations.summary, all), description: render(rule.annotations.description, all) } };
}
