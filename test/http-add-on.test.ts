/**
 * The KEDA HTTP add-on is more than one pod thick, and its interceptors drain for as long as
 * they may hold a request (issue 10, "The HTTP add-on is one pod thick").
 *
 * Upstream facts the expectations below rest on (kedacore/http-add-on v0.15.0, kedacore/charts
 * c4b92e9 = http-add-on chart 0.15.0):
 * - interceptor/main.go ("Shutdown sequencing") and pkg/http/server.go `serve`: on SIGTERM the
 *   interceptor keeps serving for KEDA_HTTP_SHUTDOWN_DELAY, closes its listener, waits at most
 *   KEDA_HTTP_DRAIN_TIMEOUT for open requests (those it holds for a waking model among them), then
 *   cancels every one still open; interceptor/config/serving.go: the drain defaults to 30s.
 * - http-add-on/values.yaml: interceptor.shutdownDelay 5s, drainTimeout 30s,
 *   terminationGracePeriodSeconds 45 ("Must be at least shutdownDelay + drainTimeout"), rendered by
 *   templates/interceptor/deployment.yaml; scaler.replicas (chart default 3).
 * - scaler/queue_pinger.go: each scaler replica pings every interceptor itself, no leader, so
 *   two are as good as one; templates/scaler/deployment.yaml gives its pods the labels below; the
 *   chart renders a PodDisruptionBudget for the interceptor only (templates/interceptor/poddisruptionbudget.yaml).
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { longestHoldSeconds } from "../components/autoscaling/keda-http-add-on";
import { packArgs } from "../policies/pack";
import { chartDirectory } from "../tools/offline/chart-sources";
import { helmBinary } from "../tools/offline/helm-binary";
import type { KubernetesObject } from "../tools/offline/manifests";
import { evaluatePolicies } from "../tools/offline/policies";
import { ChartRelease, ChartRendering, chartReleases, renderCharts } from "../tools/offline/render";
import type { ProgramRun } from "../tools/offline/run";
import { kubernetesMinor, renderedSubjects } from "../tools/offline/stack-charts";
import { objects, runStackFile } from "./mocks";

/** The scaler's pod labels as templates/scaler/deployment.yaml and _helpers.tpl render them (release keda-http-chart). */
const SCALER_POD_LABELS = {
    "app.kubernetes.io/component": "scaler",
    "app.kubernetes.io/name": "http-add-on",
    "app.kubernetes.io/part-of": "keda-add-ons-http",
    "app.kubernetes.io/managed-by": "Helm",
    "app.kubernetes.io/instance": "keda-http-chart",
    "app.kubernetes.io/version": "0.15.0",
    "helm.sh/chart": "keda-add-ons-http-0.15.0",
};
const INTERCEPTOR_POD_LABELS = { ...SCALER_POD_LABELS, "app.kubernetes.io/component": "interceptor" };

const selects = (selector: unknown, labels: Record<string, string>): boolean => {
    const matchLabels = (selector as { matchLabels?: Record<string, string> } | undefined)?.matchLabels ?? {};
    return Object.keys(matchLabels).length > 0 && Object.entries(matchLabels).every(([key, value]) => labels[key] === value);
};

const model = (startupBudgetSeconds: number, drainSeconds: number) => ({ startupBudgetSeconds, drainSeconds });

describe("the KEDA HTTP add-on: replicas, and a drain as long as a hold", function () {
    this.timeout(120_000);
    let run: ProgramRun;
    let release: ChartRelease;
    let values: { scaler: Record<string, unknown>; interceptor: Record<string, unknown> };

    before(async () => {
        run = await runStackFile("dev");
        const found = chartReleases(run.resources).find((candidate) => candidate.chart === "keda-add-ons-http");
        assert.ok(found, "dev installs the HTTP add-on (qwen-1-5b scales to zero)");
        release = found;
        values = release.values as typeof values;
    });

    it("holds a request for as long as a model's cold start (its route's readiness timeout) and one generation; the chart's 30 s at least", () => {
        // 600 s budget + 1200 s for a node and the image + 60 s drain.
        assert.strictEqual(longestHoldSeconds([model(600, 60)]), 1860);
        assert.strictEqual(longestHoldSeconds([model(600, 60), model(1800, 300), model(60, 30)]), 3300);
        assert.strictEqual(longestHoldSeconds([]), 30);
    });

    it("dev: the interceptor drains for qwen-1-5b's 1860 s, and its grace period covers the shutdown delay and the drain", () => {
        assert.strictEqual(values.interceptor.shutdownDelay, "5s");
        assert.strictEqual(values.interceptor.drainTimeout, "1860s");
        assert.strictEqual(values.interceptor.terminationGracePeriodSeconds, 1875);
    });

    it("dev: two external scalers, spread over nodes", () => {
        assert.strictEqual(values.scaler.replicas, 2);
        const spread = values.scaler.topologySpreadConstraints as { topologyKey: string; labelSelector: unknown }[];
        assert.ok(spread.some((term) => term.topologyKey === "kubernetes.io/hostname" && selects(term.labelSelector, SCALER_POD_LABELS)
            && !selects(term.labelSelector, INTERCEPTOR_POD_LABELS)), JSON.stringify(spread));
    });

    it("dev: one PodDisruptionBudget in keda selects the scaler's pods (the chart has none for them), and lets one go at a time", () => {
        const budgets = objects(run).filter((object) => object.kind === "PodDisruptionBudget" && object.metadata.namespace === "keda")
            .map((object) => object.spec as { selector?: unknown; maxUnavailable?: unknown });
        const scalers = budgets.filter((spec) => selects(spec.selector, SCALER_POD_LABELS));
        assert.strictEqual(scalers.length, 1, JSON.stringify(budgets));
        assert.strictEqual(scalers[0].maxUnavailable, 1);
        assert.ok(!selects(scalers[0].selector, INTERCEPTOR_POD_LABELS), "the interceptor keeps the chart's own budget");
    });

    /**
     * With the pinned chart itself: `LLM_PLATFORM_CHARTS=<dir>` holding keda-add-ons-http-0.15.0/
     * (helm pull keda-add-ons-http --repo https://kedacore.github.io/charts --version 0.15.0 --untar).
     */
    describe("rendered by the pinned chart (LLM_PLATFORM_CHARTS)", () => {
        const charts = process.env.LLM_PLATFORM_CHARTS;
        let rendering: ChartRendering;
        const rendered = (kind: string, name: string): KubernetesObject => {
            const found = rendering.objects.map((object) => object.object).find((object) => object.kind === kind && object.metadata.name === name);
            assert.ok(found, `the chart renders ${kind} ${name}`);
            return found;
        };

        before(async function () {
            if (!charts || !fs.existsSync(path.join(chartDirectory(release, charts), "Chart.yaml"))) {
                this.skip();
            }
            [rendering] = await renderCharts([release], {
                helm: helmBinary(), chartDir: (chart) => chartDirectory(chart, charts as string), kubeVersion: kubernetesMinor(run.resources), resources: run.resources,
            });
            assert.strictEqual(rendering.error, undefined);
            assert.deepStrictEqual(rendering.unknownKeys, []);
        });

        it("the interceptor's container gets the drain, its pod the grace period", () => {
            const spec = (rendered("Deployment", "keda-add-ons-http-interceptor").spec as { template: { spec: { terminationGracePeriodSeconds: number; containers: { name: string; env: { name: string; value: string }[] }[] } } }).template.spec;
            const env = Object.fromEntries(spec.containers.find((container) => container.name === "keda-add-ons-http-interceptor")!.env.map((variable) => [variable.name, variable.value]));
            assert.strictEqual(env.KEDA_HTTP_DRAIN_TIMEOUT, "1860s");
            assert.strictEqual(env.KEDA_HTTP_SHUTDOWN_DELAY, "5s");
            assert.strictEqual(spec.terminationGracePeriodSeconds, 1875);
        });

        it("two scalers whose pods the program's PodDisruptionBudget selects, and pdb-sane finds nothing to say", async () => {
            const scaler = rendered("Deployment", "keda-add-ons-http-external-scaler");
            const spec = scaler.spec as { replicas: number; template: { metadata: { labels: Record<string, string> } } };
            assert.strictEqual(spec.replicas, 2);
            assert.deepStrictEqual(spec.template.metadata.labels, SCALER_POD_LABELS);
            const program = run.resources.filter((resource) => resource.custom && resource.type === "kubernetes:policy/v1:PodDisruptionBudget")
                .map((resource) => ({ type: resource.type, name: resource.name, urn: resource.urn, props: resource.inputs }));
            const report = await evaluatePolicies(packArgs.policies, [...renderedSubjects([rendering]), ...program]);
            assert.deepStrictEqual(report.violations.filter((violation) => violation.policy === "pdb-sane").map((violation) => violation.message), []);
        });
    });
});
