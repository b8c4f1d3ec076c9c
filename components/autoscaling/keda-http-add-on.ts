import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ModelConfig } from "../../config";
import { engineProfile } from "../model-server/engines";
import { drainTiming } from "../model-server/deployment";
import { coldStartSeconds, usesInterceptor } from "../model-server/request-routing";

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

/**
 * The interceptor's Prometheus exporter (kedacore/http-add-on v0.15.0): on by default on port 2223
 * (pkg/observability/config.go `OTEL_PROM_EXPORTER_ENABLED` default true, `OTEL_PROM_EXPORTER_PORT`
 * default 2223; interceptor/main.go `runMetricsServer` serves it at /metrics). It counts every
 * request it proxies in `interceptor_request_count_total` with labels code, method, route_name and
 * route_namespace (interceptor/metrics/instruments.go `RecordRequest`, OTel counter
 * "interceptor.request.count" exported without scope labels: pkg/observability/metrics.go), where
 * route_name and route_namespace are the matched InterceptorRoute's own name and namespace
 * (interceptor/middleware/routing.go sets them from the route object).
 *
 * The chart neither declares that port on the container nor exposes it as a Service
 * (kedacore/charts c4b92e9 http-add-on/templates/interceptor/deployment.yaml: ports admin and proxy
 * only; no values key for it), and a PodMonitor can only scrape a declared container port
 * (prometheus-operator v0.93.0 pkg/prometheus/promcfg.go keeps targets by
 * __meta_kubernetes_pod_container_port_name/number; podmonitor_types.go: "This cannot be used to
 * enable scraping of an undeclared port"). interceptorMetricsPort() therefore declares it (and pins
 * the exporter's port to it), and interceptorPodMonitor() scrapes it by name.
 */
export const INTERCEPTOR_METRICS = {
    port: 2223,
    portName: "metrics",
    /** The PodMonitor's name; Prometheus names its job "<namespace>/<name>" (promcfg.go, PodMonitor job label). */
    podMonitor: `${KEDA_HTTP_CHART.chart}-interceptor`,
    requestCount: "interceptor_request_count_total",
} as const;

/** The labels the chart puts on the interceptor pods (and selects them by): templates/interceptor/deployment.yaml. */
export const INTERCEPTOR_POD_LABELS = { "app.kubernetes.io/component": "interceptor", "app.kubernetes.io/name": "http-add-on" } as const;

/** The interceptor Deployment and its container, as the chart names them: `{{ .Chart.Name }}-interceptor`. */
const INTERCEPTOR_DEPLOYMENT = `${KEDA_HTTP_CHART.chart}-interceptor`;

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
    /** The Prometheus job of the interceptors' metrics (interceptorPodMonitor): "<namespace>/<PodMonitor name>". */
    readonly interceptorMetricsJob: string;
}

/** The namespace the Keda component installs KEDA and the add-on into by default (components/autoscaling/keda.ts). */
export const DEFAULT_KEDA_NAMESPACE = "keda";

export function httpAddOnEndpoints(namespace: string = DEFAULT_KEDA_NAMESPACE): HttpAddOnEndpoints {
    return {
        proxyHost: `${INTERCEPTOR_PROXY.service}.${namespace}.svc.cluster.local`,
        proxyPort: INTERCEPTOR_PROXY.port,
        scalerAddress: `${EXTERNAL_SCALER.service}.${namespace}:${EXTERNAL_SCALER.port}`,
        interceptorMetricsJob: `${namespace}/${INTERCEPTOR_METRICS.podMonitor}`,
    };
}

const resources = (cpu: string, memory: string, cpuLimit: string, memoryLimit: string) => ({
    requests: { cpu, memory },
    limits: { cpu: cpuLimit, memory: memoryLimit },
});

/** Replicas of the external scaler, which KEDA asks whether a model scaled to zero has requests waiting. */
export const SCALER_REPLICAS = 2;

/** Pod labels the chart gives each component (templates/<component>/deployment.yaml at v0.15.0). */
const componentLabels = (component: "interceptor" | "scaler") => ({
    "app.kubernetes.io/component": component,
    "app.kubernetes.io/name": "http-add-on",
    "app.kubernetes.io/part-of": KEDA_HTTP_CHART.chart,
});

/**
 * How an interceptor pod stops (kedacore/http-add-on v0.15.0 interceptor/main.go, "Shutdown
 * sequencing"): on SIGTERM its readiness turns 503 and it keeps accepting requests for
 * KEDA_HTTP_SHUTDOWN_DELAY, then closes the proxy listener and waits up to KEDA_HTTP_DRAIN_TIMEOUT
 * for the requests it holds or streams (pkg/http/server.go `serve`: `srv.Shutdown` bounded by the
 * drain context, then `cancelBase()` cancels every request still open). The chart's defaults
 * (values.yaml: shutdownDelay 5s, drainTimeout 30s, terminationGracePeriodSeconds 45) cut a request
 * held for a model that is still waking, which the interceptor may hold for the InterceptorRoute's
 * readiness timeout (the model's cold start, ./model-server/request-routing.ts), and then streams for
 * as long as the generation runs. A drain that idles costs nothing: `srv.Shutdown` returns, and the
 * pod exits, as soon as the last request is done.
 */
export interface InterceptorDrain {
    readonly shutdownDelaySeconds: number;
    readonly drainTimeoutSeconds: number;
    /** shutdownDelay + drainTimeout, and time for the admin server and caches to stop (chart: "at least shutdownDelay + drainTimeout"). */
    readonly terminationGracePeriodSeconds: number;
}

/** The chart's drain (values.yaml `interceptor.drainTimeout`), the floor when no model is held. */
const CHART_DRAIN_SECONDS = 30;
const SHUTDOWN_DELAY_SECONDS = 5;
const STOP_SECONDS = 10;

/**
 * The longest a request stays in an interceptor, over `models`, the models called through it: held
 * while the model has no ready replica for up to its cold start (the readiness timeout of its
 * InterceptorRoute, ./model-server/request-routing.ts), then answered within the model's own
 * drainSeconds, the time the platform gives a generation in flight.
 */
export function longestHoldSeconds(models: readonly Pick<ModelConfig, "startupBudgetSeconds" | "drainSeconds">[]): number {
    return Math.max(CHART_DRAIN_SECONDS, ...models.map((model) => coldStartSeconds(model) + model.drainSeconds));
}

export function interceptorDrain(holdSeconds: number): InterceptorDrain {
    const drainTimeoutSeconds = Math.max(CHART_DRAIN_SECONDS, Math.ceil(holdSeconds));
    return {
        shutdownDelaySeconds: SHUTDOWN_DELAY_SECONDS,
        drainTimeoutSeconds,
        terminationGracePeriodSeconds: SHUTDOWN_DELAY_SECONDS + drainTimeoutSeconds + STOP_SECONDS,
    };
}

/** The models clients call through the interceptor (./model-server/request-routing.ts usesInterceptor): the add-on exists for them. */
export function interceptedModels<Model extends Pick<ModelConfig, "engine" | "image" | "minReplicas" | "autoscaling">>(models: readonly Model[]): Model[] {
    return models.filter((model) => usesInterceptor(model, engineProfile(model.engine, model.image)));
}

/**
 * The longest terminationGracePeriodSeconds among the serving pods of `models`: every model
 * server's (./model-server/deployment.ts drainTiming, from its drainSeconds) and, when some model
 * is called through the add-on, the interceptors' (interceptorDrain of longestHoldSeconds, as the
 * chart values above get it). What the Cluster Autoscaler must let a pod it evicts keep
 * (./cluster-autoscaler.ts, `--max-graceful-termination-sec`).
 *
 * Here, next to the two drains it combines: this module already sits above
 * ./model-server/request-routing.ts (it imports coldStartSeconds), and neither ./engines.ts nor
 * ./model-server/deployment.ts imports it, so the imports stay acyclic; in request-routing.ts,
 * which interceptorDrain would have to be imported into, it would close a cycle.
 */
export function longestServingGraceSeconds(models: readonly Pick<ModelConfig, "engine" | "image" | "minReplicas" | "autoscaling" | "startupBudgetSeconds" | "drainSeconds">[]): number {
    const held = interceptedModels(models);
    const interceptor = held.length > 0 ? interceptorDrain(longestHoldSeconds(held)).terminationGracePeriodSeconds : 0;
    const servers = models.map((model) => drainTiming(engineProfile(model.engine, model.image).onSigterm, model.drainSeconds).terminationGracePeriodSeconds);
    return Math.max(0, interceptor, ...servers);
}

export interface KedaHttpChartOptions {
    /** The longest a request stays in an interceptor (longestHoldSeconds): its drain. */
    readonly holdSeconds: number;
}

/**
 * Values for the chart (keys of kedacore/charts http-add-on/values.yaml at v0.15.0). Each component
 * with requests and limits; no tolerations, so nothing lands on GPU nodes; the restricted pod
 * security profile (the chart's default pod context lacks runAsNonRoot and seccomp; the add-on's own
 * config/*\/deployment.yaml at v0.15.0 run its images with exactly these settings).
 *
 * One operator (a controller that reconciles routes; nothing waits on it). Two external scalers,
 * spread over nodes, with a PodDisruptionBudget the chart does not render (scalerPodDisruptionBudget):
 * KEDA holds one gRPC stream to the scaler's Service, and while no scaler runs, no model scaled to
 * zero wakes. Two are safe: each scaler pings every interceptor itself and answers from its own
 * counts (scaler/queue_pinger.go at v0.15.0: no leader, no shared state), and the chart's own
 * default is three. The interceptors, which every request of a scale-to-zero model passes through,
 * at least two, spread over nodes, with the chart's PodDisruptionBudget (maxUnavailable 1), and a
 * drain as long as the longest hold (interceptorDrain).
 */
export function kedaHttpChartValues(options: KedaHttpChartOptions) {
    const drain = interceptorDrain(options.holdSeconds);
    const spread = (component: "interceptor" | "scaler") => [{
        maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway",
        labelSelector: { matchLabels: componentLabels(component) },
    }];
    return {
        crds: { install: true },
        operator: {
            replicas: 1,
            pullPolicy: "IfNotPresent",
            resources: resources("50m", "64Mi", "500m", "128Mi"),
            tolerations: [],
        },
        scaler: {
            replicas: SCALER_REPLICAS,
            pullPolicy: "IfNotPresent",
            service: "external-scaler",
            grpcPort: EXTERNAL_SCALER.port,
            resources: resources("50m", "64Mi", "500m", "128Mi"),
            tolerations: [],
            topologySpreadConstraints: spread("scaler"),
        },
        interceptor: {
            pullPolicy: "IfNotPresent",
            proxy: { service: "interceptor-proxy", port: INTERCEPTOR_PROXY.port },
            replicas: { ...INTERCEPTOR_REPLICAS },
            // Held requests and streamed responses live in the interceptor: more memory than the chart's 64Mi.
            resources: resources("100m", "128Mi", "1", "256Mi"),
            tolerations: [],
            topologySpreadConstraints: spread("interceptor"),
            pdb: { enabled: true, maxUnavailable: 1 },
            // Rendered as KEDA_HTTP_SHUTDOWN_DELAY and KEDA_HTTP_DRAIN_TIMEOUT (templates/interceptor/deployment.yaml), Go durations.
            shutdownDelay: `${drain.shutdownDelaySeconds}s`,
            drainTimeout: `${drain.drainTimeoutSeconds}s`,
            terminationGracePeriodSeconds: drain.terminationGracePeriodSeconds,
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
 * The external scalers' PodDisruptionBudget, which the chart does not render (it has one for the
 * interceptor only, templates/interceptor/poddisruptionbudget.yaml at 0.15.0): a node drain takes
 * one scaler at a time, so KEDA's stream always finds one. It selects the labels of
 * templates/scaler/deployment.yaml at 0.15.0 (whatever the release name).
 */
export function scalerPodDisruptionBudget(namespace: pulumi.Input<string>) {
    return {
        metadata: { name: EXTERNAL_SCALER.service, namespace, labels: { "app.kubernetes.io/part-of": "llm-platform" } },
        spec: { maxUnavailable: 1, selector: { matchLabels: componentLabels("scaler") } },
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
    // currentReplicasIfHigher (KEDA v2.20.2 pkg/fallback/fallback.go doFallback): hold the fleet it
    // has when that is more than the minimum, as the model servers' ScaledObjects do.
    const fallback = { failureThreshold: 3, replicas: INTERCEPTOR_REPLICAS.min, behavior: "currentReplicasIfHigher" };
    return {
        props: { ...args.props, spec: { ...spec, fallback: spec.fallback ?? fallback } },
        opts: args.opts,
    };
}

type Json = Record<string, unknown>;

/**
 * Declares the interceptor's metrics port on its container (named, so the PodMonitor can select
 * it), and sets the exporter's port to it explicitly rather than trusting the default to stay
 * 2223: see INTERCEPTOR_METRICS. Touches the interceptor Deployment only; what is already there
 * stays.
 */
export function interceptorMetricsPort(args: pulumi.ResourceTransformArgs): pulumi.ResourceTransformResult | undefined {
    const metadata = (args.props.metadata ?? {}) as Json;
    if (args.type !== "kubernetes:apps/v1:Deployment" || metadata.name !== INTERCEPTOR_DEPLOYMENT) {
        return undefined;
    }
    const spec = (args.props.spec ?? {}) as Json;
    const template = (spec.template ?? {}) as Json;
    const podSpec = (template.spec ?? {}) as Json;
    const containers = ((podSpec.containers ?? []) as Json[]).map((container) => {
        if (container.name !== INTERCEPTOR_DEPLOYMENT) {
            return container;
        }
        const ports = (container.ports ?? []) as Json[];
        const env = (container.env ?? []) as Json[];
        return {
            ...container,
            ports: ports.some((port) => port.name === INTERCEPTOR_METRICS.portName)
                ? ports : [...ports, { name: INTERCEPTOR_METRICS.portName, containerPort: INTERCEPTOR_METRICS.port, protocol: "TCP" }],
            env: env.some((variable) => variable.name === "OTEL_PROM_EXPORTER_PORT")
                ? env : [...env, { name: "OTEL_PROM_EXPORTER_PORT", value: String(INTERCEPTOR_METRICS.port) }],
        };
    });
    return {
        props: { ...args.props, spec: { ...spec, template: { ...template, spec: { ...podSpec, containers } } } },
        opts: args.opts,
    };
}

/**
 * The PodMonitor (monitoring.coreos.com/v1) that brings the interceptors' request counts to
 * Prometheus: the add-on's pods, by the chart's labels, in its own namespace, on the port
 * interceptorMetricsPort() declares. Prometheus selects every PodMonitor in every namespace
 * (components/observability/prometheus-values.ts: podMonitorSelector {}), so it needs no label.
 */
export function interceptorPodMonitor<Namespace extends pulumi.Input<string>>(namespace: Namespace) {
    return {
        metadata: { name: INTERCEPTOR_METRICS.podMonitor, namespace, labels: { "app.kubernetes.io/part-of": "llm-platform" } },
        spec: {
            selector: { matchLabels: { ...INTERCEPTOR_POD_LABELS } },
            podMetricsEndpoints: [{ port: INTERCEPTOR_METRICS.portName, path: "/metrics" }],
        },
    };
}

export interface KedaHttpAddOnArgs {
    /** Namespace the add-on runs in: KEDA's own, which must exist (see `dependsOn`). */
    readonly namespace: pulumi.Input<string>;
    /**
     * Scrape the interceptors' request counts with a PodMonitor (its CRD comes with the
     * observability layer, which `dependsOn` must then include, directly or through KEDA).
     * Defaults to true.
     */
    readonly podMonitor?: boolean;
    /** The longest a request stays in an interceptor (longestHoldSeconds of the models it serves): its drain. */
    readonly holdSeconds: number;
    /** What the chart waits for: KEDA and its CRDs (the chart renders a ScaledObject). Defaults to none. */
    readonly dependsOn?: pulumi.Resource[];
}

/**
 * The KEDA HTTP add-on (operator, external scaler, interceptor proxy) from its pinned Helm chart.
 * Its interceptor holds a request for a model scaled to zero while KEDA wakes it.
 */
export class KedaHttpAddOn extends pulumi.ComponentResource {
    public readonly chart: k8s.helm.v4.Chart;
    /** Scrapes the interceptors' request counts (interceptor_request_count_total), which `requestRate` models without engine metrics scale on. */
    public readonly podMonitor?: k8s.apiextensions.CustomResource;
    /** The external scalers' PodDisruptionBudget (scalerPodDisruptionBudget). */
    public readonly scalerBudget: k8s.policy.v1.PodDisruptionBudget;

    constructor(name: string, args: KedaHttpAddOnArgs, opts?: pulumi.ComponentResourceOptions) {
        super("llm-platform:autoscaling:KedaHttpAddOn", name, {}, opts);

        this.chart = new k8s.helm.v4.Chart(`${name}-chart`, {
            chart: KEDA_HTTP_CHART.chart,
            version: KEDA_HTTP_CHART.version,
            repositoryOpts: { repo: KEDA_HTTP_CHART.repo },
            namespace: args.namespace,
            values: kedaHttpChartValues({ holdSeconds: args.holdSeconds }),
        }, { parent: this, dependsOn: args.dependsOn ?? [], transforms: [interceptorScaledObjectFallback, interceptorMetricsPort] });

        this.scalerBudget = new k8s.policy.v1.PodDisruptionBudget(`${name}-scaler`, scalerPodDisruptionBudget(args.namespace), { parent: this });

        if (args.podMonitor ?? true) {
            this.podMonitor = new k8s.apiextensions.CustomResource(`${name}-interceptor-monitor`, {
                apiVersion: "monitoring.coreos.com/v1",
                kind: "PodMonitor",
                ...interceptorPodMonitor(args.namespace),
            }, { parent: this, dependsOn: args.dependsOn ?? [] });
        }

        this.registerOutputs({ chart: this.chart, podMonitor: this.podMonitor, scalerBudget: this.scalerBudget });
    }
}
