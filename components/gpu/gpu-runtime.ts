import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { durationSeconds } from "../../config/observability";
import { gpuNodeSelector, gpuToleration } from "../../lib/gpu-scheduling";

export interface GpuRuntimeArgs {
    readonly provider: k8s.Provider;
    /** Namespace of the device plugin and the exporter. Defaults to "nvidia-system". */
    readonly namespace?: string;
    /**
     * Create the exporter's ServiceMonitor. Defaults to true; needs the Prometheus operator's
     * CRDs, so the observability layer must be deployed first (pass it in `dependsOn`).
     */
    readonly serviceMonitor?: boolean;
    /** How often Prometheus scrapes the exporter: the platform's scrape interval. Defaults to "15s". */
    readonly scrapeInterval?: string;
    /** What the DCGM exporter (its ServiceMonitor) waits for: the observability layer. Defaults to none. */
    readonly dependsOn?: pulumi.Resource[];
    /** Labels the Prometheus instance selects ServiceMonitors by. Defaults to none. */
    readonly serviceMonitorLabels?: Readonly<Record<string, string>>;
}

export const DEVICE_PLUGIN_CHART = {
    chart: "nvidia-device-plugin",
    // Chart.yaml at tag v0.20.0 of NVIDIA/k8s-device-plugin, listed in the repo's index.yaml (gh-pages).
    version: "0.20.0",
    repo: "https://nvidia.github.io/k8s-device-plugin",
    // The chart's default tag is "v" + appVersion (templates/_helpers.tpl `fullimage`); pinned here.
    image: { repository: "nvcr.io/nvidia/k8s-device-plugin", tag: "v0.20.0" },
} as const;

export const DCGM_EXPORTER_CHART = {
    chart: "dcgm-exporter",
    // deployment/Chart.yaml of NVIDIA/dcgm-exporter, newest in helm-charts/index.yaml (gh-pages).
    version: "4.8.2",
    repo: "https://nvidia.github.io/dcgm-exporter/helm-charts",
    // The tag that chart version's values.yaml defaults to (DCGM 4.5.3, exporter 4.8.2).
    image: { repository: "nvcr.io/nvidia/k8s/dcgm-exporter", tag: "4.5.3-4.8.2-distroless" },
} as const;


/**
 * nvidia-device-plugin values (keys from its values.yaml at 0.20.0). The chart's default
 * affinity already admits nodes labelled `nvidia.com/gpu.present=true` (GpuNodePool sets
 * the label: there is no NFD here); the nodeSelector makes that the only way in. Its
 * default tolerations are replaced by the one GPU taint.
 */
export function devicePluginValues() {
    return {
        image: { ...DEVICE_PLUGIN_CHART.image },
        nodeSelector: gpuNodeSelector(),
        tolerations: [gpuToleration()],
        resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "128Mi" } },
        gfd: { enabled: false },
        nfd: { enabled: false },
    };
}

/**
 * dcgm-exporter values (keys from its values.yaml at 4.8.2). The chart always renders an
 * interval and a timeout (default 10s), so both follow the platform's scrape interval.
 */
export function dcgmExporterValues(serviceMonitor: boolean, serviceMonitorLabels: Readonly<Record<string, string>> = {}, scrapeInterval = "15s") {
    const timeoutSeconds = Math.min(10, durationSeconds(scrapeInterval) ?? 10);
    return {
        image: { ...DCGM_EXPORTER_CHART.image },
        nodeSelector: gpuNodeSelector(),
        tolerations: [gpuToleration()],
        resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "500m", memory: "512Mi" } },
        // honorLabels keeps the exporter's own pod/namespace/container labels (the GPU's user),
        // instead of renaming them exported_* under the exporter pod's: chart 4.8.2 values.yaml.
        // The exporter sets them from the kubelet's pod-resources API whenever its Kubernetes
        // mapping is on, which the chart always turns on (templates/daemonset.yaml
        // DCGM_EXPORTER_KUBERNETES "true"; names from NVIDIA/dcgm-exporter 4.5.3-4.8.2
        // internal/pkg/transformation/const.go, not the 1.x pod_name/pod_namespace without
        // --use-old-namespace). The gpuUtilization signal selects a model's GPUs by them
        // (model-server/scaled-object.ts); kubernetes.enablePodLabels (the pod's own labels, with a
        // ClusterRole) is not needed for that.
        serviceMonitor: {
            enabled: serviceMonitor, interval: scrapeInterval, scrapeTimeout: `${timeoutSeconds}s`, honorLabels: true, additionalLabels: { ...serviceMonitorLabels },
        },
    };
}

/**
 * What GPU nodes need beyond the AMI: the NVIDIA device plugin, which advertises
 * `nvidia.com/gpu` to the scheduler, and the DCGM exporter, whose ServiceMonitor brings
 * per-GPU utilisation and memory to Prometheus.
 */
export class GpuRuntime extends pulumi.ComponentResource {
    public readonly namespace: k8s.core.v1.Namespace;
    public readonly devicePlugin: k8s.helm.v4.Chart;
    public readonly dcgmExporter: k8s.helm.v4.Chart;

    constructor(name: string, args: GpuRuntimeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("llm-platform:gpu:GpuRuntime", name, {}, opts);
        const provider = args.provider;

        this.namespace = new k8s.core.v1.Namespace(`${name}-ns`, {
            metadata: {
                name: args.namespace ?? "nvidia-system",
                labels: {
                    "app.kubernetes.io/part-of": "llm-platform",
                    // Node agents: the plugin mounts the kubelet's device-plugin socket (hostPath),
                    // DCGM needs root and SYS_ADMIN for profiling metrics. Nothing else runs here.
                    "pod-security.kubernetes.io/enforce": "privileged",
                },
            },
        }, { parent: this, provider });
        const namespace = this.namespace.metadata.name;

        this.devicePlugin = new k8s.helm.v4.Chart(`${name}-device-plugin`, {
            // The release name is the chart's name, so the DaemonSet is `nvidia-device-plugin`
            // (the chart's fullname helper), which the policy pack's node-agent allowlist names.
            name: DEVICE_PLUGIN_CHART.chart,
            chart: DEVICE_PLUGIN_CHART.chart,
            version: DEVICE_PLUGIN_CHART.version,
            repositoryOpts: { repo: DEVICE_PLUGIN_CHART.repo },
            namespace,
            values: devicePluginValues(),
        }, { parent: this, provider });

        this.dcgmExporter = new k8s.helm.v4.Chart(`${name}-dcgm-exporter`, {
            name: DCGM_EXPORTER_CHART.chart,
            chart: DCGM_EXPORTER_CHART.chart,
            version: DCGM_EXPORTER_CHART.version,
            repositoryOpts: { repo: DCGM_EXPORTER_CHART.repo },
            namespace,
            values: dcgmExporterValues(args.serviceMonitor ?? true, args.serviceMonitorLabels, args.scrapeInterval),
        }, { parent: this, provider, dependsOn: args.dependsOn });

        this.registerOutputs({ namespace: this.namespace, devicePlugin: this.devicePlugin, dcgmExporter: this.dcgmExporter });
    }
}
