import * as z from "zod";
import { ADDON_NAMES, ADDON_VERSION, AddonName, CHECKIP_URL, DETECT_DEPLOYER, cidrClass, parseCidr } from "../lib/eks";
import { GPUS_PER_INSTANCE_TYPE, NVIDIA_X86_FAMILIES } from "../lib/gpu-instances";
import { count, isCount } from "./fields";
import type { CrossFieldProblem } from "./models";
import { isRecord } from "./project";

/** Instance types the GPU pool can run (lib/gpu-instances.ts): x86_64, whole NVIDIA GPUs. */
const GPU_INSTANCE = new RegExp(`^(${NVIDIA_X86_FAMILIES.join("|")})\\.[0-9a-z]+$`);

/** Any EC2 instance type, for the system pool (`m6i.large`, `c7g.xlarge`, ...). */
const INSTANCE = /^[a-z][a-z0-9-]*\.[0-9a-z]+$/;

/** Go durations as the Cluster Autoscaler flags take them: `10m`, `1h30m`, `90s`. */
const DURATION = /^(\d+h)?(\d+m)?(\d+s)?$/;

const cidr = z.string().refine((value) => parseCidr(value) !== undefined, "is not an IPv4 CIDR block (like 10.0.0.0/16)");

/**
 * The retentions CloudWatch Logs accepts (PutRetentionPolicy; @pulumi/aws 7.48.0
 * cloudwatch/logGroup.d.ts `retentionInDays` lists them), without 0, which never expires.
 */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

/** An EKS cluster name: letters, digits, `-` and `_`, starting with a letter or digit, at most 100 (EKS CreateCluster). */
export const EKS_CLUSTER_NAME = /^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/;

/** Who runs pulumi up: `detect`, or a CIDR block. */
const deployerCidr = z.string().refine((value) => value === DETECT_DEPLOYER || parseCidr(value) !== undefined,
    `is neither ${DETECT_DEPLOYER} nor an IPv4 CIDR block (like 198.51.100.7/32)`);

/** An EKS add-on version of the stack's own (`cluster.addonVersions`). */
const addonVersionField = z.string().regex(ADDON_VERSION, "is not an EKS add-on version (like v1.14.2-eksbuild.4: aws eks describe-addon-versions lists them)").optional();

export const clusterSchema = z.strictObject({
    name: z.string().refine((value) => value === "" || EKS_CLUSTER_NAME.test(value),
        "is not an EKS cluster name (letters, digits, - and _, starting with a letter or digit, at most 100)"),
    kubernetesVersion: z.string().regex(/^1\.\d{2}$/, "is not a Kubernetes minor version (like 1.35)"),
    vpcCidr: cidr,
    availabilityZones: z.int().min(2).max(6),
    natGateways: z.enum(["single", "perZone"]),
    existingVpcId: z.string().regex(/^(vpc-[0-9a-f]{8,17})?$/, "is not a VPC id (vpc-...)"),
    existingSubnetIds: z.array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/, "is not a subnet id (subnet-...)")),
    endpointPublicAccess: z.boolean(),
    publicAccessCidrs: z.array(cidr),
    allowPublicEndpointFromAnywhere: z.boolean(),
    deployerCidrs: z.array(deployerCidr),
    deployerSecurityGroupIds: z.array(z.string().regex(/^sg-[0-9a-f]{8,17}$/, "is not a security group id (sg-...)")),
    adminRoleArns: z.array(z.string().regex(/^arn:aws[\w-]*:iam::\d{12}:role\/.+$/, "is not an IAM role ARN")),
    controlPlaneLogRetentionDays: z.int().refine((days) => (LOG_RETENTION_DAYS as readonly number[]).includes(days),
        `is not a CloudWatch Logs retention (days: ${LOG_RETENTION_DAYS.join(", ")})`),
    controlPlaneLogKmsKey: z.boolean(),
    deletionProtection: z.boolean(),
    ecrEndpoints: z.boolean(),
    // Per add-on, in place of lib/eks.ts ADDON_VERSIONS' pin for the cluster's minor.
    addonVersions: z.strictObject(Object.fromEntries(ADDON_NAMES.map((addon) => [addon, addonVersionField])) as Record<AddonName, typeof addonVersionField>),
    systemPool: z.strictObject({
        instanceTypes: z.array(z.string().regex(INSTANCE, "is not an EC2 instance type (like m6i.large)")).min(1),
        minSize: count(1),
        maxSize: count(1),
        diskSizeGiB: z.int().min(20),
    }),
});

export const gpuPoolSchema = z.strictObject({
    instanceTypes: z.array(z.string().regex(GPU_INSTANCE, "is not a GPU instance type (g4dn, g5, g6, g6e, p4d, p5 ...)")).min(1),
    gpusPerNode: count(1),
    capacityType: z.enum(["ON_DEMAND", "SPOT"]),
    minSize: count(0),
    maxSize: count(1),
    diskSizeGiB: z.int().min(50),
    metadataHopLimit: z.int().min(1).max(64),
    scaleDownUnneededTime: z.string().regex(DURATION, "is not a duration (like 10m or 1h30m)").refine((value) => value !== "", "is empty: use a duration like 10m"),
});

export type ClusterConfig = z.output<typeof clusterSchema>;
export type GpuPoolConfig = z.output<typeof gpuPoolSchema>;

/**
 * The Kubernetes minors this repository has a pinned Cluster Autoscaler release for
 * (components/cluster/cluster-autoscaler.ts); the autoscaler's minor must match the cluster's.
 * Only minors in EKS standard support: the cluster's upgrade policy is STANDARD.
 * lib/eks.ts ADDON_VERSIONS pins the EKS add-ons for the same minors (test/aws-upgrades.test.ts
 * keeps the two tables in step), so this check refuses a minor without add-on versions too.
 */
export const AUTOSCALER_MINORS = ["1.34", "1.35"] as const;

type Problem = (path: (string | number)[], input: unknown, message: string) => void;

/**
 * Checks across the fields of `cluster` and `gpuPool`, on the raw (merged) values, so that
 * they run even where a field failed its own check. Paths start at the top-level key.
 * Who may reach the API server is checked on target aws only.
 */
export function awsProblems(cluster: unknown, gpuPool: unknown, target: unknown = "aws"): CrossFieldProblem[] {
    const problems: CrossFieldProblem[] = [];
    const problem: Problem = (path, input, message) => problems.push({ path, input, message });
    const c = (isRecord(cluster) ? cluster : {}) as Partial<ClusterConfig>;
    const pool = (isRecord(gpuPool) ? gpuPool : {}) as Partial<GpuPoolConfig>;

    checkSizes(["gpuPool"], pool, problem);
    checkGpusPerNode(pool, problem);
    checkSizes(["cluster", "systemPool"], (isRecord(c.systemPool) ? c.systemPool : {}) as Partial<ClusterConfig["systemPool"]>, problem);
    checkEndpoint(c, problem);
    checkNetwork(c, problem);
    if (target === "aws") {
        checkDeployers(c, problem);
    }
    checkKubeProxyVersion(c, problem);
    if (typeof c.kubernetesVersion === "string" && /^1\.\d{2}$/.test(c.kubernetesVersion)
        && !(AUTOSCALER_MINORS as readonly string[]).includes(c.kubernetesVersion)) {
        problem(["cluster", "kubernetesVersion"], c.kubernetesVersion,
            `has no pinned Cluster Autoscaler release (supported: ${AUTOSCALER_MINORS.join(", ")}, the minors in EKS standard support)`);
    }
    return problems;
}

/**
 * kube-proxy's version is the cluster's minor (it must not be newer than the API server, and EKS
 * offers each minor's own: lib/eks.ts ADDON_VERSIONS), so a stack's own kube-proxy version of
 * another minor is refused, as one left behind by a kubernetesVersion bump would be.
 */
function checkKubeProxyVersion(cluster: Partial<ClusterConfig>, problem: Problem): void {
    const own = isRecord(cluster.addonVersions) ? cluster.addonVersions["kube-proxy"] : undefined;
    const minor = cluster.kubernetesVersion;
    if (typeof own === "string" && ADDON_VERSION.test(own) && typeof minor === "string" && !own.startsWith(`v${minor}.`)) {
        problem(["cluster", "addonVersions", "kube-proxy"], own, `is not of Kubernetes ${minor} (cluster.kubernetesVersion): kube-proxy follows the cluster's minor; remove it, or give a v${minor}.x version`);
    }
}

/** The pool's GPUs per node size the autoscaler's node template and the capacity checks: they must be true. */
function checkGpusPerNode(pool: Partial<GpuPoolConfig>, problem: Problem): void {
    const types = Array.isArray(pool.instanceTypes) ? pool.instanceTypes : [];
    const wrong = types.filter((type) => typeof type === "string" && GPUS_PER_INSTANCE_TYPE[type] !== undefined
        && GPUS_PER_INSTANCE_TYPE[type] !== pool.gpusPerNode);
    if (isCount(pool.gpusPerNode) && wrong.length > 0) {
        problem(["gpuPool", "gpusPerNode"], pool.gpusPerNode,
            `does not match gpuPool.instanceTypes: ${wrong.map((type) => `${type} has ${GPUS_PER_INSTANCE_TYPE[type]}`).join(", ")}`);
    }
}

function checkSizes(path: string[], sizes: { minSize?: unknown; maxSize?: unknown }, problem: Problem): void {
    if (isCount(sizes.minSize) && isCount(sizes.maxSize) && sizes.minSize > sizes.maxSize) {
        problem([...path, "minSize"], sizes.minSize, `is greater than maxSize (${sizes.maxSize})`);
    }
}

/** Strings of a raw list value; anything else is reported by the schema. */
function strings(value: unknown): string[] {
    return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : [];
}

const DOCUMENTATION = "is a documentation range (RFC 5737) that no machine has, so nothing reaches the API server from it; "
    + `list real addresses (curl -s ${CHECKIP_URL} shows yours)`;

/**
 * Problems of blocks that would reach the public endpoint: the whole internet (unless
 * allowed), a documentation range, and (in publicAccessCidrs) a private range, which EKS
 * refuses there.
 */
function checkPublicBlocks(cluster: Partial<ClusterConfig>, key: "publicAccessCidrs" | "deployerCidrs", problem: Problem): boolean {
    let found = false;
    const report = (index: number, block: string, message: string) => {
        problem(["cluster", key, index], block, message);
        found = true;
    };
    strings(cluster[key]).forEach((block, index) => {
        if (parseCidr(block) === undefined) {
            return;
        }
        if (/\/0$/.test(block) && cluster.allowPublicEndpointFromAnywhere !== true) {
            report(index, block, "opens the API server to the whole internet; list narrower CIDRs, or set cluster.allowPublicEndpointFromAnywhere: true");
        } else if (cidrClass(block) === "documentation") {
            report(index, block, DOCUMENTATION);
        } else if (key === "publicAccessCidrs" && cidrClass(block) !== "public") {
            report(index, block, `is a ${cidrClass(block)} range, which EKS refuses in publicAccessCidrs (no reserved addresses); `
                + "a private network reaches the API server through the private endpoint: list it in cluster.deployerCidrs");
        }
    });
    return found;
}

function checkEndpoint(cluster: Partial<ClusterConfig>, problem: Problem): void {
    checkPublicBlocks(cluster, "publicAccessCidrs", problem);
    const publicDeployers = strings(cluster.deployerCidrs).filter((block) => block === DETECT_DEPLOYER || cidrClass(block) !== "private");
    if (cluster.endpointPublicAccess === true && Array.isArray(cluster.publicAccessCidrs) && cluster.publicAccessCidrs.length === 0 && publicDeployers.length === 0) {
        problem(["cluster", "publicAccessCidrs"], undefined,
            "is empty while cluster.endpointPublicAccess is true (EKS would allow 0.0.0.0/0); list who may reach the API server");
    }
}

/**
 * The machine that runs pulumi up must reach the API server when the Kubernetes layers are
 * created, in the same run that creates the cluster. From the internet it reaches the public
 * endpoint, if that admits its address; from inside the VPC (or a network connected to it) it
 * reaches the private endpoint, if the cluster security group admits it on port 443, which
 * only a rule does (AWS EKS User Guide, "Cluster API server endpoint": "You must ensure that
 * your Amazon EKS control plane security group contains rules to allow ingress traffic on port
 * 443 from your bastion host"). A VPC this stack creates has nothing inside it at the first
 * deploy, so only a public address can reach it then.
 */
function checkDeployers(cluster: Partial<ClusterConfig>, problem: Problem): void {
    const cidrs = strings(cluster.deployerCidrs);
    const groups = strings(cluster.deployerSecurityGroupIds);
    const ownVpc = typeof cluster.existingVpcId === "string" && cluster.existingVpcId !== "";
    if (!ownVpc && groups.length > 0) {
        problem(["cluster", "deployerSecurityGroupIds"], groups, "needs cluster.existingVpcId: this stack creates the VPC, "
            + "so no security group is in it before the first pulumi up; list the deployer's public address in cluster.deployerCidrs");
    }
    if (checkPublicBlocks(cluster, "deployerCidrs", problem) || cidrs.some((block) => block !== DETECT_DEPLOYER && parseCidr(block) === undefined)) {
        return;
    }
    const isPrivate = (block: string) => block !== DETECT_DEPLOYER && cidrClass(block) === "private";
    const publicEndpoint = cidrs.some((block) => !isPrivate(block))
        || (cluster.endpointPublicAccess === true && strings(cluster.publicAccessCidrs).length > 0);
    const privateEndpoint = ownVpc && (groups.length > 0 || cidrs.some(isPrivate));
    const alreadyRefused = cluster.endpointPublicAccess === true && strings(cluster.publicAccessCidrs).length === 0;
    if (publicEndpoint || privateEndpoint || alreadyRefused) {
        return;
    }
    const yourAddress = `list its public address as a /32 (curl -s ${CHECKIP_URL}) or ${DETECT_DEPLOYER}`;
    if (ownVpc) {
        problem(["cluster", "deployerCidrs"], undefined, "is empty, and so is cluster.deployerSecurityGroupIds, with the public endpoint off: "
            + "the cluster security group admits port 443 from the cluster only, so the machine that runs pulumi up could not reach the API server "
            + "(AWS EKS User Guide, cluster endpoint access); list its security group, its private CIDR in cluster.existingVpcId, or its public address");
    } else if (cidrs.length === 0) {
        problem(["cluster", "deployerCidrs"], undefined, "is empty, the public endpoint is off and this stack creates the VPC (cluster.existingVpcId is empty), "
            + `so the machine that runs pulumi up could not reach the API server; ${yourAddress}`);
    } else {
        cidrs.forEach((block, index) => problem(["cluster", "deployerCidrs", index], block,
            "is a private address, which reaches the API server only from inside the VPC, and this stack creates the VPC (cluster.existingVpcId is empty): "
            + `nothing runs in it at the first pulumi up; list the public address of the machine that runs it as a /32 (curl -s ${CHECKIP_URL}) or ${DETECT_DEPLOYER}`));
    }
}

function checkNetwork(cluster: Partial<ClusterConfig>, problem: Problem): void {
    const subnets = Array.isArray(cluster.existingSubnetIds) ? cluster.existingSubnetIds : [];
    const vpcId = typeof cluster.existingVpcId === "string" ? cluster.existingVpcId : "";
    if (vpcId !== "" && subnets.length === 0) {
        problem(["cluster", "existingSubnetIds"], undefined, "is empty while cluster.existingVpcId is set; list its private subnets, one per zone");
    } else if (vpcId !== "" && subnets.length === 1) {
        problem(["cluster", "existingSubnetIds"], subnets, "needs private subnets in at least two zones (EKS requires two)");
    }
    if (vpcId === "" && subnets.length > 0) {
        problem(["cluster", "existingVpcId"], undefined, "is empty while cluster.existingSubnetIds is set; name the VPC those subnets are in");
    }
    const prefix = typeof cluster.vpcCidr === "string" ? Number(/\/(\d+)$/.exec(cluster.vpcCidr)?.[1]) : NaN;
    if (vpcId === "" && Number.isInteger(prefix) && (prefix < 16 || prefix > 20)) {
        problem(["cluster", "vpcCidr"], cluster.vpcCidr, "must be a /16 to /20 block: the subnets are carved from it");
    }
}

/** An IAM role as an ARN names it: partition, account and name (unique in the account, whatever the path). */
interface RoleName {
    readonly partition: string;
    readonly account: string;
    readonly name: string;
}

/** `arn:aws:iam::<account>:role/<path/><name>`: the role, its path dropped. */
function roleOfRoleArn(arn: string): RoleName | undefined {
    const match = /^arn:(aws[\w-]*):iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(arn);
    return match ? { partition: match[1], account: match[2], name: match[3] } : undefined;
}

/**
 * The IAM role of what `sts get-caller-identity` returns: a session of an assumed role is
 * `arn:aws:sts::<account>:assumed-role/<name>/<session>`, with no path (the role's own ARN may
 * have one, like every SSO role: `role/aws-reserved/sso.amazonaws.com/...`). Undefined for IAM
 * users, the root user and federated users, which are never roles.
 */
export function callerRole(callerArn: string): RoleName | undefined {
    const assumed = /^arn:(aws[\w-]*):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(callerArn);
    return assumed ? { partition: assumed[1], account: assumed[2], name: assumed[3] } : roleOfRoleArn(callerArn);
}

/**
 * The principal EKS gave the cluster's bootstrap access entry: the one that created the cluster
 * (accessConfig.bootstrapClusterCreatorAdminPermissions, components/cluster/eks-cluster.ts).
 */
export interface ClusterCreator {
    /** Its ARN: `sts get-caller-identity`'s, or the IAM role ARN the cluster's tag recorded (`creatorTagValue`). */
    readonly arn: string;
    /** Whether the run that checks creates the cluster (a first deploy and its preview, a replacement). */
    readonly thisRun: boolean;
}

/**
 * What the cluster records as its creator, from the caller's ARN: the IAM role of an assumed
 * role (`arn:aws:iam::<account>:role/<name>`, its path unknown and not needed), else the ARN as
 * it is (an IAM user). Tag values should hold only letters, digits, spaces and `+ - = . _ : / @`
 * (EKS tag restrictions, as the CloudFormation reference's AWS::EKS::AccessEntry Tag states
 * them), and IAM names may also hold a comma: anything else becomes `_`, and adminRoleProblems
 * compares names the same way.
 */
export function creatorTagValue(callerArn: string): string {
    const role = callerRole(callerArn);
    return tagSafe(role ? `arn:${role.partition}:iam::${role.account}:role/${role.name}` : callerArn);
}

function tagSafe(text: string): string {
    return text.replace(/[^\p{L}\p{Z}\p{N}_.:/=+\-@]/gu, "_");
}

/**
 * `cluster.adminRoleArns` entries that are the cluster's creator. EKS gives that principal an
 * access entry and cluster admin itself when it creates the cluster, so a second access entry
 * for it fails with 409 ResourceInUseException (pulumi/pulumi-eks#2373). Only the creator
 * counts, not whoever runs pulumi up later: another admin may run it, and must stay listed.
 * Role names are unique in an account and IAM compares them without case, so account,
 * partition and name decide, not the path. The creator is known only once the cluster's name
 * is (components/cluster/eks-cluster.ts, clusterCreator): the access entries wait for this check.
 */
export function adminRoleProblems(adminRoleArns: readonly string[], creator: ClusterCreator): CrossFieldProblem[] {
    const role = callerRole(creator.arn);
    const same = (other: RoleName | undefined) => role !== undefined && other !== undefined
        && other.partition === role.partition && other.account === role.account
        && tagSafe(other.name).toLowerCase() === tagSafe(role.name).toLowerCase();
    const who = creator.thisRun
        ? `is the role running pulumi up (${creator.arn}), which creates the cluster: EKS makes the cluster's creator admin itself`
        : `is the role that created the cluster (${creator.arn}, its tag ${CREATOR_TAG}): EKS made it admin itself`;
    return adminRoleArns.flatMap((arn, index) => same(roleOfRoleArn(arn)) ? [{
        path: ["cluster", "adminRoleArns", index], input: arn,
        message: `${who} (bootstrapClusterCreatorAdminPermissions), so a second access entry for it fails with 409 ResourceInUseException; remove it from the list`,
    }] : []);
}

/** The cluster tag that records who created it (`creatorTagValue`), written once (components/cluster/eks-cluster.ts). */
export const CREATOR_TAG = "llm-platform.io/created-by";
