import type { PolicyConfigJSONSchema } from "@pulumi/policy/schema";
import { DEFAULT_GPU_NODE_LABELS, requestsGpus, selectsGpuNodes, toleratesGpuTaint } from "../lib/gpu";
import type { Workload } from "../lib/pods";
import { RuleConfig, podRule } from "../lib/rule";

interface PlacementConfig extends RuleConfig {
    /** `key=value` (or `key`) node labels that only GPU nodes carry. */
    readonly gpuNodeLabels: readonly string[];
}

interface OffGpuConfig extends RuleConfig {
    /** Workloads (metadata.name; a trailing `*` matches a prefix) that run on every node. */
    readonly nodeAgents: readonly string[];
}

const GPU_NODE_LABELS_SCHEMA: PolicyConfigJSONSchema = {
    type: "array", items: { type: "string" }, default: [...DEFAULT_GPU_NODE_LABELS],
    description: "Node labels (key=value) that only GPU nodes carry; a GPU pod must select one.",
};

/** Node agents that must run on GPU nodes too: the GPU runtime and the log shipper. */
export const DEFAULT_NODE_AGENTS = ["nvidia-device-plugin*", "*dcgm-exporter*", "alloy*", "*node-exporter*"];

/** A DaemonSet whose name is on the allowlist: only node agents run on every node. */
export function isNodeAgent(workload: Workload, patterns: readonly string[]): boolean {
    return workload.kind === "DaemonSet" && matchesName(workload.name, patterns);
}

export function matchesName(name: string, patterns: readonly string[]): boolean {
    return patterns.some((pattern) => {
        const regex = new RegExp(`^${pattern.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
        return regex.test(name);
    });
}

/** EKS best practices, AI/ML compute: GPU pods tolerate the GPU taint and select GPU nodes. */
export const gpuPodPlacement = podRule<PlacementConfig>({
    name: "gpu-pod-placement",
    description: "A pod that uses GPUs tolerates the nvidia.com/gpu taint and selects GPU nodes by nodeSelector or required node affinity.",
    enforcementLevel: "mandatory",
    properties: { gpuNodeLabels: GPU_NODE_LABELS_SCHEMA },
}, (workload, config, reportViolation) => {
    if (!requestsGpus(workload)) {
        return;
    }
    if (!toleratesGpuTaint(workload.spec)) {
        reportViolation(`${workload.kind} ${workload.name} uses GPUs but does not tolerate the nvidia.com/gpu:NoSchedule taint, so it cannot schedule on GPU nodes.`);
    }
    if (!selectsGpuNodes(workload.spec, config.gpuNodeLabels)) {
        reportViolation(`${workload.kind} ${workload.name} uses GPUs but selects no GPU node label (${config.gpuNodeLabels.join(", ")}) by nodeSelector or required node affinity.`);
    }
});

/** EKS best practices, AI/ML compute: keep GPU nodes for GPU work. */
export const nonGpuOffGpuNodes = podRule<OffGpuConfig>({
    name: "non-gpu-off-gpu-nodes",
    description: "A pod without GPUs does not tolerate the nvidia.com/gpu taint (a keyless Exists toleration counts), except node agents.",
    enforcementLevel: "mandatory",
    properties: {
        nodeAgents: {
            type: "array", items: { type: "string" }, default: DEFAULT_NODE_AGENTS,
            description: "Names of node-agent DaemonSets allowed on GPU nodes; * matches any text. Other kinds never are.",
        },
    },
}, (workload, config, reportViolation) => {
    if (requestsGpus(workload) || isNodeAgent(workload, config.nodeAgents)) {
        return;
    }
    if (toleratesGpuTaint(workload.spec)) {
        reportViolation(`${workload.kind} ${workload.name} uses no GPU but tolerates the nvidia.com/gpu taint (a keyless Exists toleration counts); it would take a GPU node's capacity.`);
    }
});

export const gpuPlacementRules = [gpuPodPlacement, nonGpuOffGpuNodes];
