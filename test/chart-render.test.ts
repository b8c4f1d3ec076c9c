import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { stringify } from "yaml";
import { checkManifests } from "../tools/check";
import { readChartDirectory } from "../tools/offline/chart-files";
import { pullCharts } from "../tools/offline/chart-sources";
import { unknownValuesKeys } from "../tools/offline/chart-values";
import { helmBinary } from "../tools/offline/helm-binary";
import { InputError } from "../tools/offline/stack-file";
import { RENDERED_FROM, chartProblems, chartSummary, renderedResources } from "../tools/offline/stack-charts";
import { EXIT, Plan, exitStatus, plan } from "../tools/plan";
import { writeDemoCharts } from "./charts";
import { PROJECT_DIR } from "./mocks";

const PROGRAM = path.join(PROJECT_DIR, "test", "fixtures", "chart-program");

/** The plan of the one-chart program with these chart values, rendered from `charts`. */
async function planDemo(values: Record<string, unknown>, charts?: { dir?: string; pull?: boolean }, config: Record<string, unknown> = {}): Promise<Plan> {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "stack-")), "Pulumi.charts.yaml");
    const keys = Object.fromEntries(Object.entries(config).map(([key, value]) => [`llm-platform:${key}`, value]));
    fs.writeFileSync(file, stringify({ config: { "llm-platform:demoValues": values, ...keys } }));
    return plan("charts", file, { program: PROGRAM, charts });
}

const objectOf = (result: Plan, kind: string) => result.objects.find((object) => object.kind === kind && object.metadata.annotations);

describe("the plan renders Helm charts", function () {
    this.timeout(60_000);
    let charts: string;
    before(() => {
        charts = writeDemoCharts();
    });

    describe("from a --charts directory", () => {
        let result: Plan;
        before(async () => {
            result = await planDemo({}, { dir: charts });
        });

        it("adds every rendered object to manifests.yaml, annotated with its chart", () => {
            const rendered = result.objects.filter((object) => (object.metadata.annotations as Record<string, string> | undefined)?.[RENDERED_FROM]);
            assert.deepStrictEqual(rendered.map((object) => `${object.kind} ${object.metadata.name}`).sort(),
                ["CustomResourceDefinition widgets.demo.example.com", "Deployment demo-chart", "Service demo-chart-sub"]);
            assert.strictEqual((rendered[0].metadata.annotations as Record<string, string>)[RENDERED_FROM], "demo-chart (demo 1.0.0)");
        });

        it("names the release after the chart resource, and gives namespaced objects its namespace", () => {
            assert.strictEqual(objectOf(result, "Deployment")?.metadata.name, "demo-chart");
            assert.strictEqual(objectOf(result, "Deployment")?.metadata.namespace, "apps");
            assert.strictEqual(objectOf(result, "CustomResourceDefinition")?.metadata.namespace, undefined);
        });

        it("applies the chart's transforms, then its parents', to what it renders", () => {
            assert.deepStrictEqual(objectOf(result, "Deployment")?.metadata.labels, { transformed: "yes", wrapped: "yes" });
            assert.deepStrictEqual(objectOf(result, "Service")?.metadata.labels, { wrapped: "yes" });
        });

        it("names each object as the provider registers it: a child of its chart", () => {
            assert.deepStrictEqual(chartSummary(result.charts), ["  demo-chart (demo 1.0.0, release demo-chart in apps): 3 objects"]);
            const child = result.charts[0].objects.find((object) => object.type === "kubernetes:apps/v1:Deployment");
            assert.strictEqual(child?.name, "demo-chart:apps/demo-chart");
            assert.strictEqual(child?.parentUrn, result.charts[0].release.resource.urn);
            assert.strictEqual(result.charts[0].objects.find((object) => object.object.kind === "CustomResourceDefinition")?.name, "demo-chart:widgets.demo.example.com");
        });

        it("passes with no violation and no problem", () => {
            assert.deepStrictEqual(result.report.violations, []);
            assert.strictEqual(exitStatus(result), EXIT.ok);
        });
    });

    describe("API versions, as a first pulumi up sees them", () => {
        it("never the chart's own CRDs: they do not exist yet when it renders", async () => {
            const result = await planDemo({}, { dir: charts });
            assert.strictEqual(objectOf(result, "Widget"), undefined);
        });

        it("the CRDs of what the chart depends on", async () => {
            const withGadgets = await planDemo({}, { dir: charts }, { gadgetCrd: true });
            assert.strictEqual(objectOf(withGadgets, "Gadget")?.metadata.namespace, "apps");
        });
    });

    it("keeps a rendered Secret's values secret, as the provider registers them", async () => {
        const password = ["not", "in", "the", "plan"].join("-");
        const result = await planDemo({ credentials: { password } }, { dir: charts });
        const secret = result.charts[0].objects.find((object) => object.object.kind === "Secret");
        assert.deepStrictEqual(secret?.object.stringData, { password: "[secret]" });
        assert.deepStrictEqual(secret?.secretPaths, [["stringData"]]);
        assert.ok(!JSON.stringify(result.objects).includes(password));
        assert.ok(!JSON.stringify(renderedResources(result.charts)).includes(password));
    });

    it("evaluates the policy pack on rendered objects", async () => {
        const result = await planDemo({ withResources: false }, { dir: charts });
        assert.deepStrictEqual([...new Set(result.report.violations.map((v) => `${v.policy} ${v.resourceName}`))], ["resources-required demo-chart:apps/demo-chart"]);
        assert.strictEqual(exitStatus(result), EXIT.mandatoryViolation);
    });

    describe("hooks", () => {
        let result: Plan;
        before(async () => {
            result = await planDemo({ tls: { enabled: true } }, { dir: charts });
        });

        it("leaves them out of manifests.yaml, as helm.v4.Chart never creates them", () => {
            assert.strictEqual(result.objects.some((object) => object.metadata.name === "demo-chart-certgen"), false);
            assert.deepStrictEqual(chartSummary(result.charts), ["  demo-chart (demo 1.0.0, release demo-chart in apps): 3 objects, 1 Helm hooks left out"]);
        });

        it("fail the plan when a pod needs what only a hook creates, and no other rule looks at the hook", () => {
            assert.deepStrictEqual(result.report.violations.map((v) => [v.policy, v.enforcementLevel, v.resourceName, v.message]), [[
                "chart-no-hook-dependency", "mandatory", "demo-chart:apps/demo-chart",
                'Deployment apps/demo-chart needs Secret "demo-chart-tls" (volume "tls"), which only the chart\'s Helm hook Job "demo-chart-certgen" '
                + "(pre-install,pre-upgrade) would create; kubernetes.helm.v4.Chart never runs hooks, so the pod never starts: "
                + "turn the feature off in the chart's values or create the object in the program.",
            ]]);
            assert.strictEqual(exitStatus(result), EXIT.mandatoryViolation);
        });

        it("are no problem when the stack creates the object itself", async () => {
            const withSecret = writeDemoCharts();
            fs.writeFileSync(path.join(withSecret, "demo-1.0.0", "templates", "tls.yaml"),
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}-tls\ntype: kubernetes.io/tls\n");
            const created = await planDemo({ tls: { enabled: true } }, { dir: withSecret });
            assert.deepStrictEqual(created.report.violations, []);
        });

        it("are seen the same way by npm run check on helm template output", async () => {
            const rendered = result.charts[0].objects.map((object) => stringify(object.object)).join("---\n");
            const report = await checkManifests([{ file: "rendered.yaml", text: rendered }]);
            assert.deepStrictEqual(report.violations.map((v) => `${v.policy} ${v.resourceName}`), ["chart-no-hook-dependency demo-chart"]);
        });

        it("are no creator of what they only read, as the pod does", async () => {
            const reads = (name: string, hook?: string) => ({
                apiVersion: "batch/v1", kind: "Job",
                metadata: { name, namespace: "apps", ...(hook ? { annotations: { "helm.sh/hook": hook } } : {}) },
                spec: { template: { spec: {
                    securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
                    restartPolicy: "Never",
                    containers: [{
                        name: "app", image: "registry.example.com/app:1.0", envFrom: [{ secretRef: { name: "db-credentials" } }],
                        resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { memory: "16Mi" } },
                        securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
                    }],
                } } },
            });
            const text = [reads("app"), reads("app-migrate", "pre-upgrade")].map((object) => stringify(object)).join("---\n");
            assert.deepStrictEqual((await checkManifests([{ file: "app.yaml", text }])).violations, []);
        });
    });

    describe("values keys", () => {
        it("reports a key the chart does not read, in the chart or under a subchart's key, and fails the plan", async () => {
            const result = await planDemo({ image: { tga: "2.0" }, sub: { enabled: true, prot: 8080 }, podLabels: { team: "a" } }, { dir: charts });
            assert.deepStrictEqual(chartProblems(result.charts), [
                "chart demo-chart (demo 1.0.0): values key image.tga is not a key of the chart (Helm ignores it)",
                "chart demo-chart (demo 1.0.0): values key sub.prot is not a key of the chart (Helm ignores it)",
            ]);
            assert.strictEqual(exitStatus(result), EXIT.mandatoryViolation);
        });

        it("accepts keys of free-form maps, dependency conditions, global, and keys of a map a template dumps whole", () => {
            const chart = readChartDirectory(path.join(charts, "demo-1.0.0"));
            const values = { podLabels: { a: "b" }, sub: { enabled: false, port: 81 }, global: { x: 1 }, withResources: true, extraConfig: { format: "json" } };
            assert.deepStrictEqual(unknownValuesKeys(values, chart), []);
        });

        it("reports a misspelt key of a map a template reads key by key (with)", () => {
            const chart = readChartDirectory(path.join(charts, "demo-1.0.0"));
            assert.deepStrictEqual(unknownValuesKeys({ cache: { enabledd: true } }, chart), ["cache.enabledd"]);
        });

        it("reads a subchart packed as .tgz", () => {
            const packed = readChartDirectory(path.join(writeDemoCharts({ packedSubchart: true }), "demo-1.0.0"));
            assert.deepStrictEqual(unknownValuesKeys({ sub: { port: 81, prot: 1 } }, packed), ["sub.prot"]);
        });
    });

    it("fails the plan with Helm's message when a chart does not render", async () => {
        const result = await planDemo({ replicas: 0 }, { dir: charts });
        const [problem] = chartProblems(result.charts);
        assert.strictEqual(problem, "chart demo-chart (demo 1.0.0) failed to render: values don't meet the specifications of the schema(s) "
            + "in the following chart(s): demo: - replicas: Must be greater than or equal to 1");
        assert.strictEqual(exitStatus(result), EXIT.mandatoryViolation);
    });

    it("refuses a --charts directory without the chart, naming it", async () => {
        const empty = fs.mkdtempSync(path.join(os.tmpdir(), "charts-"));
        await assert.rejects(planDemo({}, { dir: empty }), (error: unknown) => error instanceof InputError
            && error.message === `--charts ${empty}: chart demo 1.0.0 is missing: expected ${path.join(empty, "demo-1.0.0", "Chart.yaml")} (helm pull demo --version 1.0.0 --untar, or --pull-charts)`);
    });

    it("renders nothing without a chart source, and says so per chart", async () => {
        const result = await planDemo({});
        assert.deepStrictEqual(chartSummary(result.charts), ["  demo-chart (demo 1.0.0, release demo-chart in apps): not rendered (give --charts <dir> or --pull-charts)"]);
        assert.strictEqual(exitStatus(result), EXIT.ok);
    });

    it("renders with the pinned Helm 3", () => {
        assert.strictEqual(execFileSync(helmBinary({}), ["version", "--template", "{{.Version}}"], { encoding: "utf8" }), "v3.17.2");
    });

    describe("--pull-charts", () => {
        let server: http.Server;
        let repo: string;
        before(async () => {
            // A chart repository on loopback: the demo chart packaged and indexed by helm itself.
            const site = fs.mkdtempSync(path.join(os.tmpdir(), "repo-"));
            execFileSync(helmBinary({}), ["package", path.join(charts, "demo-1.0.0"), "--destination", site]);
            server = http.createServer((request, response) => {
                const file = path.join(site, path.basename(request.url ?? ""));
                if (!request.url?.startsWith("/") || !fs.existsSync(file) || file === site) {
                    response.writeHead(404).end();
                    return;
                }
                response.end(fs.readFileSync(file));
            });
            await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
            repo = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
            execFileSync(helmBinary({}), ["repo", "index", site, "--url", repo]);
        });
        after(() => server.close());

        it("fills the directory with helm pull, as <chart>-<version>/", async () => {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pulled-"));
            await pullCharts(helmBinary({}), [{ chart: "demo", version: "1.0.0", repo }], dir);
            assert.deepStrictEqual(fs.readdirSync(dir), ["demo-1.0.0"]);
            assert.ok(fs.existsSync(path.join(dir, "demo-1.0.0", "charts", "sub", "Chart.yaml")));
        });

        it("says which chart it could not pull", async () => {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pulled-"));
            await assert.rejects(pullCharts(helmBinary({}), [{ chart: "demo", version: "9.9.9", repo }], dir),
                (error: unknown) => error instanceof InputError && error.message.startsWith(`--pull-charts: cannot pull demo 9.9.9 from ${repo}: `));
        });
    });
});
