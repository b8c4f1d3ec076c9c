import { z } from "zod";
import { count, quantity } from "./fields";
import type { CrossFieldProblem } from "./models";
import { isRecord } from "./project";

/**
 * A Prometheus duration (prometheus/common model.ParseDuration): units y, w, d, h, m, s, ms,
 * largest first, each at most once, like 15s, 1h30m or 15d. Loki reads the same format.
 */
const DURATION = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;
const UNIT_SECONDS = [365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001];

/** A duration's length in seconds, or undefined when it is not a Prometheus duration. */
export function durationSeconds(value: string): number | undefined {
    const match = DURATION.exec(value);
    if (!match || value === "") {
        return undefined;
    }
    return match.slice(1).reduce((total, part, i) => total + (part ? Number(part) * UNIT_SECONDS[i] : 0), 0);
}

const duration = z.string().refine((value) => durationSeconds(value) !== undefined, "is not a Prometheus duration (like 15s, 5m, 15d)");

/** Scrapes feed KEDA's scaling queries: a slow scrape makes the autoscaler act on stale load. */
export const MAX_SCRAPE_INTERVAL_SECONDS = 30;

const storage = { storageSize: quantity, storageClass: z.string() };

export const observabilitySchema = z.strictObject({
    scrapeInterval: duration.refine((value) => (durationSeconds(value) ?? 0) > 0 && (durationSeconds(value) ?? 0) <= MAX_SCRAPE_INTERVAL_SECONDS,
        `must be between 1s and ${MAX_SCRAPE_INTERVAL_SECONDS}s: the autoscaler reads these series`),
    prometheus: z.strictObject({
        retention: duration,
        retentionSize: z.string().regex(/^(0|([0-9]*[.])?[0-9]+((K|M|G|T|E|P)i?)?B)?$/, "is not a byte size (like 40GB or 40GiB) or empty"),
        ...storage,
    }),
    loki: z.strictObject({
        // filesystem: chunks and index on the PVC; s3 (target aws): in an S3 bucket the stack
        // creates, reached through EKS Pod Identity (components/loki-object-store.ts). The PVC
        // (storageSize, storageClass) stays in both: it holds Loki's WAL and index cache.
        storage: z.enum(["filesystem", "s3"]),
        retention: duration,
        ...storage,
    }),
    grafana: z.strictObject({ adminUser: z.string().min(1) }),
    alerts: z.strictObject({
        ttftP95Seconds: z.number().gt(0),
        queueBacklog: z.number().gt(0),
        queueBacklogMinutes: count(1),
        noReadyReplicasMinutes: count(1),
        gpuMemoryFullRatio: z.number().gt(0).max(1),
    }),
});

export type ObservabilityConfig = z.output<typeof observabilitySchema>;

/**
 * Checks of `observability` against the rest of the stack, on the raw (merged) values.
 * Paths start at the top-level key.
 */
export function observabilityProblems(observability: unknown, target: unknown): CrossFieldProblem[] {
    const loki = isRecord(observability) && isRecord(observability.loki) ? observability.loki : {};
    if (loki.storage === "s3" && target !== "aws") {
        return [{
            path: ["observability", "loki", "storage"],
            input: loki.storage,
            message: `needs target aws (an S3 bucket and a Pod Identity role); use filesystem on target ${String(target)}`,
        }];
    }
    return [];
}
