import * as assert from "assert";
import { gpuLimitsEqualRequests, resourcesRequired } from "../../policies/rules/pods-resources";
import { cpuService, mainContainer, modelServer, podSpec } from "./fixtures";
import { cases, messagesBothWays, mutated } from "./harness";

describe("resources-required", () => {
    cases(resourcesRequired, cpuService, [
        ["a container with resources: {}", (o) => { mainContainer(o).resources = {}; }, [/no resources.requests.cpu/, /no resources.requests.memory/, /no resources.limits.memory/]],
        ["a missing memory limit", (o) => { delete mainContainer(o).resources.limits; }, [/container "web" has no resources.limits.memory/]],
        ["an init container without requests", (o) => { podSpec(o).initContainers = [{ name: "wait", image: "busybox:1.36", resources: { limits: { memory: "32Mi" } } }]; },
            [/initContainer "wait" has no resources.requests.cpu/, /initContainer "wait" has no resources.requests.memory/]],
        ["a quantity with a lowercase unit (1gi)", (o) => { mainContainer(o).resources.limits.memory = "1gi"; }, [/resources.limits.memory "1gi" is not a Kubernetes quantity/]],
        ["an empty quantity", (o) => { mainContainer(o).resources.requests.cpu = ""; }, [/resources.requests.cpu "" is not a Kubernetes quantity/]],
        ["a request above its limit (1.5Gi > 1Gi)", (o) => { mainContainer(o).resources = { requests: { cpu: "1000m", memory: "1.5Gi" }, limits: { memory: "1Gi" } }; },
            [/requests more memory \("1.5Gi"\) than its limit \("1Gi"\)/]],
        ["missing spec and containers", (o) => { delete o.spec; }, []],
        ["a cpu request above a cpu limit", (o) => { mainContainer(o).resources.limits.cpu = "500m"; mainContainer(o).resources.requests.cpu = 1; }, [/requests more cpu \(1\) than its limit \("500m"\)/]],
    ], [
        ["quantities as numbers and millicores (1, \"1000m\", \"1.5Gi\")", (o) => { mainContainer(o).resources = { requests: { cpu: 1, memory: "1.5Gi" }, limits: { cpu: "1000m", memory: "1.5Gi" } }; }],
        ["an ephemeral container, which Kubernetes forbids resources on", (o) => { podSpec(o).ephemeralContainers = [{ name: "debug", image: "busybox:1.36" }]; }],
    ]);

    it("requires a cpu limit when configured to", async () => {
        assert.match((await messagesBothWays(resourcesRequired, [cpuService()], { requireCpuLimit: true }))[0], /no resources.limits.cpu/);
    });

    it("skips an exempted workload", async () => {
        const broken = mutated(cpuService(), (o) => { mainContainer(o).resources = {}; });
        assert.deepStrictEqual(await messagesBothWays(resourcesRequired, [broken], { exemptions: [{ name: "web", reason: "test" }] }), []);
    });

    it("does not crash on values unknown during preview", async () => {
        const unknown = mutated(cpuService(), (o) => { mainContainer(o).resources = { requests: { cpu: undefined, memory: "1Gi" }, limits: undefined }; });
        assert.strictEqual((await messagesBothWays(resourcesRequired, [unknown])).length, 2);
    });
});

describe("gpu-limits-equal-requests", () => {
    cases(gpuLimitsEqualRequests, modelServer, [
        ["a fractional GPU (\"1.5\")", (o) => { mainContainer(o).resources.limits["nvidia.com/gpu"] = "1.5"; mainContainer(o).resources.requests["nvidia.com/gpu"] = "1.5"; },
            [/limits nvidia.com\/gpu to "1.5"; a GPU count is a whole number of at least 1/]],
        ["zero GPUs", (o) => { mainContainer(o).resources.limits["nvidia.com/gpu"] = 0; delete mainContainer(o).resources.requests["nvidia.com/gpu"]; },
            [/limits nvidia.com\/gpu to 0/]],
        ["GPUs in requests only", (o) => { delete mainContainer(o).resources.limits["nvidia.com/gpu"]; }, [/requests nvidia.com\/gpu without a limit/]],
        ["requests that differ from limits", (o) => { mainContainer(o).resources.limits["nvidia.com/gpu"] = "2"; }, [/requests "1" nvidia.com\/gpu but limits "2"/]],
        ["a MIG slice in requests only", (o) => { mainContainer(o).resources = { requests: { cpu: "1", memory: "1Gi", "nvidia.com/mig-1g.10gb": 1 }, limits: { memory: "1Gi" } }; },
            [/requests nvidia.com\/mig-1g.10gb without a limit/]],
    ], [
        ["GPUs in limits only (requests default to them)", (o) => { delete mainContainer(o).resources.requests["nvidia.com/gpu"]; }],
        ["a numeric count equal to a string count", (o) => { mainContainer(o).resources.limits["nvidia.com/gpu"] = 1; }],
        ["a pod with no GPU at all", (o) => { o.spec.template.spec = cpuService().spec.template.spec; }],
    ]);
});
