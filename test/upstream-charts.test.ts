import * as assert from "assert";
import { EXTERNAL_SCALER, INTERCEPTOR_PROXY } from "../components/autoscaling/keda-http-add-on";
import { GRAFANA_URL, LOKI_URL, MONITORING_NAMESPACE } from "../components/observability/names";
import { packArgs } from "../policies/pack";
import { chartDirectory } from "../tools/offline/chart-sources";
import { helmBinary } from "../tools/offline/helm-binary";
import type { KubernetesObject } from "../tools/offline/manifests";
import { evaluatePolicies } from "../tools/offline/policies";
import { chartReleases, renderCharts } from "../tools/offline/render";
import { validateObjects } from "../tools/offline/schemas";
import { stackFilePath } from "../tools/offline/stack-file";
import { chartProblems, kubernetesMinor, renderedSubjects } from "../tools/offline/stack-charts";
import { plan } from "../tools/plan";
import { PROJECT_DIR, STACKS } from "./mocks";

/**
 * The stacks rendered with the real upstream charts at their pinned versions. Upstream charts
 * cannot be downloaded where CI runs, so this runs only where a directory of them is given:
 * `LLM_PLATFORM_CHARTS=<dir> npx mocha test/upstream-charts.test.ts`, with `<dir>` filled by
 * `npm run plan -- --stack <s> --pull-charts --charts <dir>` on a machine that reaches the
 * chart repositories (this repository's .ci/run reaches only the npm registry).
 */
const CHARTS = process.env.LLM_PLATFORM_CHARTS;

describe("the stacks with the upstream charts (LLM_PLATFORM_CHARTS)", function () {
    this.timeout(300_000);
    before(function () {
        if (!CHARTS) {
            this.skip();
        }
    });

    for (const stack of STACKS) {
        it(`${stack}: every chart renders with no values key ignored, no violation, and every object validates`, async () => {
            const result = await plan(stack, stackFilePath(PROJECT_DIR, stack), { charts: { dir: CHARTS } });
            assert.deepStrictEqual(chartProblems(result.charts), []);
            assert.deepStrictEqual(result.charts.filter((chart) => chart.objects.length === 0).map((chart) => chart.release.chart), []);
            assert.deepStrictEqual(result.report.violations, []);
            const crds = result.objects.filter((object) => object.kind === "CustomResourceDefinition");
            assert.deepStrictEqual(await validateObjects(result.objects, crds), []);
        });

        it(`${stack}: the charts render the Services whose names and ports the program hands out`, async () => {
            const result = await plan(stack, stackFilePath(PROJECT_DIR, stack), { charts: { dir: CHARTS } });
            // Prometheus' own Service, prometheus-operated (PROMETHEUS_URL), is made by the operator at run time, not rendered.
            const endpoints = [
                { ...serviceOf(GRAFANA_URL), namespace: MONITORING_NAMESPACE },
                { ...serviceOf(LOKI_URL), namespace: MONITORING_NAMESPACE },
                ...(result.charts.some((chart) => chart.release.chart === "keda-add-ons-http") ? [
                    { name: INTERCEPTOR_PROXY.service, namespace: "keda", port: INTERCEPTOR_PROXY.port },
                    { name: EXTERNAL_SCALER.service, namespace: "keda", port: EXTERNAL_SCALER.port },
                ] : []),
            ];
            const missing = endpoints.filter((endpoint) => !result.objects.some((object) => servesPort(object, endpoint)));
            assert.deepStrictEqual(missing, []);
        });
    }
});

describe("kube-prometheus-stack with its operator's TLS and admission webhooks on (LLM_PLATFORM_CHARTS)", function () {
    this.timeout(120_000);
    before(function () {
        if (!CHARTS) {
            this.skip();
        }
    });

    it("fails chart-no-hook-dependency: the operator mounts the Secret only a pre-install hook Job creates", async () => {
        const { run } = await plan("prod", stackFilePath(PROJECT_DIR, "prod"));
        const release = chartReleases(run.resources).find((candidate) => candidate.chart === "kube-prometheus-stack");
        assert.ok(release, "prod installs kube-prometheus-stack");
        const operator = release.values.prometheusOperator as Record<string, unknown>;
        const withHooks = { ...release, values: { ...release.values, prometheusOperator: { ...operator, tls: { enabled: true }, admissionWebhooks: { enabled: true } } } };
        const renderings = await renderCharts([withHooks], {
            helm: helmBinary(), chartDir: (chart) => chartDirectory(chart, CHARTS as string), kubeVersion: kubernetesMinor(run.resources), resources: run.resources,
        });
        const report = await evaluatePolicies(packArgs.policies, renderedSubjects(renderings));
        assert.deepStrictEqual(report.violations.filter((v) => v.policy === "chart-no-hook-dependency").map((v) => v.message.split(", which")[0]), [
            'Deployment monitoring/kube-prometheus-stack-operator needs Secret "kube-prometheus-stack-admission" (volume "tls-secret")',
        ]);
    });
});

/** `http://grafana.monitoring.svc:80` -> `{ name: "grafana", port: 80 }`. */
function serviceOf(url: string): { name: string; port: number } {
    const { hostname, port } = new URL(url);
    return { name: hostname.split(".")[0], port: Number(port || 80) };
}

function servesPort(object: KubernetesObject, endpoint: { name: string; namespace: string; port: number }): boolean {
    const ports = (object.spec as { ports?: { port?: number }[] } | undefined)?.ports ?? [];
    return object.kind === "Service" && object.metadata.name === endpoint.name && object.metadata.namespace === endpoint.namespace
        && ports.some((port) => port.port === endpoint.port);
}
