/**
 * Pure builders for the EKS cluster: what reaches the AWS and Kubernetes APIs, testable
 * without mocks. components/cluster/eks-cluster.ts wires them into resources.
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
 * (components/cluster/eks-cluster.ts): the public endpoint never sees a private address.
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
    readonly name: AddonName;
    /** Installed before any node joins (node networking and credentials); the rest need running nodes. */
    readonly beforeNodes: boolean;
    readonly identity?: { readonly serviceAccount: string; readonly policies: readonly string[] };
    /** The add-on's configuration (`aws eks describe-addon-configuration` lists the keys), sent as JSON. Defaults to none. */
    readonly configuration?: AddonConfiguration;
}

/** An add-on's configuration: the keys of its schema, nested as its chart's values are. */
export type AddonConfiguration = { readonly [key: string]: string | boolean | AddonConfiguration };

/** The add-ons the cluster installs (ADDONS), by their EKS names. */
export const ADDON_NAMES = ["vpc-cni", "kube-proxy", "eks-pod-identity-agent", "coredns", "aws-ebs-csi-driver", "aws-efs-csi-driver"] as const;

export type AddonName = typeof ADDON_NAMES[number];

/** An EKS add-on version, as `describe-addon-versions` lists them: `v1.14.2-eksbuild.4`. */
export const ADDON_VERSION = /^v\d+\.\d+\.\d+-eksbuild\.\d+$/;

/**
 * The add-ons, with service accounts and policies from each add-on's
 * `describe-addon-configuration` (EKS User Guide, "IAM roles for Amazon EKS add-ons"), and
 * their versions per Kubernetes minor in ADDON_VERSIONS.
 *
 * The VPC CNI enforces the platform's NetworkPolicy objects (README, "Security"): its network policy
 * agent is off unless `enableNetworkPolicy` is the string "true" (aws/amazon-vpc-cni-k8s
 * charts/aws-vpc-cni/values.yaml `enableNetworkPolicy: "false"`, at v1.21.1 and v1.23.0, which
 * templates/configmap.yaml and daemonset.yaml pass to the controller and the agent; EKS User
 * Guide, "Restrict Pod network traffic with Kubernetes network policies":
 * `--configuration-values '{"enableNetworkPolicy": "true"}'`): a string, as the chart's value is,
 * not a JSON boolean.
 */
export const ADDONS: readonly AddonSpec[] = [
    {
        name: "vpc-cni", beforeNodes: true, identity: { serviceAccount: "aws-node", policies: ["AmazonEKS_CNI_Policy"] },
        configuration: { enableNetworkPolicy: "true" },
    },
    { name: "kube-proxy", beforeNodes: true },
    { name: "eks-pod-identity-agent", beforeNodes: true },
    { name: "coredns", beforeNodes: false },
    { name: "aws-ebs-csi-driver", beforeNodes: false, identity: { serviceAccount: "ebs-csi-controller-sa", policies: ["service-role/AmazonEBSCSIDriverPolicy"] } },
    {
        name: "aws-efs-csi-driver", beforeNodes: false, identity: { serviceAccount: "efs-csi-controller-sa", policies: ["service-role/AmazonEFSCSIDriverPolicy"] },
        // A deleted claim's directory goes with its access point (efsStorageClass says why).
        configuration: { controller: { deleteAccessPointRootDir: true } },
    },
];

/**
 * Each add-on's version per Kubernetes minor, pinned: left unset, EKS installs the default
 * version of the cluster's minor at creation and never moves it, so raising
 * `cluster.kubernetesVersion` would leave kube-proxy and CoreDNS on the old minor. The keys are
 * the minors components/cluster/cluster-autoscaler.ts AUTOSCALER_RELEASES pins (config/aws.ts
 * AUTOSCALER_MINORS); a minor missing here is a config error.
 *
 * Versions are EKS add-on versions, `-eksbuild.N` included (EKS refuses a version it does not
 * offer for the cluster's minor: check with
 * `aws eks describe-addon-versions --kubernetes-version <minor> --addon-name <name>`). Sources,
 * as stored on 2026-11-27:
 * - kube-proxy and CoreDNS: the EKS User Guide's tables of the latest add-on version per
 *   Kubernetes version ("Manage kube-proxy in Amazon EKS clusters", "Manage CoreDNS for DNS in
 *   Amazon EKS clusters", latest/ug/networking/managing-kube-proxy and managing-coredns).
 *   kube-proxy follows the minor (it must not be newer than the API server: Kubernetes "Version
 *   Skew Policy"), CoreDNS changes between them.
 * - vpc-cni v1.21.1-eksbuild.8: `eksctl utils describe-addon-versions` output for 1.33 in
 *   ministryofjustice/cloud-platform-infrastructure pull request #4638 (2026-05-19), and
 *   `describe-addon-versions --kubernetes-version 1.35` as a terraform-aws-eks configuration
 *   records it; the User Guide's VPC CNI table gives every minor the same version. The CNI
 *   should move one minor at a time (User Guide, "Update the Amazon VPC CNI").
 * - eks-pod-identity-agent v1.3.10-eksbuild.3: the same 1.35 `describe-addon-versions` record.
 * - aws-ebs-csi-driver v1.66.0-eksbuild.1 and aws-efs-csi-driver v3.4.2-eksbuild.1:
 *   mitodl/ol-infrastructure pull request #5959 (2026-09-21), the default and newest versions
 *   EKS offered then; both drivers' add-on versions span the supported minors.
 */
export const ADDON_VERSIONS: Readonly<Record<string, Readonly<Record<AddonName, string>>>> = {
    "1.34": {
        "vpc-cni": "v1.21.1-eksbuild.8",
        "kube-proxy": "v1.34.6-eksbuild.2",
        "eks-pod-identity-agent": "v1.3.10-eksbuild.3",
        coredns: "v1.13.2-eksbuild.7",
        "aws-ebs-csi-driver": "v1.66.0-eksbuild.1",
        "aws-efs-csi-driver": "v3.4.2-eksbuild.1",
    },
    "1.35": {
        "vpc-cni": "v1.21.1-eksbuild.8",
        "kube-proxy": "v1.35.3-eksbuild.2",
        "eks-pod-identity-agent": "v1.3.10-eksbuild.3",
        coredns: "v1.14.2-eksbuild.4",
        "aws-ebs-csi-driver": "v1.66.0-eksbuild.1",
        "aws-efs-csi-driver": "v3.4.2-eksbuild.1",
    },
};

/**
 * The version of an add-on for a Kubernetes minor: the stack's own (`cluster.addonVersions`), else
 * the pinned one; throws for a minor the table lacks (config.ts refuses it first). The stack's
 * version is for the day EKS does not offer a pinned one where the stack runs (a region that gets
 * add-on versions later, a build EKS withdrew) or a fix is wanted before this table moves: EKS
 * refuses, at `pulumi up`, a version it does not offer for the cluster's minor.
 */
export function addonVersion(kubernetesVersion: string, addon: AddonName, own: Readonly<Partial<Record<AddonName, string>>> = {}): string {
    const chosen = own[addon];
    if (chosen !== undefined) {
        return chosen;
    }
    const versions = Object.prototype.hasOwnProperty.call(ADDON_VERSIONS, kubernetesVersion) ? ADDON_VERSIONS[kubernetesVersion] : undefined;
    if (!versions) {
        throw new Error(`no pinned EKS add-on versions for Kubernetes ${kubernetesVersion}`);
    }
    return versions[addon];
}

/** What the EKS API takes as an add-on's configurationValues: its configuration as JSON, or nothing. */
export function addonConfigurationValues(spec: AddonSpec): string | undefined {
    return spec.configuration ? JSON.stringify(spec.configuration) : undefined;
}

/**
 * Zones the cluster's nodes span: one private subnet per zone, the stack's own
 * (`availabilityZones`) or `existingSubnetIds`. Each zone gets its own system node group.
 */
export function clusterZoneCount(cluster: { readonly existingVpcId: string; readonly existingSubnetIds: readonly string[]; readonly availabilityZones: number }): number {
    return cluster.existingVpcId ? cluster.existingSubnetIds.length : cluster.availabilityZones;
}

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
 * (ReadWriteMany), so replicas share one copy of the weights. `tls` encrypts NFS in transit; the
 * driver adds it to every access point mount anyway (pkg/driver/node.go), and the file system's
 * policy refuses a mount without it (components/cluster/model-file-system.ts).
 *
 * A deleted claim's data: with reclaimPolicy Delete the driver deletes the claim's access point,
 * and its directory only when the controller runs with `--delete-access-point-root-dir` (a
 * controller flag, not a StorageClass parameter: pkg/driver/options.go, default false; the EKS
 * add-on takes it as `controller.deleteAccessPointRootDir`, lib/eks.ts ADDONS). Left false, every
 * claim removed (a model dropped from the config, renamed, or its storage changed) leaves its
 * weights on EFS with nothing pointing at them, billed per GB-month for as long as the file
 * system lives. We turn it on: the weights are a copy of a pinned Hugging Face revision, which
 * the download Job fetches again for a new claim. The directory is the access point's own,
 * /models/<pv name>-<uid> (subPathPattern and ensureUniqueDirectory at their defaults), never the
 * file system's root (aws-efs-csi-driver issue #1695 is about a root of "/"). The controller
 * mounts the file system over TLS with its IAM identity to delete it (pkg/driver/controller.go
 * DeleteVolume), which the file system policy admits through a mount target.
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
