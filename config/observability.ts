import * as z from "zod";
import { parseQuantity } from "../lib/quantity";
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

/** A container's cpu and memory requests and limits (the laptop and the cluster size them differently). */
const resources = z.strictObject({ cpu: quantity, memory: quantity, cpuLimit: quantity, memoryLimit: quantity });

export type ContainerResources = z.output<typeof resources>;

/**
 * The Kubernetes a `local` stack runs on (the top-level key `clusterFlavour`), which decides what
 * of the control plane Prometheus can scrape (components/observability/control-plane.ts); `aws`
 * stacks run on EKS, whatever it says. `generic` keeps kube-prometheus-stack's defaults: a cluster
 * whose control-plane components run as pods that listen where Prometheus reaches them.
 */
export const LOCAL_FLAVOURS = ["generic", "k3s", "kind", "minikube"] as const;

export type ClusterFlavour = typeof LOCAL_FLAVOURS[number] | "eks";

export const clusterFlavourSchema = z.enum(LOCAL_FLAVOURS);

export const observabilitySchema = z.strictObject({
    scrapeInterval: duration.refine((value) => (durationSeconds(value) ?? 0) > 0 && (durationSeconds(value) ?? 0) <= MAX_SCRAPE_INTERVAL_SECONDS,
        `must be between 1s and ${MAX_SCRAPE_INTERVAL_SECONDS}s: the autoscaler reads these series`),
    prometheus: z.strictObject({
        retention: duration,
        retentionSize: z.string().regex(/^(0|([0-9]*[.])?[0-9]+((K|M|G|T|E|P)i?)?B)?$/, "is not a byte size (like 40GB or 40GiB) or empty"),
        ...storage,
        resources,
    }),
    loki: z.strictObject({
        // filesystem: chunks and index on the PVC; s3 (target aws): in an S3 bucket the stack
        // creates, reached through EKS Pod Identity (components/cluster/loki-object-store.ts). The PVC
        // (storageSize, storageClass) stays in both: it holds Loki's WAL and index cache.
        storage: z.enum(["filesystem", "s3"]),
        retention: duration,
        ...storage,
        resources,
    }),
    grafana: z.strictObject({ adminUser: z.string().min(1), resources }),
    alloy: z.strictObject({ resources }),
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
    const problems: CrossFieldProblem[] = [];
    const loki = isRecord(observability) && isRecord(observability.loki) ? observability.loki : {};
    if (loki.storage === "s3" && target !== "aws") {
        problems.push({
            path: ["observability", "loki", "storage"],
            input: loki.storage,
            message: `needs target aws (an S3 bucket and a Pod Identity role); use filesystem on target ${String(target)}`,
        });
    }
    const prometheus = isRecord(observability) && isRecord(observability.prometheus) ? observability.prometheus : {};
    const cap = typeof prometheus.retentionSize === "string" ? prometheusBytes(prometheus.retentionSize) : undefined;
    const claim = parseQuantity(prometheus.storageSize);
    if (cap !== undefined && cap > 0 && claim !== undefined && cap >= claim) {
        problems.push({
            path: ["observability", "prometheus", "retentionSize"],
            input: prometheus.retentionSize,
            message: `is not below prometheus.storageSize (${String(prometheus.storageSize)}): the volume fills before the oldest blocks are deleted`,
        });
    }
    for (const [path, resources] of resourceBlocks(observability)) {
        for (const [request, limit] of [["cpu", "cpuLimit"], ["memory", "memoryLimit"]] as const) {
            const [wanted, most] = [resources[request], resources[limit]].map(parseQuantity);
            if (wanted !== undefined && most !== undefined && wanted > most) {
                problems.push({ path: ["observability", ...path, "resources", request], input: resources[request], message: `is more than resources.${limit} (${String(resources[limit])})` });
            }
        }
    }
    return problems;
}

function resourceBlocks(observability: unknown): [string[], Record<string, unknown>][] {
    if (!isRecord(observability)) {
        return [];
    }
    return ["prometheus", "loki", "grafana", "alloy"].flatMap((key): [string[], Record<string, unknown>][] => {
        const block = observability[key];
        return isRecord(block) && isRecord(block.resources) ? [[[key], block.resources]] : [];
    });
}

/**
 * `retentionSize` in bytes, as Prometheus reads `--storage.tsdb.retention.size` (prometheus
 * cmd/prometheus/main.go: "supported units: B, KB, MB, GB, TB, PB, EB ... Based on powers-of-2, so
 * 1KB is 1024B"); the operator's pattern also admits KiB, MiB, GiB, read here as the same powers.
 */
export function prometheusBytes(size: string): number | undefined {
    const match = /^(([0-9]*[.])?[0-9]+)(([KMGTPE])i?)?B$/.exec(size);
    if (!match) {
        return size === "0" ? 0 : undefined;
    }
    const power = match[4] ? "KMGTPE".indexOf(match[4]) + 1 : 0;
    return Number(match[1]) * 1024 ** power;
}

/**
 * `clusterFlavour` against the target: an `aws` stack runs on EKS and says nothing else. Paths start
 * at the top-level key.
 */
export function clusterFlavourProblems(flavour: unknown, target: unknown): CrossFieldProblem[] {
    if (target === "aws" && flavour !== undefined && flavour !== "generic") {
        return [{ path: ["clusterFlavour"], input: flavour, message: "is for target local: an aws stack runs on EKS (leave it unset)" }];
    }
    return [];
}

/** The cluster a stack runs on: EKS on aws, else what `clusterFlavour` says. */
export function effectiveFlavour(target: "aws" | "local", flavour: typeof LOCAL_FLAVOURS[number]): ClusterFlavour {
    return target === "aws" ? "eks" : flavour;
}
