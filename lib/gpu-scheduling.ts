/**
 * How pods find GPU nodes, in one place: the GPU pool taints its nodes with GPU_TAINT_KEY
 * and labels them with GPU_NODE_LABEL; GPU pods and GPU node agents tolerate the one and
 * select the other.
 */

/** The taint on GPU nodes (effect NoSchedule; EKS spells it NO_SCHEDULE). */
export const GPU_TAINT_KEY = "nvidia.com/gpu";

/** The label only GPU nodes carry; the device plugin's default affinity also admits it. */
export const GPU_NODE_LABEL = { key: "nvidia.com/gpu.present", value: "true" } as const;

/** Tolerates exactly the GPU taint, in the Kubernetes spelling of its effect. */
export function gpuToleration() {
    return { key: GPU_TAINT_KEY, operator: "Exists", effect: "NoSchedule" };
}

export function gpuNodeSelector(): Record<string, string> {
    return { [GPU_NODE_LABEL.key]: GPU_NODE_LABEL.value };
}
