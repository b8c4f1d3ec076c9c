import * as assert from "assert";
import { AUTOSCALER_RELEASES, autoscalerRelease } from "../components/cluster-autoscaler";
import { GPU_TAINT, nodeTemplateTags } from "../components/gpu-node-pool";
import { launchTemplateArgs } from "../components/managed-node-group";
import { AUTOSCALER_MINORS } from "../config/aws";
import { ProgramRun, RecordedResource } from "../tools/offline/run";
import { resource, resourcesOfType, runStackFile } from "./mocks";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const inputs = (found: RecordedResource): Json => found.inputs as Json;

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
            assert.deepStrictEqual(scale.Condition, { StringEquals: { "aws:ResourceTag/k8s.io/cluster-autoscaler/llm-eks-0000000": "owned" } });
        });
    });
});
