/**
 * A cold start within its allowance alerts nobody; a model stuck past it does (issue 10, "Alerts on
 * every cold start"). The rules are the ones the PrometheusRule carries (alertRuleGroups with the
 * dev stack's models), run by `promtool test rules` (Debian's prometheus package) over series as
 * kube-state-metrics and KEDA export them while dev's qwen-1-5b wakes from zero:
 * - kube_deployment_spec_replicas / kube_deployment_status_replicas_ready{namespace, deployment}
 *   (kube-state-metrics v2.20.0, internal/store/deployment.go; kube-prometheus-stack 88.5.3 bundles
 *   it and scrapes it with honorLabels, so namespace is the Deployment's);
 * - keda_scaler_detail_errors_total{scaledObject, scaler, type} and
 *   keda_scaler_empty_upstream_responses_total{scaledResource, triggerName, ignoreNullValues}
 *   (KEDA v2.20.2 pkg/metricscollector/prommetrics.go). KEDA's chart scrapes them without
 *   honorLabels (keda/templates/manager/servicemonitor.yaml at v2.20.2), so their own namespace label
 *   arrives as exported_namespace and namespace is KEDA's.
 * While a woken model has no ready replica its engine serves no metrics, its queries come back
 * empty (ignoreNullValues "false"), and KEDA counts an error at each poll until the first pod is
 * Ready and scraped.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse, stringify } from "yaml";
import type { PlatformConfig } from "../config";
import { AlertRule, RuleGroup, alertRuleGroups, rulesFile } from "../components/observability/alert-rules";
import { PROJECT_DIR, loadConfigWith, objects, runStack, runStackFile } from "./mocks";
import { expectedAlert, promtool, requirePromtool } from "./promtool";

const MODEL = "qwen-1-5b";

const ALERTS = ["LlmModelNoReadyReplicas", "KedaScalerErrors", "KedaScalerMetricMissing"];

/** No alert of ALERTS at any minute from `from` to `to`. */
function silent(from: number, to: number) {
    return Array.from({ length: to - from + 1 }, (_, i) => from + i)
        .flatMap((minute) => ALERTS.map((alertname) => ({ eval_time: `${minute}m`, alertname, exp_alerts: [] })));
}

describe("alerts and cold starts: silent within the allowance, firing past it (promtool test rules)", function () {
    this.timeout(120_000);
    let dir: string;
    let config: PlatformConfig;
    let groups: RuleGroup[];
    let ns: string;

    before(async () => {
        requirePromtool();
        const dev = parse(fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.dev.yaml"), "utf8")) as { config: Record<string, unknown> };
        const loaded = await loadConfigWith(dev.config);
        assert.ok(!(loaded instanceof Error), String(loaded));
        config = loaded;
        ns = config.namespace;
        groups = alertRuleGroups(config.observability.alerts, [ns], config.models);
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "llm-cold-start-"));
        fs.writeFileSync(path.join(dir, "rules.yaml"), rulesFile(groups));
    });

    after(() => {
        if (dir) {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    const rules = (name: string): AlertRule[] => groups.flatMap((group) => group.rules).filter((rule) => rule.alert === name);
    const rule = (name: string, forDuration?: string): AlertRule => {
        const found = rules(name).find((candidate) => forDuration === undefined || candidate.for === forDuration);
        assert.ok(found, `no alert ${name}${forDuration ? ` for ${forDuration}` : ""}`);
        return found;
    };

    it("dev's qwen-1-5b may go 30 minutes without a ready replica (600 s startup budget + 20 minutes for a GPU node and the image), longer than noReadyReplicasMinutes", () => {
        assert.strictEqual(config.observability.alerts.noReadyReplicasMinutes, 20);
        const forModel = rules("LlmModelNoReadyReplicas").filter((candidate) => candidate.expr.includes(`deployment=~"${MODEL}"`));
        assert.deepStrictEqual(forModel.map((candidate) => candidate.for), ["30m"]);
    });

    it("the rules parse (promtool check rules)", () => {
        const result = promtool(["check", "rules", "rules.yaml"], dir);
        assert.strictEqual(result.status, 0, result.output);
    });

    it("a model woken from zero and Ready 28 minutes later alerts nobody; stuck, it alerts once past 30 minutes, as LlmModelNoReadyReplicas only", () => {
        const keda = (values: string) => [
            { series: `keda_scaler_detail_errors_total{namespace="keda", exported_namespace="${ns}", scaledObject="${MODEL}", scaler="prometheusScaler", triggerIndex="0", metric="s0-prometheus", type="scaledobject"}`, values },
            { series: `keda_scaler_detail_errors_total{namespace="keda", exported_namespace="${ns}", scaledObject="${MODEL}", scaler="prometheusScaler", triggerIndex="1", metric="s1-prometheus", type="scaledobject"}`, values },
            { series: `keda_scaler_empty_upstream_responses_total{namespace="keda", exported_namespace="${ns}", scaledResource="${MODEL}", triggerName="queue", metricName="s0-prometheus", resourceType="scaledobject", ignoreNullValues="false"}`, values },
            { series: `keda_scaler_empty_upstream_responses_total{namespace="keda", exported_namespace="${ns}", scaledResource="${MODEL}", triggerName="running", metricName="s1-prometheus", resourceType="scaledobject", ignoreNullValues="false"}`, values },
        ];
        const tests = [
            {
                // Prometheus finds the new pod (its ServiceMonitor's endpoints list it once Ready) and scrapes it, then KEDA polls.
                name: "woken at 10m, Ready at 38m (28 minutes), KEDA's last empty result two minutes later",
                interval: "1m",
                input_series: [
                    { series: `kube_deployment_spec_replicas{namespace="${ns}", deployment="${MODEL}"}`, values: "0x9 1x60" },
                    { series: `kube_deployment_status_replicas_ready{namespace="${ns}", deployment="${MODEL}"}`, values: "0x37 1x32" },
                    // Errors from the wake-up to two minutes after Ready.
                    ...keda("0x9 4+4x29 124x30"),
                ],
                alert_rule_test: silent(0, 70),
            },
            {
                name: "woken at 10m, never Ready",
                interval: "1m",
                input_series: [
                    { series: `kube_deployment_spec_replicas{namespace="${ns}", deployment="${MODEL}"}`, values: "0x9 1x60" },
                    { series: `kube_deployment_status_replicas_ready{namespace="${ns}", deployment="${MODEL}"}`, values: "0x70" },
                    ...keda("0x9 4+4x60"),
                ],
                alert_rule_test: [
                    ...silent(0, 39),
                    ...[41, 55, 70].flatMap((minute) => [
                        { eval_time: `${minute}m`, alertname: "LlmModelNoReadyReplicas", exp_alerts: [expectedAlert(rule("LlmModelNoReadyReplicas", "30m"), { namespace: ns, deployment: MODEL })] },
                        // One alert for one problem: KEDA's errors of a model with no ready replica are that alert's.
                        { eval_time: `${minute}m`, alertname: "KedaScalerErrors", exp_alerts: [] },
                        { eval_time: `${minute}m`, alertname: "KedaScalerMetricMissing", exp_alerts: [] },
                    ]),
                ],
            },
        ];
        fs.writeFileSync(path.join(dir, "cold-start.yaml"), stringify({ rule_files: ["rules.yaml"], evaluation_interval: "1m", tests }, { lineWidth: 0 }));
        const result = promtool(["test", "rules", "cold-start.yaml"], dir);
        assert.strictEqual(result.status, 0, result.output);
    });

    it("KEDA's errors still alert where they are no cold start: a Ready model, a model at zero; a Deployment that is no configured model keeps noReadyReplicasMinutes", () => {
        const errors = (scaledObject: string) => ({
            series: `keda_scaler_detail_errors_total{namespace="keda", exported_namespace="${ns}", scaledObject="${scaledObject}", scaler="prometheusScaler", triggerIndex="0", metric="s0-prometheus", type="scaledobject"}`,
            values: "0+4x40",
        });
        const empty = (scaledResource: string) => ({
            series: `keda_scaler_empty_upstream_responses_total{namespace="keda", exported_namespace="${ns}", scaledResource="${scaledResource}", triggerName="queue", metricName="s0-prometheus", resourceType="scaledobject", ignoreNullValues="false"}`,
            values: "0+4x40",
        });
        const tests = [{
            name: `${MODEL} Ready with a broken metric; "asleep" at zero while KEDA cannot reach Prometheus; "stray" never Ready`,
            interval: "1m",
            input_series: [
                { series: `kube_deployment_spec_replicas{namespace="${ns}", deployment="${MODEL}"}`, values: "1x40" },
                { series: `kube_deployment_status_replicas_ready{namespace="${ns}", deployment="${MODEL}"}`, values: "1x40" },
                errors(MODEL),
                empty(MODEL),
                { series: `kube_deployment_spec_replicas{namespace="${ns}", deployment="asleep"}`, values: "0x40" },
                { series: `kube_deployment_status_replicas_ready{namespace="${ns}", deployment="asleep"}`, values: "0x40" },
                errors("asleep"),
                { series: `kube_deployment_spec_replicas{namespace="${ns}", deployment="stray"}`, values: "1x40" },
                { series: `kube_deployment_status_replicas_ready{namespace="${ns}", deployment="stray"}`, values: "0x40" },
            ],
            alert_rule_test: [
                { eval_time: "3m", alertname: "KedaScalerErrors", exp_alerts: [] },
                {
                    eval_time: "12m", alertname: "KedaScalerErrors", exp_alerts: [
                        expectedAlert(rule("KedaScalerErrors"), { scaledObject: "asleep", scaler: "prometheusScaler" }),
                        expectedAlert(rule("KedaScalerErrors"), { scaledObject: MODEL, scaler: "prometheusScaler" }),
                    ],
                },
                { eval_time: "12m", alertname: "KedaScalerMetricMissing", exp_alerts: [expectedAlert(rule("KedaScalerMetricMissing"), { scaledResource: MODEL, triggerName: "queue" })] },
                { eval_time: "19m", alertname: "LlmModelNoReadyReplicas", exp_alerts: [] },
                { eval_time: "22m", alertname: "LlmModelNoReadyReplicas", exp_alerts: [expectedAlert(rule("LlmModelNoReadyReplicas", "20m"), { namespace: ns, deployment: "stray" })] },
            ],
        }];
        fs.writeFileSync(path.join(dir, "not-cold-start.yaml"), stringify({ rule_files: ["rules.yaml"], evaluation_interval: "1m", tests }, { lineWidth: 0 }));
        const result = promtool(["test", "rules", "not-cold-start.yaml"], dir);
        assert.strictEqual(result.status, 0, result.output);
    });

    it("dev's program gives its PrometheusRule these allowances (index.ts passes the models)", async () => {
        const run = await runStackFile("dev");
        const prometheusRule = objects(run).find((object) => object.kind === "PrometheusRule" && object.metadata.name === "llm-platform-alerts");
        assert.ok(prometheusRule, "dev has the PrometheusRule");
        const all = (prometheusRule.spec as { groups: RuleGroup[] }).groups.flatMap((group) => group.rules);
        const noReady = all.filter((candidate) => candidate.alert === "LlmModelNoReadyReplicas").map((candidate) => ({ for: candidate.for, model: candidate.expr.includes(`deployment=~"${MODEL}"`) }));
        assert.deepStrictEqual(noReady, [{ for: "20m", model: false }, { for: "30m", model: true }]);
    });
});

describe("alerts watch every serving namespace: TGI models in <namespace>-tgi", function () {
    this.timeout(120_000);
    const TGI = { name: "tgi-model", repo: "Qwen/Qwen2.5-0.5B-Instruct", revision: "7ae557604adf67be50417f59c2c2f167def9a775", modelSize: "1Gi", storage: { size: "5Gi" }, engine: "tgi" };

    it("a TGI model stuck without a ready replica in llm-tgi raises LlmModelNoReadyReplicas (promtool)", async () => {
        const config = await loadConfigWith({ target: "local", models: [TGI] });
        assert.ok(!(config instanceof Error), String(config));
        const groups = alertRuleGroups(config.observability.alerts, ["llm", "llm-tgi"], config.models);
        const noReady = groups.flatMap((group) => group.rules).filter((candidate) => candidate.alert === "LlmModelNoReadyReplicas");
        // 900 s startup budget + 20 minutes for a node and the image: 35 minutes.
        const forModel = noReady.find((candidate) => candidate.for === "35m");
        assert.ok(forModel, JSON.stringify(noReady.map((candidate) => candidate.for)));
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "llm-tgi-alerts-"));
        try {
            fs.writeFileSync(path.join(dir, "rules.yaml"), rulesFile(groups));
            const tests = [{
                name: "a TGI model in llm-tgi wants a replica and never gets one Ready",
                interval: "1m",
                input_series: [
                    { series: `kube_deployment_spec_replicas{namespace="llm-tgi", deployment="${TGI.name}"}`, values: "1x50" },
                    { series: `kube_deployment_status_replicas_ready{namespace="llm-tgi", deployment="${TGI.name}"}`, values: "0x50" },
                ],
                alert_rule_test: [
                    { eval_time: "34m", alertname: "LlmModelNoReadyReplicas", exp_alerts: [] },
                    { eval_time: "36m", alertname: "LlmModelNoReadyReplicas", exp_alerts: [expectedAlert(forModel, { namespace: "llm-tgi", deployment: TGI.name })] },
                ],
            }];
            fs.writeFileSync(path.join(dir, "tgi.yaml"), stringify({ rule_files: ["rules.yaml"], evaluation_interval: "1m", tests }, { lineWidth: 0 }));
            const result = promtool(["test", "rules", "tgi.yaml"], dir);
            assert.strictEqual(result.status, 0, result.output);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("the program's PrometheusRule selects both namespaces when a TGI model exists, and only the stack's otherwise", async () => {
        const selectors = async (models: unknown[]) => {
            const run = await runStack({ target: "local", models });
            const rule = objects(run).find((object) => object.kind === "PrometheusRule" && object.metadata.name === "llm-platform-alerts");
            assert.ok(rule, "a PrometheusRule");
            const noReady = (rule.spec as { groups: RuleGroup[] }).groups.flatMap((group) => group.rules).find((candidate) => candidate.alert === "LlmModelNoReadyReplicas");
            return noReady?.expr.match(/namespace=~?"[^"]*"/)?.[0];
        };
        assert.strictEqual(await selectors([TGI, { ...TGI, name: "vllm-model", engine: "vllm" }]), 'namespace=~"llm|llm-tgi"');
        assert.strictEqual(await selectors([{ ...TGI, engine: "vllm" }]), 'namespace="llm"');
    });
});
