/**
 * Pure builders for the EKS cluster: what reaches the AWS and Kubernetes APIs, testable
 * without mocks. components/eks-cluster.ts wires them into resources.
 */

/** Control-plane log types (AWS EKS User Guide, "Send control plane logs to CloudWatch Logs"): all five. */
export const CONTROL_PLANE_LOGS = ["api", "audit", "authenticator", "controllerManager", "scheduler"] as const;

/** The access policy that makes a principal cluster admin (EKS User Guide, "Review access policy permissions"). */
export const CLUSTER_ADMIN_POLICY = "AmazonEKSClusterAdminPolicy";

export function accessPolicyArn(partition: string, policy: string): string {
    return `arn:${partition}:eks::aws:cluster-access-policy/${policy}`;
}

/** In `cluster.deployerCidrs`: the public address of the machine running the program, learnt at each run. */
export const DETECT_DEPLOYER = "detect";

/** Where this machine's public address comes from: the address AWS sees, as plain text. */
export const CHECKIP_URL = "https://checkip.amazonaws.com";

/** The provider function the offline run answers in place of CHECKIP_URL (tools/offline/fakes.ts). */
export const OFFLINE_DEPLOYER_ADDRESS = "llm-platform:offline:deployerAddress";

/** An IPv4 CIDR block as numbers: its first address and its prefix length. */
export function parseCidr(cidr: string): { readonly base: number; readonly prefix: number } | undefined {
    const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d|[12]\d|3[0-2])$/.exec(cidr);
    const octets = match?.slice(1, 5).map(Number);
    if (!match || !octets || octets.some((octet) => octet > 255)) {
        return undefined;
    }
    const prefix = Number(match[5]);
    const address = octets.reduce((value, octet) => value * 256 + octet, 0);
    return { base: address - (address % 2 ** (32 - prefix)), prefix };
}

/** Who can be at an address: anyone (public), a private network, documentation only, or nobody. */
export type CidrClass = "public" | "private" | "documentation" | "reserved";

/**
 * Ranges that are not on the internet (IANA IPv4 Special-Purpose Address Registry; RFC 1918
 * and RFC 6598 shared space for private networks, RFC 5737 for documentation). EKS refuses
 * them in publicAccessCidrs ("The blocks cannot include reserved addresses", EKS User Guide,
 * "Configure endpoint access"); a private one reaches the API server through the private
 * endpoint, from the VPC or a network connected to it.
 */
const SPECIAL_RANGES: readonly (readonly [string, Exclude<CidrClass, "public">])[] = [
    ["10.0.0.0/8", "private"], ["172.16.0.0/12", "private"], ["192.168.0.0/16", "private"], ["100.64.0.0/10", "private"],
    ["192.0.2.0/24", "documentation"], ["198.51.100.0/24", "documentation"], ["203.0.113.0/24", "documentation"],
    ["0.0.0.0/8", "reserved"], ["127.0.0.0/8", "reserved"], ["169.254.0.0/16", "reserved"], ["224.0.0.0/3", "reserved"],
];

/** The class of a CIDR block: that of the special range holding all of it, else public (0.0.0.0/0 is public). */
export function cidrClass(cidr: string): CidrClass {
    const block = parseCidr(cidr);
    const within = SPECIAL_RANGES.find(([range]) => {
        const special = parseCidr(range)!;
        return block !== undefined && block.prefix >= special.prefix
            && Math.floor(block.base / 2 ** (32 - special.prefix)) === Math.floor(special.base / 2 ** (32 - special.prefix));
    });
    return within ? within[1] : "public";
}

/** This machine's public address as a /32, from checkip.amazonaws.com's answer (the address and a newline). */
export function checkipCidr(body: string): string {
    const cidr = `${body.trim()}/32`;
    if (parseCidr(cidr) === undefined) {
        throw new Error(`${CHECKIP_URL} answered ${JSON.stringify(body.slice(0, 40))}, which is not an IPv4 address`);
    }
    if (cidrClass(cidr) !== "public") {
        throw new Error(`${CHECKIP_URL} answered ${body.trim()}, a ${cidrClass(cidr)} address, which the public endpoint cannot admit`);
    }
    return cidr;
}

export interface EndpointAccess {
    readonly endpointPublicAccess: boolean;
    readonly publicAccessCidrs: readonly string[];
    /** Who runs pulumi up, as CIDR blocks (without `detect`): the public ones go to the public endpoint. */
    readonly deployerCidrs: readonly string[];
}

/**
 * The API server's reachability: always from inside the VPC (the private endpoint); from the
 * internet only from the listed CIDRs: `publicAccessCidrs` when `endpointPublicAccess`, and
 * the deployer's public CIDRs, which turn the public endpoint on for them (config.ts refuses an
 * empty list and /0 unless explicitly allowed, since EKS would default to 0.0.0.0/0).
 * `detected` is this machine's address when the stack says `detect`, known at deploy time.
 * Private deployer CIDRs get port 443 on the cluster security group instead
 * (components/eks-cluster.ts): the public endpoint never sees a private address.
 */
export function endpointConfig<T, C>(access: EndpointAccess, subnetIds: T, detected?: C): {
    subnetIds: T; endpointPrivateAccess: true; endpointPublicAccess: boolean; publicAccessCidrs?: (string | C)[];
} {
    const deployers = access.deployerCidrs.filter((cidr) => cidrClass(cidr) !== "private");
    const listed = [...new Set([...(access.endpointPublicAccess ? access.publicAccessCidrs : []), ...deployers])];
    const cidrs = detected === undefined ? listed : [...listed, detected];
    const open = access.endpointPublicAccess || cidrs.length > 0;
    return { subnetIds, endpointPrivateAccess: true, endpointPublicAccess: open, publicAccessCidrs: open ? cidrs : undefined };
}

/** An EKS add-on and, where it calls AWS APIs, the service account and AWS managed policies of its Pod Identity role. */
export interface AddonSpec {
    readonly name: string;
    /** Installed before any node joins (node networking and credentials); the rest need running nodes. */
    readonly beforeNodes: boolean;
    readonly identity?: { readonly serviceAccount: string; readonly policies: readonly string[] };
}

/**
 * The add-ons, with service accounts and policies from each add-on's
 * `describe-addon-configuration` (EKS User Guide, "IAM roles for Amazon EKS add-ons").
 * Versions are left to EKS: it installs the default version for the cluster's Kubernetes
 * version, and keeps it until changed here.
 */
export const ADDONS: readonly AddonSpec[] = [
    { name: "vpc-cni", beforeNodes: true, identity: { serviceAccount: "aws-node", policies: ["AmazonEKS_CNI_Policy"] } },
    { name: "kube-proxy", beforeNodes: true },
    { name: "eks-pod-identity-agent", beforeNodes: true },
    { name: "coredns", beforeNodes: false },
    { name: "aws-ebs-csi-driver", beforeNodes: false, identity: { serviceAccount: "ebs-csi-controller-sa", policies: ["service-role/AmazonEBSCSIDriverPolicy"] } },
    { name: "aws-efs-csi-driver", beforeNodes: false, identity: { serviceAccount: "efs-csi-controller-sa", policies: ["service-role/AmazonEFSCSIDriverPolicy"] } },
];

/** Add-on service accounts live in kube-system. */
export const ADDON_NAMESPACE = "kube-system";

export interface KubeconfigInput {
    readonly clusterName: string;
    readonly endpoint: string;
    readonly certificateAuthorityData: string;
    readonly region: string;
}

/**
 * A kubeconfig that holds no credentials: kubectl and the Pulumi provider run
 * `aws eks get-token` for a short-lived token from whatever AWS identity is current.
 */
export function kubeconfig({ clusterName, endpoint, certificateAuthorityData, region }: KubeconfigInput): string {
    return JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: clusterName, cluster: { server: endpoint, "certificate-authority-data": certificateAuthorityData } }],
        contexts: [{ name: clusterName, context: { cluster: clusterName, user: clusterName } }],
        "current-context": clusterName,
        users: [{
            name: clusterName,
            user: {
                exec: {
                    apiVersion: "client.authentication.k8s.io/v1beta1",
                    command: "aws",
                    args: ["eks", "get-token", "--cluster-name", clusterName, "--region", region, "--output", "json"],
                    interactiveMode: "Never",
                },
            },
        }],
    });
}

export const EFS_STORAGE_CLASS = "efs-models";
export const GP3_STORAGE_CLASS = "gp3-encrypted";

/**
 * Dynamic provisioning on EFS (aws-efs-csi-driver docs, "Dynamic provisioning"): each claim
 * gets its own access point under /models, readable and writable by many pods at once
 * (ReadWriteMany), so replicas share one copy of the weights. `tls` encrypts NFS in transit.
 */
export function efsStorageClass<Id>(fileSystemId: Id) {
    return {
        metadata: { name: EFS_STORAGE_CLASS, labels: { "app.kubernetes.io/part-of": "llm-platform" } },
        provisioner: "efs.csi.aws.com",
        parameters: { provisioningMode: "efs-ap", fileSystemId, directoryPerms: "700", basePath: "/models" },
        mountOptions: ["tls"],
        reclaimPolicy: "Delete",
        volumeBindingMode: "Immediate",
    };
}

/** Encrypted gp3 volumes (aws-ebs-csi-driver docs, "CreateVolume parameters"), the cluster's default class. */
export function gp3StorageClass() {
    return {
        metadata: {
            name: GP3_STORAGE_CLASS,
            labels: { "app.kubernetes.io/part-of": "llm-platform" },
            annotations: { "storageclass.kubernetes.io/is-default-class": "true" },
        },
        provisioner: "ebs.csi.aws.com",
        parameters: { type: "gp3", encrypted: "true" },
        reclaimPolicy: "Delete",
        volumeBindingMode: "WaitForFirstConsumer", // in the zone of the pod that uses it
        allowVolumeExpansion: true,
    };
}
