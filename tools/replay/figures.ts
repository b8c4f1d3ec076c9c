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
            toDecision: decision ? round(decision.at - starts[index]) : undefined,
            toReady: decision?.readyAt === undefined ? undefined : round(decision.readyAt - starts[index]),
        };
    });
}

export interface WakeFigure {
    /** The first request (the first step with load). */
    readonly firstRequestAt: number;
    /** The decision from 0 (KEDA's poll or the add-on's push) and when its pod was Ready. */
    readonly decision?: ScaleDecision;
    /** Seconds from the first request to the decision, and to 1 Ready replica. */
    readonly toDecision?: number;
    readonly toReady?: number;
    /** The return to 0, if any, after the wake. */
    readonly toZero?: ScaleDecision;
}

/** For a replay that starts at 0 replicas: how long the first request waited for a replica. */
export function wakeFigure(result: ReplayResult): WakeFigure | undefined {
    const starts = stepStarts(result.profile);
    const first = result.profile.findIndex((step) => step.rps > 0);
    if (first < 0 || result.points.length === 0 || result.readyReplicas(0) > 0 || (result.decisions[0] !== undefined && result.decisions[0].from !== 0)) {
        return undefined;
    }
    const firstRequestAt = starts[first];
    const decision = result.decisions.find((candidate) => candidate.from === 0 && candidate.to > 0);
    const toZero = decision && result.decisions.find((candidate) => candidate.at > decision.at && candidate.to === 0);
    return {
        firstRequestAt, decision, toZero,
        toDecision: decision ? round(decision.at - firstRequestAt) : undefined,
        toReady: decision?.readyAt === undefined ? undefined : round(decision.readyAt - firstRequestAt),
    };
}

function round(value: number): number {
    return Math.round(value * 1000) / 1000;
}

function seconds(value: number | undefined): string {
    return value === undefined ? "-" : `${value} s`;
}

/** The figures as text, one line per load step, then the decisions. */
export function figuresText(result: ReplayResult): string {
    const { timing } = result;
    const lines = [
        `scaling replay of ${result.model}: ${result.profile.map((step) => `${step.rps} req/s x ${step.seconds} s`).join(", ")}`,
        `  scrape every ${timing.scrapeIntervalSeconds} s, HPA sync every ${timing.hpaSyncSeconds} s, pod start ${timing.podStartSeconds} s, mean request ${timing.requestSeconds} s`,
        "  step                      decision        to decision  to Ready",
        ...stepFigures(result).map((figure) => {
            const change = figure.at === 0 ? `start at ${figure.rps}` : `${figure.from} -> ${figure.rps}`;
            const step = `${String(figure.at).padStart(4)} s  ${change} req/s`;
            const decision = figure.decision ? `${figure.decision.from} -> ${figure.decision.to} at ${figure.decision.at} s` : "none";
            return `  ${step.padEnd(26)}${decision.padEnd(16)}${seconds(figure.toDecision).padStart(11)}  ${seconds(figure.toReady).padStart(8)}`;
        }),
        `  decisions: ${result.decisions.map((d) => `${d.at} s ${d.from}->${d.to} (${d.by})`).join(", ") || "none"}`,
        ...wakeLines(result),
        `  prometheus: ${result.prometheus.rebuilds} start(s) over step-by-step blocks, ${result.prometheus.queries} queries`,
    ];
    return lines.join("\n");
}

function wakeLines(result: ReplayResult): string[] {
    const wake = wakeFigure(result);
    if (!wake) {
        return [];
    }
    const by = wake.decision ? ` by ${wake.decision.by === "push" ? "the HTTP add-on's push" : wake.decision.by === "keda" ? "KEDA's poll" : "the HPA"}` : "";
    return [
        `  wake from 0: first request at ${wake.firstRequestAt} s, 0 -> 1${by} ${seconds(wake.toDecision)} later, 1 Ready ${seconds(wake.toReady)} after the first request`,
        ...(wake.toZero ? [`  back to 0 at ${wake.toZero.at} s (${wake.toZero.by})`] : []),
    ];
}
