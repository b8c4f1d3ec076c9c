/**
 * EC2 instance facts for the pools this platform creates, and what an EKS AL2023 node leaves pods.
 * One module for the config checks (config/fit.ts), the GPU pool checks (config/aws.ts) and the
 * policy pack (policies/rules/aws-nodes.ts, autoscaling.ts).
 *
 * Sources (read 2026-07):
 * - vCPUs, memory, GPUs, GPU memory: the AWS instance type pages, "Accelerated computing"
 *   (https://docs.aws.amazon.com/ec2/latest/instancetypes/ac.html) and "General purpose"
 *   (https://docs.aws.amazon.com/ec2/latest/instancetypes/gp.html), and the family pages
 *   (https://aws.amazon.com/ec2/instance-types/g4/, /g5/, /g6/, /g6e/, /p4/, /p5/). GPU memory is
 *   the figure those pages give per GPU; the driver reports a little less (the CUDA context and
 *   the ECC reserve are not on the page): whoever sizes against it keeps a margin.
 * - ENIs and IPv4 addresses per ENI (for maxPods): awslabs/amazon-eks-ami
 *   nodeadm/internal/kubelet/instance-info.jsonl (the table nodeadm embeds), commit 81fec2e.
 * - maxPods: nodeadm/internal/kubelet/eni_max_pods.go calculateStandardMaxPods,
 *   ENIs x (IPv4 per ENI - 1) + 2; then the managed node group's cap, which wins over it for node
 *   groups without a custom AMI (ours: components/cluster/managed-node-group.ts sets no image id): 110 below
 *   30 vCPUs, 250 above (EKS User Guide, "Choose an optimal Amazon EC2 node instance type",
 *   section "How maxPods is determined", latest/ug/nodes/choosing-instance-type.adoc).
 */

/** The GPUs of one instance: model named like the `k8s.amazonaws.com/accelerator` label values. */
export interface GpuFacts { readonly model: string /* "nvidia-l4", "nvidia-a10g", "nvidia-t4", ... */; readonly count: number; readonly memoryGiB: number }
export interface InstanceFacts {
    readonly vcpus: number;
    readonly memoryGiB: number;
    readonly gpu?: GpuFacts;
    /** The pods the node takes: the ENI limit, capped for managed node groups. */
    readonly maxPods: number;
    /** The ENI limit alone, which nodeadm sizes kube-reserved memory with whatever the cap (see allocatable). */
    readonly eniMaxPods: number;
}

/** vCPUs, memory GiB, GPU count, default-card ENIs, IPv4 addresses per ENI (instance-info.jsonl). */
type Shape = readonly [vcpus: number, memoryGiB: number, gpus: number, enis: number, ipsPerEni: number];

/** The managed node group's maxPods cap (EKS User Guide, "How maxPods is determined"). */
export function managedNodeGroupMaxPods(vcpus: number, enis: number, ipsPerEni: number): number {
    return Math.min(eniMaxPods(enis, ipsPerEni), vcpus < 30 ? 110 : 250);
}

/** Pods the VPC CNI can address (nodeadm/internal/kubelet/eni_max_pods.go): ENIs x (IPs per ENI - 1) + 2. */
export function eniMaxPods(enis: number, ipsPerEni: number): number {
    return enis * (ipsPerEni - 1) + 2;
}

function family(name: string, gpu: { model: string; memoryGiB: number } | undefined, shapes: Record<string, Shape>): Record<string, InstanceFacts> {
    return Object.fromEntries(Object.entries(shapes).map(([size, [vcpus, memoryGiB, gpus, enis, ips]]) => {
        const facts: InstanceFacts = {
            vcpus, memoryGiB, maxPods: managedNodeGroupMaxPods(vcpus, enis, ips), eniMaxPods: eniMaxPods(enis, ips),
            ...(gpu && gpus > 0 ? { gpu: { model: gpu.model, count: gpus, memoryGiB: gpu.memoryGiB } } : {}),
        };
        return [`${name}.${size}`, facts];
    }));
}

/** GPUs (per GPU memory from the family pages). */
const T4 = { model: "nvidia-t4", memoryGiB: 16 };
const A10G = { model: "nvidia-a10g", memoryGiB: 24 };
const L4 = { model: "nvidia-l4", memoryGiB: 24 };
const L40S = { model: "nvidia-l40s", memoryGiB: 48 };
const A100_40 = { model: "nvidia-a100", memoryGiB: 40 };
const A100_80 = { model: "nvidia-a100", memoryGiB: 80 };
const H100 = { model: "nvidia-h100", memoryGiB: 80 };
const H200 = { model: "nvidia-h200", memoryGiB: 141 };

export const INSTANCE_TYPES: Readonly<Record<string, InstanceFacts>> = {
    // g4dn: NVIDIA T4 16 GB.
    ...family("g4dn", T4, {
        xlarge: [4, 16, 1, 3, 10], "2xlarge": [8, 32, 1, 3, 10], "4xlarge": [16, 64, 1, 3, 10], "8xlarge": [32, 128, 1, 4, 15],
        "16xlarge": [64, 256, 1, 4, 15], "12xlarge": [48, 192, 4, 8, 30], metal: [96, 384, 8, 15, 50],
    }),
    // g5: NVIDIA A10G 24 GB.
    ...family("g5", A10G, {
        xlarge: [4, 16, 1, 4, 15], "2xlarge": [8, 32, 1, 4, 15], "4xlarge": [16, 64, 1, 8, 30], "8xlarge": [32, 128, 1, 8, 30],
        "16xlarge": [64, 256, 1, 8, 30], "12xlarge": [48, 192, 4, 15, 50], "24xlarge": [96, 384, 4, 15, 50], "48xlarge": [192, 768, 8, 7, 50],
    }),
    // g6: NVIDIA L4 24 GB.
    ...family("g6", L4, {
        xlarge: [4, 16, 1, 4, 15], "2xlarge": [8, 32, 1, 4, 15], "4xlarge": [16, 64, 1, 8, 30], "8xlarge": [32, 128, 1, 8, 30],
        "16xlarge": [64, 256, 1, 15, 50], "12xlarge": [48, 192, 4, 8, 30], "24xlarge": [96, 384, 4, 15, 50], "48xlarge": [192, 768, 8, 15, 50],
    }),
    // gr6: NVIDIA L4 24 GB, 1:8 vCPU:memory.
    ...family("gr6", L4, { "4xlarge": [16, 128, 1, 8, 30], "8xlarge": [32, 256, 1, 8, 30] }),
    // g6e: NVIDIA L40S 48 GB.
    ...family("g6e", L40S, {
        xlarge: [4, 32, 1, 4, 15], "2xlarge": [8, 64, 1, 4, 15], "4xlarge": [16, 128, 1, 8, 30], "8xlarge": [32, 256, 1, 8, 30],
        "16xlarge": [64, 512, 1, 15, 50], "12xlarge": [48, 384, 4, 10, 30], "24xlarge": [96, 768, 4, 10, 50], "48xlarge": [192, 1536, 8, 10, 50],
    }),
    // p4d: 8x A100 40 GB; p4de: 8x A100 80 GB.
    ...family("p4d", A100_40, { "24xlarge": [96, 1152, 8, 15, 50] }),
    ...family("p4de", A100_80, { "24xlarge": [96, 1152, 8, 15, 50] }),
    // p5: H100 80 GB; p5e, p5en: H200 141 GB. Multi-card: maxPods counts the default card only (eni_max_pods.go).
    ...family("p5", H100, { "4xlarge": [16, 256, 1, 4, 30], "48xlarge": [192, 2048, 8, 2, 50] }),
    ...family("p5e", H200, { "48xlarge": [192, 2048, 8, 2, 50] }),
    ...family("p5en", H200, { "48xlarge": [192, 2048, 8, 4, 50] }),
    // System pool (AL2023_x86_64_STANDARD): m6i, m7i, 4 GiB per vCPU.
    ...family("m6i", undefined, {
        large: [2, 8, 0, 3, 10], xlarge: [4, 16, 0, 4, 15], "2xlarge": [8, 32, 0, 4, 15], "4xlarge": [16, 64, 0, 8, 30],
        "8xlarge": [32, 128, 0, 8, 30], "12xlarge": [48, 192, 0, 8, 30], "16xlarge": [64, 256, 0, 15, 50], "24xlarge": [96, 384, 0, 15, 50],
        "32xlarge": [128, 512, 0, 15, 50], metal: [128, 512, 0, 15, 50],
    }),
    ...family("m7i", undefined, {
        large: [2, 8, 0, 3, 10], xlarge: [4, 16, 0, 4, 15], "2xlarge": [8, 32, 0, 4, 15], "4xlarge": [16, 64, 0, 8, 30],
        "8xlarge": [32, 128, 0, 8, 30], "12xlarge": [48, 192, 0, 8, 30], "16xlarge": [64, 256, 0, 15, 50], "24xlarge": [96, 384, 0, 15, 50],
        "48xlarge": [192, 768, 0, 15, 50], "metal-24xl": [96, 384, 0, 15, 50], "metal-48xl": [192, 768, 0, 15, 50],
    }),
};

export function instanceFacts(type: string): InstanceFacts | undefined {
    // Not Object.hasOwn: the policy pack compiles this file too, for a target before ES2022.
    return Object.prototype.hasOwnProperty.call(INSTANCE_TYPES, type) ? INSTANCE_TYPES[type] : undefined;
}

const MIB = 2 ** 20;
const GIB = 2 ** 30;

/**
 * kube-reserved CPU as nodeadm sets it (awslabs/amazon-eks-ami
 * nodeadm/internal/kubelet/config.go getCPUMillicoresToReserve): 6% of the first core, 1% of the
 * second, 0.5% of cores 3 and 4, 0.25% of the rest, in integer millicores.
 */
export function kubeReservedCpuMillis(vcpus: number): number {
    const total = vcpus * 1000;
    const ranges = [0, 1000, 2000, 4000, total];
    const basisPoints = [600, 100, 50, 25];
    return basisPoints.reduce((sum, points, i) => total <= ranges[i]
        ? sum
        : sum + Math.trunc((Math.min(total, ranges[i + 1]) - ranges[i]) * points / 10000), 0);
}

/** kube-reserved memory (config.go getMemoryMebibytesToReserve): 11 MiB per pod + 255 MiB. */
export function kubeReservedMemoryBytes(maxPods: number): number {
    return (11 * maxPods + 255) * MIB;
}

/** evictionHard memory.available (config.go defaultKubeletSubConfig): 100Mi. */
export const EVICTION_HARD_MEMORY_BYTES = 100 * MIB;

/**
 * What the kubelet of an EKS AL2023 node reports as allocatable: capacity minus kube-reserved,
 * system-reserved and the hard eviction threshold (Kubernetes "Reserve Compute Resources for
 * System Daemons", node allocatable). nodeadm sets kube-reserved (above) and no system-reserved
 * (config.go withDefaultReservedResources names the /system cgroup but reserves nothing in it).
 * kube-reserved memory follows nodeadm's own max pods, the ENI limit, not the managed node
 * group's cap: withDefaultReservedResources computes `CalcMaxPods(instanceInfo, ...)` and reserves
 * for it, and a `maxPods` set in the kubelet config changes the pod limit, not the reservation
 * (nodeadm/doc/examples.md). On a g5.12xlarge that is 737 pods' worth, 8362 MiB, not 250's.
 * Capacity is the instance's nominal memory: the kernel keeps a few percent of it back before
 * the kubelet reads MemTotal, so this is an upper bound on what a node really reports.
 * GPUs are the device plugin's `nvidia.com/gpu`: one per GPU, no time-slicing (components/gpu/gpu-runtime.ts).
 */
export function allocatable(type: string): { cpuMillis: number; memoryBytes: number; gpus: number } | undefined {
    const facts = instanceFacts(type);
    if (!facts) {
        return undefined;
    }
    return {
        cpuMillis: facts.vcpus * 1000 - kubeReservedCpuMillis(facts.vcpus),
        memoryBytes: facts.memoryGiB * GIB - kubeReservedMemoryBytes(facts.eniMaxPods) - EVICTION_HARD_MEMORY_BYTES,
        gpus: facts.gpu?.count ?? 0,
    };
}
