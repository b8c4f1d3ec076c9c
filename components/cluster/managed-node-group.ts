import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { managedPolicyArn, serviceTrustPolicy } from "../../lib/aws-iam";

/** Taint effects as the EKS API spells them (Kubernetes says `NoSchedule`). */
export type EksTaintEffect = "NO_SCHEDULE" | "NO_EXECUTE" | "PREFER_NO_SCHEDULE";

export interface NodeTaint {
    readonly key: string;
    readonly value: string;
    readonly effect: EksTaintEffect;
}

export interface ManagedNodeGroupArgs {
    readonly clusterName: pulumi.Input<string>;
    /**
     * Whether the cluster existed before this run (EksCluster.existedBefore): false on a first
     * deploy, its preview and a replacement, when the cluster has no node group to read yet.
     */
    readonly clusterExisted: pulumi.Input<boolean>;
    /**
     * The cluster's Kubernetes minor, like "1.35": the kubelet's, and so the AMI's, version. Set
     * rather than left to EKS, which takes the cluster's version when it creates the group and
     * never moves it: a kubernetesVersion bump then updates the nodes too, rolling them onto the
     * new minor's AMI (EKS User Guide, "Update a managed node group"), after the control plane and
     * the node add-ons, which the group waits for (its cluster name, `nodeDependsOn`).
     */
    readonly kubernetesVersion: string;
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
 * (components/cluster/eks-cluster.ts), as that page recommends, so pods on the node cannot use it.
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

/** The tag that marks the node groups a ManagedNodeGroup manages, so that it finds them again (`ownsNodeGroup`). */
export const NODE_GROUP_TAG = "llm-platform.io/node-group";

/**
 * Whether a node group EKS reports is the one a ManagedNodeGroup named `name` manages: tagged
 * as its own, or, untagged (created before the tag), named as Pulumi auto-names it. The AWS
 * provider auto-names `nodeGroupName` with `tfbridge.AutoName("nodeGroupName", 255, "-")`
 * (pulumi/pulumi-aws provider/resources.go), which appends the separator and 7 random hex
 * digits (pulumi-terraform-bridge pkg/tfbridge/names.go, AutoName: Randlen 7): `gpu-1a2b3c4`.
 * The exact pattern, not the prefix alone, so that `gpu` never claims a `gpu-spot-...` group.
 */
export function ownsNodeGroup(name: string, nodeGroupName: string, tags: Readonly<Record<string, string>> | undefined): boolean {
    const tag = tags?.[NODE_GROUP_TAG];
    if (tag !== undefined) {
        return tag === name;
    }
    return nodeGroupName.length === name.length + 8 && nodeGroupName.startsWith(`${name}-`) && /^[0-9a-f]{7}$/.test(nodeGroupName.slice(name.length + 1));
}

/**
 * The desired size to send: the size the node group runs now (the Cluster Autoscaler's
 * choice; the largest one while a replacement runs two groups), kept within the new
 * minSize and maxSize; minSize for a group not created yet.
 */
export function desiredSize(current: readonly number[], minSize: number, maxSize: number): number {
    const now = current.length > 0 ? Math.max(...current) : minSize;
    return Math.min(Math.max(now, minSize), maxSize);
}

/**
 * An EKS managed node group with its own minimal node role and a launch template, scaled
 * between minSize and maxSize by the Cluster Autoscaler.
 *
 * The desired size is not in `ignoreChanges`. Pulumi fills an ignored property with its old
 * input (pulumi/pulumi pkg/resource/deploy/step_generator.go, processIgnoreChanges), and EKS
 * takes min, max and desired together: raising minSize above that old desired size is refused
 * ("Minimum capacity 8 can't be greater than desired size 4", terraform-aws-eks issue #3306,
 * from the same `ignore_changes`), lowering maxSize below it too (aws/containers-roadmap
 * #1637: EKS does not move the desired size into new bounds itself). So each run reads the
 * size the group runs now (`desiredSizeNow`) and sends it, clamped into the new bounds: the
 * autoscaler keeps owning the size, and a bounds change moves it only as far as the bounds
 * require. The cost is a diff on desiredSize after the autoscaler has moved it, which sends
 * EKS the size it already has.
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
            version: args.kubernetesVersion,
            subnetIds: args.subnetIds,
            amiType: args.amiType,
            instanceTypes: [...args.instanceTypes],
            capacityType: args.capacityType ?? "ON_DEMAND",
            scalingConfig: {
                minSize: args.minSize,
                maxSize: args.maxSize,
                desiredSize: this.desiredSizeNow(args.clusterName, args.clusterExisted, name).apply((current) => desiredSize(current, args.minSize, args.maxSize)),
            },
            updateConfig: { maxUnavailable: 1 },
            launchTemplate: { id: this.launchTemplate.id, version: pulumi.interpolate`${this.launchTemplate.latestVersion}` },
            labels: { ...args.labels },
            taints: (args.taints ?? []).map((taint) => ({ ...taint })),
            tags: { [NODE_GROUP_TAG]: name },
        }, { parent: this, dependsOn: [...attachments, ...(args.nodeDependsOn ?? [])] });

        this.autoScalingGroupName = this.nodeGroup.resources.apply((resources) => {
            const group = resources?.[0]?.autoscalingGroups?.[0]?.name;
            if (!group) {
                throw new Error(`node group ${name} reports no Auto Scaling group`);
            }
            return group;
        });

        this.registerOutputs({ role: this.role, launchTemplate: this.launchTemplate, nodeGroup: this.nodeGroup, autoScalingGroupName: this.autoScalingGroupName });
    }

    /**
     * The desired sizes of the cluster's node groups that are this component's (`ownsNodeGroup`:
     * tagged, or untagged with its auto-generated name, as the groups deployed before the tag
     * are, until this update tags them): none before the first deploy (or in a new cluster), one
     * normally, two while a replacement runs.
     *
     * The cluster may not exist yet although its name is known: the preview of a first deploy
     * (and the `pulumi up` that runs it first) and an update that replaces the cluster get the
     * auto-generated name from the engine's Check before anything is created. ListNodegroups
     * fails for such a name with ResourceNotFoundException, which getNodeGroups passes on
     * (terraform-provider-aws internal/service/eks/node_groups_data_source.go): so a cluster
     * that did not exist before this run (`clusterExisted`) is not asked.
     */
    private desiredSizeNow(clusterName: pulumi.Input<string>, clusterExisted: pulumi.Input<boolean>, name: string): pulumi.Output<number[]> {
        const opts = { parent: this };
        // The invokes take the name, not its Output: a cluster that fails (a refused preflight,
        // config/preflight.ts) then fails this apply quietly instead of logging each invoke's arguments.
        return pulumi.all([clusterName, clusterExisted]).apply(async ([cluster, existed]) => {
            if (!existed) {
                return [];
            }
            const { names } = await aws.eks.getNodeGroups({ clusterName: cluster }, opts);
            const groups = await Promise.all(names.map((nodeGroupName) => aws.eks.getNodeGroup({ clusterName: cluster, nodeGroupName }, opts)));
            return groups.filter((group) => ownsNodeGroup(name, group.nodeGroupName, group.tags))
                .flatMap((group) => group.scalingConfigs.map((scaling) => scaling.desiredSize));
        });
    }
}
