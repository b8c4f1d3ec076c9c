import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { HttpAddOnEndpoints, KedaHttpAddOn, httpAddOnEndpoints } from "./keda-http-add-on";

/** KEDA's chart, pinned: kedacore/charts tag v2.20.2 (keda/Chart.yaml version and appVersion 2.20.2, July 2026). */
export const KEDA_CHART = { chart: "keda", version: "2.20.2", repo: "https://kedacore.github.io/charts" } as const;

export interface KedaArgs {
    /** Namespace KEDA runs in. Defaults to "keda". */
    readonly namespace?: string;
    /**
     * Also install the KEDA HTTP add-on, whose interceptor wakes models scaled to zero
     * (components/autoscaling/keda-http-add-on.ts), draining for `holdSeconds`: the longest a request of those
     * models stays in an interceptor (longestHoldSeconds). Defaults to none.
     */
    readonly httpAddOn?: { readonly holdSeconds: number };
    /** What the chart waits for: the observability layer, whose CRD its ServiceMonitor is. Defaults to none. */
    readonly dependsOn?: pulumi.Resource[];
}

const requests = (cpu: string, memory: string, cpuLimit: string, memoryLimit: string) => ({
    requests: { cpu, memory },
    limits: { cpu: cpuLimit, memory: memoryLimit },
});

/**
 * Values for the chart (keys of kedacore/charts keda/values.yaml at v2.20.2): the operator,
 * its metrics API server (the External metrics the HPA reads) and the admission webhooks,
 * each with requests and limits; CRDs installed; no tolerations, so nothing lands on GPU nodes.
 * The operator exports its scaler metrics (keda_scaler_*) with a ServiceMonitor, which the
 * autoscaling dashboard and the KEDA alerts read. Linux nodes only, without a nodeSelector
 * here: the chart's three Deployments write `kubernetes.io/os: linux` themselves and append
 * `<part>.nodeSelector | default .Values.nodeSelector` below it (keda/templates/manager,
 * metrics-server and webhooks deployment.yaml), so repeating the key rendered it twice.
 */
export function kedaChartValues() {
    return {
        crds: { install: true },
        metricsServer: { enabled: true },
        webhooks: { enabled: true },
        prometheus: { operator: { enabled: true, serviceMonitor: { enabled: true } } },
        resources: {
            operator: requests("100m", "128Mi", "1", "1000Mi"),
            metricServer: requests("100m", "128Mi", "1", "1000Mi"),
            webhooks: requests("50m", "64Mi", "500m", "256Mi"),
        },
        tolerations: [],
    };
}

/** KEDA (operator, metrics API server, admission webhooks) from its pinned Helm chart, and optionally its HTTP add-on. */
export class Keda extends pulumi.ComponentResource {
    public readonly namespace: k8s.core.v1.Namespace;
    public readonly chart: k8s.helm.v4.Chart;
    /** The HTTP add-on, when asked for. */
    public readonly httpAddOn?: KedaHttpAddOn;
    /** Where model servers reach the HTTP add-on (its proxy and external scaler), when installed. */
    public readonly httpAddOnEndpoints?: HttpAddOnEndpoints;

    constructor(name: string, args: KedaArgs = {}, opts?: pulumi.ComponentResourceOptions) {
        super("llm-platform:autoscaling:Keda", name, {}, opts);
        const namespace = args.namespace ?? "keda";

        this.namespace = new k8s.core.v1.Namespace(`${name}-namespace`, {
            metadata: { name: namespace, labels: { "app.kubernetes.io/part-of": "llm-platform" } },
        }, { parent: this });

        this.chart = new k8s.helm.v4.Chart(`${name}-chart`, {
            chart: KEDA_CHART.chart,
            version: KEDA_CHART.version,
            repositoryOpts: { repo: KEDA_CHART.repo },
            namespace: this.namespace.metadata.name,
            values: kedaChartValues(),
        }, { parent: this, dependsOn: args.dependsOn });

        if (args.httpAddOn) {
            // After KEDA: the add-on's chart renders a ScaledObject for its interceptors.
            this.httpAddOn = new KedaHttpAddOn(`${name}-http`, {
                namespace: this.namespace.metadata.name, holdSeconds: args.httpAddOn.holdSeconds, dependsOn: [this.chart],
            }, { parent: this });
            this.httpAddOnEndpoints = httpAddOnEndpoints(namespace);
        }

        this.registerOutputs({ namespace: this.namespace, chart: this.chart, httpAddOn: this.httpAddOn });
    }
}
