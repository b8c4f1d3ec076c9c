import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { CREATOR_TAG, ClusterCreator, creatorTagValue } from "../../config/aws";
import { managedPolicyArn, serviceTrustPolicy } from "../../lib/aws-iam";
import {
    ADDONS, ADDON_NAMESPACE, AddonName, AddonSpec, CLUSTER_ADMIN_POLICY, CONTROL_PLANE_LOGS, accessPolicyArn, addonConfigurationValues, addonVersion,
    cidrClass, efsStorageClass, endpointConfig, gp3StorageClass, kubeconfig,
} from "../../lib/eks";
import { ClusterNetwork } from "./cluster-network";
import { ControlPlaneLogs } from "./control-plane-logs";
import { ManagedNodeGroup } from "./managed-node-group";
import { ModelFileSystem } from "./model-file-system";
import { PodIdentityRole } from "./pod-identity-role";

export interface EksClusterArgs {
    /** The EKS cluster's name; empty or unset: `eksClusterName` of the project and stack. */
    readonly name?: string;
    /** Kubernetes minor version, like "1.35". */
    readonly kubernetesVersion: string;
    /** Block of the VPC to create; ignored with `existingVpcId`. */
    readonly vpcCidr: string;
    /** Zones the created VPC spans. */
    readonly availabilityZones: number;
    /** NAT gateways of the created VPC: one, or one per zone. */
    readonly natGateways: "single" | "perZone";
    /** An existing VPC to use instead of creating one; empty to create one. */
    readonly existingVpcId: string;
    /** Private subnets (one per zone) of `existingVpcId`. */
    readonly existingSubnetIds: readonly string[];
    /** Whether the API server is reachable from the internet, from `publicAccessCidrs` only. */
    readonly endpointPublicAccess: boolean;
    readonly publicAccessCidrs: readonly string[];
    /**
     * Who runs pulumi up, as CIDR blocks: public ones are added to the public endpoint's CIDRs
     * (turning it on for them), private ones get port 443 on the cluster security group.
     */
    readonly deployerCidrs: readonly string[];
    /** This machine's public address as a /32, known at deploy time (config's `detect`). Defaults to none. */
    readonly detectedDeployerCidr?: pulumi.Input<string>;
    /** Security groups (in `existingVpcId`) given port 443 on the cluster security group. */
    readonly deployerSecurityGroupIds: readonly string[];
    /** IAM roles granted cluster admin through access entries. */
    readonly adminRoleArns: readonly string[];
    /** Who runs pulumi up, as `sts get-caller-identity` names it: recorded on the cluster it creates (CREATOR_TAG). */
    readonly callerArn: pulumi.Input<string>;
    /**
     * Refuses admin roles, by throwing, given the cluster's creator (`clusterCreator`; undefined
     * when it is not known); the access entries wait for it. Defaults to no check.
     */
    readonly checkAdminRoles?: (creator: ClusterCreator | undefined) => void;
    /**
     * Refuses, by throwing, a cluster whose name (`named`, its name in the state for a cluster that
     * exists) is not the one its log group is named after (`expected`: `name`, or `eksClusterName`);
     * what names the cluster waits for it. Defaults to no check.
     */
    readonly checkName?: (named: string, expected: string) => void;
    /** The on-demand node groups for platform pods, one per zone: sizes are per zone (`systemNodeGroups`). */
    readonly systemPool: { readonly instanceTypes: readonly string[]; readonly minSize: number; readonly maxSize: number; readonly diskSizeGiB: number };
    /** Days the control-plane log group keeps events (a CloudWatch Logs retention). Defaults to 90. */
    readonly controlPlaneLogRetentionDays?: number;
    /** Encrypt the control-plane log group with a KMS key of the stack. Defaults to false. */
    readonly controlPlaneLogKmsKey?: boolean;
    /**
     * EKS deletion protection on the cluster, and Pulumi's `protect` on it and on its log group:
     * `pulumi destroy` refuses to start. Defaults to false.
     */
    readonly deletionProtection?: boolean;
    /** ECR interface endpoints in the VPC this stack creates (ClusterNetwork). Defaults to false. */
    readonly ecrEndpoints?: boolean;
    /** Add-on versions of the stack's own, in place of the pinned ones (lib/eks.ts addonVersion). Defaults to none. */
    readonly addonVersions?: Readonly<Partial<Record<AddonName, string>>>;
}

/**
 * The cluster's name when the config names none: `<project>-<stack>` (`llm-platform-prod`), so
 * that the control-plane log group's name is known before the cluster exists, where Pulumi's
 * auto-name (`llm-eks-1a2b3c4`) is known only once it is registered. Characters EKS refuses
 * (a stack name may hold `.`) become `-`; at most 100 characters. Two stacks of one project in an
 * account and region get two names; two projects of the same name there must set `cluster.name`.
 */
export function eksClusterName(project: string, stack: string): string {
    const name = `${project}-${stack}`.replace(/[^A-Za-z0-9_-]/g, "-").replace(/^[^A-Za-z0-9]+/, "");
    return (name || "llm-platform").slice(0, 100);
}

/** Control-plane log retention when the args set none. */
export const DEFAULT_LOG_RETENTION_DAYS = 90;

/**
 * Available Availability Zones only. Without the opt-in filter an account that opted into a
 * Local Zone group gets those zones too, and first: the provider sorts by name, and
 * `us-west-2-lax-1a` sorts before `us-west-2a` (@pulumi/aws getAvailabilityZones docs,
 * "Only Availability Zones (no Local Zones)"; terraform-provider-aws
 * internal/service/ec2/ec2_availability_zones_data_source.go sorts the names).
 */
export const REGULAR_ZONES: aws.GetAvailabilityZonesArgs = {
    state: "available",
    filters: [{ name: "opt-in-status", values: ["opt-in-not-required"] }],
};

/**
 * Who created the cluster, which EKS gave the bootstrap access entry: whoever runs pulumi up
 * when this run creates it (it did not exist before: a first deploy, its preview, or a
 * replacement); else the principal its CREATOR_TAG recorded at creation; undefined for a
 * cluster created before that tag.
 */
export function clusterCreator(tags: Readonly<Record<string, string>> | undefined, existedBefore: boolean, callerArn: string): ClusterCreator | undefined {
    if (!existedBefore) {
        return { arn: callerArn, thisRun: true };
    }
    const recorded = tags?.[CREATOR_TAG];
    return recorded ? { arn: recorded, thisRun: false } : undefined;
}

/** Label on the system nodes; platform charts select it. */
export const SYSTEM_POOL_LABEL = { "llm-platform.io/pool": "system" } as const;

/**
 * An EKS cluster built from plain AWS resources: network, control plane (private endpoint,
 * KMS-encrypted secrets, all control-plane logs, API access entries), add-ons with Pod
 * Identity roles, EFS and gp3 storage classes, a system node group per zone, and a Kubernetes
 * provider that authenticates with `aws eks get-token`.
 */
export class EksCluster extends pulumi.ComponentResource {
    public readonly cluster: aws.eks.Cluster;
    public readonly clusterName: pulumi.Output<string>;
    /**
     * Whether the cluster existed before this run: its name was among the clusters listed before
     * it was registered (getClusters never fails, where other EKS reads fail for a cluster not
     * created yet). False on a first deploy, its preview and a replacement.
     */
    public readonly existedBefore: pulumi.Output<boolean>;
    public readonly region: pulumi.Output<string>;
    public readonly kubeconfig: pulumi.Output<string>;
    public readonly provider: k8s.Provider;
    public readonly vpcId: pulumi.Output<string>;
    public readonly privateSubnetIds: pulumi.Output<string>[];
    /** The cluster security group, which EKS attaches to every managed node. */
    public readonly nodeSecurityGroupId: pulumi.Output<string>;
    public readonly secretsKey: aws.kms.Key;
    /** The system node groups, one per zone, in the order of the private subnets. */
    public readonly systemNodes: ManagedNodeGroup[];
    public readonly efsFileSystemId: pulumi.Output<string>;
    public readonly efsStorageClassName: pulumi.Output<string>;
    /** What a node group must wait for: networking and credentials on its nodes. */
    public readonly nodePrerequisites: pulumi.Resource[];

    constructor(name: string, args: EksClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("llm-platform:cluster:EksCluster", name, {}, opts);
        const parent = { parent: this };
        const partition = aws.getPartitionOutput({}, parent).partition;
        this.region = aws.getRegionOutput({}, parent).region;

        const network = this.network(name, args);
        this.vpcId = network.vpcId;
        this.privateSubnetIds = network.privateSubnetIds;

        const role = new aws.iam.Role(`${name}-cluster-role`, { assumeRolePolicy: JSON.stringify(serviceTrustPolicy("eks.amazonaws.com")) }, parent);
        const rolePolicy = new aws.iam.RolePolicyAttachment(`${name}-cluster-policy`, {
            role: role.name, policyArn: partition.apply((p) => managedPolicyArn(p, "AmazonEKSClusterPolicy")),
        }, parent);
        this.secretsKey = new aws.kms.Key(`${name}-secrets`, {
            description: "Envelope encryption of Kubernetes secrets",
            enableKeyRotation: true,
            deletionWindowInDays: 30,
        }, parent);

        // The log group EKS writes the control-plane logs into exists before the cluster (ControlPlaneLogs).
        const clusterName = args.name || eksClusterName(pulumi.getProject(), pulumi.getStack());
        const protect = args.deletionProtection ?? false;
        const logs = new ControlPlaneLogs(`${name}-logs`, {
            clusterName,
            retentionDays: args.controlPlaneLogRetentionDays ?? DEFAULT_LOG_RETENTION_DAYS,
            kmsKey: args.controlPlaneLogKmsKey ?? false,
            protect,
        }, parent);

        // The clusters there are before this one is registered: a name not among them is created by this run.
        const listedBefore = aws.eks.getClusters({}, parent).then(({ names }) => names);
        const afterListing = listedBefore.then((): pulumi.Resource[] => [rolePolicy, logs.logGroup]);
        this.cluster = new aws.eks.Cluster(`${name}-eks`, {
            // Named, not auto-named: the log group's name is made of it. A change that replaces the
            // cluster then fails at its creation (the name is taken) before anything is deleted. A
            // cluster Pulumi named (`llm-eks-1a2b3c4`, before cluster.name) keeps its name: a new
            // name would replace it, so a change of name is ignored (README, "The AWS cluster").
            name: clusterName,
            version: args.kubernetesVersion,
            roleArn: role.arn,
            vpcConfig: endpointConfig(args, this.privateSubnetIds, args.detectedDeployerCidr),
            encryptionConfig: { provider: { keyArn: this.secretsKey.arn }, resources: ["secrets"] },
            enabledClusterLogTypes: [...CONTROL_PLANE_LOGS],
            // Access entries only (no aws-auth ConfigMap). The identity running Pulumi stays
            // admin, since it deploys the Kubernetes layers right after.
            accessConfig: { authenticationMode: "API", bootstrapClusterCreatorAdminPermissions: true },
            // The add-ons below install vpc-cni, kube-proxy and CoreDNS as managed add-ons.
            bootstrapSelfManagedAddons: false,
            // No extended support (billed per cluster hour on top): at the end of the minor's
            // standard support EKS upgrades the control plane itself, rather than keeping it at
            // the extended rate, which is the default (EKS User Guide, "Kubernetes versions" and
            // "Disable extended support"). Raise kubernetesVersion before that date: EKS never
            // downgrades, so a stack left behind its cluster's minor cannot set it back.
            upgradePolicy: { supportType: "STANDARD" },
            // Who creates the cluster, which EKS makes admin itself: written at creation and never
            // after (ignoreChanges keeps the value in the state whoever runs pulumi up next), so that
            // later runs compare adminRoleArns with the creator, not with their own caller.
            tags: { [CREATOR_TAG]: pulumi.output(args.callerArn).apply(creatorTagValue) },
            // EKS refuses DeleteCluster while this is on (@pulumi/aws 7.48.0 eks/cluster.d.ts), from
            // any tool; Pulumi's protect makes `pulumi destroy` fail in its preview, before it
            // deletes what runs in the cluster (README, "The AWS cluster": what destroy does).
            deletionProtection: protect,
        }, { parent: this, dependsOn: afterListing, protect, ignoreChanges: [`tags["${CREATOR_TAG}"]`, "name"] });
        // Everything that names the cluster waits for the check that it is the name its log group has.
        this.clusterName = this.cluster.name.apply((named) => {
            args.checkName?.(named, clusterName);
            return named;
        });
        this.existedBefore = pulumi.all([this.cluster.name, listedBefore]).apply(([clusterName, listed]) => listed.includes(clusterName));
        this.nodeSecurityGroupId = this.cluster.vpcConfig.clusterSecurityGroupId;
        const apiAccess = this.privateApiAccess(name, args);

        // The access entries wait for the admin-role check, which needs the cluster's name (known
        // in a preview too) and its recorded creator.
        const adminRolesChecked = pulumi.all([this.cluster.tags, this.existedBefore, args.callerArn])
            .apply(([tags, existed, caller]) => args.checkAdminRoles?.(clusterCreator(tags, existed, caller)));
        args.adminRoleArns.forEach((arn, index) => {
            const principalArn = adminRolesChecked.apply(() => arn);
            const entry = new aws.eks.AccessEntry(`${name}-admin-${index}`, { clusterName: this.clusterName, principalArn, type: "STANDARD" }, parent);
            new aws.eks.AccessPolicyAssociation(`${name}-admin-${index}`, {
                clusterName: this.clusterName, principalArn,
                policyArn: partition.apply((p) => accessPolicyArn(p, CLUSTER_ADMIN_POLICY)),
                accessScope: { type: "cluster" },
            }, { parent: this, dependsOn: [entry] });
        });

        // Upgrade order (a kubernetesVersion bump): the control plane, then the add-ons (each names
        // the cluster), then the node groups (they wait for the node add-ons). CoreDNS and the CSI
        // drivers need running nodes to become ACTIVE, so they follow the system nodes.
        this.nodePrerequisites = ADDONS.filter((addon) => addon.beforeNodes).map((addon) => this.addon(name, addon, args, []));
        this.systemNodes = this.systemNodeGroups(name, args);
        const workloadAddons = ADDONS.filter((addon) => !addon.beforeNodes).map((addon) => this.addon(name, addon, args, this.systemNodes));

        const files = new ModelFileSystem(`${name}-models`, {
            vpcId: this.vpcId, subnetIds: this.privateSubnetIds, clientSecurityGroupId: this.nodeSecurityGroupId,
        }, parent);
        this.efsFileSystemId = files.fileSystemId;

        this.kubeconfig = pulumi.secret(pulumi.all([this.cluster.name, this.cluster.endpoint, this.cluster.certificateAuthority, this.region])
            .apply(([clusterName, endpoint, ca, region]) => kubeconfig({ clusterName, endpoint, certificateAuthorityData: ca.data ?? "", region })));
        // Everything deployed through this provider waits for nodes and the CSI drivers.
        // ... and, from inside the VPC, for the rules that let this machine reach the API server.
        this.provider = new k8s.Provider(`${name}-k8s`, { kubeconfig: this.kubeconfig }, { parent: this, dependsOn: [...this.systemNodes, ...workloadAddons, ...apiAccess] });

        const efsClass = new k8s.storage.v1.StorageClass(`${name}-efs`, efsStorageClass(files.fileSystemId), { parent: this, provider: this.provider });
        this.efsStorageClassName = efsClass.metadata.name;
        new k8s.storage.v1.StorageClass(`${name}-gp3`, gp3StorageClass(), { parent: this, provider: this.provider });

        this.registerOutputs({
            cluster: this.cluster, clusterName: this.clusterName, existedBefore: this.existedBefore, kubeconfig: this.kubeconfig, provider: this.provider,
            vpcId: this.vpcId, privateSubnetIds: this.privateSubnetIds, nodeSecurityGroupId: this.nodeSecurityGroupId,
            efsFileSystemId: this.efsFileSystemId, efsStorageClassName: this.efsStorageClassName,
        });
    }

    /**
     * Port 443 on the cluster security group from the deployer's private CIDRs and security
     * groups, for the private endpoint (AWS EKS User Guide, "Cluster API server endpoint",
     * "Accessing a private only API server"): EKS creates that group admitting only itself.
     * EKS attaches it to the managed nodes too, so the rule admits them to port 443 of the
     * nodes as well, where nothing of this platform listens.
     */
    private privateApiAccess(name: string, args: EksClusterArgs): aws.vpc.SecurityGroupIngressRule[] {
        const sources = [
            ...args.deployerCidrs.filter((cidr) => cidrClass(cidr) === "private").map((cidrIpv4) => ({ cidrIpv4 })),
            ...args.deployerSecurityGroupIds.map((referencedSecurityGroupId) => ({ referencedSecurityGroupId })),
        ];
        return sources.map((source, index) => new aws.vpc.SecurityGroupIngressRule(`${name}-api-${index}`, {
            securityGroupId: this.nodeSecurityGroupId,
            description: "Kubernetes API from the machine that runs pulumi up (cluster.deployerCidrs, deployerSecurityGroupIds)",
            ipProtocol: "tcp",
            fromPort: 443,
            toPort: 443,
            ...source,
        }, { parent: this }));
    }

    /**
     * The VPC this stack creates, with its endpoints (ClusterNetwork), or `existingVpcId` as it is:
     * its route tables and endpoints are its owner's, so no endpoint is added there.
     */
    private network(name: string, args: EksClusterArgs): { vpcId: pulumi.Output<string>; privateSubnetIds: pulumi.Output<string>[] } {
        if (args.existingVpcId) {
            return { vpcId: pulumi.output(args.existingVpcId), privateSubnetIds: args.existingSubnetIds.map((id) => pulumi.output(id)) };
        }
        const zones = aws.getAvailabilityZonesOutput(REGULAR_ZONES, { parent: this }).names;
        return new ClusterNetwork(`${name}-net`, {
            vpcCidr: args.vpcCidr,
            availabilityZones: zones.apply((names) => names.slice(0, args.availabilityZones)),
            zoneCount: args.availabilityZones,
            natGateways: args.natGateways,
            ecrEndpoints: args.ecrEndpoints ?? false,
        }, { parent: this });
    }

    /**
     * One on-demand system node group per zone (per private subnet), sized `systemPool` each, so
     * that the Cluster Autoscaler can add a node in the zone a pending pod's volume lives in:
     * Prometheus, Alertmanager and Loki keep gp3 volumes, which are zonal, and a group over
     * several zones lets the autoscaler pick the group, never the zone (EKS User Guide, "Managed
     * node groups": node groups backed by EBS volumes should each be scoped to one Availability
     * Zone; kubernetes/autoscaler cluster-autoscaler/cloudprovider/aws/README.md, "Common Notes
     * and Gotchas": "an ASG-per-AZ while enabling --balance-similar-node-groups"). The autoscaler
     * balances the groups on scale-up (components/cluster/cluster-autoscaler.ts). A lost node's
     * replacement starts in its own zone too, where a multi-zone group may start it anywhere.
     */
    private systemNodeGroups(name: string, args: EksClusterArgs): ManagedNodeGroup[] {
        return this.privateSubnetIds.map((subnetId, zone) => new ManagedNodeGroup(`${name}-system-${zone}`, {
            clusterName: this.clusterName,
            clusterExisted: this.existedBefore,
            kubernetesVersion: args.kubernetesVersion,
            subnetIds: [subnetId],
            amiType: "AL2023_x86_64_STANDARD",
            instanceTypes: args.systemPool.instanceTypes,
            capacityType: "ON_DEMAND", // platform pods should not vanish with a spot reclaim
            minSize: args.systemPool.minSize,
            maxSize: args.systemPool.maxSize,
            diskSizeGiB: args.systemPool.diskSizeGiB,
            labels: SYSTEM_POOL_LABEL,
            nodeDependsOn: this.nodePrerequisites,
        }, { parent: this }));
    }

    /**
     * An EKS add-on at the version pinned for the cluster's minor (lib/eks.ts ADDON_VERSIONS), or
     * the stack's own (`addonVersions`): it names the cluster, so it waits for the control plane,
     * and a kubernetesVersion bump updates it after the control plane. `dependsOn`: what else it waits for (nodes, for the add-ons
     * that run as Deployments).
     */
    private addon(name: string, spec: AddonSpec, args: EksClusterArgs, dependsOn: pulumi.Resource[]): aws.eks.Addon {
        const identity = spec.identity && new PodIdentityRole(`${name}-${spec.name}`, {
            clusterName: this.clusterName,
            namespace: ADDON_NAMESPACE,
            serviceAccount: spec.identity.serviceAccount,
            managedPolicies: spec.identity.policies,
        }, { parent: this });
        return new aws.eks.Addon(`${name}-${spec.name}`, {
            clusterName: this.clusterName,
            addonName: spec.name,
            addonVersion: addonVersion(args.kubernetesVersion, spec.name, args.addonVersions),
            configurationValues: addonConfigurationValues(spec),
            resolveConflictsOnCreate: "OVERWRITE",
            resolveConflictsOnUpdate: "PRESERVE",
            podIdentityAssociations: identity && spec.identity
                ? [{ serviceAccount: spec.identity.serviceAccount, roleArn: identity.arn }]
                : undefined,
        }, { parent: this, dependsOn });
    }
}
