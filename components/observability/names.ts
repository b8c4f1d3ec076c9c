/**
 * Where the observability layer lives and how others reach it: one copy of every name that
 * another component or a dashboard depends on.
 */

export const MONITORING_NAMESPACE = "monitoring";

/**
 * Prometheus, through the governing Service the Prometheus operator creates for every
 * Prometheus (`prometheus-operated`, port 9090 named web). KEDA's Prometheus triggers and
 * Grafana's data source both use it; it is the model server's default.
 */
export const PROMETHEUS_URL = `http://prometheus-operated.${MONITORING_NAMESPACE}.svc:9090`;

/** Helm release names; with the fullnameOverrides below they fix every Service name. */
export const RELEASES = { prometheusStack: "kube-prometheus-stack", loki: "loki", alloy: "alloy" } as const;

/** The grafana subchart's fullnameOverride: its Service is `grafana`, port 80. */
export const GRAFANA_SERVICE = "grafana";
export const GRAFANA_URL = `http://${GRAFANA_SERVICE}.${MONITORING_NAMESPACE}.svc:80`;

/** Loki's fullnameOverride: the single binary's Service is `loki`, HTTP on 3100 (no gateway). */
export const LOKI_SERVICE = "loki";
export const LOKI_URL = `http://${LOKI_SERVICE}.${MONITORING_NAMESPACE}.svc:3100`;
export const LOKI_PUSH_URL = `${LOKI_URL}/loki/api/v1/push`;

/**
 * Loki's ServiceAccount, fixed in its chart values (`serviceAccount.name`): with S3 storage the
 * Pod Identity association and its role's trust policy name exactly this account.
 */
export const LOKI_SERVICE_ACCOUNT = "loki";

/** Grafana data source uids: the dashboards refer to these. */
export const DATASOURCE_UIDS = { prometheus: "prometheus", loki: "loki" } as const;

/** The Secret (in MONITORING_NAMESPACE) with Grafana's admin user and password. */
export const GRAFANA_ADMIN_SECRET = "grafana-admin";
export const GRAFANA_ADMIN_KEYS = { user: "admin-user", password: "admin-password" } as const;

/** Labels the Grafana sidecars watch (kube-prometheus-stack's defaults, set explicitly in the values). */
export const GRAFANA_DASHBOARD_LABEL = { grafana_dashboard: "1" } as const;
export const GRAFANA_DATASOURCE_LABEL = { grafana_datasource: "1" } as const;

/**
 * The pod label that names a model (components/model-server/names.ts commonLabels: the model
 * server's and its download Job's pods carry `app.kubernetes.io/instance: <model>` with
 * `app.kubernetes.io/name: model-server`). Alloy turns it into the `model` log label.
 */
export const MODEL_POD_LABELS = { instance: "app.kubernetes.io/instance", name: "app.kubernetes.io/name", nameValue: "model-server" } as const;

/**
 * Node agents of this layer that tolerate the GPU taint, named for the policy pack's
 * non-gpu-off-gpu-nodes allowlist: they must run on GPU nodes too.
 * - alloy: tails the logs of the pods on its node (model servers run on GPU nodes);
 * - node exporter: node metrics (the chart tolerates every NoSchedule taint by default).
 */
export const GPU_TOLERATING_NODE_AGENTS = ["alloy", "kube-prometheus-stack-prometheus-node-exporter"] as const;
