import * as fs from "fs";
import * as path from "path";
import { PROJECT_DIR } from "../../config/project";
import {
    DATASOURCE_UIDS, GRAFANA_DASHBOARD_LABEL, GRAFANA_DATASOURCE_LABEL, LOKI_URL, MONITORING_NAMESPACE, PROMETHEUS_URL,
} from "./names";

/** Grafana dashboards, as code: dashboards/<name>.json in the repository, one ConfigMap each. */
export const DASHBOARDS_DIR = path.join(PROJECT_DIR, "dashboards");
export const DASHBOARD_FILES = ["model-serving", "gpu", "autoscaling", "logs"] as const;

export interface DashboardTarget {
    readonly datasource?: { readonly type?: string; readonly uid?: string };
    readonly expr?: string;
}

export interface DashboardPanel {
    readonly title: string;
    readonly type: string;
    readonly datasource?: { readonly type?: string; readonly uid?: string };
    readonly targets?: readonly DashboardTarget[];
}

export interface DashboardVariable {
    readonly name: string;
    readonly type: string;
    readonly datasource?: { readonly type?: string; readonly uid?: string };
    readonly definition?: string;
}

export interface Dashboard {
    readonly uid: string;
    readonly title: string;
    readonly panels: readonly DashboardPanel[];
    readonly templating: { readonly list: readonly DashboardVariable[] };
}

/** The dashboards' JSON, by file name (without .json), as stored in the repository. */
export function readDashboards(dir = DASHBOARDS_DIR): Record<string, string> {
    return Object.fromEntries(DASHBOARD_FILES.map((name) => [name, fs.readFileSync(path.join(dir, `${name}.json`), "utf8")]));
}

/** One ConfigMap per dashboard, labelled for Grafana's dashboard sidecar. */
export function dashboardConfigMaps(dashboards: Record<string, string>, namespace = MONITORING_NAMESPACE) {
    return Object.entries(dashboards).map(([name, json]) => ({
        metadata: {
            name: `grafana-dashboard-${name}`,
            namespace,
            labels: { ...GRAFANA_DASHBOARD_LABEL, "app.kubernetes.io/part-of": "llm-platform" },
        },
        data: { [`${name}.json`]: json },
    }));
}

/**
 * Grafana's data sources (provisioning format, apiVersion 1): Prometheus through the operator's
 * Service, the default, and Loki's single binary. The dashboards refer to them by uid.
 */
export function datasourceProvisioning(scrapeInterval: string) {
    return {
        apiVersion: 1,
        datasources: [
            {
                name: "Prometheus",
                type: "prometheus",
                uid: DATASOURCE_UIDS.prometheus,
                url: PROMETHEUS_URL,
                access: "proxy",
                isDefault: true,
                editable: false,
                jsonData: { httpMethod: "POST", timeInterval: scrapeInterval },
            },
            {
                name: "Loki",
                type: "loki",
                uid: DATASOURCE_UIDS.loki,
                url: LOKI_URL,
                access: "proxy",
                isDefault: false,
                editable: false,
                jsonData: { maxLines: 1000 },
            },
        ],
    };
}

/** The data sources ConfigMap, labelled for Grafana's data source sidecar. */
export function datasourceConfigMap(scrapeInterval: string, namespace = MONITORING_NAMESPACE) {
    return {
        metadata: {
            name: "grafana-datasources",
            namespace,
            labels: { ...GRAFANA_DATASOURCE_LABEL, "app.kubernetes.io/part-of": "llm-platform" },
        },
        data: { "datasources.yaml": JSON.stringify(datasourceProvisioning(scrapeInterval), null, 2) },
    };
}

/** Every query of a dashboard, with the uid of its data source: panel targets and variable definitions. */
export function dashboardQueries(dashboard: Dashboard): { readonly where: string; readonly uid: string; readonly expr: string }[] {
    const queries: { where: string; uid: string; expr: string }[] = [];
    for (const panel of dashboard.panels) {
        for (const target of panel.targets ?? []) {
            if (target.expr !== undefined) {
                queries.push({ where: `${dashboard.uid} / ${panel.title}`, uid: target.datasource?.uid ?? panel.datasource?.uid ?? "", expr: target.expr });
            }
        }
    }
    for (const variable of dashboard.templating.list) {
        if (variable.type === "query" && variable.definition) {
            queries.push({ where: `${dashboard.uid} / $${variable.name}`, uid: variable.datasource?.uid ?? "", expr: variable.definition });
        }
    }
    return queries;
}
