/**
 * A real Prometheus over a backfilled block: `promtool tsdb create-blocks-from openmetrics`
 * writes the samples of a whole load profile into TSDB blocks, a `prometheus` process serves
 * them, and queries run at any past instant through /api/v1/query's `time=` parameter. No
 * scraping and no waiting on wall time: the samples carry their own timestamps.
 *
 * - Debian's prometheus 2.42 package (`apt-get install prometheus`): its promtool takes
 *   `create-blocks-from openmetrics <input file> [<output directory>]`; the block duration is
 *   2 h unless the hidden --max-block-duration asks for more (prometheus/prometheus v2.42.0
 *   cmd/promtool/main.go, and cmd/promtool/backfill.go createBlocks: getCompatibleBlockDuration,
 *   the input cut at multiples of it since the epoch). Each block's own range is its samples'
 *   [min, max + 1) (tsdb/blockwriter.go Flush), so a profile that crosses a 2 h boundary simply
 *   becomes two blocks, which Prometheus serves side by side.
 * - The input is OpenMetrics text: a `# TYPE` line per family, samples with timestamps in
 *   seconds, `# EOF` at the end (model/textparse/openmetricsparse.go). Each series' samples
 *   must be in time order (the block writer's head appender rejects an older sample of a series
 *   as out of order), so a series is written whole before the next.
 * - Prometheus opens every block in --storage.tsdb.path at start. Its time retention compares
 *   blocks with the newest block, not with the wall clock (tsdb/db.go BeyondTimeRetention), and
 *   the replay's blocks are all there is, so samples from any past date stay queryable; a long
 *   retention is set anyway. With no scrape configs the head stays empty and never overlaps them.
 * - A backfill writes no staleness markers (a text NaN is an ordinary NaN, not the marker), so a
 *   series that stops would stay visible for the default 5 min lookback. The replay sets
 *   --query.lookback-delta just under the scrape interval instead: an instant query at t reads
 *   the newest sample in [t - lookback, t] (promql/engine.go vectorSelectorSingle), so a series
 *   scraped at every interval is always seen and one that stopped is gone at the next scrape's
 *   instant, as a staleness marker would make it.
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";

export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? "/usr/bin/prometheus";
export const PROMTOOL_BIN = process.env.PROMTOOL_BIN ?? "/usr/bin/promtool";

/** A sample of one series: time in seconds since the epoch. */
export interface Sample { readonly at: number; readonly value: number }

export interface BackfillSeries {
    readonly metric: string;
    readonly labels: Readonly<Record<string, string>>;
    readonly kind: "counter" | "gauge";
    readonly samples: readonly Sample[];
}

function escapeLabel(value: string): string {
    return value.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n");
}

/**
 * OpenMetrics text for the series. A counter's family is its name without `_total`, as
 * OpenMetrics names it; a counter not named `..._total` is written as `unknown` (PromQL's rate()
 * does not look at the type).
 */
export function openMetrics(series: readonly BackfillSeries[]): string {
    const lines: string[] = [];
    const declared = new Set<string>();
    for (const one of series) {
        const counter = one.kind === "counter" && one.metric.endsWith("_total");
        const family = counter ? one.metric.slice(0, -"_total".length) : one.metric;
        if (!declared.has(family)) {
            declared.add(family);
            lines.push(`# TYPE ${family} ${counter ? "counter" : one.kind === "gauge" ? "gauge" : "unknown"}`);
        }
        const labels = Object.entries(one.labels).map(([key, value]) => `${key}="${escapeLabel(value)}"`).join(",");
        for (const sample of [...one.samples].sort((a, b) => a.at - b.at)) {
            lines.push(`${one.metric}{${labels}} ${sample.value} ${sample.at.toFixed(3)}`);
        }
    }
    lines.push("# EOF", "");
    return lines.join("\n");
}

/** A one-line reason the replay cannot run here, or undefined. */
export function missingBinaries(): string | undefined {
    const missing = [PROMETHEUS_BIN, PROMTOOL_BIN].filter((file) => !fs.existsSync(file));
    return missing.length === 0 ? undefined
        : `the replay needs ${missing.join(" and ")} (apt-get install prometheus, or set PROMETHEUS_BIN / PROMTOOL_BIN)`;
}

/** Writes the series into TSDB blocks under `dataDir` with promtool. */
export function backfill(series: readonly BackfillSeries[], dataDir: string): void {
    fs.mkdirSync(dataDir, { recursive: true });
    const input = path.join(path.dirname(dataDir), `${path.basename(dataDir)}.om.txt`);
    fs.writeFileSync(input, openMetrics(series));
    const result = spawnSync(PROMTOOL_BIN, ["tsdb", "create-blocks-from", "openmetrics", "--quiet", input, dataDir], { encoding: "utf8" });
    if (result.status !== 0) {
        throw new Error(`promtool tsdb create-blocks-from openmetrics failed (${result.status}): ${(result.stderr || result.stdout).trim().split("\n").slice(-3).join(" ")}`);
    }
}

/** A TCP port free on 127.0.0.1 at the time of asking. */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

/** What KEDA's Prometheus scaler reads: one value, or an error (which the replay keeps as text). */
export type QueryResult = { readonly value: number } | { readonly error: string };

export class PrometheusServer {
    private constructor(private readonly process: ChildProcess, readonly url: string, private readonly output: () => string) {}

    /** Starts prometheus over the blocks in `dataDir` and waits until it answers /-/ready; `lookbackSeconds`: see above. */
    static async start(dataDir: string, options: { lookbackSeconds?: number } = {}): Promise<PrometheusServer> {
        const config = path.join(path.dirname(dataDir), "prometheus.yml");
        fs.writeFileSync(config, "global: { evaluation_interval: 1h }\nscrape_configs: []\n");
        const port = await freePort();
        const child = spawn(PROMETHEUS_BIN, [
            `--config.file=${config}`,
            `--storage.tsdb.path=${dataDir}`,
            "--storage.tsdb.retention.time=100y",
            `--web.listen-address=127.0.0.1:${port}`,
            "--log.level=warn",
            ...(options.lookbackSeconds === undefined ? [] : [`--query.lookback-delta=${Math.round(options.lookbackSeconds * 1000)}ms`]),
        ], { stdio: ["ignore", "pipe", "pipe"] });
        let output = "";
        child.stdout?.on("data", (chunk) => { output += String(chunk); });
        child.stderr?.on("data", (chunk) => { output += String(chunk); });
        const server = new PrometheusServer(child, `http://127.0.0.1:${port}`, () => output);
        const exited = new Promise<never>((_, reject) => child.once("exit", (code) => reject(new Error(`prometheus exited (${code}): ${output.slice(-1000)}`))));
        exited.catch(() => undefined);
        const deadline = Date.now() + 30_000;
        for (;;) {
            const ready = await Promise.race([exited, fetch(`${server.url}/-/ready`).then((response) => response.ok, () => false)]);
            if (ready) {
                return server;
            }
            if (Date.now() > deadline) {
                await server.stop();
                throw new Error(`prometheus did not become ready in 30 s: ${output.slice(-1000)}`);
            }
            await new Promise((resolve) => setTimeout(resolve, 100));
        }
    }

    /**
     * The query at `time` (seconds), read as KEDA's Prometheus scaler reads it with
     * ignoreNullValues false (kedacore/keda v2.20.2 pkg/scalers/prometheus_scaler.go, ExecutePromQuery):
     * an empty result, several series, or NaN/Inf are errors; otherwise the one sample's value.
     */
    async query(query: string, time: number): Promise<QueryResult> {
        const response = await fetch(`${this.url}/api/v1/query?${new URLSearchParams({ query, time: time.toFixed(3) })}`);
        const body = await response.json() as { status: string; error?: string; data?: { resultType: string; result: { value: [number, string] }[] } };
        if (body.status !== "success" || !body.data) {
            throw new Error(`prometheus rejected the query ${query}: ${body.error ?? response.status}`);
        }
        const { result } = body.data;
        if (result.length === 0) {
            return { error: "prometheus metrics 'prometheus' target may be lost, the result is empty" };
        }
        if (result.length > 1) {
            return { error: `prometheus query ${query} returned multiple elements` };
        }
        const value = Number(result[0].value[1]);
        return Number.isFinite(value) ? { value } : { error: `prometheus query returns ${value}` };
    }

    async stop(): Promise<void> {
        if (this.process.exitCode !== null || this.process.signalCode !== null) {
            return;
        }
        const stopped = new Promise((resolve) => this.process.once("exit", resolve));
        this.process.kill("SIGTERM");
        const timer = setTimeout(() => this.process.kill("SIGKILL"), 5000);
        await stopped;
        clearTimeout(timer);
    }

    /** What prometheus printed (warnings and errors), for failure messages. */
    log(): string {
        return this.output();
    }
}
