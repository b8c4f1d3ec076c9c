/**
 * The replay's figures: for each load step, how long until the autoscaler decided to scale in
 * the step's direction and until the pods it asked for were Ready.
 */
import { stepStarts } from "./profile";
import type { ReplayResult, ScaleDecision } from "./simulate";

export interface StepFigure {
    readonly at: number;
    readonly from: number;
    readonly rps: number;
    /** The decision attributed to the step (the first in its direction, not already attributed), if any. */
    readonly decision?: ScaleDecision;
    /** Seconds from the step to that decision, and to its pods being Ready. */
    readonly toDecision?: number;
    readonly toReady?: number;
}

export function stepFigures(result: ReplayResult): StepFigure[] {
    const starts = stepStarts(result.profile);
    const used = new Set<ScaleDecision>();
    return result.profile.map((step, index) => {
        // The first step is where the replay starts, not a change of load.
        const from = index === 0 ? step.rps : result.profile[index - 1].rps;
        const direction = Math.sign(step.rps - from);
        const decision = direction === 0 ? undefined : result.decisions.find((candidate) =>
            !used.has(candidate) && candidate.at >= starts[index] && Math.sign(candidate.to - candidate.from) === direction);
        if (decision) {
            used.add(decision);
        }
        return {
            at: starts[index], from, rps: step.rps, decision,
            toDecision: decision ? decision.at - starts[index] : undefined,
            toReady: decision?.readyAt === undefined ? undefined : decision.readyAt - starts[index],
        };
    });
}

function seconds(value: number | undefined): string {
    return value === undefined ? "-" : `${value} s`;
}

/** The figures as text, one line per load step, then the decisions. */
export function figuresText(result: ReplayResult): string {
    const { timing } = result;
    const lines = [
        `scaling replay of ${result.model}: ${result.profile.map((step) => `${step.rps} req/s x ${step.seconds} s`).join(", ")}`,
        `  scrape every ${timing.scrapeIntervalSeconds} s, HPA sync every ${timing.hpaSyncSeconds} s, pod start ${timing.podStartSeconds} s`,
        "  step                      decision        to decision  to Ready",
        ...stepFigures(result).map((figure) => {
            const change = figure.at === 0 ? `start at ${figure.rps}` : `${figure.from} -> ${figure.rps}`;
            const step = `${String(figure.at).padStart(4)} s  ${change} req/s`;
            const decision = figure.decision ? `${figure.decision.from} -> ${figure.decision.to} at ${figure.decision.at} s` : "none";
            return `  ${step.padEnd(26)}${decision.padEnd(16)}${seconds(figure.toDecision).padStart(11)}  ${seconds(figure.toReady).padStart(8)}`;
        }),
        `  decisions: ${result.decisions.map((d) => `${d.at} s ${d.from}->${d.to} (${d.by})`).join(", ") || "none"}`,
    ];
    return lines.join("\n");
}
