import * as assert from "assert";
import * as k8s from "@pulumi/kubernetes";
import { GpuRuntime, devicePluginValues } from "../components/gpu/gpu-runtime";
import { GPU_NODE_LABELS, GPU_TAINT } from "../components/gpu/gpu-node-pool";
import { DEFAULT_NODE_AGENTS, matchesName } from "../policies/rules/pods-gpu";
import { ProgramRun } from "../tools/offline/run";
import { inputs, object, resource, runComponent, runStack, runStackFile, stackFileConfig } from "./mocks";

describe("GPU runtime (GpuRuntime)", () => {
    let dev: ProgramRun;
    before(async () => {
        dev = await runStackFile("dev");
    });

    it("pins the NVIDIA device plugin chart and image", () => {
        const chart = inputs(resource(dev, "kubernetes:helm.sh/v4:Chart", "gpu-runtime-device-plugin"));
        assert.deepStrictEqual([chart.chart, chart.version, chart.repositoryOpts.repo], ["nvidia-device-plugin", "0.20.0", "https://nvidia.github.io/k8s-device-plugin"]);
        assert.strictEqual(chart.values.image.tag, "v0.20.0");
        assert.strictEqual(chart.namespace, "nvidia-system");
    });

    it("tolerates the GPU pool's taint, with the Kubernetes spelling of its effect", () => {
        const { tolerations } = inputs(resource(dev, "kubernetes:helm.sh/v4:Chart", "gpu-runtime-device-plugin")).values;
        assert.deepStrictEqual(tolerations, [{ key: GPU_TAINT.key, operator: "Exists", effect: "NoSchedule" }]);
    });

    it("selects the label the GPU pool puts on its nodes, so the DaemonSet has pods there", () => {
        const { nodeSelector } = inputs(resource(dev, "kubernetes:helm.sh/v4:Chart", "gpu-runtime-device-plugin")).values;
        assert.deepStrictEqual(nodeSelector, { "nvidia.com/gpu.present": "true" });
        for (const [key, value] of Object.entries(nodeSelector as Record<string, string>)) {
            assert.strictEqual((GPU_NODE_LABELS as Record<string, string>)[key], value, `GPU nodes carry ${key}=${value}`);
        }
        assert.strictEqual(inputs(resource(dev, "aws:eks/nodeGroup:NodeGroup", "gpu")).labels["nvidia.com/gpu.present"], "true");
    });

    it("keeps a keyless toleration out of the device plugin", () => {
        assert.ok(devicePluginValues().tolerations.every((t) => t.key === "nvidia.com/gpu"));
    });

    it("runs the DCGM exporter on GPU nodes with a ServiceMonitor and resource limits", () => {
        const chart = inputs(resource(dev, "kubernetes:helm.sh/v4:Chart", "gpu-runtime-dcgm-exporter"));
        assert.deepStrictEqual([chart.chart, chart.version, chart.repositoryOpts.repo], ["dcgm-exporter", "4.8.2", "https://nvidia.github.io/dcgm-exporter/helm-charts"]);
        assert.strictEqual(chart.values.serviceMonitor.enabled, true);
        assert.deepStrictEqual(chart.values.nodeSelector, { "nvidia.com/gpu.present": "true" });
        assert.deepStrictEqual(chart.values.tolerations, [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }]);
        assert.ok(chart.values.resources.requests.memory && chart.values.resources.limits.memory);
        assert.strictEqual(chart.values.image.tag, "4.5.3-4.8.2-distroless");
    });

    it("scrapes the exporter at the platform's scrape interval, with a timeout within it", async () => {
        const chart = inputs(resource(dev, "kubernetes:helm.sh/v4:Chart", "gpu-runtime-dcgm-exporter"));
        assert.deepStrictEqual([chart.values.serviceMonitor.interval, chart.values.serviceMonitor.scrapeTimeout], ["15s", "10s"]);
        const fast = await runStack({ ...stackFileConfig("dev"), observability: { scrapeInterval: "5s" } });
        const fastChart = inputs(resource(fast, "kubernetes:helm.sh/v4:Chart", "gpu-runtime-dcgm-exporter"));
        assert.deepStrictEqual([fastChart.values.serviceMonitor.interval, fastChart.values.serviceMonitor.scrapeTimeout], ["5s", "5s"]);
    });

    it("keeps the GPU's pod and namespace labels, so per-pod GPU panels have data", () => {
        const chart = inputs(resource(dev, "kubernetes:helm.sh/v4:Chart", "gpu-runtime-dcgm-exporter"));
        assert.strictEqual(chart.values.serviceMonitor.honorLabels, true);
    });

    it("installs the exporter only after the observability layer, whose CRD its ServiceMonitor is", () => {
        const exporter = resource(dev, "kubernetes:helm.sh/v4:Chart", "gpu-runtime-dcgm-exporter");
        const operatorChart = dev.resources.find((r) => r.type === "kubernetes:helm.sh/v4:Chart" && r.inputs.chart === "kube-prometheus-stack");
        assert.ok(operatorChart, "the observability layer installs kube-prometheus-stack");
        assert.ok(exporter.dependencies.includes(operatorChart.urn), exporter.dependencies.join("\n"));
    });

    it("installs both charts into its own namespace, as releases the policy pack knows as node agents", () => {
        assert.ok(object(dev, "Namespace", "nvidia-system"));
        for (const name of ["gpu-runtime-device-plugin", "gpu-runtime-dcgm-exporter"]) {
            const chart = inputs(resource(dev, "kubernetes:helm.sh/v4:Chart", name));
            assert.strictEqual(chart.namespace, "nvidia-system", name);
            // Both charts name their DaemonSet after the release when the release contains the chart's name.
            assert.strictEqual(chart.name, chart.chart, name);
            assert.ok(matchesName(chart.name, DEFAULT_NODE_AGENTS), `${chart.name} is an allowlisted node agent`);
        }
    });

    it("can leave the ServiceMonitor out", async () => {
        const run = await runComponent(() => new GpuRuntime("rt", { provider: new k8s.Provider("p", {}), serviceMonitor: false, namespace: "gpu" }));
        assert.strictEqual(inputs(resource(run, "kubernetes:helm.sh/v4:Chart", "rt-dcgm-exporter")).values.serviceMonitor.enabled, false);
    });
});

