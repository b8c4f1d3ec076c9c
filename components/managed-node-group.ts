import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { managedPolicyArn, serviceTrustPolicy } from "../lib/aws-iam";

/** Taint effects as the EKS API spells them (Kubernetes says `NoSchedule`). */
export type EksTaintEffect = "NO_SCHEDULE" | "NO_EXECUTE" | "PREFER_NO_SCHEDULE";

export interface NodeTaint {
    readonly key: string;
    readonly value: string;
    readonly effect: EksTaintEffect;
}

export interface ManagedNodeGroupArgs {
    readonly clusterName: pulumi.Input<string>;
    /** Private subnets the nodes launch in. */
    readonly subnetIds: pulumi.Input<pulumi.Input<string>[]>;
    /** The EKS AMI type, e.g. `AL2023_x86_64_STANDARD` or `AL2023_x86_64_NVIDIA`. */
    readonly amiType: string;
    readonly instanceTypes: readonly string[];
    /** Defaults to "ON_DEMAND". */
    readonly capacityType?: "ON_DEMAND" | "SPOT";
    readonly minSize: number;
    readonly maxSize: number;
    /** Root volume size (encrypted gp3). */
    readonly diskSizeGiB: number;
    /** IMDSv2 hop limit. Defaults to 1, so that pods cannot reach the node role's credentials. */
    readonly metadataHopLimit?: number;
    /** Kubernetes node labels. Defaults to none. */
    readonly labels?: Readonly<Record<string, string>>;
    /** Kubernetes node taints. Defaults to none. */
    readonly taints?: readonly NodeTaint[];
    /** What the nodes need before they join (the networking add-ons). Defaults to none. */
    readonly nodeDependsOn?: readonly pulumi.Resource[];
}

/**
 * The node role's policies, by AWS managed policy name (AWS EKS User Guide, "Amazon EKS
 * node IAM role"): the kubelet's EC2 and Pod Identity Agent permissions, and ECR pulls.
 * No AmazonEKS_CNI_Policy: the VPC CNI gets its own role through Pod Identity
 * (components/eks-cluster.ts), as that page recommends, so pods on the node cannot use it.
 */
export const NODE_ROLE_POLICIES = ["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly"] as const;

/** The root device of the AL2023 EKS AMIs. */
const ROOT_DEVICE = "/dev/xvda";

/**
 * Launch template settings: IMDSv2 only (tokens required) with a small hop limit, and an
 * encrypted gp3 root volume. The AWS provider takes `encrypted` as the string "true".
 */
export function launchTemplateArgs(diskSizeGiB: number, metadataHopLimit = 1): aws.ec2.LaunchTemplateArgs {
    return {
        description: "EKS managed nodes: IMDSv2 only, encrypted gp3 root volume",
        updateDefaultVersion: true,
        metadataOptions: {
            httpEndpoint: "enabled",
            httpTokens: "required",
            httpPutResponseHopLimit: metadataHopLimit,
        },
        blockDeviceMappings: [{
            deviceName: ROOT_DEVICE,
            ebs: { volumeSize: diskSizeGiB, volumeType: "gp3", encrypted: "true", deleteOnTermination: "true" },
        }],
    };
}

/**
 * An EKS managed node group with its own minimal node role and a launch template. The
 * node group's desired size starts at the minimum; the Cluster Autoscaler owns it after
 * that, so later changes to it are ignored.
 */
export class ManagedNodeGroup extends pulumi.ComponentResource {
    public readonly role: aws.iam.Role;
    public readonly launchTemplate: aws.ec2.LaunchTemplate;
    public readonly nodeGroup: aws.eks.NodeGroup;
    /** The Auto Scaling group EKS created for the node group. */
    public readonly autoScalingGroupName: pulumi.Output<string>;

    constructor(name: string, args: ManagedNodeGroupArgs, opts?: pulumi.ComponentResourceOptions) {
        super("llm-platform:cluster:ManagedNodeGroup", name, {}, opts);
        const partition = aws.getPartitionOutput({}, { parent: this }).partition;

        this.role = new aws.iam.Role(`${name}-role`, {
            description: "EKS managed node group nodes",
            assumeRolePolicy: JSON.stringify(serviceTrustPolicy("ec2.amazonaws.com")),
        }, { parent: this });
        const attachments = NODE_ROLE_POLICIES.map((policy) => new aws.iam.RolePolicyAttachment(`${name}-${policy}`, {
            role: this.role.name,
            policyArn: partition.apply((p) => managedPolicyArn(p, policy)),
        }, { parent: this }));

        this.launchTemplate = new aws.ec2.LaunchTemplate(`${name}-lt`, launchTemplateArgs(args.diskSizeGiB, args.metadataHopLimit), { parent: this });

        this.nodeGroup = new aws.eks.NodeGroup(name, {
            clusterName: args.clusterName,
            nodeRoleArn: this.role.arn,
            subnetIds: args.subnetIds,
            amiType: args.amiType,
            instanceTypes: [...args.instanceTypes],
            capacityType: args.capacityType ?? "ON_DEMAND",
            scalingConfig: { minSize: args.minSize, maxSize: args.maxSize, desiredSize: args.minSize },
            updateConfig: { maxUnavailable: 1 },
            launchTemplate: { id: this.launchTemplate.id, version: pulumi.interpolate`${this.launchTemplate.latestVersion}` },
            labels: { ...args.labels },
            taints: (args.taints ?? []).map((taint) => ({ ...taint })),
        }, { parent: this, dependsOn: [...attachments, ...(args.nodeDependsOn ?? [])], ignoreChanges: ["scalingConfig.desiredSize"] });

        this.autoScalingGroupName = this.nodeGroup.resources.apply((resources) => {
            const group = resources?.[0]?.autoscalingGroups?.[0]?.name;
            if (!group) {
                throw new Error(`node group ${name} reports no Auto Scaling group`);
            }
            return group;
        });

        this.registerOutputs({ role: this.role, launchTemplate: this.launchTemplate, nodeGroup: this.nodeGroup, autoScalingGroupName: this.autoScalingGroupName });
    }
}
