import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { GPU_NODE_LABEL, GPU_TAINT_KEY } from "../lib/gpu-scheduling";
import { ClusterAutoscaler } from "./cluster-autoscaler";
import { EksTaintEffect, ManagedNodeGroup, NodeTaint } from "./managed-node-group";

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

        this.nodes = new ManagedNodeGroup(name, {
            clusterName: args.clusterName,
            clusterExisted: args.clusterExisted,
            subnetIds: args.subnetIds,
            amiType: GPU_AMI_TYPE,
            instanceTypes: args.instanceTypes,
            capacityType: args.capacityType,
            minSize: args.minSize,
            maxSize: args.maxSize,
            diskSizeGiB: args.diskSizeGiB,
            metadataHopLimit: args.metadataHopLimit ?? 1,
            labels: GPU_NODE_LABELS,
            taints: [GPU_TAINT],
            nodeDependsOn: args.nodeDependsOn,
        }, { parent: this });
        this.poolName = this.nodes.nodeGroup.nodeGroupName;
        this.gpuCapacityAtMax = args.maxSize * args.gpusPerNode;

        // Managed node groups do not copy their own tags to the ASG, so tag it directly.
        Object.entries(nodeTemplateTags(GPU_NODE_LABELS, [GPU_TAINT], args.gpusPerNode)).forEach(([key, value], index) => {
            new aws.autoscaling.Tag(`${name}-template-${index}`, {
                autoscalingGroupName: this.nodes.autoScalingGroupName,
                tag: { key, value, propagateAtLaunch: false },
            }, { parent: this });
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
