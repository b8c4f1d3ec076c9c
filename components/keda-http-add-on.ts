import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

/**
 * The KEDA HTTP add-on's chart, pinned: kedacore/charts commit c4b92e9 "feat(http-add-on): release
 * v0.15.0" (http-add-on/Chart.yaml version and appVersion 0.15.0, June 2026), which installs the
 * HTTPScaledObject and InterceptorRoute CRDs of kedacore/http-add-on tag v0.15.0.
 */
export const KEDA_HTTP_CHART = { chart: "keda-add-ons-http", version: "0.15.0", repo: "https://kedacore.github.io/charts" } as const;

/**
 * Service names and ports the chart renders (templates/interceptor/service-proxy.yaml and
 * templates/scaler/service.yaml at v0.15.0: "<chart name>-<values service>", whatever the release
 * name). The values below set the same names and ports explicitly, so these stay true.
 */
export const INTERCEPTOR_PROXY = { service: `${KEDA_HTTP_CHART.chart}-interceptor-proxy`, port: 8080 } as const;
export const EXTERNAL_SCALER = { service: `${KEDA_HTTP_CHART.chart}-external-scaler`, port: 9090 } as const;

/** Replicas of the interceptor fleet, which the chart's own ScaledObject scales. */
export const INTERCEPTOR_REPLICAS = { min: 2, max: 10 } as const;

/** Where model servers reach the add-on: what a ScaledObject trigger and an ExternalName Service need. */
export interface HttpAddOnEndpoints {
    /** In-cluster DNS name of the interceptor's proxy Service (requests go here). */
    readonly proxyHost: string;
    readonly proxyPort: number;
    /**
     * The external scaler's gRPC address for `external-push` triggers, as the add-on's operator
     * writes it (operator/controllers/http/config/config.go `HostName`: "<service>.<namespace>:<port>").
     */
    readonly scalerAddress: string;
}

export function httpAddOnEndpoints(namespace: string): HttpAddOnEndpoints {
    return {
        proxyHost: `${INTERCEPTOR_PROXY.service}.${namespace}.svc.cluster.local`,
        proxyPort: INTERCEPTOR_PROXY.port,
        scalerAddress: `${EXTERNAL_SCALER.service}.${namespace}:${EXTERNAL_SCALER.port}`,
    };
}

const resources = (cpu: string, memory: string, cpuLimit: string, memoryLimit: string) => ({
    requests: { cpu, memory },
    limits: { cpu: cpuLimit, memory: memoryLimit },
});

/**
 * Values for the chart (keys of kedacore/charts http-add-on/values.yaml at v0.15.0). Each component
 * with requests and limits; no tolerations, so nothing lands on GPU nodes; the restricted pod
 * security profile (the chart's default pod context lacks runAsNonRoot and seccomp; the add-on's own
 * config/*\/deployment.yaml at v0.15.0 run its images with exactly these settings). One operator and
 * one scaler (a second scaler would need a PodDisruptionBudget the chart does not render); the
 * interceptors, which every request of a scale-to-zero model passes through, at least two, spread
 * over nodes, with the chart's PodDisruptionBudget (maxUnavailable 1).
 */
export function kedaHttpChartValues() {
    const interceptorLabels = { "app.kubernetes.io/component": "interceptor", "app.kubernetes.io/name": "http-add-on" };
    return {
        crds: { install: true },
        operator: {
            replicas: 1,
            pullPolicy: "IfNotPresent",
            resources: resources("50m", "64Mi", "500m", "128Mi"),
            tolerations: [],
        },
        scaler: {
            replicas: 1,
            pullPolicy: "IfNotPresent",
            service: "external-scaler",
            grpcPort: EXTERNAL_SCALER.port,
            resources: resources("50m", "64Mi", "500m", "128Mi"),
            tolerations: [],
        },
        interceptor: {
            pullPolicy: "IfNotPresent",
            proxy: { service: "interceptor-proxy", port: INTERCEPTOR_PROXY.port },
            replicas: { ...INTERCEPTOR_REPLICAS },
            // Held requests and streamed responses live in the interceptor: more memory than the chart's 64Mi.
            resources: resources("100m", "128Mi", "1", "256Mi"),
            tolerations: [],
            topologySpreadConstraints: [{
                maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway",
                labelSelector: { matchLabels: interceptorLabels },
            }],
            pdb: { enabled: true, maxUnavailable: 1 },
        },
        podSecurityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
        securityContext: {
            allowPrivilegeEscalation: false,
            privileged: false,
            runAsNonRoot: true,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ["ALL"] },
            seccompProfile: { type: "RuntimeDefault" },
        },
    };
}

/**
 * The chart's ScaledObject for the interceptor fleet (templates/interceptor/scaledobject.yaml) has
 * no `fallback`, which the pack's keda-fallback rule requires of every ScaledObject, and no chart
 * value adds one. This transform (Pulumi `transforms` reach a helm.v4.Chart's children) adds it:
 * while the external scaler cannot be read, hold the minimum fleet.
 */
export function interceptorScaledObjectFallback(args: pulumi.ResourceTransformArgs): pulumi.ResourceTransformResult | undefined {
    if (args.type !== "kubernetes:keda.sh/v1alpha1:ScaledObject") {
        return undefined;
    }
    const spec = (args.props.spec ?? {}) as Record<string, unknown>;
    return {
        props: { ...args.props, spec: { ...spec, fallback: spec.fallback ?? { failureThreshold: 3, replicas: INTERCEPTOR_REPLICAS.min } } },
        opts: args.opts,
    };
}

export interface KedaHttpAddOnArgs {
    /** Namespace the add-on runs in: KEDA's own, which must exist (see `dependsOn`). */
    readonly namespace: pulumi.Input<string>;
    /** What the chart waits for: KEDA and its CRDs (the chart renders a ScaledObject). Defaults to none. */
    readonly dependsOn?: pulumi.Resource[];
}

/**
 * The KEDA HTTP add-on (operator, external scaler, interceptor proxy) from its pinned Helm chart.
 * Its interceptor holds a request for a model scaled to zero while KEDA wakes it.
 */
export class KedaHttpAddOn extends pulumi.ComponentResource {
    public readonly chart: k8s.helm.v4.Chart;

    constructor(name: string, args: KedaHttpAddOnArgs, opts?: pulumi.ComponentResourceOptions) {
        super("llm-platform:autoscaling:KedaHttpAddOn", name, {}, opts);

        this.chart = new k8s.helm.v4.Chart(`${name}-chart`, {
            chart: KEDA_HTTP_CHART.chart,
            version: KEDA_HTTP_CHART.version,
            repositoryOpts: { repo: KEDA_HTTP_CHART.repo },
            namespace: args.namespace,
            values: kedaHttpChartValues(),
        }, { parent: this, dependsOn: args.dependsOn ?? [], transforms: [interceptorScaledObjectFallback] });

        this.registerOutputs({ chart: this.chart });
    }
}
