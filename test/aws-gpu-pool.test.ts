import * as assert from "assert";
import { AUTOSCALER_RELEASES, BALANCING_IGNORED_LABELS, autoscalerRelease } from "../components/cluster/cluster-autoscaler";
import { EksCluster } from "../components/cluster/eks-cluster";
import {
    ACCELERATOR_LABEL, GPU_TAINT, acceleratorType, gpuNodeLabels, legacyTemplateTagNames, nodeTemplateTags, templateTagResourceName,
} from "../components/gpu/gpu-node-pool";
import { NODE_GROUP_TAG, launchTemplateArgs, ownsNodeGroup } from "../components/cluster/managed-node-group";
import { AUTOSCALER_MINORS } from "../config/aws";
import { invokeResults } from "../tools/offline/fakes";
import { settings } from "../tools/offline/internals";
import { ProgramRun, loadProgram, runUnderMocks } from "../tools/offline/run";
import { readStackFile, stackFilePath } from "../tools/offline/stack-file";
import { inputs, Json, PROJECT_DIR, resource, resourcesOfType, runComponent, runStackFile } from "./mocks";

type InvokeAnswer = (args: Json) => Json;

/** A node group as one run registered it: its inputs and the ignoreChanges option it asked for. */
interface Registered {
    readonly inputs: Json;
    readonly ignoreChanges: string[];
}

interface RegistrationRequest {
    getType(): string;
    getName(): string;
    getIgnorechangesList(): string[];
}

/**
 * index.ts with the dev stack file, `gpuPool` and `cluster` merged over its own, and the given
 * provider-function answers in place of the offline ones; returns each node group by name.
 */
async function deployDev(overrides: { gpuPool?: Json; cluster?: Json }, answers: Record<string, InvokeAnswer> = {}): Promise<Map<string, Registered>> {
    const dev = readStackFile(stackFilePath(PROJECT_DIR, "dev"));
    const config = { ...dev.config };
    for (const [key, value] of Object.entries(overrides)) {
        const current = config[`llm-platform:${key}`];
        config[`llm-platform:${key}`] = JSON.stringify({ ...(current ? JSON.parse(current) : {}), ...value });
    }
    const table = invokeResults as Record<string, InvokeAnswer>;
    const saved = Object.fromEntries(Object.keys(answers).map((token) => [token, table[token]]));
    Object.assign(table, answers);
    const ignored = new Map<string, string[]>();
    try {
        const run = await runUnderMocks({ stack: "dev", config, secretKeys: dev.secretKeys }, () => {
            const monitor = settings.getMonitor() as unknown as { registerResource(request: RegistrationRequest, callback: unknown): unknown };
            const register = monitor.registerResource.bind(monitor);
            monitor.registerResource = (request, callback) => {
                ignored.set(`${request.getType()}::${request.getName()}`, request.getIgnorechangesList());
                return register(request, callback);
            };
            return loadProgram();
        });
        assert.deepStrictEqual(run.failures.map(String), [], "the run fails nowhere");
        return new Map(resourcesOfType(run, "aws:eks/nodeGroup:NodeGroup").map((group) => [group.name, {
            inputs: inputs(group), ignoreChanges: ignored.get(`${group.type}::${group.name}`) ?? [],
        }]));
    } finally {
        for (const [token, answer] of Object.entries(saved)) {
            if (answer) {
                table[token] = answer;
            } else {
                delete table[token];
            }
        }
    }
}

/** What Pulumi sends for an update: the new inputs, but every ignored path keeps its old value (pulumi/pulumi pkg/resource/deploy/step_generator.go, processIgnoreChanges). */
function sentOnUpdate(before: Registered, after: Registered): Json {
    const sent: Json = structuredClone(after.inputs);
    for (const ignored of after.ignoreChanges) {
        const keys = ignored.split(".");
        const last = keys.pop()!;
        const from = keys.reduce((value: Json, key) => value?.[key], before.inputs);
        const to = keys.reduce((value: Json, key) => value?.[key], sent);
        to[last] = from?.[last];
    }
    return sent;
}

/** The dev cluster's name: `<project>-<stack>` (components/cluster/eks-cluster.ts eksClusterName). */
const DEV_CLUSTER = "llm-platform-dev";

/** EKS's UpdateNodegroupConfig refuses "Minimum capacity N can't be greater than desired size M" (and a desired size above the maximum). */
function eksAccepts({ minSize, maxSize, desiredSize }: Json): boolean {
    return Number.isInteger(desiredSize) && minSize <= desiredSize && desiredSize <= maxSize;
}

/**
 * The dev stack deployed with `before`, then updated to `after` while each node group runs
 * `live[name]` nodes (the autoscaler's choice; the old desired size where not given): what
 * each node group's update sends as its scaling config.
 */
async function scalingUpdate(
    before: { gpuPool?: Json; cluster?: Json }, after: { gpuPool?: Json; cluster?: Json }, live: Record<string, number> = {}, { untagged = false } = {},
): Promise<Record<string, Json>> {
    const deployed = await deployDev(before);
    // The offline fake names a node group `<name>-0000000` (the cluster is `llm-platform-dev`), and EKS reports the
    // tags a group was given: none for a group created before ManagedNodeGroup tagged its groups (`untagged`).
    const physical = new Map([...deployed].map(([name, group]) => [`${name}-0000000`, { name, group }]));
    const answers: Record<string, InvokeAnswer> = {
        "aws:eks/getClusters:getClusters": () => ({ names: [DEV_CLUSTER], id: "us-west-2", region: "us-west-2" }),
        "aws:eks/getNodeGroups:getNodeGroups": (args) => ({ clusterName: args.clusterName, names: [...physical.keys()], id: args.clusterName }),
        "aws:eks/getNodeGroup:getNodeGroup": (args) => {
            const { name, group } = physical.get(args.nodeGroupName)!;
            const { minSize, maxSize, desiredSize } = group.inputs.scalingConfig;
            const { tags, ...reported } = group.inputs;
            return {
                ...reported, ...(untagged ? {} : { tags }),
                nodeGroupName: args.nodeGroupName, scalingConfigs: [{ minSize, maxSize, desiredSize: live[name] ?? desiredSize }],
            };
        },
    };
    const updated = await deployDev(after, answers);
    return Object.fromEntries([...updated].map(([name, group]) => [name, sentOnUpdate(deployed.get(name)!, group).scalingConfig]));
}

describe("aws GPU node pool (GpuNodePool)", () => {
    let dev: ProgramRun;
    let prod: ProgramRun;
    before(async () => {
        dev = await runStackFile("dev");
        prod = await runStackFile("prod");
    });

    describe("node group", () => {
        it("runs the NVIDIA AMI with the GPU taint, as EKS spells it", () => {
            const pool = inputs(resource(dev, "aws:eks/nodeGroup:NodeGroup", "gpu"));
            assert.strictEqual(pool.amiType, "AL2023_x86_64_NVIDIA");
            assert.deepStrictEqual(pool.taints, [{ key: "nvidia.com/gpu", value: "true", effect: "NO_SCHEDULE" }]);
        });

        it("labels the nodes for the device plugin and the model servers", () => {
            assert.deepStrictEqual(inputs(resource(dev, "aws:eks/nodeGroup:NodeGroup", "gpu")).labels, { "nvidia.com/gpu.present": "true", "llm-platform.io/pool": "gpu" });
        });

        it("takes instance types, capacity type and sizes from the stack, starting at the minimum", () => {
            const devPool = inputs(resource(dev, "aws:eks/nodeGroup:NodeGroup", "gpu"));
            assert.deepStrictEqual([devPool.instanceTypes, devPool.capacityType, devPool.scalingConfig], [["g6.xlarge", "g5.xlarge"], "SPOT", { minSize: 0, maxSize: 2, desiredSize: 0 }]);
            const prodPool = inputs(resource(prod, "aws:eks/nodeGroup:NodeGroup", "gpu"));
            assert.deepStrictEqual([prodPool.instanceTypes, prodPool.capacityType, prodPool.scalingConfig], [["g5.12xlarge"], "ON_DEMAND", { minSize: 1, maxSize: 3, desiredSize: 1 }]);
            assert.strictEqual(prod.outputs.gpuCapacityAtMax, 12);
        });

        it("gets a node role with only the worker and ECR pull policies", () => {
            const pool = inputs(resource(dev, "aws:eks/nodeGroup:NodeGroup", "gpu"));
            assert.strictEqual(pool.nodeRoleArn, "arn:aws:iam::123456789012:role/gpu-role-0000000");
            const attached = ["gpu-AmazonEKSWorkerNodePolicy", "gpu-AmazonEC2ContainerRegistryPullOnly"]
                .map((name) => inputs(resource(dev, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", name)).policyArn);
            assert.deepStrictEqual(attached, ["arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy", "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly"]);
        });
    });

    describe("sizes on the first deploy", function () {
        this.timeout(120_000);

        // The preview of a first deploy knows the cluster's name (the engine's Check fills it in) before the
        // cluster exists, and EKS's ListNodegroups fails for it (tools/offline/fakes.ts answers the same way).
        it("starts each group at its minimum while the cluster does not exist yet, rather than failing to list its groups", async () => {
            const groups = await deployDev({ gpuPool: { minSize: 1 } });
            assert.deepStrictEqual(groups.get("gpu")?.inputs.scalingConfig, { minSize: 1, maxSize: 2, desiredSize: 1 });
            for (const zone of ["llm-system-0", "llm-system-1"]) {
                assert.deepStrictEqual(groups.get(zone)?.inputs.scalingConfig, { minSize: 1, maxSize: 2, desiredSize: 1 }, zone);
            }
        });

        it("does the same for the new cluster of an update that replaces it (the old one is listed, the new name is not)", async () => {
            const groups = await deployDev({}, { "aws:eks/getClusters:getClusters": () => ({ names: ["llm-eks-1111111"], id: "us-west-2", region: "us-west-2" }) });
            assert.deepStrictEqual(groups.get("gpu")?.inputs.scalingConfig, { minSize: 0, maxSize: 2, desiredSize: 0 });
        });
    });

    describe("raising minSize on a deployed stack", function () {
        this.timeout(120_000);

        it("sends a desired size EKS accepts: 0 to 1 on dev's GPU pool, 1 to 2 on each zone's system group", async () => {
            const sent = await scalingUpdate({}, { gpuPool: { minSize: 1 }, cluster: { systemPool: { minSize: 2, maxSize: 2 } } });
            assert.deepStrictEqual(sent.gpu, { minSize: 1, maxSize: 2, desiredSize: 1 });
            assert.deepStrictEqual([sent["llm-system-0"], sent["llm-system-1"]], [{ minSize: 2, maxSize: 2, desiredSize: 2 }, { minSize: 2, maxSize: 2, desiredSize: 2 }]);
            assert.ok(eksAccepts(sent.gpu) && eksAccepts(sent["llm-system-0"]) && eksAccepts(sent["llm-system-1"]));
        });

        it("leaves the autoscaler's size alone where it is within the new bounds", async () => {
            const sent = await scalingUpdate({}, { gpuPool: { minSize: 1 } }, { gpu: 2, "llm-system-1": 2 });
            assert.deepStrictEqual(sent.gpu, { minSize: 1, maxSize: 2, desiredSize: 2 });
            assert.deepStrictEqual(sent["llm-system-0"], { minSize: 1, maxSize: 2, desiredSize: 1 });
            assert.deepStrictEqual(sent["llm-system-1"], { minSize: 1, maxSize: 2, desiredSize: 2 }, "each zone's group keeps its own size");
        });

        // A stack deployed before ManagedNodeGroup tagged its groups: the groups EKS reports have no tags.
        it("keeps the size of a group created before the tag, found by its auto-generated name (no scale-down to minSize)", async () => {
            const sent = await scalingUpdate({}, {}, { gpu: 2, "llm-system-0": 2 }, { untagged: true });
            assert.deepStrictEqual(sent.gpu, { minSize: 0, maxSize: 2, desiredSize: 2 });
            assert.deepStrictEqual(sent["llm-system-0"], { minSize: 1, maxSize: 2, desiredSize: 2 });
        });

        it("claims an untagged group only by the name Pulumi generates for it (<name>-<7 hex>), and a tagged one only by its tag", () => {
            assert.ok(ownsNodeGroup("gpu", "gpu-1a2b3c4", {}));
            assert.ok(ownsNodeGroup("gpu", "anything", { [NODE_GROUP_TAG]: "gpu" }));
            assert.ok(!ownsNodeGroup("gpu", "gpu-spot-1a2b3c4", {}), "another component's prefix");
            assert.ok(!ownsNodeGroup("gpu", "gpu-1a2b3c4", { [NODE_GROUP_TAG]: "gpu-spot" }), "tagged as another component's");
            assert.ok(!ownsNodeGroup("gpu", "gpu-manual", undefined), "named by hand");
            assert.ok(!ownsNodeGroup("llm-system", "gpu-1a2b3c4", {}));
            assert.ok(!ownsNodeGroup("llm-system-0", "llm-system-1a2b3c4", {}), "the zonal groups never claim the single group of before (Pulumi deletes it)");
            assert.ok(!ownsNodeGroup("llm-system-1", "llm-system-10-1a2b3c4", {}));
        });

        it("brings the size down to a lowered maxSize", async () => {
            const sent = await scalingUpdate({ gpuPool: { maxSize: 4 } }, { gpuPool: { maxSize: 2 } }, { gpu: 4 });
            assert.deepStrictEqual(sent.gpu, { minSize: 0, maxSize: 2, desiredSize: 2 });
        });
    });

    describe("the GPU type label: scale-out without overshoot", () => {
        const TEMPLATE_LABEL = `k8s.io/cluster-autoscaler/node-template/label/${ACCELERATOR_LABEL}`;

        it("labels a pool of one GPU model with it, and tags its ASG with the matching node-template label (prod: A10G)", () => {
            assert.strictEqual(inputs(resource(prod, "aws:eks/nodeGroup:NodeGroup", "gpu")).labels[ACCELERATOR_LABEL], "nvidia-a10g");
            const tags = resourcesOfType(prod, "aws:autoscaling/tag:Tag").map(inputs).filter((t) => t.tag.key === TEMPLATE_LABEL);
            assert.deepStrictEqual(tags.map((t) => [t.tag.value, t.autoscalingGroupName]), [["nvidia-a10g", "eks-gpu-0000000-asg"]]);
        });

        it("names the GPU from the instance facts, as the autoscaler's AWS provider spells its known types", () => {
            assert.strictEqual(ACCELERATOR_LABEL, "k8s.amazonaws.com/accelerator");
            assert.strictEqual(acceleratorType(["g6.xlarge", "g6.12xlarge", "gr6.4xlarge"]), "nvidia-l4");
            assert.strictEqual(acceleratorType(["g5.xlarge"]), "nvidia-a10g");
            assert.strictEqual(acceleratorType(["g6e.xlarge"]), "nvidia-l40s");
            assert.strictEqual(acceleratorType(["g4dn.xlarge"]), "nvidia-tesla-t4");
            assert.strictEqual(acceleratorType(["p4d.24xlarge", "p4de.24xlarge"]), "nvidia-tesla-a100", "40 and 80 GB: one model");
            assert.strictEqual(acceleratorType(["p5.48xlarge"]), "nvidia-h100");
        });

        it("leaves a pool of mixed GPU models, or of a type without facts, unlabelled rather than half wrong (dev: L4 or A10G)", () => {
            assert.strictEqual(acceleratorType(["g6.xlarge", "g5.xlarge"]), undefined);
            assert.strictEqual(acceleratorType(["g6.xlarge", "p3.2xlarge"]), undefined);
            assert.ok(!(ACCELERATOR_LABEL in inputs(resource(dev, "aws:eks/nodeGroup:NodeGroup", "gpu")).labels));
            assert.deepStrictEqual(gpuNodeLabels(["g6.xlarge", "g5.xlarge"]), { "nvidia.com/gpu.present": "true", "llm-platform.io/pool": "gpu" });
        });

        it("keeps each node-template tag's resource by its key, the old numbered names as aliases: a new label renames none", () => {
            const names = resourcesOfType(prod, "aws:autoscaling/tag:Tag").map((t) => t.name).sort();
            assert.deepStrictEqual(names, [
                "gpu-template-label/k8s.amazonaws.com/accelerator", "gpu-template-label/llm-platform.io/pool", "gpu-template-label/nvidia.com/gpu.present",
                "gpu-template-resources/nvidia.com/gpu", "gpu-template-taint/nvidia.com/gpu",
            ]);
            assert.strictEqual(templateTagResourceName("gpu", "k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu"), "gpu-template-taint/nvidia.com/gpu");
            assert.deepStrictEqual(legacyTemplateTagNames("gpu"), {
                "k8s.io/cluster-autoscaler/node-template/label/nvidia.com/gpu.present": "gpu-template-0",
                "k8s.io/cluster-autoscaler/node-template/label/llm-platform.io/pool": "gpu-template-1",
                "k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu": "gpu-template-2",
                "k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu": "gpu-template-3",
            });
        });
    });

    describe("system node groups, one per zone", () => {
        it("runs one group per zone, each in its own subnet, sized per zone (prod: 3 zones, 1..2 nodes each)", () => {
            const groups = resourcesOfType(prod, "aws:eks/nodeGroup:NodeGroup").filter((group) => group.name.startsWith("llm-system")).map(inputs);
            assert.strictEqual(groups.length, 3);
            const subnets = groups.map((group) => group.subnetIds);
            assert.ok(subnets.every((ids) => ids.length === 1), "each group in one zone's subnet");
            assert.strictEqual(new Set(subnets.map(([id]) => id)).size, 3, "three different subnets");
            for (const group of groups) {
                assert.deepStrictEqual([group.scalingConfig.minSize, group.scalingConfig.maxSize, group.labels], [1, 2, { "llm-platform.io/pool": "system" }]);
            }
        });

        it("follows an existing VPC's subnets, one group for each", async () => {
            const run = await runComponent(() => new EksCluster("x", {
                kubernetesVersion: "1.35", vpcCidr: "10.0.0.0/16", availabilityZones: 2, natGateways: "single",
                existingVpcId: "vpc-0123456789abcdef0", existingSubnetIds: ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb", "subnet-0cccccccccccccccc"],
                endpointPublicAccess: false, publicAccessCidrs: [], deployerCidrs: [], deployerSecurityGroupIds: ["sg-0123456789abcdef0"], adminRoleArns: [],
                callerArn: "arn:aws:sts::123456789012:assumed-role/offline-deployer/offline",
                systemPool: { instanceTypes: ["m6i.large"], minSize: 1, maxSize: 2, diskSizeGiB: 50 },
            }));
            const groups = resourcesOfType(run, "aws:eks/nodeGroup:NodeGroup");
            assert.deepStrictEqual(groups.map((group) => [group.name, inputs(group).subnetIds]), [
                ["x-system-0", ["subnet-0aaaaaaaaaaaaaaaa"]], ["x-system-1", ["subnet-0bbbbbbbbbbbbbbbb"]], ["x-system-2", ["subnet-0cccccccccccccccc"]],
            ]);
        });

        it("has the autoscaler balance them, ignoring the labels EKS gives each group's nodes", () => {
            const args = inputs(resource(prod, "kubernetes:helm.sh/v4:Chart", "gpu-autoscaler-chart")).values.extraArgs;
            assert.strictEqual(args["balance-similar-node-groups"], true);
            assert.deepStrictEqual(Object.entries(args).filter(([key]) => key.startsWith("balancing-ignore-label")), [
                ["balancing-ignore-label_1", "eks.amazonaws.com/sourceLaunchTemplateId"],
                ["balancing-ignore-label_2", "eks.amazonaws.com/sourceLaunchTemplateVersion"],
                ["balancing-ignore-label_3", "eks.amazonaws.com/nodegroup-image"],
            ]);
            assert.strictEqual(BALANCING_IGNORED_LABELS.length, 3);
        });
    });

    describe("launch template", () => {
        it("requires IMDSv2 tokens with hop limit 1 and uses it for the node group", () => {
            const template = resource(dev, "aws:ec2/launchTemplate:LaunchTemplate", "gpu-lt");
            assert.deepStrictEqual(inputs(template).metadataOptions, { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 });
            assert.strictEqual(inputs(resource(dev, "aws:eks/nodeGroup:NodeGroup", "gpu")).launchTemplate.id, "gpu-lt-id");
        });

        it("encrypts a gp3 root volume of the configured size (encrypted as the string the provider takes)", () => {
            const [disk, ...others] = inputs(resource(dev, "aws:ec2/launchTemplate:LaunchTemplate", "gpu-lt")).blockDeviceMappings;
            assert.deepStrictEqual(others, []);
            assert.strictEqual(disk.deviceName, "/dev/xvda");
            assert.deepStrictEqual([disk.ebs.volumeType, disk.ebs.encrypted, disk.ebs.volumeSize], ["gp3", "true", 200]);
        });

        it("passes a configured hop limit through", () => {
            assert.strictEqual(launchTemplateArgs(100, 2).metadataOptions && (launchTemplateArgs(100, 2).metadataOptions as Json).httpPutResponseHopLimit, 2);
        });
    });

    describe("autoscaling from zero", () => {
        it("tags the pool's ASG with the node template: labels, taint and GPU count", () => {
            const tags = resourcesOfType(dev, "aws:autoscaling/tag:Tag").map(inputs);
            assert.ok(tags.every((t) => t.autoscalingGroupName === "eks-gpu-0000000-asg"), "on the node group's ASG");
            assert.deepStrictEqual(Object.fromEntries(tags.map((t) => [t.tag.key, t.tag.value])), {
                "k8s.io/cluster-autoscaler/node-template/label/nvidia.com/gpu.present": "true",
                "k8s.io/cluster-autoscaler/node-template/label/llm-platform.io/pool": "gpu",
                "k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu": "true:NoSchedule",
                "k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu": "1",
            });
        });

        it("advertises every GPU of a multi-GPU node", () => {
            assert.strictEqual(nodeTemplateTags({}, [GPU_TAINT], 4)["k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu"], "4");
            const prodTags = resourcesOfType(prod, "aws:autoscaling/tag:Tag").map(inputs);
            assert.ok(prodTags.some((t) => t.tag.key.endsWith("/resources/nvidia.com/gpu") && t.tag.value === "4"));
        });

        it("deploys the Cluster Autoscaler chart matching the Kubernetes minor, auto-discovering this cluster", () => {
            const chart = inputs(resource(dev, "kubernetes:helm.sh/v4:Chart", "gpu-autoscaler-chart"));
            assert.deepStrictEqual([chart.chart, chart.version, chart.repositoryOpts.repo], ["cluster-autoscaler", "9.59.0", "https://kubernetes.github.io/autoscaler"]);
            assert.strictEqual(chart.values.image.tag, "v1.35.2");
            assert.strictEqual(chart.values.autoDiscovery.clusterName, inputs(resource(dev, "aws:eks/nodeGroup:NodeGroup", "gpu")).clusterName);
            assert.strictEqual(chart.values.rbac.serviceAccount.name, "cluster-autoscaler");
            assert.strictEqual(chart.values.extraArgs["scale-down-unneeded-time"], "10m");
        });

        it("has a release for every Kubernetes minor the config accepts, and the image matches the minor", () => {
            assert.deepStrictEqual(Object.keys(AUTOSCALER_RELEASES), [...AUTOSCALER_MINORS]);
            for (const minor of AUTOSCALER_MINORS) {
                assert.ok(autoscalerRelease(minor).image.startsWith(`v${minor}.`), minor);
            }
        });

        it("trusts only kube-system/cluster-autoscaler and may resize only this cluster's groups", () => {
            const trust = JSON.parse(inputs(resource(dev, "aws:iam/role:Role", "gpu-autoscaler-identity-role")).assumeRolePolicy);
            const conditions = trust.Statement[0].Condition.StringEquals;
            assert.deepStrictEqual([conditions["aws:RequestTag/kubernetes-namespace"], conditions["aws:RequestTag/kubernetes-service-account"]], ["kube-system", "cluster-autoscaler"]);
            const association = inputs(resource(dev, "aws:eks/podIdentityAssociation:PodIdentityAssociation", "gpu-autoscaler-identity-association"));
            assert.deepStrictEqual([association.namespace, association.serviceAccount], ["kube-system", "cluster-autoscaler"]);
            const policy = JSON.parse(inputs(resource(dev, "aws:iam/rolePolicy:RolePolicy", "gpu-autoscaler-identity-inline")).policy);
            const scale = policy.Statement.find((s: Json) => s.Action.includes("autoscaling:SetDesiredCapacity"));
            assert.deepStrictEqual(scale.Condition, { StringEquals: { "aws:ResourceTag/k8s.io/cluster-autoscaler/llm-platform-dev": "owned" } });
        });
    });
});
