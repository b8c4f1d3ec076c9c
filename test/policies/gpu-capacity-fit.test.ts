import * as assert from "assert";
import { packReplicas } from "../../policies/lib/gpu-packing";
import { gpuCapacityFit, replicaGpus } from "../../policies/rules/autoscaling";
import { workloadOf } from "../../policies/lib/pods";
import { cpuService, mainContainer, modelServer, podSpec } from "./fixtures";
import { k8s, messagesBothWays, mutated, violations, violationsFromYaml } from "./harness";
import { gpuNodeGroup, hpa, scaledObject } from "./scaling-fixtures";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- fixtures are mutated freely

const NODE_GROUP = "aws:eks/nodeGroup:NodeGroup";

/** The stack of these Kubernetes objects and EKS node groups (named gpu-0, gpu-1, ... unless named). */
function stack(objects: Obj[], groups: Obj[] = [gpuNodeGroup()]) {
    return [...objects.map(k8s), ...groups.map((props, index) => ({ type: NODE_GROUP, name: props.name ?? `gpu-${index}`, props }))];
}

async function messages(objects: Obj[], groups?: Obj[], settings?: Record<string, unknown> | string): Promise<string[]> {
    return (await violations(gpuCapacityFit, stack(objects, groups), settings)).map((v) => v.message);
}

const maxReplicas = (count: number | undefined) => mutated(scaledObject(), (o) => { o.spec.maxReplicaCount = count; });

/** The model server with `gpus` GPUs per replica (limits and requests), optionally renamed. */
function server(gpus: number, name = "qwen"): Obj {
    return mutated(modelServer(), (o) => {
        o.metadata.name = name;
        mainContainer(o).resources.limits["nvidia.com/gpu"] = String(gpus);
        mainContainer(o).resources.requests["nvidia.com/gpu"] = String(gpus);
    });
}

/** A ScaledObject of the same name as its Deployment, up to `max` replicas. */
function scaler(name: string, max: number): Obj {
    return mutated(scaledObject(), (o) => { o.metadata.name = name; o.spec.scaleTargetRef.name = name; o.spec.maxReplicaCount = max; });
}

/** The GPU node group of scaling-fixtures.ts on other instance types and max size. */
function pool(instanceTypes: string[], maxSize: number, extra: Obj = {}): Obj {
    return mutated(gpuNodeGroup(), (o) => { o.instanceTypes = instanceTypes; o.scalingConfig.maxSize = maxSize; Object.assign(o, extra); });
}

const CPU_POOL = { clusterName: "main", amiType: "AL2023_x86_64_STANDARD", instanceTypes: ["m6i.large"], scalingConfig: { minSize: 2, maxSize: 10 } };

describe("gpu-capacity-fit", () => {
    it("passes when every replica has a node (3 x 1 GPU on 3 single-GPU nodes)", async () => {
        assert.deepStrictEqual(await messages([modelServer(), scaledObject()]), []);
    });

    it("fails 4 replicas x 1 GPU on a pool of 3 single-GPU nodes, as an advisory on the ScaledObject", async () => {
        const found = await violations(gpuCapacityFit, stack([modelServer(), maxReplicas(4)]));
        assert.deepStrictEqual(found.map((v) => [v.message, v.enforcementLevel, v.resourceName]), [[
            "ScaledObject qwen: spec.maxReplicaCount 4 x 1 GPU per replica of Deployment qwen: 1 replica does not fit the GPU node groups at max size (gpu-0: 3 nodes x 1 GPU), since a replica does not span nodes and a 1-GPU node holds 1 such replica; lower maxReplicaCount to 3 or raise scalingConfig.maxSize.",
            "advisory", "qwen",
        ]]);
    });

    it("fails KEDA's default maxReplicaCount (100) when it is left unset or unknown", async () => {
        assert.deepStrictEqual(await messages([modelServer(), maxReplicas(undefined)]), [
            "ScaledObject qwen: spec.maxReplicaCount 100 (KEDA's default) x 1 GPU per replica of Deployment qwen: 97 replicas do not fit the GPU node groups at max size (gpu-0: 3 nodes x 1 GPU), since a replica does not span nodes and a 1-GPU node holds 1 such replica; lower maxReplicaCount to 3 or raise scalingConfig.maxSize.",
        ]);
    });

    it("fails a replica larger than any node, and passes it on nodes that hold it", async () => {
        assert.deepStrictEqual(await messages([server(2), scaledObject()]), [
            "ScaledObject qwen: spec.maxReplicaCount 3 x 2 GPUs per replica of Deployment qwen: a replica does not span nodes, and no node it may use has 2 GPUs (gpu-0: 3 nodes x 1 GPU); use an instance type with at least 2 GPUs per node.",
        ]);
        assert.deepStrictEqual(await messages([server(2), scaledObject()], [pool(["g5.12xlarge"], 2)]), []);
    });

    describe("replica by replica, where summing GPUs passes", () => {
        it("fails 4 replicas x 3 GPUs on 3 nodes x 4 GPUs (12 GPUs for 12): each node holds one", async () => {
            assert.deepStrictEqual(await messages([server(3, "qwen-7b"), scaler("qwen-7b", 4)], [pool(["g5.12xlarge"], 3, { name: "gpu" })]), [
                "ScaledObject qwen-7b: spec.maxReplicaCount 4 x 3 GPUs per replica of Deployment qwen-7b: 1 replica does not fit the GPU node groups at max size (gpu: 3 nodes x 4 GPUs), since a replica does not span nodes and a 4-GPU node holds 1 such replica; lower maxReplicaCount to 3 or raise scalingConfig.maxSize.",
            ]);
        });

        it("passes 3 replicas x 3 GPUs on 3 nodes x 4 GPUs, and 6 x 2 GPUs (prod's shape at 6)", async () => {
            assert.deepStrictEqual(await messages([server(3, "qwen-7b"), scaler("qwen-7b", 3)], [pool(["g5.12xlarge"], 3)]), []);
            assert.deepStrictEqual(await messages([server(2, "qwen-7b"), scaler("qwen-7b", 6)], [pool(["g5.12xlarge"], 3)]), []);
        });

        it("fails 3 replicas x 2 GPUs on one 4-GPU node and two 1-GPU nodes (6 GPUs for 6)", async () => {
            assert.deepStrictEqual(await messages([server(2), scaledObject()], [pool(["g5.12xlarge"], 1, { name: "big" }), pool(["g6.xlarge"], 2, { name: "small" })]), [
                "ScaledObject qwen: spec.maxReplicaCount 3 x 2 GPUs per replica of Deployment qwen: 1 replica does not fit the GPU node groups at max size (big: 1 node x 4 GPUs, small: 2 nodes x 1 GPU), since a replica does not span nodes and a 4-GPU node holds 2 such replicas, a 1-GPU node holds no such replica; lower maxReplicaCount to 2 or raise scalingConfig.maxSize.",
            ]);
        });

        it("packs two models together: each fits alone, not both at their max", async () => {
            const llama = [server(1, "llama"), scaler("llama", 3)];
            // Equal sizes go in the evaluator's resource order (llama before qwen): qwen's replicas are the ones left.
            assert.deepStrictEqual(await messages([modelServer(), scaledObject(), ...llama]), [
                "ScaledObject qwen: spec.maxReplicaCount 3 x 1 GPU per replica of Deployment qwen: 3 replicas do not fit the GPU node groups at max size (gpu-0: 3 nodes x 1 GPU), since a replica does not span nodes and a 1-GPU node holds 1 such replica, and Deployment llama (3 replicas x 1 GPU) shares them; lower maxReplicaCount to 0 or raise scalingConfig.maxSize.",
            ]);
            assert.deepStrictEqual(await messages([modelServer(), scaledObject(), ...llama], [pool(["g6.xlarge"], 6)]), []);
        });

        it("counts a GPU workload without autoscaler at spec.replicas, and blames the autoscaler's max", async () => {
            const embed = mutated(server(1, "embed"), (o) => { o.spec.replicas = 1; });
            assert.deepStrictEqual(await messages([modelServer(), scaledObject(), embed]), [
                "ScaledObject qwen: spec.maxReplicaCount 3 x 1 GPU per replica of Deployment qwen: 1 replica does not fit the GPU node groups at max size (gpu-0: 3 nodes x 1 GPU), since a replica does not span nodes and a 1-GPU node holds 1 such replica, and Deployment embed (1 replica x 1 GPU) shares them; lower maxReplicaCount to 2 or raise scalingConfig.maxSize.",
            ]);
            assert.deepStrictEqual(await messages([mutated(embed, (o) => { o.spec.replicas = 4; })]), [
                "Deployment embed: spec.replicas 4 x 1 GPU per replica: 1 replica does not fit the GPU node groups at max size (gpu-0: 3 nodes x 1 GPU), since a replica does not span nodes and a 1-GPU node holds 1 such replica; lower replicas to 3 or raise scalingConfig.maxSize.",
            ]);
        });

        it("puts a replica only on node groups its nodeSelector admits (labels, instance type)", async () => {
            const l4Only = mutated(modelServer(), (o) => { podSpec(o).nodeSelector["node.kubernetes.io/instance-type"] = "g6.xlarge"; });
            const groups = [pool(["g6.xlarge"], 1, { name: "l4" }), pool(["g5.xlarge"], 2, { name: "a10g" })];
            assert.deepStrictEqual(await messages([modelServer(), scaledObject()], groups), []);
            assert.deepStrictEqual(await messages([l4Only, scaledObject()], groups), [
                "ScaledObject qwen: spec.maxReplicaCount 3 x 1 GPU per replica of Deployment qwen: 2 replicas do not fit the GPU node groups at max size (l4: 1 node x 1 GPU), since a replica does not span nodes and a 1-GPU node holds 1 such replica; lower maxReplicaCount to 1 or raise scalingConfig.maxSize.",
            ]);
            const elsewhere = mutated(modelServer(), (o) => { podSpec(o).nodeSelector["nvidia.com/gpu.present"] = "false"; });
            assert.deepStrictEqual(await messages([elsewhere, scaledObject()]), [
                "ScaledObject qwen: spec.maxReplicaCount 3 x 1 GPU per replica of Deployment qwen: its nodeSelector admits none of the GPU node groups (gpu-0: 3 nodes x 1 GPU), so none of its replicas can run; select a GPU node group's labels.",
            ]);
            // A label the group does not declare (set on its nodes by GPU feature discovery, say) rules nothing out.
            const byProduct = mutated(modelServer(), (o) => { podSpec(o).nodeSelector["nvidia.com/gpu.product"] = "NVIDIA-L4"; });
            assert.deepStrictEqual(await messages([byProduct, scaledObject()]), []);
        });

        it("says when first-fit decreasing may have missed a placement (sizes that do not divide)", async () => {
            // Two 8-GPU nodes hold 4+2+2 and 3+3+2; first-fit decreasing makes 4+3 and 3+2+2 and leaves a 2 over.
            const objects = [server(4, "a"), scaler("a", 1), server(3, "b"), scaler("b", 2), server(2, "c"), scaler("c", 3)];
            assert.deepStrictEqual(await messages(objects, [pool(["p4d.24xlarge"], 2)]), [
                "ScaledObject c: spec.maxReplicaCount 3 x 2 GPUs per replica of Deployment c: 1 replica does not fit the GPU node groups at max size (gpu-0: 2 nodes x 8 GPUs), since a replica does not span nodes and an 8-GPU node holds 4 such replicas, and Deployment a (1 replica x 4 GPUs), Deployment b (2 replicas x 3 GPUs) share them; lower maxReplicaCount to 2 or raise scalingConfig.maxSize. (The packing is first-fit decreasing, which can miss a placement when replica and node sizes do not divide each other.)",
            ]);
        });
    });

    it("counts a pod's GPUs as the scheduler does: an init container's run before the app's, a sidecar's beside them", async () => {
        const withInit = mutated(modelServer(), (o) => { podSpec(o).initContainers = [{ ...structuredClone(mainContainer(o)), name: "warmup" }]; });
        assert.strictEqual(replicaGpus(workloadOf("kubernetes:apps/v1:Deployment", withInit, "qwen")!), 1);
        assert.deepStrictEqual(await messages([withInit, scaledObject()]), []);
        const withSidecar = mutated(withInit, (o) => { podSpec(o).initContainers[0].restartPolicy = "Always"; });
        assert.strictEqual(replicaGpus(workloadOf("kubernetes:apps/v1:Deployment", withSidecar, "qwen")!), 2);
    });

    it("ignores CPU node groups, and fails a GPU workload when the stack has only those", async () => {
        assert.deepStrictEqual(await messages([modelServer(), scaledObject()], [pool(["g6.xlarge"], 3), CPU_POOL]), []);
        assert.deepStrictEqual(await messages([modelServer(), scaledObject()], [CPU_POOL]), [
            "ScaledObject qwen: spec.maxReplicaCount 3 x 1 GPU per replica of Deployment qwen = 3 GPUs, but the stack has no GPU node group; lower maxReplicaCount to 0 or add a GPU node group.",
        ]);
    });

    it("is not applicable without node groups (local stacks, npm run check), both ways", async () => {
        assert.deepStrictEqual(await messages([modelServer(), maxReplicas(50)], []), []);
        assert.deepStrictEqual(await messagesBothWays(gpuCapacityFit, [modelServer(), maxReplicas(50)]), []);
        assert.deepStrictEqual(await violationsFromYaml(gpuCapacityFit, [server(3), maxReplicas(4)]), []);
    });

    it("ignores CPU workloads and autoscalers whose target is missing", async () => {
        const cpuScaler = mutated(scaledObject(), (o) => { o.metadata.namespace = "apps"; o.spec.scaleTargetRef.name = "web"; o.spec.maxReplicaCount = 50; });
        const dangling = mutated(scaledObject(), (o) => { o.metadata.name = "gone"; o.spec.scaleTargetRef.name = "gone"; o.spec.maxReplicaCount = 50; });
        assert.deepStrictEqual(await messages([cpuService(), cpuScaler, modelServer(), scaledObject(), dangling]), []);
    });

    it("reports a GPU pool whose GPUs per node are unknown, and takes them from config or a tag", async () => {
        const odd = pool(["g7.mega"], 3);
        assert.deepStrictEqual(await messages([modelServer(), scaledObject()], [odd]), [
            "GPU node group gpu-0: its GPUs per node are unknown (instanceTypes not in gpusPerInstanceType, no k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu tag); add them to the rule's config.",
        ]);
        assert.deepStrictEqual(await messages([modelServer(), scaledObject()], [odd], { gpusPerInstanceType: { "g7.mega": 1 } }), []);
        assert.deepStrictEqual(await messages([server(3), maxReplicas(4)], [odd], { gpusPerInstanceType: { "g7.mega": 5 } }), [
            "ScaledObject qwen: spec.maxReplicaCount 4 x 3 GPUs per replica of Deployment qwen: 1 replica does not fit the GPU node groups at max size (gpu-0: 3 nodes x 5 GPUs), since a replica does not span nodes and a 5-GPU node holds 1 such replica; lower maxReplicaCount to 3 or raise scalingConfig.maxSize.",
        ]);
        const tagged = mutated(odd, (o) => { o.tags = { "k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu": "1" }; });
        assert.deepStrictEqual(await messages([modelServer(), scaledObject()], [tagged]), []);
        const unknownSize = mutated(gpuNodeGroup(), (o) => { o.scalingConfig = undefined; });
        assert.deepStrictEqual(await messages([modelServer(), scaledObject()], [unknownSize]), [
            "GPU node group gpu-0: scalingConfig.maxSize is not a whole number; set it so that GPU capacity can be checked.",
        ]);
    });

    it("is mandatory when the config says so, and skips an exempted autoscaler", async () => {
        const [found] = await violations(gpuCapacityFit, stack([modelServer(), maxReplicas(4)]), { enforcementLevel: "mandatory" });
        assert.strictEqual(found.enforcementLevel, "mandatory");
        assert.deepStrictEqual(await messages([mutated(modelServer(), (o) => { o.metadata.name = "qwen-deploy"; }),
            mutated(maxReplicas(4), (o) => { o.spec.scaleTargetRef.name = "qwen-deploy"; })], undefined, { exemptions: [{ name: "qwen", reason: "burst test" }] }), []);
    });

    it("also checks an HPA's maxReplicas, and an HPA without one is skipped as unknown", async () => {
        assert.deepStrictEqual(await messages([modelServer(), hpa({ kind: "Deployment", name: "qwen" })]), [
            "HorizontalPodAutoscaler qwen-hpa: spec.maxReplicas 4 x 1 GPU per replica of Deployment qwen: 1 replica does not fit the GPU node groups at max size (gpu-0: 3 nodes x 1 GPU), since a replica does not span nodes and a 1-GPU node holds 1 such replica; lower maxReplicas to 3 or raise scalingConfig.maxSize.",
        ]);
        assert.deepStrictEqual(await messages([modelServer(), mutated(hpa({ kind: "Deployment", name: "qwen" }), (o) => { o.spec.maxReplicas = "4"; })]), []);
    });
});

describe("packReplicas (first-fit decreasing)", () => {
    const pools = (...sizes: [string, number, number][]) => sizes.map(([name, nodes, gpusPerNode]) => ({ name, nodes, gpusPerNode }));

    it("places replicas whole, largest first, and counts what is left per workload", () => {
        assert.deepStrictEqual(packReplicas(pools(["p", 3, 4]), [{ replicas: 4, gpus: 3, pools: ["p"] }]), { unplaced: [1], exact: true });
        // 2-GPU replicas first (two per node: 5 take three nodes, one with 2 GPUs left), then 1-GPU replicas: 2 of 3 fit.
        assert.deepStrictEqual(packReplicas(pools(["p", 3, 4]), [{ replicas: 3, gpus: 1, pools: ["p"] }, { replicas: 5, gpus: 2, pools: ["p"] }]), { unplaced: [1, 0], exact: true });
    });

    it("is exact when sizes divide each other and the nodes: it fails only when the GPUs run out", () => {
        // 1-, 2- and 4-GPU replicas on 4- and 8-GPU nodes: every packing that exists is found.
        const nodes = pools(["a", 2, 4], ["b", 1, 8]);
        const demands = (ones: number) => [{ replicas: ones, gpus: 1, pools: ["a", "b"] }, { replicas: 2, gpus: 4, pools: ["a", "b"] }, { replicas: 2, gpus: 2, pools: ["a", "b"] }];
        assert.deepStrictEqual(packReplicas(nodes, demands(4)), { unplaced: [0, 0, 0], exact: true }); // 16 GPUs for 16
        assert.deepStrictEqual(packReplicas(nodes, demands(5)), { unplaced: [1, 0, 0], exact: true });
    });

    it("places the workload with fewer usable nodes first among equal sizes", () => {
        const result = packReplicas(pools(["a", 1, 1], ["b", 1, 1]), [{ replicas: 1, gpus: 1, pools: ["a", "b"] }, { replicas: 1, gpus: 1, pools: ["a"] }]);
        assert.deepStrictEqual(result, { unplaced: [0, 0], exact: false });
    });

    it("can be pessimistic when sizes do not divide, and says so", () => {
        const result = packReplicas(pools(["p", 2, 8]), [{ replicas: 1, gpus: 4, pools: ["p"] }, { replicas: 2, gpus: 3, pools: ["p"] }, { replicas: 3, gpus: 2, pools: ["p"] }]);
        assert.deepStrictEqual(result, { unplaced: [0, 0, 1], exact: false });
    });

    it("stops at the first replica of a workload that does not fit (KEDA's 100, a huge max)", () => {
        assert.deepStrictEqual(packReplicas(pools(["p", 2, 1]), [{ replicas: 1_000_000, gpus: 1, pools: ["p"] }]).unplaced, [999_998]);
    });
});
