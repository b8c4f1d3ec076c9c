import * as assert from "assert";
import { maxGracefulTerminationSeconds } from "../components/cluster/cluster-autoscaler";
import { chartReleases } from "../tools/offline/render";
import { ProgramRun } from "../tools/offline/run";
import { resource, runStack, runStackFile, stackFileConfig } from "./mocks";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The `--max-graceful-termination-sec` the autoscaler chart of a run gets (its `extraArgs`). */
function maxGracefulTermination(run: ProgramRun): unknown {
    const chart = resource(run, "kubernetes:helm.sh/v4:Chart", "gpu-autoscaler-chart").inputs as Json;
    return chart.values.extraArgs["max-graceful-termination-sec"];
}


describe("Cluster Autoscaler: the grace period of the pods it evicts", () => {
    it("dev: as long as the interceptor's grace period, which holds qwen-1-5b's cold start and one generation", async () => {
        const dev = await runStackFile("dev");
        // qwen-1-5b scales to zero, so the HTTP add-on holds its requests: startupBudgetSeconds 600 + 1200 s for a
        // node and the image (request-routing.ts NODE_AND_IMAGE_SECONDS) + drainSeconds 60 (Pulumi.yaml default)
        // = 1860 s of drain, + 5 s shutdown delay + 10 s to stop = 1875 s. Its vLLM server: 15 + 60 + 15 = 90 s.
        assert.strictEqual(maxGracefulTermination(dev), "1875");
        const addOn = chartReleases(dev.resources).find((release) => release.chart === "keda-add-ons-http");
        assert.strictEqual((addOn?.values as Json | undefined)?.interceptor.terminationGracePeriodSeconds, 1875, "the interceptor's grace period it covers");
    });

    it("prod, without a model held by the add-on: the autoscaler's default 600 (its vLLM server needs 90 s)", async () => {
        assert.strictEqual(maxGracefulTermination(await runStackFile("prod")), "600");
    });

    it("a model server whose drain outlasts 600 s, without the add-on: its own grace period", async () => {
        const dev = stackFileConfig("dev");
        const [model] = dev.models as Json[];
        // minReplicas 1: no interceptor. vLLM drains itself: 15 s preStop + drainSeconds 900 + 15 s exit = 930 s.
        const run = await runStack({ ...dev, models: [{ ...model, minReplicas: 1, drainSeconds: 900 }] }, "dev");
        assert.deepStrictEqual(run.failures.map(String), []);
        assert.strictEqual(chartReleases(run.resources).some((release) => release.chart === "keda-add-ons-http"), false, "no add-on");
        assert.strictEqual(maxGracefulTermination(run), "930");
    });

    it("never below the autoscaler's default 600, and whole seconds", () => {
        assert.strictEqual(maxGracefulTerminationSeconds(0), 600);
        assert.strictEqual(maxGracefulTerminationSeconds(600.5), 601);
    });
});
