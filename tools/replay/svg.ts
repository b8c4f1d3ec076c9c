/**
 * The replay as a picture, plain SVG: load (req/s) on top, desired and Ready replicas below, on
 * one time axis, with the load steps marked and the replica bounds drawn.
 */
import { loadAt } from "./profile";
import type { ReplayResult } from "./simulate";

const WIDTH = 900;
const LEFT = 60;
const RIGHT = 20;
const PANEL = { load: { top: 50, height: 130 }, replicas: { top: 230, height: 150 } };
const HEIGHT = 440;
const COLORS = { load: "#1f77b4", desired: "#d62728", ready: "#2ca02c", grid: "#dddddd", axis: "#333333" };

function escape(text: string): string {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** A step line through (t, value) points, held until the next point. */
function stepPath(points: readonly [number, number][], x: (t: number) => number, y: (v: number) => number): string {
    return points.map(([t, value], index) => {
        const previous = points[index - 1];
        const hold = previous ? `L${x(t).toFixed(1)},${y(previous[1]).toFixed(1)} ` : "";
        return `${index === 0 ? "M" : hold + "L"}${x(t).toFixed(1)},${y(value).toFixed(1)}`;
    }).join(" ");
}

function niceStep(max: number, ticks: number): number {
    const raw = max / ticks;
    const power = 10 ** Math.floor(Math.log10(raw));
    return [1, 2, 5, 10].map((m) => m * power).find((step) => step >= raw) ?? raw;
}

export function replaySvg(result: ReplayResult, bounds: { min: number; max: number }): string {
    const seconds = result.seconds;
    const x = (t: number) => LEFT + (t / seconds) * (WIDTH - LEFT - RIGHT);
    const maxLoad = Math.max(1, ...result.profile.map((step) => step.rps)) * 1.15;
    const yLoad = (v: number) => PANEL.load.top + PANEL.load.height * (1 - v / maxLoad);
    const maxReplicas = bounds.max + 1;
    const yRep = (v: number) => PANEL.replicas.top + PANEL.replicas.height * (1 - v / maxReplicas);
    const parts: string[] = [];
    const text = (px: number, py: number, body: string, extra = "") =>
        parts.push(`<text x="${px.toFixed(1)}" y="${py.toFixed(1)}" ${extra}>${escape(body)}</text>`);

    // Time axis: ticks every minute (or more), shared by both panels.
    const tick = niceStep(seconds, 12) < 60 ? 60 : Math.ceil(niceStep(seconds, 12) / 60) * 60;
    for (let t = 0; t <= seconds; t += tick) {
        parts.push(`<line x1="${x(t)}" x2="${x(t)}" y1="${PANEL.load.top}" y2="${PANEL.replicas.top + PANEL.replicas.height}" stroke="${COLORS.grid}"/>`);
        text(x(t), PANEL.replicas.top + PANEL.replicas.height + 16, `${t / 60}`, 'text-anchor="middle"');
    }
    text((LEFT + WIDTH - RIGHT) / 2, HEIGHT - 12, "minutes since the profile started", 'text-anchor="middle"');

    // Load panel.
    const loadTick = niceStep(maxLoad, 4);
    for (let v = 0; v <= maxLoad; v += loadTick) {
        parts.push(`<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${yLoad(v)}" y2="${yLoad(v)}" stroke="${COLORS.grid}"/>`);
        text(LEFT - 6, yLoad(v) + 4, `${v}`, 'text-anchor="end"');
    }
    text(16, PANEL.load.top + PANEL.load.height / 2, "load (req/s)", `text-anchor="middle" transform="rotate(-90 16 ${PANEL.load.top + PANEL.load.height / 2})"`);
    const loadPoints: [number, number][] = [];
    let at = 0;
    for (const step of result.profile) {
        loadPoints.push([at, step.rps]);
        at += step.seconds;
    }
    loadPoints.push([seconds, loadAt(result.profile, seconds)]);
    parts.push(`<path d="${stepPath(loadPoints, x, yLoad)}" fill="none" stroke="${COLORS.load}" stroke-width="2.5"/>`);
    for (const [t, v] of loadPoints.slice(0, -1)) {
        text(x(t) + 3, yLoad(v) - 5, `${v}`, `fill="${COLORS.load}" font-size="11"`);
    }

    // Replicas panel.
    for (let v = 0; v <= maxReplicas; v += 1) {
        parts.push(`<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${yRep(v)}" y2="${yRep(v)}" stroke="${COLORS.grid}"/>`);
        text(LEFT - 6, yRep(v) + 4, `${v}`, 'text-anchor="end"');
    }
    text(16, PANEL.replicas.top + PANEL.replicas.height / 2, "replicas", `text-anchor="middle" transform="rotate(-90 16 ${PANEL.replicas.top + PANEL.replicas.height / 2})"`);
    for (const [label, v] of [["max", bounds.max], ["min", bounds.min]] as const) {
        parts.push(`<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${yRep(v)}" y2="${yRep(v)}" stroke="${COLORS.axis}" stroke-dasharray="2,4"/>`);
        text(WIDTH - RIGHT - 4, yRep(v) - 4, `${label} ${v}`, 'text-anchor="end" font-size="11"');
    }
    const perSecond = (value: (t: number) => number): [number, number][] => {
        const points: [number, number][] = [];
        for (let t = 0; t <= seconds; t += 1) {
            const v = value(t);
            if (points.length === 0 || points[points.length - 1][1] !== v || t === seconds) {
                points.push([t, v]);
            }
        }
        return points;
    };
    const initial = result.decisions[0]?.from ?? result.points[0]?.desired ?? bounds.min;
    const desired = (t: number) => result.decisions.filter((decision) => decision.at <= t).pop()?.to ?? initial;
    parts.push(`<path d="${stepPath(perSecond(result.readyReplicas), x, yRep)}" fill="none" stroke="${COLORS.ready}" stroke-width="4" opacity="0.8"/>`);
    parts.push(`<path d="${stepPath(perSecond(desired), x, yRep)}" fill="none" stroke="${COLORS.desired}" stroke-width="2" stroke-dasharray="6,3"/>`);

    // Axes frames.
    for (const panel of Object.values(PANEL)) {
        parts.push(`<rect x="${LEFT}" y="${panel.top}" width="${WIDTH - LEFT - RIGHT}" height="${panel.height}" fill="none" stroke="${COLORS.axis}"/>`);
    }

    // Title and legend.
    const { timing } = result;
    text(LEFT, 22, `Scaling replay: ${result.model}`, 'font-size="16" font-weight="bold"');
    text(LEFT, 40, `scrape ${timing.scrapeIntervalSeconds} s, HPA sync ${timing.hpaSyncSeconds} s, pod start ${timing.podStartSeconds} s, mean request ${timing.requestSeconds} s; queries run against a real Prometheus`, 'font-size="11"');
    const legend: [string, string, string][] = [["load", COLORS.load, ""], ["desired replicas", COLORS.desired, 'stroke-dasharray="6,3"'], ["Ready replicas", COLORS.ready, ""]];
    legend.forEach(([label, color, dash], index) => {
        const lx = LEFT + index * 170;
        const ly = PANEL.load.top + PANEL.load.height + 28;
        parts.push(`<line x1="${lx}" x2="${lx + 28}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="${label === "Ready replicas" ? 4 : 2.5}" ${dash}/>`);
        text(lx + 34, ly + 4, label);
    });

    return [
        `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
        `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
        ...parts,
        "</svg>",
        "",
    ].join("\n");
}
