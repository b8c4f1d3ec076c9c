/**
 * A real Prometheus whose samples are backfilled step by step, for series whose value depends on
 * what the autoscaler decided before (the engine's queue follows the Ready replicas; the
 * Deployment's replicas follow the decisions).
 *
 * Each scrape's samples are known only once the replay has reached that instant. Prometheus
 * 2.42 opens new blocks only when it starts, after a compaction, after cleaning tombstones, or
 * once a minute (prometheus/prometheus v2.42.0 tsdb/db.go: DB.run calls reloadBlocks every
 * `time.After(1 * time.Minute)`; compactHead, compactBlocks and CleanTombstones call it after
 * their own writes), so a block written for each step would wait up to a minute to be seen.
 * Instead the replay speculates and restarts Prometheus (about 0.35 s) only when the
 * speculation was wrong:
 * - a rebuild writes the samples recorded since the last rebuild into a new block (kept), and the
 *   samples the rest of the replay would scrape if nothing were decided any more (pods already
 *   created still become Ready when due) into a speculative block, which the next rebuild deletes;
 * - every scrape the replay records is compared with what Prometheus serves for that instant; the
 *   first difference (a decision changed the replicas) marks the data stale, and the next query
 *   rebuilds first. A replay restarts Prometheus about once per decision that changes a series.
 * The kept blocks never overlap in time: each holds the samples after the previous one's last
 * (promtool makes a block's range its samples' own [min, max + 1): v2.42.0 tsdb/blockwriter.go
 * Flush). Overlapping blocks would be served too (2.42 always allows them: tsdb/db.go
 * DefaultOptions AllowOverlappingCompaction true; vertical merging since 2.39) but two blocks
 * holding one instant twice give no defined value, which the speculative block would otherwise do.
 */
import * as fs from "fs";
import * as path from "path";
import { BackfillSeries, PrometheusServer, QueryResult, backfill } from "./prometheus";

/** A series the replay may write (its samples come from the scrapes). */
export type SeriesIdentity = Omit<BackfillSeries, "samples">;

/** One scrape: the value of each series present at `at` (seconds since the epoch); absent series are not listed. */
export interface Scrape {
    readonly at: number;
    readonly values: ReadonlyMap<string, number>;
}

export function seriesKey(series: SeriesIdentity): string {
    return JSON.stringify([series.metric, series.labels]);
}

function sameValues(a: ReadonlyMap<string, number> | undefined, b: ReadonlyMap<string, number>): boolean {
    return a !== undefined && a.size === b.size && [...b].every(([key, value]) => a.get(key) === value);
}

export interface SteppedStats {
    /** Prometheus (re)starts: one per rebuild. */
    readonly rebuilds: number;
    readonly queries: number;
}

export class SteppedPrometheus {
    private server: PrometheusServer | undefined;
    private readonly dataDir: string;
    private readonly recorded: Scrape[] = [];
    /** What the running Prometheus serves, per scrape instant. */
    private served = new Map<number, ReadonlyMap<string, number>>();
    private committedCount = 0;
    private speculativeBlocks: string[] = [];
    private stale = true;
    private rebuilding: Promise<void> | undefined;
    private blockSerial = 0;
    private rebuilds = 0;
    private queries = 0;

    /**
     * `lookbackSeconds`: Prometheus' --query.lookback-delta (see PrometheusServer.start).
     * `speculate()`: the scrapes after the last recorded one if nothing were decided any more.
     */
    constructor(
        private readonly workDir: string, private readonly series: readonly SeriesIdentity[],
        private readonly lookbackSeconds: number, private readonly speculate: () => Scrape[],
    ) {
        this.dataDir = path.join(workDir, "data");
        fs.mkdirSync(this.dataDir, { recursive: true });
    }

    /** The replay scraped `scrape`: kept, and compared with what Prometheus serves for that instant. */
    record(scrape: Scrape): void {
        this.recorded.push(scrape);
        if (!sameValues(this.served.get(scrape.at), scrape.values)) {
            this.stale = true;
        }
    }

    async query(query: string, time: number): Promise<QueryResult> {
        if (this.stale) {
            // Queries of one instant run together: the first starts the rebuild, the others wait for it.
            this.rebuilding ??= this.rebuild().finally(() => { this.rebuilding = undefined; });
        }
        await this.rebuilding;
        this.queries += 1;
        return this.server!.query(query, time);
    }

    stats(): SteppedStats {
        return { rebuilds: this.rebuilds, queries: this.queries };
    }

    async stop(): Promise<void> {
        await this.server?.stop();
        this.server = undefined;
    }

    private async rebuild(): Promise<void> {
        this.stale = false;
        await this.stop();
        const committed = this.recorded.slice(this.committedCount);
        this.committedCount = this.recorded.length;
        this.writeBlocks(committed);
        this.speculativeBlocks.forEach((block) => fs.rmSync(path.join(this.dataDir, block), { recursive: true, force: true }));
        const speculation = this.speculate();
        this.speculativeBlocks = this.writeBlocks(speculation);
        this.served = new Map([...this.recorded, ...speculation].map((scrape) => [scrape.at, scrape.values]));
        this.server = await PrometheusServer.start(this.dataDir, { lookbackSeconds: this.lookbackSeconds });
        this.rebuilds += 1;
    }

    /** Writes the scrapes' samples with promtool into new blocks under the data directory; returns their directory names. */
    private writeBlocks(scrapes: readonly Scrape[]): string[] {
        const series: BackfillSeries[] = this.series.map((one) => ({
            ...one,
            samples: scrapes.flatMap((scrape) => {
                const value = scrape.values.get(seriesKey(one));
                return value === undefined ? [] : [{ at: scrape.at, value }];
            }),
        })).filter((one) => one.samples.length > 0);
        if (series.length === 0) {
            return [];
        }
        this.blockSerial += 1;
        const staging = path.join(this.workDir, `blocks-${this.blockSerial}`);
        backfill(series, staging);
        const blocks = fs.readdirSync(staging).filter((name) => /^[0-9A-Z]{26}$/.test(name));
        blocks.forEach((block) => fs.renameSync(path.join(staging, block), path.join(this.dataDir, block)));
        fs.rmSync(staging, { recursive: true, force: true });
        return blocks;
    }
}
