import type { PolicyConfigSchema } from "@pulumi/policy";
import { GPUS_PER_INSTANCE_TYPE, NVIDIA_GPU_FAMILIES } from "../../lib/gpu-instances";
import { DEFAULT_GPU_NODE_LABELS, GPU_TAINT_KEY, hasNodeLabel } from "../lib/gpu";
import { RuleConfig, typedRule } from "../lib/rule";
import { Props, asArray, asRecord, asString, asStringMap } from "../lib/values";

/**
 * EKS node groups and their launch templates. Pulumi type tokens are written as strings:
 * the pack does not import @pulumi/aws.
 */
export const NODE_GROUP = "aws:eks/nodeGroup:NodeGroup";
export const LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate";

/** How the pack recognises a GPU node group; shared by gpu-pool-tainted and gpu-capacity-fit. */
export interface GpuPoolConfig extends RuleConfig {
    readonly gpuAmiTypes?: readonly string[];
    readonly gpuNodeLabels?: readonly string[];
    readonly gpuInstanceFamilies?: readonly string[];
}

/** Parts of EKS AMI types with the NVIDIA driver: AL2_x86_64_GPU, AL2023_x86_64_NVIDIA, BOTTLEROCKET_ARM_64_NVIDIA. */
export const DEFAULT_GPU_AMI_TYPES = ["NVIDIA", "GPU"];
/** EC2 families with NVIDIA GPUs (g4ad is AMD, so absent). */
export const DEFAULT_GPU_INSTANCE_FAMILIES = NVIDIA_GPU_FAMILIES;

export const GPU_POOL_PROPERTIES: PolicyConfigSchema["properties"] = {
    gpuAmiTypes: {
        type: "array", items: { type: "string", minLength: 1 }, default: DEFAULT_GPU_AMI_TYPES,
        description: "A node group whose amiType contains one of these (case-insensitive) is a GPU pool.",
    },
    gpuNodeLabels: {
        type: "array", items: { type: "string", minLength: 1 }, default: DEFAULT_GPU_NODE_LABELS,
        description: "A node group with one of these labels (key=value, or key) is a GPU pool.",
    },
    gpuInstanceFamilies: {
        type: "array", items: { type: "string", minLength: 1 }, default: DEFAULT_GPU_INSTANCE_FAMILIES,
        description: "A node group with an instance type of one of these families (the part before the dot) is a GPU pool.",
    },
};

export function instanceTypes(props: Props): string[] {
    return asArray(props.instanceTypes).filter((value): value is string => typeof value === "string");
}

/** `g5.12xlarge` -> `g5`. */
export function instanceFamily(instanceType: string): string {
    return instanceType.split(".")[0].toLowerCase();
}

/** Whether a node group's nodes carry GPUs: by AMI type, node labels or instance family. */
export function isGpuNodeGroup(props: Props, config: GpuPoolConfig): boolean {
    const amiType = (asString(props.amiType) ?? "").toUpperCase();
    const labels = asStringMap(props.labels);
    const families = config.gpuInstanceFamilies ?? DEFAULT_GPU_INSTANCE_FAMILIES;
    return (config.gpuAmiTypes ?? DEFAULT_GPU_AMI_TYPES).some((part) => amiType.includes(part.toUpperCase()))
        || (config.gpuNodeLabels ?? DEFAULT_GPU_NODE_LABELS).some((label) => hasNodeLabel(labels, label))
        || instanceTypes(props).some((type) => families.includes(instanceFamily(type)));
}

/** Only values from a known set are quoted in a message; anything else is described by its type. */
export function mention(value: unknown, known: readonly unknown[]): string {
    if (value === undefined || value === null) {
        return "unset";
    }
    return known.includes(value) ? JSON.stringify(value) : `a ${Array.isArray(value) ? "list" : typeof value} value that is not one of ${known.map((k) => JSON.stringify(k)).join(", ")}`;
}

const EKS_EFFECTS = ["NO_SCHEDULE", "NO_EXECUTE", "PREFER_NO_SCHEDULE"];
const KUBERNETES_EFFECTS = ["NoSchedule", "NoExecute", "PreferNoSchedule"];

/** EKS best practices, AI/ML compute: GPU nodes repel every pod that does not tolerate the GPU taint. */
export const gpuPoolTainted = typedRule<GpuPoolConfig>({
    name: "gpu-pool-tainted",
    description: "A GPU node group carries the taint nvidia.com/gpu with effect NO_SCHEDULE, as the EKS API spells it.",
    enforcementLevel: "mandatory",
    properties: GPU_POOL_PROPERTIES,
}, [NODE_GROUP], (props, config, reportViolation, args) => {
    if (!isGpuNodeGroup(props, config)) {
        return;
    }
    const gpuTaints = asArray(props.taints).map(asRecord).filter((taint) => taint.key === GPU_TAINT_KEY);
    if (gpuTaints.some((taint) => taint.effect === "NO_SCHEDULE")) {
        return;
    }
    const where = `GPU node group ${args.name}`;
    if (gpuTaints.length === 0) {
        reportViolation(`${where}: taints has no ${GPU_TAINT_KEY} taint; add { key: "${GPU_TAINT_KEY}", value: "true", effect: "NO_SCHEDULE" } so that only GPU pods land on it.`);
        return;
    }
    const effects = gpuTaints.map((taint) => taint.effect);
    const kubernetesSpelling = effects.some((effect) => effect === "NoSchedule");
    reportViolation(kubernetesSpelling
        ? `${where}: taint ${GPU_TAINT_KEY} has effect "NoSchedule", the Kubernetes spelling; the EKS API takes "NO_SCHEDULE".`
        : `${where}: taint ${GPU_TAINT_KEY} has effect ${effects.map((effect) => mention(effect, [...EKS_EFFECTS, ...KUBERNETES_EFFECTS])).join(", ")}; set effect "NO_SCHEDULE".`);
});

interface ImdsConfig extends RuleConfig {
    readonly maxHopLimit?: number;
    readonly allowDefaultLaunchTemplate?: boolean;
}

export const DEFAULT_MAX_HOP_LIMIT = 1;

/** AWS Control Tower CT.EC2.PR.1/PR.2: IMDSv2 only, and a hop limit that keeps pods off the node's credentials. */
export const nodeImdsv2 = typedRule<ImdsConfig>({
    name: "node-imdsv2",
    description: "A launch template requires IMDSv2 session tokens with a small hop limit, and an EKS node group uses such a launch template.",
    enforcementLevel: "mandatory",
    properties: {
        maxHopLimit: {
            type: "integer", minimum: 1, default: DEFAULT_MAX_HOP_LIMIT,
            description: "The largest httpPutResponseHopLimit allowed. 1 keeps pods (one hop away) from the node role's credentials; pods get AWS access through Pod Identity. AWS suggests 2 only where containers must reach IMDS.",
        },
        allowDefaultLaunchTemplate: {
            type: "boolean", default: false,
            description: "Accept node groups without a launchTemplate, on the template EKS generates (whose metadata options the pack cannot see).",
        },
    },
}, [LAUNCH_TEMPLATE, NODE_GROUP], (props, config, reportViolation, args) => {
    const maxHopLimit = config.maxHopLimit ?? DEFAULT_MAX_HOP_LIMIT;
    if (args.type === NODE_GROUP) {
        const template = props.launchTemplate;
        // The template's id or name may be unknown during preview; the block being there is what counts.
        if ((template === undefined || template === null) && config.allowDefaultLaunchTemplate !== true) {
            reportViolation(`node group ${args.name}: launchTemplate is unset, so EKS generates one whose IMDS settings this pack cannot check; give it a launch template with metadataOptions.httpTokens "required" and httpPutResponseHopLimit <= ${maxHopLimit}.`);
        }
        return;
    }
    const options = asRecord(props.metadataOptions);
    if (options.httpEndpoint === "disabled") {
        return; // no instance metadata service at all
    }
    const where = `launch template ${args.name}`;
    if (options.httpTokens !== "required") {
        reportViolation(`${where}: metadataOptions.httpTokens is ${mention(options.httpTokens, ["optional", "required"])}; set it to "required" so that only IMDSv2 session requests are answered.`);
    }
    const hopLimit = options.httpPutResponseHopLimit;
    if (typeof hopLimit !== "number" || !Number.isFinite(hopLimit)) {
        reportViolation(`${where}: metadataOptions.httpPutResponseHopLimit is ${hopLimit === undefined || hopLimit === null ? "unset (the instance default depends on the AMI: 2 for IMDSv2-only AMIs)" : "not a number"}; set it to ${maxHopLimit}.`);
    } else if (hopLimit > maxHopLimit) {
        reportViolation(`${where}: metadataOptions.httpPutResponseHopLimit is ${hopLimit}, more than ${maxHopLimit}; pods could reach the node role's credentials, so lower it.`);
    }
});

/** NVIDIA GPUs per EC2 instance type (AWS "Accelerated computing" instance specifications). */
/** GPUs per instance type for sizing GPU pools; `gpusPerInstanceType` in config adds to it. */
export const DEFAULT_GPUS_PER_INSTANCE_TYPE = GPUS_PER_INSTANCE_TYPE;

/** Where a node group may state its GPUs per node: the Cluster Autoscaler's node-template key, as a tag or label. */
export const DEFAULT_GPUS_PER_NODE_KEY = "k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu";

/**
 * GPUs on each node of the group: the tag or label `key` if it holds a whole number, else
 * the fewest over its instance types (any of them may be launched); undefined when an
 * instance type is not in the table.
 */
export function gpusPerNode(props: Props, table: Readonly<Record<string, number>>, key: string): number | undefined {
    const stated = asStringMap(props.tags)[key] ?? asStringMap(props.labels)[key];
    if (stated !== undefined && /^\d+$/.test(stated)) {
        return Number(stated);
    }
    const counts = instanceTypes(props).map((type) => table[type]);
    return counts.length > 0 && counts.every((count) => typeof count === "number") ? Math.min(...counts) : undefined;
}
