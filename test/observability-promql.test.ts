/**
 * Every PromQL expression of the dashboards and the alert rules parses (promtool check rules,
 * from Debian's prometheus package) and names only metrics listed in
 * components/observability/metrics.ts; the alert rules are unit-tested with promtool test rules,
 * with input series for each alert, firing and not firing. The rules file comes from the same
 * builder the PrometheusRule uses.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { stringify } from "yaml";
import type { ObservabilityConfig } from "../config";
import { AlertRule, RuleGroup, alertRuleGroups, rulesFile } from "../components/observability/alert-rules";
import { Dashboard, dashboardQueries, readDashboards } from "../components/observability/dashboards";
import { KNOWN_METRICS } from "../components/observability/metrics";
import { DATASOURCE_UIDS } from "../components/observability/names";
import { loadConfigWith } from "./mocks";
import { expectedAlert, promtool, requirePromtool } from "./promtool";

const MODEL_NAMESPACE = "llm";

/** Grafana's template variables, replaced by values that keep the expression valid PromQL. */
export function substituteVariables(expr: string): string {
    return expr.replace(/\$__(rate_)?interval|\$__range/g, "5m").replace(/\$\{?(\w+)(?::\w+)?\}?/g, ".+");
}

const KEYWORDS = new Set(["and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "inf", "nan", "Inf", "NaN"]);

/**
 * The metric names an expression selects: identifiers outside strings, label matchers, ranges and
 * label lists that are neither functions, aggregations nor keywords.
 */
export function metricNames(expr: string): string[] {
    const stripped = expr
        .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
        .replace(/\{[^}]*\}/g, " ")
        .replace(/\[[^\]]*\]/g, " ")
        .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
    const names = new Set<string>();
    for (const match of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
        const before = stripped[match.index - 1] ?? " ";
        const after = stripped.slice(match.index + match[0].length).trimStart();
        if (/[0-9.]/.test(before) || after.startsWith("(") || KEYWORDS.has(match[0])) {
            continue;
        }
        names.add(match[0]);
    }
    return [...names];
}

/** label_values(<selector>, <label>) -> the selector; other variable queries as they are. */
function variableSelector(definition: string): string | undefined {
    const match = /^label_values\((.*),\s*[a-zA-Z_]\w*\)$/.exec(definition.trim());
    if (match) {
        return match[1];
    }
    return /^label_values\(\s*[a-zA-Z_]\w*\)$/.test(definition.trim()) ? undefined : definition;
}

interface PromQuery {
    readonly where: string;
    readonly expr: string;
}

function dashboardPromQueries(): PromQuery[] {
    return Object.values(readDashboards()).flatMap((json) => dashboardQueries(JSON.parse(json) as Dashboard))
        .filter((query) => query.uid === DATASOURCE_UIDS.prometheus)
        .flatMap((query) => {
            const expr = query.where.includes("/ $") ? variableSelector(query.expr) : query.expr;
            return expr === undefined ? [] : [{ where: query.where, expr: substituteVariables(expr) }];
        });
}

describe("observability PromQL (promtool)", function () {
    this.timeout(120_000);
    let dir: string;
    let alerts: ObservabilityConfig["alerts"];
    let groups: RuleGroup[];

    before(async () => {
        requirePromtool();
        const config = await loadConfigWith({ target: "local" });
        assert.ok(!(config instanceof Error), String(config));
        alerts = config.observability.alerts;
        groups = alertRuleGroups(alerts, [MODEL_NAMESPACE]);
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "llm-promql-"));
        fs.writeFileSync(path.join(dir, "rules.yaml"), rulesFile(groups));
    });

    after(() => {
        if (dir) {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    const rule = (name: string): AlertRule => {
        const found = groups.flatMap((group) => group.rules).find((r) => r.alert === name);
        assert.ok(found, `no alert ${name}`);
        return found;
    };

    describe("the metric extractor", () => {
        it("finds metric names and skips functions, labels, strings and keywords", () => {
            assert.deepStrictEqual(metricNames('histogram_quantile(0.95, sum by (model_name, le) (rate(vllm:time_to_first_token_seconds_bucket{namespace="a"}[5m]))) > 2'),
                ["vllm:time_to_first_token_seconds_bucket"]);
            assert.deepStrictEqual(metricNames('(a_total{x="y"} > 0) and on (job) b unless sum(c) by (d) or label_replace(e, "f", "$1", "g", "(.*)")').sort(),
                ["a_total", "b", "c", "e"]);
        });
    });

    it("every alert rule parses (promtool check rules)", () => {
        const result = promtool(["check", "rules", "rules.yaml"], dir);
        assert.strictEqual(result.status, 0, result.output);
    });

    it("every dashboard expression parses (each as a recording rule, promtool check rules)", () => {
        const queries = dashboardPromQueries();
        assert.ok(queries.length >= 30, `found ${queries.length} Prometheus queries`);
        const file = path.join(dir, "dashboards.yaml");
        fs.writeFileSync(file, stringify({ groups: [{ name: "dashboards", rules: queries.map((q, i) => ({ record: `dashboard:query:${i}`, expr: q.expr })) }] }, { lineWidth: 0 }));
        const result = promtool(["check", "rules", "dashboards.yaml"], dir);
        const failing = result.status === 0 ? "" : result.output;
        assert.strictEqual(result.status, 0, `${failing}\n${queries.map((q, i) => `${i}: ${q.where}: ${q.expr}`).join("\n")}`);
    });

    it("dashboards and rules name only metrics the pinned vLLM, DCGM exporter, KEDA and kube-state-metrics emit", () => {
        const expressions = [...dashboardPromQueries(), ...groups.flatMap((g) => g.rules.map((r) => ({ where: r.alert, expr: r.expr })))];
        const unknown = expressions.flatMap(({ where, expr }) => metricNames(expr).filter((name) => !KNOWN_METRICS.has(name)).map((name) => `${where}: ${name}`));
        assert.deepStrictEqual(unknown, []);
        const used = new Set(expressions.flatMap(({ expr }) => metricNames(expr)));
        for (const required of ["vllm:kv_cache_usage_perc", "vllm:inter_token_latency_seconds_bucket", "DCGM_FI_DEV_FB_USED", "keda_scaler_metrics_value", "kube_job_status_failed"]) {
            assert.ok(used.has(required), `${required} is used`);
        }
        assert.ok(!used.has("vllm:gpu_cache_usage_perc"), "the deprecated KV-cache metric is not used");
    });

    it("every alert fires on its input series and stays quiet on healthy ones (promtool test rules)", () => {
        const ns = MODEL_NAMESPACE;
        const bucket = (model: string, le: string, values: string) => ({ series: `vllm:time_to_first_token_seconds_bucket{namespace="${ns}", model_name="${model}", le="${le}"}`, values });
        const tests = [
            {
                name: "no ready replicas, only after the cold-start allowance; not for a healthy or scaled-to-zero model",
                interval: "1m",
                input_series: [
                    { series: `kube_deployment_spec_replicas{namespace="${ns}", deployment="down"}`, values: "1x40" },
                    { series: `kube_deployment_status_replicas_ready{namespace="${ns}", deployment="down"}`, values: "0x40" },
                    { series: `kube_deployment_spec_replicas{namespace="${ns}", deployment="healthy"}`, values: "2x40" },
                    { series: `kube_deployment_status_replicas_ready{namespace="${ns}", deployment="healthy"}`, values: "2x40" },
                    { series: `kube_deployment_spec_replicas{namespace="${ns}", deployment="idle"}`, values: "0x40" },
                    { series: `kube_deployment_status_replicas_ready{namespace="${ns}", deployment="idle"}`, values: "0x40" },
                ],
                alert_rule_test: [
                    { eval_time: `${alerts.noReadyReplicasMinutes - 5}m`, alertname: "LlmModelNoReadyReplicas", exp_alerts: [] },
                    { eval_time: `${alerts.noReadyReplicasMinutes + 2}m`, alertname: "LlmModelNoReadyReplicas", exp_alerts: [expectedAlert(rule("LlmModelNoReadyReplicas"), { namespace: ns, deployment: "down" })] },
                ],
            },
            {
                name: "a ready server's scrape target down for 5 minutes; not a server still loading its weights",
                interval: "1m",
                input_series: [
                    { series: `up{namespace="${ns}", service="qwen", pod="qwen-1", job="qwen", instance="10.0.0.1:8000"}`, values: "0x10" },
                    { series: `kube_pod_status_ready{namespace="${ns}", pod="qwen-1", condition="true"}`, values: "1x10" },
                    { series: `up{namespace="${ns}", service="qwen", pod="qwen-2", job="qwen", instance="10.0.0.2:8000"}`, values: "1x10" },
                    { series: `kube_pod_status_ready{namespace="${ns}", pod="qwen-2", condition="true"}`, values: "1x10" },
                    { series: `up{namespace="${ns}", service="qwen", pod="qwen-3", job="qwen", instance="10.0.0.3:8000"}`, values: "0x10" },
                    { series: `kube_pod_status_ready{namespace="${ns}", pod="qwen-3", condition="true"}`, values: "0x10" },
                ],
                alert_rule_test: [
                    { eval_time: "3m", alertname: "LlmModelEndpointDown", exp_alerts: [] },
                    { eval_time: "7m", alertname: "LlmModelEndpointDown", exp_alerts: [expectedAlert(rule("LlmModelEndpointDown"), { namespace: ns, service: "qwen", pod: "qwen-1", job: "qwen", instance: "10.0.0.1:8000" })] },
                ],
            },
            {
                name: "a queue over the threshold for N minutes; not a short queue",
                interval: "1m",
                input_series: [
                    { series: `vllm:num_requests_waiting{namespace="${ns}", model_name="busy", pod="busy-1", engine="0"}`, values: `${alerts.queueBacklog + 5}x30` },
                    { series: `vllm:num_requests_waiting{namespace="${ns}", model_name="calm", pod="calm-1", engine="0"}`, values: `${Math.max(0, alerts.queueBacklog - 1)}x30` },
                ],
                alert_rule_test: [
                    { eval_time: `${Math.max(1, alerts.queueBacklogMinutes - 2)}m`, alertname: "LlmModelQueueBackingUp", exp_alerts: [] },
                    { eval_time: `${alerts.queueBacklogMinutes + 2}m`, alertname: "LlmModelQueueBackingUp", exp_alerts: [expectedAlert(rule("LlmModelQueueBackingUp"), { namespace: ns, model_name: "busy" })] },
                ],
            },
            {
                name: "time to first token p95 over the SLO for 10 minutes; not a fast model",
                interval: "1m",
                input_series: [
                    // slow: every request between SLO x 1.5 and SLO x 3 seconds.
                    bucket("slow", String(alerts.ttftP95Seconds / 2), "0x40"),
                    bucket("slow", String(alerts.ttftP95Seconds * 1.5), "0x40"),
                    bucket("slow", String(alerts.ttftP95Seconds * 3), "0+10x40"),
                    bucket("slow", "+Inf", "0+10x40"),
                    // fast: every request under half the SLO.
                    bucket("fast", String(alerts.ttftP95Seconds / 2), "0+10x40"),
                    bucket("fast", String(alerts.ttftP95Seconds * 1.5), "0+10x40"),
                    bucket("fast", String(alerts.ttftP95Seconds * 3), "0+10x40"),
                    bucket("fast", "+Inf", "0+10x40"),
                ],
                alert_rule_test: [
                    { eval_time: "8m", alertname: "LlmTimeToFirstTokenSloBreach", exp_alerts: [] },
                    { eval_time: "20m", alertname: "LlmTimeToFirstTokenSloBreach", exp_alerts: [expectedAlert(rule("LlmTimeToFirstTokenSloBreach"), { namespace: ns, model_name: "slow" })] },
                ],
            },
            {
                name: "a failed download Job (either signal); not another Job, not a running download, not one that retried and succeeded",
                interval: "1m",
                input_series: [
                    // A pod failed once (a Hub hiccup), the retry succeeded: kube-state-metrics keeps reason="" at 1.
                    { series: `kube_job_status_failed{namespace="${ns}", job_name="gemma-download-13572468", reason=""}`, values: "0 1 1 1 1" },
                    { series: `kube_job_status_succeeded{namespace="${ns}", job_name="gemma-download-13572468"}`, values: "0 0 1 1 1" },
                    { series: `kube_job_failed{namespace="${ns}", job_name="qwen-download-0123abcd", condition="true"}`, values: "0 0 1 1 1" },
                    { series: `kube_job_status_failed{namespace="${ns}", job_name="phi-download-89abcdef", reason="BackoffLimitExceeded"}`, values: "0 0 1 1 1" },
                    { series: `kube_job_failed{namespace="${ns}", job_name="other-job", condition="true"}`, values: "1x4" },
                    { series: `kube_job_failed{namespace="${ns}", job_name="mixtral-download-fedcba98", condition="false"}`, values: "0x4" },
                ],
                alert_rule_test: [
                    { eval_time: "1m", alertname: "LlmModelDownloadFailed", exp_alerts: [] },
                    {
                        eval_time: "3m", alertname: "LlmModelDownloadFailed", exp_alerts: [
                            expectedAlert(rule("LlmModelDownloadFailed"), { namespace: ns, job_name: "phi-download-89abcdef" }),
                            expectedAlert(rule("LlmModelDownloadFailed"), { namespace: ns, job_name: "qwen-download-0123abcd" }),
                        ],
                    },
                ],
            },
            {
                name: "GPU memory above the ratio for 10 minutes; not a GPU at vLLM's usual 90%",
                interval: "1m",
                input_series: [
                    { series: 'DCGM_FI_DEV_FB_USED{Hostname="gpu-node", gpu="0", UUID="GPU-0"}', values: `${Math.ceil(24000 * alerts.gpuMemoryFullRatio) + 100}x20` },
                    { series: 'DCGM_FI_DEV_FB_FREE{Hostname="gpu-node", gpu="0", UUID="GPU-0"}', values: `${24000 - Math.ceil(24000 * alerts.gpuMemoryFullRatio) - 100}x20` },
                    { series: 'DCGM_FI_DEV_FB_USED{Hostname="gpu-node", gpu="1", UUID="GPU-1"}', values: "21600x20" },
                    { series: 'DCGM_FI_DEV_FB_FREE{Hostname="gpu-node", gpu="1", UUID="GPU-1"}', values: "2400x20" },
                ],
                alert_rule_test: [
                    { eval_time: "5m", alertname: "GpuMemoryNearlyFull", exp_alerts: [] },
                    { eval_time: "12m", alertname: "GpuMemoryNearlyFull", exp_alerts: [expectedAlert(rule("GpuMemoryNearlyFull"), { Hostname: "gpu-node", gpu: "0" })] },
                ],
            },
            {
                name: "KEDA scaler errors for 5 minutes; not a scaler whose errors stopped",
                interval: "1m",
                input_series: [
                    { series: 'keda_scaler_detail_errors_total{namespace="llm", scaledObject="qwen", scaler="prometheusScaler", triggerIndex="0", metric="s0-prometheus", type="scaledobject"}', values: "0+4x20" },
                    { series: 'keda_scaler_detail_errors_total{namespace="llm", scaledObject="phi", scaler="prometheusScaler", triggerIndex="0", metric="s0-prometheus", type="scaledobject"}', values: "3x20" },
                ],
                alert_rule_test: [
                    { eval_time: "3m", alertname: "KedaScalerErrors", exp_alerts: [] },
                    { eval_time: "10m", alertname: "KedaScalerErrors", exp_alerts: [expectedAlert(rule("KedaScalerErrors"), { scaledObject: "qwen", scaler: "prometheusScaler" })] },
                ],
            },
            {
                name: "KEDA's Prometheus scaler keeps getting empty results",
                interval: "1m",
                input_series: [
                    { series: `keda_scaler_empty_upstream_responses_total{namespace="keda", scaledResource="qwen", triggerName="queue", metricName="s0-prometheus", resourceType="scaledobject", ignoreNullValues="false"}`, values: "0+2x20" },
                    // With ignoreNullValues "true" an empty result is read as zero on purpose: not this alert's business.
                    { series: `keda_scaler_empty_upstream_responses_total{namespace="keda", scaledResource="other", triggerName="queue", metricName="s0-prometheus", resourceType="scaledobject", ignoreNullValues="true"}`, values: "0+2x20" },
                ],
                alert_rule_test: [
                    { eval_time: "3m", alertname: "KedaScalerMetricMissing", exp_alerts: [] },
                    { eval_time: "12m", alertname: "KedaScalerMetricMissing", exp_alerts: [expectedAlert(rule("KedaScalerMetricMissing"), { scaledResource: "qwen", triggerName: "queue" })] },
                ],
            },
            {
                name: "KEDA's Prometheus scaler has no new empty results",
                interval: "1m",
                input_series: [{ series: `keda_scaler_empty_upstream_responses_total{namespace="keda", scaledResource="qwen", triggerName="queue", metricName="s0-prometheus", resourceType="scaledobject", ignoreNullValues="false"}`, values: "7x20" }],
                alert_rule_test: [{ eval_time: "12m", alertname: "KedaScalerMetricMissing", exp_alerts: [] }],
            },
        ];
        const tested = new Set(tests.flatMap((t) => t.alert_rule_test.map((a) => a.alertname)));
        assert.deepStrictEqual([...tested].sort(), groups.flatMap((g) => g.rules.map((r) => r.alert)).sort(), "every alert has a unit test");
        fs.writeFileSync(path.join(dir, "tests.yaml"), stringify({ rule_files: ["rules.yaml"], evaluation_interval: "1m", tests }, { lineWidth: 0 }));
        const result = promtool(["test", "rules", "tests.yaml"], dir);
        assert.strictEqual(result.status, 0, result.output);
    });
});

