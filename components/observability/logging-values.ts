import type * as pulumi from "@pulumi/pulumi";
import type { ObservabilityConfig } from "../../config";
import { LOKI_PUSH_URL, LOKI_SERVICE, LOKI_SERVICE_ACCOUNT, MODEL_POD_LABELS } from "./names";
import { GPU_TOLERATION, configuredResources, resources } from "./prometheus-values";

/**
 * Loki, pinned: grafana-community/helm-charts charts/loki/Chart.yaml version 18.11.0 (Loki 3.7.6),
 * read at commit 3386a11 of 2026-08-20. The OSS Loki chart moved there from grafana/loki (whose
 * production/helm/loki now packages Grafana Enterprise Logs). Keys from that version's values.yaml
 * and ci/default-monolithic-filesystem-values.yaml.
 */
export const LOKI_CHART = { chart: "loki", version: "18.11.0", repo: "https://grafana-community.github.io/helm-charts" } as const;

/**
 * Grafana Alloy, pinned: grafana/alloy operations/helm/charts/alloy/Chart.yaml version 1.11.1
 * (Alloy v1.18.1), read at commit 66ebea8 of 2026-08-21. Promtail is end-of-life; Alloy replaces it.
 */
export const ALLOY_CHART = { chart: "alloy", version: "1.11.1", repo: "https://grafana.github.io/helm-charts" } as const;

/** The user the grafana/alloy image defines (Dockerfile ARG UID=473). */
const ALLOY_USER = 473;

/** (aws) The S3 bucket Loki keeps chunks and index in when `loki.storage` is s3 (components/cluster/loki-object-store.ts). */
export interface LokiBucket {
    readonly bucketName: pulumi.Input<string>;
    readonly region: pulumi.Input<string>;
}

/**
 * Where the chunks and the TSDB index go. Keys of the pinned chart (values.yaml `loki.storage`,
 * templates/_helpers.tpl `loki.commonStorageConfig` and `loki.lokiStorageConfig.s3`):
 * - filesystem: `common.storage.filesystem`, on the single binary's PVC;
 * - s3: `common.storage.s3` with `bucketnames` from `bucketNames.chunks` and `region` from
 *   `s3.region`, and no keys: Loki's S3 client (aws-sdk-go-v2 `LoadDefaultConfig`) takes
 *   credentials from the default chain, where EKS Pod Identity's container credentials
 *   endpoint sits. The ruler keeps its (local, empty) rule store, as with filesystem, so
 *   `bucketNames.ruler` is not needed and the bucket holds only data that expires with the
 *   retention. The OSS chart reads no `bucketNames.admin` (an Enterprise Logs key).
 */
function lokiStorage(storage: ObservabilityConfig["loki"]["storage"], bucket: LokiBucket | undefined) {
    if (storage === "filesystem") {
        if (bucket) {
            throw new Error("Loki stores on filesystem, yet an S3 bucket was given");
        }
        return { storage: { type: "filesystem" }, objectStore: "filesystem" } as const;
    }
    if (!bucket) {
        throw new Error("Loki storage s3 needs its bucket (lokiObjectStore)");
    }
    return {
        storage: { type: "s3", bucketNames: { chunks: bucket.bucketName }, s3: { region: bucket.region } },
        objectStore: "s3",
        rulerConfig: { storage: { type: "local", local: { directory: "/var/loki/rules" } } },
    } as const;
}

/**
 * Loki in monolithic (single-binary) mode, one replica, TSDB schema v13, chunks and index on
 * the PVC (filesystem) or in S3 (s3, with the PVC for the WAL and index cache); no gateway,
 * caches, canary or test pods; single tenant (auth_enabled false), logs deleted after
 * `retention` by the compactor. Its ServiceAccount has a fixed name, which the S3 role trusts.
 */
export function lokiValues(config: ObservabilityConfig, bucket?: LokiBucket) {
    const { loki } = config;
    const { storage, objectStore, ...ruler } = lokiStorage(loki.storage, bucket);
    return {
        fullnameOverride: LOKI_SERVICE,
        deploymentMode: "Monolithic",
        serviceAccount: { create: true, name: LOKI_SERVICE_ACCOUNT },
        loki: {
            auth_enabled: false,
            commonConfig: { replication_factor: 1 },
            storage,
            schemaConfig: {
                configs: [{ from: "2025-01-01", store: "tsdb", object_store: objectStore, schema: "v13", index: { prefix: "index_", period: "24h" } }],
            },
            limits_config: { retention_period: loki.retention },
            compactor: { retention_enabled: true, delete_request_store: objectStore },
            ...ruler,
        },
        singleBinary: {
            replicas: 1,
            resources: configuredResources(loki.resources),
            persistence: {
                enabled: true,
                size: loki.storageSize,
                ...(loki.storageClass ? { storageClass: loki.storageClass } : {}),
            },
        },
        read: { replicas: 0 },
        write: { replicas: 0 },
        backend: { replicas: 0 },
        gateway: { enabled: false },
        chunksCache: { enabled: false },
        resultsCache: { enabled: false },
        lokiCanary: { enabled: false },
        test: { enabled: false },
        sidecar: { rules: { enabled: false } },
    };
}

/**
 * Alloy's pipeline: every pod on this Alloy's node (a DaemonSet: each instance tails its own
 * node's pods through the Kubernetes API, so it needs neither hostPath nor root), labelled with
 * namespace, pod, container and, for model servers and their download Jobs, the model.
 */
export function alloyPipeline(): string {
    const meta = (label: string) => `__meta_kubernetes_pod_label_${label.replace(/[^a-zA-Z0-9_]/g, "_")}`;
    return `// Generated by components/observability/logging-values.ts.
discovery.kubernetes "pods" {
  role = "pod"
  selectors {
    role  = "pod"
    field = "spec.nodeName=" + sys.env("NODE_NAME")
  }
}

discovery.relabel "pods" {
  targets = discovery.kubernetes.pods.targets
  rule {
    source_labels = ["__meta_kubernetes_namespace"]
    target_label  = "namespace"
  }
  rule {
    source_labels = ["__meta_kubernetes_pod_name"]
    target_label  = "pod"
  }
  rule {
    source_labels = ["__meta_kubernetes_pod_container_name"]
    target_label  = "container"
  }
  rule {
    source_labels = ["${meta(MODEL_POD_LABELS.name)}", "${meta(MODEL_POD_LABELS.instance)}"]
    separator     = ";"
    regex         = "${MODEL_POD_LABELS.nameValue};(.+)"
    target_label  = "model"
  }
}

loki.source.kubernetes "pods" {
  targets    = discovery.relabel.pods.output
  forward_to = [loki.write.default.receiver]
}

loki.write "default" {
  endpoint {
    url = "${LOKI_PUSH_URL}"
  }
}
`;
}

/** Alloy as a DaemonSet on every node, GPU nodes included (a named node agent), sized by `alloy.resources`. */
export function alloyValues(config: ObservabilityConfig) {
    return {
        fullnameOverride: "alloy",
        crds: { create: false },
        controller: { type: "daemonset", tolerations: [GPU_TOLERATION] },
        alloy: {
            configMap: { create: true, content: alloyPipeline() },
            enableReporting: false,
            extraEnv: [{ name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } }],
            resources: configuredResources(config.alloy.resources),
            securityContext: {
                runAsNonRoot: true,
                runAsUser: ALLOY_USER,
                runAsGroup: ALLOY_USER,
                allowPrivilegeEscalation: false,
                capabilities: { drop: ["ALL"] },
                seccompProfile: { type: "RuntimeDefault" },
            },
        },
        configReloader: { resources: resources("10m", "32Mi", "100m", "64Mi") },
    };
}
