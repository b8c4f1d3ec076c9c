import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { ClusterFlavour, ObservabilityConfig } from "../config";
import { AlertedModel, prometheusRule } from "./observability/alert-rules";
import { dashboardConfigMaps, datasourceConfigMap, readDashboards } from "./observability/dashboards";
import { ALLOY_CHART, LOKI_CHART, LokiBucket, alloyValues, lokiValues } from "./observability/logging-values";
import {
    GRAFANA_ADMIN_KEYS, GRAFANA_ADMIN_SECRET, GRAFANA_URL, LOKI_URL, MONITORING_NAMESPACE, PROMETHEUS_URL, RELEASES,
} from "./observability/names";
import { PROMETHEUS_STACK_CHART, prometheusStackValues } from "./observability/prometheus-values";

/** (aws, `loki.storage` s3) Loki's bucket (components/cluster/loki-object-store.ts), as the observability layer needs it. */
export interface LokiObjectStoreRef extends LokiBucket {
    /** What Loki's pod must wait for: its Pod Identity association and the bucket's settings. Defaults to none. */
    readonly dependsOn?: readonly pulumi.Resource[];
}

export interface ObservabilityArgs {
    /** Retention, storage, scrape interval and alert thresholds (config.observability). */
    readonly config: ObservabilityConfig;
    /** The Kubernetes underneath: what of its control plane Prometheus scrapes (observability/control-plane.ts). Defaults to generic. */
    readonly clusterFlavour?: ClusterFlavour;
    /** Namespaces of the model servers (the stack's, and its TGI sibling if any): the alert rules watch them. */
    readonly modelNamespaces: readonly string[];
    /** The stack's models: each alerts for no ready replica only past its own cold start (alert-rules.ts). Defaults to none. */
    readonly models?: readonly AlertedModel[];
    /** Grafana's admin password (a secret). Defaults to a generated 32-character password (@pulumi/random). */
    readonly grafanaAdminPassword?: pulumi.Input<string>;
    /** Loki's S3 bucket; required when `config.loki.storage` is s3, refused otherwise. Defaults to none (filesystem). */
    readonly lokiObjectStore?: LokiObjectStoreRef;
}

/**
 * The observability layer, in the `monitoring` namespace: kube-prometheus-stack (Prometheus
 * operator, a Prometheus that scrapes every ServiceMonitor of the cluster onto a PVC,
 * kube-state-metrics, node exporter, Alertmanager, Grafana), Loki (single binary, its chunks and
 * index on a PVC or, on AWS, in the S3 bucket given as `lokiObjectStore`),
 * Grafana Alloy (a DaemonSet shipping every pod's logs to Loki), Grafana's data sources and
 * dashboards as labelled ConfigMaps, the admin credentials as a Secret, and the alert rules.
 */
export class Observability extends pulumi.ComponentResource {
    public readonly namespace: k8s.core.v1.Namespace;
    public readonly adminPassword?: random.RandomPassword;
    public readonly adminSecret: k8s.core.v1.Secret;
    public readonly prometheusStack: k8s.helm.v4.Chart;
    public readonly loki: k8s.helm.v4.Chart;
    public readonly alloy: k8s.helm.v4.Chart;
    public readonly datasources: k8s.core.v1.ConfigMap;
    public readonly dashboards: k8s.core.v1.ConfigMap[];
    public readonly alertRules: k8s.apiextensions.CustomResource;
    /** Prometheus inside the cluster (KEDA's triggers and Grafana query it). */
    public readonly prometheusUrl: string = PROMETHEUS_URL;
    public readonly lokiUrl: string = LOKI_URL;
    /** Grafana inside the cluster; `kubectl -n monitoring port-forward svc/grafana 3000:80` to reach it. */
    public readonly grafanaUrl: string = GRAFANA_URL;
    /** The Secret (in `monitoring`) holding Grafana's admin user and password. */
    public readonly grafanaAdminSecretName: string = GRAFANA_ADMIN_SECRET;

    constructor(name: string, args: ObservabilityArgs, opts?: pulumi.ComponentResourceOptions) {
        super("llm-platform:observability:Observability", name, {}, opts);
        const { config } = args;
        const namespace = MONITORING_NAMESPACE;

        this.namespace = new k8s.core.v1.Namespace(`${name}-namespace`, {
            metadata: {
                name: namespace,
                labels: {
                    "app.kubernetes.io/part-of": "llm-platform",
                    // Node exporter needs the host's network, PID namespace and /proc, /sys.
                    "pod-security.kubernetes.io/enforce": "privileged",
                    "pod-security.kubernetes.io/warn": "baseline",
                },
            },
        }, { parent: this });
        const inNamespace = { parent: this, dependsOn: [this.namespace] };

        let password: pulumi.Input<string>;
        if (args.grafanaAdminPassword !== undefined) {
            password = args.grafanaAdminPassword;
        } else {
            this.adminPassword = new random.RandomPassword(`${name}-grafana-admin-password`, { length: 32, special: false }, { parent: this });
            password = this.adminPassword.result;
        }
        this.adminSecret = new k8s.core.v1.Secret(`${name}-grafana-admin`, {
            metadata: { name: GRAFANA_ADMIN_SECRET, namespace, labels: { "app.kubernetes.io/part-of": "llm-platform" } },
            type: "Opaque",
            stringData: { [GRAFANA_ADMIN_KEYS.user]: config.grafana.adminUser, [GRAFANA_ADMIN_KEYS.password]: pulumi.secret(password) },
        }, inNamespace);

        this.datasources = new k8s.core.v1.ConfigMap(`${name}-grafana-datasources`, datasourceConfigMap(config.scrapeInterval, namespace), inNamespace);
        this.dashboards = dashboardConfigMaps(readDashboards(), namespace)
            .map((configMap) => new k8s.core.v1.ConfigMap(`${name}-${configMap.metadata.name}`, configMap, inNamespace));

        this.prometheusStack = new k8s.helm.v4.Chart(`${name}-prometheus-stack`, {
            chart: PROMETHEUS_STACK_CHART.chart,
            version: PROMETHEUS_STACK_CHART.version,
            repositoryOpts: { repo: PROMETHEUS_STACK_CHART.repo },
            name: RELEASES.prometheusStack,
            namespace,
            values: prometheusStackValues(config, args.clusterFlavour),
        }, { ...inNamespace, dependsOn: [this.namespace, this.adminSecret] });

        this.loki = new k8s.helm.v4.Chart(`${name}-loki`, {
            chart: LOKI_CHART.chart,
            version: LOKI_CHART.version,
            repositoryOpts: { repo: LOKI_CHART.repo },
            name: RELEASES.loki,
            namespace,
            values: lokiValues(config, args.lokiObjectStore),
        }, { ...inNamespace, dependsOn: [this.namespace, ...(args.lokiObjectStore?.dependsOn ?? [])] });

        this.alloy = new k8s.helm.v4.Chart(`${name}-alloy`, {
            chart: ALLOY_CHART.chart,
            version: ALLOY_CHART.version,
            repositoryOpts: { repo: ALLOY_CHART.repo },
            name: RELEASES.alloy,
            namespace,
            values: alloyValues(config),
        }, inNamespace);

        // The PrometheusRule kind comes with the stack's CRDs.
        this.alertRules = new k8s.apiextensions.CustomResource(`${name}-alert-rules`, {
            apiVersion: "monitoring.coreos.com/v1",
            kind: "PrometheusRule",
            ...prometheusRule(config.alerts, args.modelNamespaces, namespace, args.models),
        }, { ...inNamespace, dependsOn: [this.namespace, this.prometheusStack] });

        this.registerOutputs({
            namespace: this.namespace, adminPassword: this.adminPassword, adminSecret: this.adminSecret,
            prometheusStack: this.prometheusStack, loki: this.loki, alloy: this.alloy, datasources: this.datasources,
            dashboards: this.dashboards, alertRules: this.alertRules, prometheusUrl: this.prometheusUrl, lokiUrl: this.lokiUrl,
            grafanaUrl: this.grafanaUrl, grafanaAdminSecretName: this.grafanaAdminSecretName,
        });
    }
}
