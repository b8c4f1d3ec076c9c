import type { ClusterFlavour, ObservabilityConfig } from "../../config";
import type { ContainerResources } from "../../config/observability";
import { gpuToleration } from "../../lib/gpu-scheduling";
import { controlPlaneValues } from "./control-plane";
import {
    GRAFANA_ADMIN_KEYS, GRAFANA_ADMIN_SECRET, GRAFANA_DASHBOARD_LABEL, GRAFANA_DATASOURCE_LABEL, GRAFANA_SERVICE, RELEASES,
} from "./names";

/**
 * kube-prometheus-stack, pinned: prometheus-community/helm-charts charts/kube-prometheus-stack/Chart.yaml
 * version 88.5.3 (appVersion v0.93.1, the Prometheus operator; dependencies grafana 12.11.1 from
 * grafana-community, kube-state-metrics 8.4.0, prometheus-node-exporter 4.56.1), read at commit
 * cf408a2 of 2026-08-22 (the chart as of ea930ba, which set 88.5.3). Every key below is a key of
 * that version's values.yaml or its subchart's, except `grafana.fullnameOverride`, which the
 * grafana chart reads (templates/_helpers.tpl `grafana.fullname`) without declaring it.
 */
export const PROMETHEUS_STACK_CHART = {
    chart: "kube-prometheus-stack",
    version: "88.5.3",
    repo: "https://prometheus-community.github.io/helm-charts",
} as const;

/**
 * The operator without its admission webhooks and without TLS, because both depend on a Secret
 * that only a Helm hook creates, and `kubernetes.helm.v4.Chart` never runs hooks
 * (pulumi-kubernetes provider/pkg/provider/helm/v4/chart.go: `cmd.DisableHooks = true`; hook
 * objects are dropped, and `includeHooks` only adds them when the provider renders YAML to a
 * directory: @pulumi/kubernetes 4.34.2 helm/v4/chart.d.ts).
 *
 * In the chart (templates/prometheus-operator/), the Secret `<fullname>-admission` is written by
 * admission-webhooks/job-patch/job-createSecret.yaml, a `pre-install,pre-upgrade` hook Job
 * (kube-webhook-certgen), and the webhook configurations get its CA from job-patchWebhook.yaml, a
 * `post-install,post-upgrade` hook. Nothing else creates it unless cert-manager does
 * (certmanager.yaml), and we install no cert-manager. With `tls.enabled` (the default) the operator
 * Deployment mounts that Secret as its `tls-secret` volume (deployment.yaml): without the hook
 * the pod stays in ContainerCreating, and every layer after observability waits on it. The
 * operator's ServiceMonitor reads the same Secret for its scrape CA (servicemonitor.yaml).
 *
 * - `tls.enabled: false`: the operator listens on plain HTTP :8080 (`--web.enable-tls=false`), its
 *   Service and ServiceMonitor use port `http`; no volume, no CA. That listener serves only
 *   /metrics and /healthz inside the cluster once the webhooks are off.
 * - `admissionWebhooks.enabled: false`: no Validating/MutatingWebhookConfiguration (they would
 *   exist without a caBundle, their calls failing TLS and ignored), and no certgen Jobs or RBAC.
 *   What we give up: PrometheusRules and AlertmanagerConfigs are no longer rejected at admission
 *   when their PromQL is invalid, and rule annotations are not coerced to strings. The operator
 *   still validates every PrometheusRule before it writes it into Prometheus's rule files, and
 *   skips an invalid one with a Warning event (prometheus-operator pkg/operator/rules.go
 *   `generateRulesConfiguration`, `ValidateRule`), so a bad rule cannot break Prometheus; ours are
 *   parsed and unit-tested by promtool in test/observability-promql.test.ts, and their
 *   annotations are strings by type (alert-rules.ts).
 *
 * Rejected: certificates from cert-manager (another controller and its CRDs, only for this);
 * a Secret the program creates (needs a CA and a serving certificate: @pulumi/tls is not a
 * dependency, Node cannot issue X.509, and the private key would sit in the Pulumi state).
 * Both keys are keys of the pinned values.yaml (`prometheusOperator.tls.enabled`,
 * `prometheusOperator.admissionWebhooks.enabled`).
 */
export const OPERATOR_WITHOUT_HOOKS = {
    tls: { enabled: false },
    admissionWebhooks: { enabled: false },
} as const;

/** cpu/memory requests and limits. */
export function resources(cpu: string, memory: string, cpuLimit: string, memoryLimit: string) {
    return { requests: { cpu, memory }, limits: { cpu: cpuLimit, memory: memoryLimit } };
}

/** A configured container's requests and limits (`observability.<component>.resources`), as a chart takes them. */
export function configuredResources({ cpu, memory, cpuLimit, memoryLimit }: ContainerResources) {
    return resources(cpu, memory, cpuLimit, memoryLimit);
}

/** The GPU taint, tolerated only by node agents (see names.ts GPU_TOLERATING_NODE_AGENTS). */
export const GPU_TOLERATION = gpuToleration();

function claimTemplate(size: string, storageClass: string) {
    return {
        volumeClaimTemplate: {
            spec: {
                accessModes: ["ReadWriteOnce"],
                resources: { requests: { storage: size } },
                ...(storageClass ? { storageClassName: storageClass } : {}),
            },
        },
    };
}

/**
 * Values for kube-prometheus-stack: the operator, one Prometheus that selects every
 * ServiceMonitor, PodMonitor, Probe, ScrapeConfig and PrometheusRule in every namespace (the
 * *NilUsesHelmValues: false switches; otherwise it selects only objects labelled with its release),
 * kube-state-metrics, node exporter, Alertmanager and Grafana. Grafana reads its admin credentials
 * from the GRAFANA_ADMIN_SECRET Secret and its data sources and dashboards from labelled
 * ConfigMaps (sidecars); the chart's own Prometheus data source is off, ours names both Prometheus
 * and Loki (dashboards.ts). No Pulumi secret goes in here: it would make all the values secret.
 * The control plane is scraped, and alerted on, as far as `flavour` exposes it (control-plane.ts).
 */
export function prometheusStackValues(config: ObservabilityConfig, flavour: ClusterFlavour = "generic") {
    const { prometheus, scrapeInterval } = config;
    return {
        fullnameOverride: RELEASES.prometheusStack,
        crds: { enabled: true },
        ...controlPlaneValues(flavour),
        prometheusOperator: {
            ...OPERATOR_WITHOUT_HOOKS,
            resources: resources("100m", "128Mi", "500m", "512Mi"),
            prometheusConfigReloader: { resources: resources("10m", "32Mi", "100m", "64Mi") },
        },
        prometheus: {
            prometheusSpec: {
                scrapeInterval,
                evaluationInterval: scrapeInterval,
                retention: prometheus.retention,
                ...(prometheus.retentionSize ? { retentionSize: prometheus.retentionSize } : {}),
                storageSpec: claimTemplate(prometheus.storageSize, prometheus.storageClass),
                // Select everything, everywhere: model servers, DCGM exporter and KEDA monitors carry no release label.
                serviceMonitorSelectorNilUsesHelmValues: false,
                serviceMonitorSelector: {},
                serviceMonitorNamespaceSelector: {},
                podMonitorSelectorNilUsesHelmValues: false,
                podMonitorSelector: {},
                podMonitorNamespaceSelector: {},
                probeSelectorNilUsesHelmValues: false,
                probeSelector: {},
                probeNamespaceSelector: {},
                scrapeConfigSelectorNilUsesHelmValues: false,
                scrapeConfigSelector: {},
                scrapeConfigNamespaceSelector: {},
                ruleSelectorNilUsesHelmValues: false,
                ruleSelector: {},
                ruleNamespaceSelector: {},
                resources: configuredResources(prometheus.resources),
            },
        },
        alertmanager: {
            alertmanagerSpec: {
                storage: claimTemplate("2Gi", prometheus.storageClass),
                resources: resources("20m", "64Mi", "200m", "256Mi"),
            },
        },
        "kube-state-metrics": {
            resources: resources("50m", "128Mi", "500m", "512Mi"),
        },
        "prometheus-node-exporter": {
            resources: resources("20m", "32Mi", "200m", "128Mi"),
            // A node agent: node metrics from GPU nodes too. Only the GPU taint, by key.
            tolerations: [GPU_TOLERATION],
        },
        grafana: {
            enabled: true,
            fullnameOverride: GRAFANA_SERVICE,
            admin: { existingSecret: GRAFANA_ADMIN_SECRET, userKey: GRAFANA_ADMIN_KEYS.user, passwordKey: GRAFANA_ADMIN_KEYS.password },
            // Dashboards and data sources are provisioned from ConfigMaps; nothing else is worth a volume.
            persistence: { enabled: false },
            testFramework: { enabled: false },
            resources: configuredResources(config.grafana.resources),
            sidecar: {
                resources: resources("10m", "64Mi", "100m", "128Mi"),
                dashboards: {
                    enabled: true,
                    label: Object.keys(GRAFANA_DASHBOARD_LABEL)[0],
                    labelValue: Object.values(GRAFANA_DASHBOARD_LABEL)[0],
                    searchNamespace: "ALL",
                },
                datasources: {
                    enabled: true,
                    label: Object.keys(GRAFANA_DATASOURCE_LABEL)[0],
                    labelValue: Object.values(GRAFANA_DATASOURCE_LABEL)[0],
                    defaultDatasourceEnabled: false,
                    alertmanager: { enabled: false },
                },
            },
        },
    };
}
