import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { K3S_BOX, boxBudget, boxLine, boxNeeds, podRequests, replicasThatFit } from "../tools/offline/box";
import type { ChartRendering } from "../tools/offline/render";
import { plan } from "../tools/plan";
import { stackFilePath } from "../tools/offline/stack-file";
import { PROJECT_DIR } from "./mocks";

const MI = 2 ** 20;
const GI = 2 ** 30;

const container = (cpu: string, memory: string) => ({ resources: { requests: { cpu, memory } } });

describe("the box a local stack needs", function () {
    this.timeout(120_000);

    describe("a pod's effective request", () => {
        it("is the containers' sum, or a larger init container", () => {
            assert.deepStrictEqual(podRequests({ containers: [container("500m", "1Gi"), container("10m", "64Mi")] }), { cpu: 0.51, memory: GI + 64 * MI });
            assert.deepStrictEqual(podRequests({ initContainers: [container("2", "16Mi")], containers: [container("500m", "1Gi")] }), { cpu: 2, memory: GI });
        });

        it("counts a sidecar init container (restartPolicy Always) with the containers", () => {
            const sidecar = { ...container("100m", "128Mi"), restartPolicy: "Always" };
            assert.deepStrictEqual(podRequests({ initContainers: [sidecar], containers: [container("500m", "1Gi")] }), { cpu: 0.6, memory: GI + 128 * MI });
        });
    });

    describe("from rendered charts", () => {
        it("counts their workloads, DaemonSets once, and the pods the operator makes of a Prometheus with its config reloader", () => {
            const object = (type: string, body: Record<string, unknown>) => ({ type, name: "x", urn: "u", parentUrn: "p", hook: false, secretPaths: [], object: body as never });
            const rendering = {
                release: { chart: "kube-prometheus-stack", values: {} },
                objects: [
                    object("kubernetes:apps/v1:Deployment", {
                        metadata: { name: "operator" },
                        spec: { replicas: 1, template: { spec: { containers: [{ ...container("100m", "128Mi"), args: ["--config-reloader-cpu-request=10m", "--config-reloader-memory-request=32Mi"] }] } } },
                    }),
                    object("kubernetes:apps/v1:DaemonSet", { metadata: { name: "node-exporter" }, spec: { template: { spec: { containers: [container("20m", "32Mi")] } } } }),
                    object("kubernetes:monitoring.coreos.com/v1:Prometheus", { metadata: { name: "prometheus" }, spec: { resources: { requests: { cpu: "150m", memory: "512Mi" } } } }),
                ],
                unknownKeys: [], warnings: [],
            } as unknown as ChartRendering;
            const needs = boxNeeds([], [rendering]);
            assert.deepStrictEqual(needs.estimated, []);
            assert.strictEqual(Math.round(needs.min.cpu * 1000), 100 + 20 + 150 + 10);
            assert.strictEqual(needs.min.memory, (128 + 32 + 512 + 32) * MI);
        });
    });

    it("says it in one line, rounded up to a tenth", () => {
        const needs = { workloads: [], min: { cpu: 1.51, memory: 3264 * MI }, max: { cpu: 4.51, memory: 8384 * MI }, minReplicas: 1, maxReplicas: 5, estimated: [], uncounted: [] };
        assert.strictEqual(boxLine("local", needs), "local needs 1.6 CPU / 3.2 GiB at min (1 replica), 4.6 CPU / 8.2 GiB at max (5 replicas)");
        assert.strictEqual(boxLine("local", { ...needs, estimated: ["loki"], uncounted: ["other"] }),
            "local needs 1.6 CPU / 3.2 GiB at min (1 replica), 4.6 CPU / 8.2 GiB at max (5 replicas) (estimated: loki counted from our values, not rendered (give --charts); not counted: other)");
    });

    it("leaves 3.64 CPU / about 6.1 GiB of an 8 GiB / 4-core k3s box for pods", () => {
        const budget = boxBudget(K3S_BOX);
        assert.strictEqual(Math.round(budget.cpu * 100), 364);
        assert.strictEqual(Math.round(budget.memory / MI), 8192 - 1522 - 140 - 256);
    });

    describe("the shipped local stack", () => {
        let line: string;
        let fits: number | undefined;
        let min: { cpu: number; memory: number };
        before(async () => {
            const result = await plan("local", stackFilePath(PROJECT_DIR, "local"));
            const needs = boxNeeds(result.run.resources, result.charts);
            line = boxLine("local", needs);
            fits = replicasThatFit(needs);
            min = needs.min;
        });

        it("fits an 8 GiB / 4-core k3s box at its minimum, with room for at least 3 replicas", () => {
            const budget = boxBudget();
            assert.ok(min.cpu <= budget.cpu && min.memory <= budget.memory, line);
            assert.ok(fits !== undefined && fits >= 3, `${fits} replicas fit: ${line}`);
        });

        it("is stated in the README with the line the plan prints", () => {
            const readme = fs.readFileSync(path.join(PROJECT_DIR, "README.md"), "utf8");
            assert.ok(readme.includes(`\`${line}\``), `README should show the plan's line: ${line}`);
        });
    });
});
