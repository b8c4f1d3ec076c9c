import * as assert from "assert";
import { prometheusStackValues } from "../components/observability/prometheus-values";
import { alloyValues, lokiValues } from "../components/observability/logging-values";
import { ProgramRun } from "../tools/offline/run";
import { acceptedConfig, configProblems, resource, runStackFile } from "./mocks";

type Values = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function stackValues(run: ProgramRun): Values {
    return resource(run, "kubernetes:helm.sh/v4:Chart", "observability-prometheus-stack").inputs.values as Values;
}

/** What kube-prometheus-stack is told to scrape and alert on, per control-plane component. */
function controlPlane(values: Values) {
    const rules = values.defaultRules?.rules ?? {};
    return {
        controllerManager: [values.kubeControllerManager?.enabled, rules.kubeControllerManager],
        scheduler: [values.kubeScheduler?.enabled, rules.kubeSchedulerAlerting, rules.kubeSchedulerRecording],
        proxy: [values.kubeProxy?.enabled, rules.kubeProxy],
        etcd: [values.kubeEtcd?.enabled, rules.etcd],
    };
}

const ALL_OFF = { controllerManager: [false, false], scheduler: [false, false, false], proxy: [false, false], etcd: [false, false] };

describe("local cluster flavour", function () {
    this.timeout(60_000);

    describe("config", () => {
        it("defaults to generic on local, and takes the flavour a stack names", async () => {
            assert.strictEqual((await acceptedConfig({ target: "local" })).clusterFlavour, "generic");
            assert.strictEqual((await acceptedConfig({ target: "local", clusterFlavour: "kind" })).clusterFlavour, "kind");
        });

        it("rejects a flavour it does not know, in one line", async () => {
            assert.deepStrictEqual(await configProblems({ target: "local", clusterFlavour: "k3d" }),
                ['llm-platform:clusterFlavour = "k3d": expected one of "generic", "k3s", "kind", "minikube"']);
        });

        it("rejects a flavour on an aws stack, which runs on EKS", async () => {
            const found = await configProblems({ target: "aws", clusterFlavour: "k3s" });
            assert.ok(found.includes('llm-platform:clusterFlavour = "k3s": is for target local: an aws stack runs on EKS (leave it unset)'), found.join("\n"));
        });
    });

    describe("control-plane scraping and its default alerts", () => {
        const cases: [string, Record<string, boolean[]>][] = [
            // k3s runs controller manager, scheduler and kube-proxy in its own process: no pods to select, Down alerts forever.
            ["k3s", ALL_OFF],
            // kubeadm binds controller manager, scheduler and etcd metrics to 127.0.0.1; kind leaves kube-proxy's at 127.0.0.1:10249.
            ["kind", ALL_OFF],
            // minikube sets kube-proxy's metricsBindAddress to 0.0.0.0:10249.
            ["minikube", { controllerManager: [false, false], scheduler: [false, false, false], proxy: [true, true], etcd: [false, false] }],
            ["generic", { controllerManager: [true, true], scheduler: [true, true, true], proxy: [true, true], etcd: [true, true] }],
        ];
        for (const [flavour, expected] of cases) {
            it(`on ${flavour}`, async () => {
                const config = await acceptedConfig({ target: "local", clusterFlavour: flavour });
                assert.deepStrictEqual(controlPlane(prometheusStackValues(config.observability, config.clusterFlavour) as Values), expected);
            });
        }

        it("the shipped local stack is k3s: KubeControllerManagerDown, KubeSchedulerDown and KubeProxyDown are not created", async () => {
            const run = await runStackFile("local");
            assert.deepStrictEqual(controlPlane(stackValues(run)), ALL_OFF);
        });

        it("an aws stack (EKS: AWS's control plane, kube-proxy on 127.0.0.1) scrapes none of them", async () => {
            const run = await runStackFile("dev");
            assert.deepStrictEqual(controlPlane(stackValues(run)), ALL_OFF);
        });
    });

    describe("sizing from config", () => {
        it("gives Prometheus, Loki, Grafana and Alloy the requests and limits the stack sets", async () => {
            const resources = (cpu: string, memory: string) => ({ cpu, memory, cpuLimit: "1", memoryLimit: "1Gi" });
            const config = await acceptedConfig({
                target: "local",
                observability: {
                    prometheus: { resources: resources("150m", "512Mi") }, loki: { resources: resources("50m", "256Mi") },
                    grafana: { resources: resources("40m", "192Mi") }, alloy: { resources: resources("20m", "96Mi") },
                },
            });
            const expected = (cpu: string, memory: string) => ({ requests: { cpu, memory }, limits: { cpu: "1", memory: "1Gi" } });
            const stack = prometheusStackValues(config.observability) as Values;
            assert.deepStrictEqual(stack.prometheus.prometheusSpec.resources, expected("150m", "512Mi"));
            assert.deepStrictEqual(stack.grafana.resources, expected("40m", "192Mi"));
            assert.deepStrictEqual((lokiValues(config.observability) as Values).singleBinary.resources, expected("50m", "256Mi"));
            assert.deepStrictEqual((alloyValues(config.observability) as Values).alloy.resources, expected("20m", "96Mi"));
        });

        it("keeps the cluster stacks' sizes as before (Prometheus 500m / 2Gi, Loki 100m / 512Mi)", async () => {
            const config = await acceptedConfig({ target: "local" });
            assert.deepStrictEqual((prometheusStackValues(config.observability) as Values).prometheus.prometheusSpec.resources,
                { requests: { cpu: "500m", memory: "2Gi" }, limits: { cpu: "2", memory: "4Gi" } });
            assert.deepStrictEqual((lokiValues(config.observability) as Values).singleBinary.resources,
                { requests: { cpu: "100m", memory: "512Mi" }, limits: { cpu: "1", memory: "1Gi" } });
        });

        it("sizes the shipped local stack for a laptop: a week capped at 4 GB on 6Gi, logs for 3 days on 5Gi", async () => {
            const values = stackValues(await runStackFile("local"));
            const spec = values.prometheus.prometheusSpec;
            assert.deepStrictEqual([spec.retention, spec.retentionSize, spec.storageSpec.volumeClaimTemplate.spec.resources.requests.storage], ["7d", "4GB", "6Gi"]);
            assert.deepStrictEqual(spec.resources.requests, { cpu: "150m", memory: "512Mi" });
        });

        const rejected: [string, Record<string, unknown>, string][] = [
            ["a retention size the claim cannot hold", { prometheus: { retentionSize: "6GB", storageSize: "6Gi" } },
                'llm-platform:observability.prometheus.retentionSize = "6GB": is not below prometheus.storageSize (6Gi): the volume fills before the oldest blocks are deleted'],
            ["a request above its limit", { loki: { resources: { cpu: "2", memory: "256Mi", cpuLimit: "1", memoryLimit: "1Gi" } } },
                'llm-platform:observability.loki.resources.cpu = "2": is more than resources.cpuLimit (1)'],
        ];
        for (const [what, observability, expected] of rejected) {
            it(`rejects ${what}, in one line`, async () => {
                assert.deepStrictEqual(await configProblems({ target: "local", observability }), [expected]);
            });
        }
    });
});
