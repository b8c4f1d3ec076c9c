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

export interface EndpointAccess {
    readonly endpointPublicAccess: boolean;
    readonly publicAccessCidrs: readonly string[];
}

/**
 * The API server's reachability: always from inside the VPC; from the internet only when
 * asked, and then only from the listed CIDRs (config.ts refuses an empty list and /0
 * unless explicitly allowed, since EKS would default to 0.0.0.0/0).
 */
export function endpointConfig<T>(access: EndpointAccess, subnetIds: T): {
    subnetIds: T; endpointPrivateAccess: true; endpointPublicAccess: boolean; publicAccessCidrs?: string[];
} {
    return {
        subnetIds,
        endpointPrivateAccess: true,
        endpointPublicAccess: access.endpointPublicAccess,
        publicAccessCidrs: access.endpointPublicAccess ? [...access.publicAccessCidrs] : undefined,
    };
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
