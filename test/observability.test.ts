import * as assert from "assert";
import { parse } from "yaml";
import { ObservabilityConfig } from "../config";
import { Dashboard, DASHBOARD_FILES, datasourceProvisioning, readDashboards } from "../components/observability/dashboards";
import { alloyPipeline, alloyValues, lokiValues } from "../components/observability/logging-values";
import {
    DATASOURCE_UIDS, GPU_TOLERATING_NODE_AGENTS, GRAFANA_ADMIN_KEYS, GRAFANA_ADMIN_SECRET, LOKI_PUSH_URL, LOKI_URL, MONITORING_NAMESPACE, PROMETHEUS_URL,
} from "../components/observability/names";
import { prometheusStackValues } from "../components/observability/prometheus-values";
import { toManifestYaml } from "../tools/offline/manifests";
import { ProgramRun, SECRET } from "../tools/offline/run";
import { configProblems, loadConfigWith, object, objects, resource, resourcesOfType, runStack } from "./mocks";

const REVISION = "7ae557604adf67be50417f59c2c2f167def9a775";
const MODEL = { name: "qwen", repo: "Qwen/Qwen2.5-0.5B-Instruct", revision: REVISION, modelSize: "1Gi" };
const PASSWORD = "grafana-Pa55word-never-in-clear";

type Values = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function observabilityConfig(overrides: Record<string, unknown> = {}): Promise<ObservabilityConfig> {
    const config = await loadConfigWith({ target: "local", ...overrides });
    assert.ok(!(config instanceof Error), String(config));
    return config.observability;
}

function problems(observability: Record<string, unknown>): Promise<readonly string[]> {
    return configProblems({ target: "local", observability });
}

function chartValues(run: ProgramRun, name: string): Values {
    return resource(run, "kubernetes:helm.sh/v4:Chart", name).inputs.values as Values;
}

describe("observability", () => {
    describe("config", () => {
        it("takes every default from Pulumi.yaml", async () => {
            const config = await observabilityConfig();
            assert.strictEqual(config.scrapeInterval, "15s");
            assert.deepStrictEqual(config.loki.storage, "filesystem");
            assert.ok(config.alerts.ttftP95Seconds > 0 && config.alerts.gpuMemoryFullRatio <= 1);
        });

        it("merges a partial block over the defaults", async () => {
            const config = await observabilityConfig({ observability: { prometheus: { retention: "30d" }, alerts: { ttftP95Seconds: 1.5 } } });
            assert.strictEqual(config.prometheus.retention, "30d");
            assert.strictEqual(config.prometheus.storageSize, "50Gi");
            assert.strictEqual(config.alerts.ttftP95Seconds, 1.5);
            assert.strictEqual(config.alerts.queueBacklogMinutes, 5);
        });

        const cases: [string, Record<string, unknown>, string][] = [
            ["a scrape interval too long for autoscaling", { scrapeInterval: "2m" }, 'llm-platform:observability.scrapeInterval = "2m": must be between 1s and 30s: the autoscaler reads these series'],
            ["a retention that is not a duration", { prometheus: { retention: "15 days" } }, 'llm-platform:observability.prometheus.retention = "15 days": is not a Prometheus duration (like 15s, 5m, 15d)'],
            ["a storage size that is not a quantity", { prometheus: { storageSize: "50gb" } }, 'llm-platform:observability.prometheus.storageSize = "50gb": is not a Kubernetes quantity (like 500m, 4, 16Gi)'],
            ["Loki on S3 off AWS (the cases run on target local)", { loki: { storage: "s3" } }, 'llm-platform:observability.loki.storage = "s3": needs target aws (an S3 bucket and a Pod Identity role); use filesystem on target local'],
            ["a GPU memory ratio above 1", { alerts: { gpuMemoryFullRatio: 1.5 } }, "llm-platform:observability.alerts.gpuMemoryFullRatio = 1.5: must be at most 1"],
            ["a TTFT SLO of zero", { alerts: { ttftP95Seconds: 0 } }, "llm-platform:observability.alerts.ttftP95Seconds = 0: must be greater than 0"],
            ["an unknown key", { alerts: { queueBacklogMinute: 3 } }, "llm-platform:observability.alerts.queueBacklogMinute: unknown key (did you mean queueBacklogMinutes?)"],
        ];
        for (const [what, observability, expected] of cases) {
            it(`rejects ${what}, in one line`, async () => {
                assert.deepStrictEqual(await problems(observability), [expected]);
            });
        }
    });

    describe("the stack under mocks", () => {
        let run: ProgramRun;
        before(async () => {
            run = await runStack({ target: "local", models: [MODEL], grafanaAdminPassword: PASSWORD }, "test", ["grafanaAdminPassword"]);
        });

        it("puts the layer in the monitoring namespace, as a component", () => {
            assert.ok(object(run, "Namespace", MONITORING_NAMESPACE));
            assert.strictEqual(resource(run, "llm-platform:observability:Observability", "observability").custom, false);
            for (const chart of resourcesOfType(run, "kubernetes:helm.sh/v4:Chart").filter((c) => c.name.startsWith("observability-"))) {
                assert.strictEqual(chart.inputs.namespace, MONITORING_NAMESPACE);
                assert.match(String(chart.inputs.version), /^\d+\.\d+\.\d+$/, `${chart.name} is pinned`);
            }
        });

        it("gives the KEDA triggers the Prometheus that kube-prometheus-stack runs", () => {
            const triggers = (object(run, "ScaledObject", "qwen").spec as Values).triggers as Values[];
            assert.ok(triggers.length > 0);
            for (const trigger of triggers) {
                assert.strictEqual(trigger.metadata.serverAddress, PROMETHEUS_URL);
            }
        });

        it("has Prometheus scrape every ServiceMonitor, PodMonitor and rule of every namespace, with retention and a PVC from config", () => {
            const spec = chartValues(run, "observability-prometheus-stack").prometheus.prometheusSpec;
            for (const kind of ["serviceMonitor", "podMonitor", "probe", "scrapeConfig", "rule"]) {
                assert.strictEqual(spec[`${kind}SelectorNilUsesHelmValues`], false, kind);
                assert.deepStrictEqual(spec[`${kind}Selector`], {}, kind);
                assert.deepStrictEqual(spec[`${kind}NamespaceSelector`], {}, kind);
            }
            assert.strictEqual(spec.scrapeInterval, "15s");
            assert.strictEqual(spec.retention, "15d");
            assert.deepStrictEqual(spec.storageSpec.volumeClaimTemplate.spec.resources.requests, { storage: "50Gi" });
        });

        it("points Grafana at the admin Secret, which holds the password only as a secret", () => {
            const grafana = chartValues(run, "observability-prometheus-stack").grafana;
            assert.deepStrictEqual(grafana.admin, { existingSecret: GRAFANA_ADMIN_SECRET, userKey: GRAFANA_ADMIN_KEYS.user, passwordKey: GRAFANA_ADMIN_KEYS.password });
            assert.strictEqual(grafana.adminPassword, undefined);
            const secret = object(run, "Secret", GRAFANA_ADMIN_SECRET);
            assert.strictEqual(secret.metadata.namespace, MONITORING_NAMESPACE);
            // The Kubernetes SDK makes all of a Secret's stringData secret.
            assert.deepStrictEqual(secret.stringData, { [GRAFANA_ADMIN_KEYS.user]: SECRET, [GRAFANA_ADMIN_KEYS.password]: SECRET });
            assert.deepStrictEqual(resourcesOfType(run, "random:index/randomPassword:RandomPassword"), [], "a configured password is used as is");
        });

        it("never writes the password in clear: not in resources.json, manifests.yaml or the outputs", () => {
            const resourcesJson = JSON.stringify(run.resources.map(({ type, name, inputs }) => ({ type, name, inputs })));
            assert.ok(!resourcesJson.includes(PASSWORD));
            assert.ok(!toManifestYaml(objects(run)).includes(PASSWORD));
            assert.ok(!JSON.stringify(run.outputs).includes(PASSWORD));
            assert.ok(!JSON.stringify(chartValues(run, "observability-prometheus-stack")).includes(SECRET), "the chart's values hold no secret");
        });

        it("provisions Prometheus and Loki as Grafana data sources, through the sidecar's label", () => {
            const configMap = object(run, "ConfigMap", "grafana-datasources");
            const sidecar = chartValues(run, "observability-prometheus-stack").grafana.sidecar.datasources;
            assert.strictEqual((configMap.metadata.labels as Values)[sidecar.label], sidecar.labelValue);
            const { datasources } = parse(String((configMap.data as Values)["datasources.yaml"])) as { datasources: Values[] };
            assert.deepStrictEqual(datasources.map((d) => [d.type, d.uid, d.url]), [
                ["prometheus", DATASOURCE_UIDS.prometheus, PROMETHEUS_URL],
                ["loki", DATASOURCE_UIDS.loki, LOKI_URL],
            ]);
        });

        it("provisions every dashboard file as a ConfigMap for the dashboard sidecar, JSON unchanged", () => {
            const sidecar = chartValues(run, "observability-prometheus-stack").grafana.sidecar.dashboards;
            const files = readDashboards();
            for (const name of DASHBOARD_FILES) {
                const configMap = object(run, "ConfigMap", `grafana-dashboard-${name}`);
                assert.strictEqual(configMap.metadata.namespace, MONITORING_NAMESPACE);
                assert.strictEqual((configMap.metadata.labels as Values)[sidecar.label], sidecar.labelValue);
                assert.strictEqual((configMap.data as Values)[`${name}.json`], files[name]);
            }
        });

        it("declares the alert rules as a PrometheusRule that watches the model namespace", () => {
            const rule = object(run, "PrometheusRule", "llm-platform-alerts");
            assert.strictEqual(rule.metadata.namespace, MONITORING_NAMESPACE);
            const alerts = ((rule.spec as Values).groups as Values[]).flatMap((group) => group.rules as Values[]);
            // One name may have several rules: LlmModelNoReadyReplicas has one per cold-start allowance (alert-rules.ts).
            assert.deepStrictEqual([...new Set(alerts.map((a) => a.alert))].sort(), [
                "GpuMemoryNearlyFull", "KedaScalerErrors", "KedaScalerMetricMissing", "LlmModelDownloadFailed", "LlmModelEndpointDown",
                "LlmModelNoReadyReplicas", "LlmModelQueueBackingUp", "LlmTimeToFirstTokenSloBreach",
            ]);
            assert.ok(alerts.filter((a) => /vllm:|kube_/.test(a.expr)).every((a) => a.expr.includes('namespace="llm"')));
        });

        it("runs the Prometheus operator without the Secret that only a Helm hook creates (helm.v4.Chart runs no hooks)", () => {
            const stack = chartValues(run, "observability-prometheus-stack");
            const operator = stack.prometheusOperator;
            // Each switch as the chart reads it, with its default from kube-prometheus-stack 88.5.3 values.yaml.
            const on = (value: unknown, chartDefault: boolean) => (value === undefined ? chartDefault : value === true);
            const webhooks = on(operator.admissionWebhooks?.enabled, true);
            const certManager = on(operator.admissionWebhooks?.certManager?.enabled, false);
            // templates/prometheus-operator/deployment.yaml: the `tls-secret` volume, `--web.enable-tls=true`, and the
            // ServiceMonitor's scrape CA (servicemonitor.yaml), all from the Secret `<fullname>-admission`.
            assert.strictEqual(on(operator.tls?.enabled, true), false, "prometheusOperator.tls.enabled: the operator would mount <fullname>-admission");
            // admission-webhooks/deployment/deployment.yaml mounts the same Secret.
            assert.strictEqual(on(operator.admissionWebhooks?.deployment?.enabled, false), false, "prometheusOperator.admissionWebhooks.deployment.enabled");
            // The webhook configurations get their caBundle from the post-install hook job-patchWebhook.yaml, the Secret
            // from the pre-install hook job-createSecret.yaml (both when patch.enabled, the default, without cert-manager).
            assert.strictEqual(webhooks, false, "prometheusOperator.admissionWebhooks.enabled: webhooks without a CA, certgen Jobs as hooks");
            assert.strictEqual(certManager, false, "no cert-manager is installed to issue <fullname>-admission");
            // charts/crds/templates/upgrade/*.yaml are hooks too.
            assert.strictEqual(on(stack.crds?.upgradeJob?.enabled, false), false, "crds.upgradeJob.enabled");
        });

        it("exports the in-cluster Grafana URL and the admin Secret's name", () => {
            assert.strictEqual(run.outputs.grafanaUrl, `http://grafana.${MONITORING_NAMESPACE}.svc:80`);
            assert.deepStrictEqual(run.outputs.grafanaAdminSecret, { namespace: MONITORING_NAMESPACE, name: GRAFANA_ADMIN_SECRET });
        });
    });

    it("generates the Grafana password with @pulumi/random when none is configured, and keeps it secret", async () => {
        const run = await runStack({ target: "local" });
        const generated = resource(run, "random:index/randomPassword:RandomPassword", "observability-grafana-admin-password");
        assert.strictEqual(generated.inputs.length, 32);
        assert.strictEqual((object(run, "Secret", GRAFANA_ADMIN_SECRET).stringData as Values)[GRAFANA_ADMIN_KEYS.password], SECRET);
        assert.ok(!JSON.stringify(run.resources).includes("offline-password"));
    });

    describe("chart values (pure builders)", () => {
        let config: ObservabilityConfig;
        before(async () => {
            config = await observabilityConfig({ observability: { prometheus: { storageClass: "gp3" }, loki: { storageSize: "5Gi" } } });
        });

        it("sets cpu and memory requests and a memory limit on every container the charts run", () => {
            const stack = prometheusStackValues(config) as Values;
            const loki = lokiValues(config) as Values;
            const alloy = alloyValues(config) as Values;
            const containers: [string, Values][] = [
                ["operator", stack.prometheusOperator.resources], ["config reloader", stack.prometheusOperator.prometheusConfigReloader.resources],
                ["prometheus", stack.prometheus.prometheusSpec.resources],
                ["alertmanager", stack.alertmanager.alertmanagerSpec.resources], ["kube-state-metrics", stack["kube-state-metrics"].resources],
                ["node exporter", stack["prometheus-node-exporter"].resources], ["grafana", stack.grafana.resources], ["grafana sidecars", stack.grafana.sidecar.resources],
                ["loki", loki.singleBinary.resources], ["alloy", alloy.alloy.resources], ["alloy config reloader", alloy.configReloader.resources],
            ];
            for (const [what, resources] of containers) {
                assert.ok(resources?.requests?.cpu && resources.requests.memory && resources.limits?.memory, `${what} has requests and a memory limit`);
            }
        });

        it("keeps Loki single-binary on a PVC of the configured size, with no gateway, caches or canary pods", () => {
            const loki = lokiValues(config) as Values;
            assert.strictEqual(loki.deploymentMode, "Monolithic");
            assert.strictEqual(loki.singleBinary.replicas, 1);
            assert.deepStrictEqual(loki.singleBinary.persistence, { enabled: true, size: "5Gi" });
            assert.strictEqual(loki.loki.storage.type, "filesystem");
            for (const off of ["gateway", "chunksCache", "resultsCache", "lokiCanary", "test"]) {
                assert.strictEqual(loki[off].enabled, false, off);
            }
            assert.deepStrictEqual(prometheusStackValues(config).prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec.storageClassName, "gp3");
        });

        it("ships every pod's logs to Loki with namespace, pod, container and model labels", () => {
            const pipeline = alloyPipeline();
            for (const label of ["namespace", "pod", "container", "model"]) {
                assert.match(pipeline, new RegExp(`target_label\\s*=\\s*"${label}"`));
            }
            assert.match(pipeline, /__meta_kubernetes_pod_label_app_kubernetes_io_instance/);
            assert.ok(pipeline.includes(`url = "${LOKI_PUSH_URL}"`));
            assert.strictEqual(alloyValues(config).alloy.configMap.content, pipeline);
        });

        it("lets only the named node agents tolerate the GPU taint", () => {
            assert.deepStrictEqual([...GPU_TOLERATING_NODE_AGENTS].sort(), ["alloy", "kube-prometheus-stack-prometheus-node-exporter"]);
            const gpuTaint = [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }];
            assert.deepStrictEqual(alloyValues(config).controller, { type: "daemonset", tolerations: gpuTaint });
            const stack = prometheusStackValues(config) as Values;
            assert.deepStrictEqual(stack["prometheus-node-exporter"].tolerations, gpuTaint);
            const json = JSON.stringify({ ...stack, "prometheus-node-exporter": undefined, loki: lokiValues(config) });
            assert.ok(!json.includes("nvidia.com/gpu"), "no other component tolerates the GPU taint");
        });

        it("wires every dashboard panel to a provisioned data source", () => {
            const uids = new Map<string, string>(datasourceProvisioning("15s").datasources.map((d) => [d.uid, d.type]));
            for (const json of Object.values(readDashboards())) {
                const dashboard = JSON.parse(json) as Dashboard;
                for (const panel of dashboard.panels) {
                    const sources = [panel.datasource, ...(panel.targets ?? []).map((t) => t.datasource)];
                    for (const source of sources) {
                        assert.ok(source?.uid && uids.get(source.uid) === source.type, `${dashboard.uid} / ${panel.title}: ${JSON.stringify(source)}`);
                    }
                }
            }
        });
    });
});
