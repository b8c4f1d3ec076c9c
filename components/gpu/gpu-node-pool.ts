import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { GPU_NODE_LABEL, GPU_TAINT_KEY } from "../../lib/gpu-scheduling";
import { instanceFacts } from "../../lib/instance-types";
import { ClusterAutoscaler } from "../cluster/cluster-autoscaler";
import { EksTaintEffect, ManagedNodeGroup, NodeTaint } from "../cluster/managed-node-group";

export interface GpuNodePoolArgs {
    readonly clusterName: pulumi.Input<string>;
    /** Whether the cluster existed before this run (EksCluster.existedBefore). */
    readonly clusterExisted: pulumi.Input<boolean>;
    readonly region: pulumi.Input<string>;
    /** The cluster's Kubernetes minor, for the matching autoscaler release. */
    readonly kubernetesVersion: string;
    readonly subnetIds: pulumi.Input<pulumi.Input<string>[]>;
    readonly provider: k8s.Provider;
    /** GPU instance types; all should have `gpusPerNode` GPUs. */
    readonly instanceTypes: readonly string[];
    readonly gpusPerNode: number;
    readonly capacityType: "ON_DEMAND" | "SPOT";
    readonly minSize: number;
    readonly maxSize: number;
    readonly diskSizeGiB: number;
    /** IMDSv2 hop limit. Defaults to 1. */
    readonly metadataHopLimit?: number;
    /** Idle time before the autoscaler removes a GPU node. Defaults to "10m". */
    readonly scaleDownUnneededTime?: string;
    /** Where the autoscaler runs (the system pool). Defaults to anywhere. */
    readonly autoscalerNodeSelector?: Readonly<Record<string, string>>;
    /** The longest terminationGracePeriodSeconds of the pods the autoscaler may evict. Defaults to none beyond its own 600. */
    readonly podGraceSeconds?: number;
    /** What the nodes need before they join (EksCluster.nodePrerequisites). Defaults to none. */
    readonly nodeDependsOn?: readonly pulumi.Resource[];
}

/** The AMI with the NVIDIA driver and container toolkit (no device plugin: GpuRuntime adds it). */
export const GPU_AMI_TYPE = "AL2023_x86_64_NVIDIA";

/** What the device plugin (its chart's default affinity) and model servers select on. */
export const GPU_NODE_LABELS = { [GPU_NODE_LABEL.key]: GPU_NODE_LABEL.value, "llm-platform.io/pool": "gpu" } as const;

/**
 * The label the Cluster Autoscaler's AWS provider takes for "this node has GPUs"
 * (kubernetes/autoscaler cluster-autoscaler/cloudprovider/aws/aws_cloud_provider.go, `GPULabel`,
 * at cluster-autoscaler-1.34.5 and -1.35.2). A node that carries it but has no `nvidia.com/gpu`
 * allocatable yet (the device plugin has not registered) counts as not ready, and its GPUs as
 * coming, from the node group's template (processors/customresources/gpu_processor.go,
 * FilterOutNodesWithUnreadyResources and GetNodeGpuTarget; utils/gpu/gpu.go NodeHasGpuAllocatable).
 * Without it a new GPU node is a ready node without GPUs while the plugin starts, the pending
 * GPU pod still fits nowhere, and the autoscaler adds another node (cloudprovider/aws/README.md,
 * "Special note on GPU instances": label the node before it joins, which EKS does with the node
 * group's labels).
 */
export const ACCELERATOR_LABEL = "k8s.amazonaws.com/accelerator";

/**
 * The label's value per GPU model (lib/instance-types.ts names them): the AWS provider's known
 * GPU types (aws_cloud_provider.go `availableGPUTypes`) spell T4 and A100 `nvidia-tesla-...`. The
 * value is the GPU type of the autoscaler's metrics (utils/gpu/gpu.go GetGpuInfoForMetrics:
 * "not-listed" for a type it does not know) and of `--gpu-total` limits; only the label's
 * presence decides readiness.
 */
const AUTOSCALER_GPU_TYPES: Readonly<Record<string, string>> = { "nvidia-t4": "nvidia-tesla-t4", "nvidia-a100": "nvidia-tesla-a100" };

/**
 * The pool's `k8s.amazonaws.com/accelerator` value: the GPU model all its instance types share.
 * None when they differ (dev's `[g6.xlarge, g5.xlarge]`: L4 or A10G, whichever spot capacity
 * EKS finds) or one is unknown: a managed node group labels every node alike, and a label naming
 * the wrong GPU on half the nodes would mislead whatever selects on it. Such a pool keeps the
 * overshoot the label prevents: while a new node's device plugin starts, the autoscaler may add
 * one more node, removed again after `scaleDownUnneededTime` (README, "The AWS cluster").
 */
export function acceleratorType(instanceTypes: readonly string[]): string | undefined {
    const models = [...new Set(instanceTypes.map((type) => instanceFacts(type)?.gpu?.model))];
    const model = models.length === 1 ? models[0] : undefined;
    return model === undefined ? undefined : AUTOSCALER_GPU_TYPES[model] ?? model;
}

/** The GPU nodes' labels: GPU_NODE_LABELS, and the accelerator label when the pool has one GPU model (`acceleratorType`). */
export function gpuNodeLabels(instanceTypes: readonly string[]): Record<string, string> {
    const accelerator = acceleratorType(instanceTypes);
    return { ...GPU_NODE_LABELS, ...(accelerator === undefined ? {} : { [ACCELERATOR_LABEL]: accelerator }) };
}

/** Only pods that tolerate it (GPU pods, GPU node agents) land on GPU nodes. */
export const GPU_TAINT: NodeTaint = { key: GPU_TAINT_KEY, value: "true", effect: "NO_SCHEDULE" };

const KUBERNETES_EFFECT: Readonly<Record<EksTaintEffect, string>> = {
    NO_SCHEDULE: "NoSchedule", NO_EXECUTE: "NoExecute", PREFER_NO_SCHEDULE: "PreferNoSchedule",
};

/** EKS spells taint effects `NO_SCHEDULE`; Kubernetes and the autoscaler's tags `NoSchedule`. */
export function kubernetesTaintEffect(effect: EksTaintEffect): string {
    return KUBERNETES_EFFECT[effect];
}

const TEMPLATE = "k8s.io/cluster-autoscaler/node-template";

/**
 * The name of the aws.autoscaling.Tag resource of a node-template tag: its key, without the
 * common prefix (`gpu-template-label/llm-platform.io/pool`), so that a label added to or removed
 * from the list never renames another tag's resource. A rename is a new resource and the old
 * one's deletion, which comes last and removes the key from the group (terraform-provider-aws
 * internal/service/autoscaling/group_tag.go, resourceGroupTagDelete), the key the new one set.
 */
export function templateTagResourceName(pool: string, key: string): string {
    return `${pool}-template-${key.slice(TEMPLATE.length + 1)}`;
}

/**
 * The names the tag resources had when they were numbered in `nodeTemplateTags` order (before the
 * accelerator label): `gpu-template-0` for `nvidia.com/gpu.present`, and so on. Each keeps its old
 * name as an alias, so that stacks deployed then update the tags in place rather than replace them.
 */
export function legacyTemplateTagNames(pool: string): Readonly<Record<string, string>> {
    return Object.fromEntries(Object.keys(nodeTemplateTags(GPU_NODE_LABELS, [GPU_TAINT], 1)).map((key, index) => [key, `${pool}-template-${index}`]));
}

/**
 * ASG tags that describe a node before one exists, so the Cluster Autoscaler can scale
 * the pool up from zero for a pod that tolerates the taint, selects the labels and asks for
 * GPUs (kubernetes/autoscaler cloudprovider/aws/README.md, "Auto-Discovery Setup").
 */
export function nodeTemplateTags(labels: Readonly<Record<string, string>>, taints: readonly NodeTaint[], gpusPerNode: number): Record<string, string> {
    return {
        ...Object.fromEntries(Object.entries(labels).map(([key, value]) => [`${TEMPLATE}/label/${key}`, value])),
        ...Object.fromEntries(taints.map((taint) => [`${TEMPLATE}/taint/${taint.key}`, `${taint.value}:${kubernetesTaintEffect(taint.effect)}`])),
        [`${TEMPLATE}/resources/nvidia.com/gpu`]: String(gpusPerNode),
    };
}

/**
 * The GPU node group: NVIDIA AMI, tainted and labelled, on a launch template with IMDSv2
 * and an encrypted gp3 root volume, scaled between min and max by the Cluster Autoscaler.
 */
export class GpuNodePool extends pulumi.ComponentResource {
    public readonly nodes: ManagedNodeGroup;
    public readonly poolName: pulumi.Output<string>;
    /** GPUs the pool holds at its max size: maxSize x gpusPerNode. */
    public readonly gpuCapacityAtMax: number;
    public readonly autoscaler: ClusterAutoscaler;

    constructor(name: string, args: GpuNodePoolArgs, opts?: pulumi.ComponentResourceOptions) {
        super("llm-platform:gpu:GpuNodePool", name, {}, opts);

        const labels = gpuNodeLabels(args.instanceTypes);
        this.nodes = new ManagedNodeGroup(name, {
            clusterName: args.clusterName,
            clusterExisted: args.clusterExisted,
            kubernetesVersion: args.kubernetesVersion,
            subnetIds: args.subnetIds,
            amiType: GPU_AMI_TYPE,
            instanceTypes: args.instanceTypes,
            capacityType: args.capacityType,
            minSize: args.minSize,
            maxSize: args.maxSize,
            diskSizeGiB: args.diskSizeGiB,
            metadataHopLimit: args.metadataHopLimit ?? 1,
            labels,
            taints: [GPU_TAINT],
            nodeDependsOn: args.nodeDependsOn,
        }, { parent: this });
        this.poolName = this.nodes.nodeGroup.nodeGroupName;
        this.gpuCapacityAtMax = args.maxSize * args.gpusPerNode;

        // Managed node groups do not copy their own tags to the ASG, so tag it directly, one
        // resource per key (`templateTagResourceName`).
        const legacy = legacyTemplateTagNames(name);
        Object.entries(nodeTemplateTags(labels, [GPU_TAINT], args.gpusPerNode)).forEach(([key, value]) => {
            new aws.autoscaling.Tag(templateTagResourceName(name, key), {
                autoscalingGroupName: this.nodes.autoScalingGroupName,
                tag: { key, value, propagateAtLaunch: false },
            }, { parent: this, aliases: legacy[key] ? [{ name: legacy[key] }] : [] });
        });

        this.autoscaler = new ClusterAutoscaler(`${name}-autoscaler`, {
            clusterName: args.clusterName,
            region: args.region,
            kubernetesVersion: args.kubernetesVersion,
            provider: args.provider,
            scaleDownUnneededTime: args.scaleDownUnneededTime,
            nodeSelector: args.autoscalerNodeSelector,
            podGraceSeconds: args.podGraceSeconds,
        }, { parent: this });

        this.registerOutputs({ nodes: this.nodes, poolName: this.poolName, gpuCapacityAtMax: this.gpuCapacityAtMax, autoscaler: this.autoscaler });
    }
}
