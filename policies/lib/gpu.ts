import { GPU_NODE_LABEL, GPU_TAINT_KEY } from "../../lib/gpu-scheduling";
import { parseQuantity } from "../../lib/quantity";
import type { Workload } from "./pods";
import { Props, asArray, asRecord, asString, asStringMap, at } from "./values";

export { GPU_TAINT_KEY };

/** GPU node labels as the rules' config writes them, `key=value` (or `key` alone for any value). */
export const DEFAULT_GPU_NODE_LABELS: readonly string[] = [`${GPU_NODE_LABEL.key}=${GPU_NODE_LABEL.value}`];

/** Extended resources that are GPUs: whole devices, MIG slices and time-shared devices. */
export function isGpuResource(name: string): boolean {
    return name === "nvidia.com/gpu" || name === "nvidia.com/gpu.shared" || name.startsWith("nvidia.com/mig-");
}

/** The GPU resources a container asks for, by name, as written in limits and requests. */
export function gpuResources(container: Props): { limits: Record<string, unknown>; requests: Record<string, unknown> } {
    const pick = (list: unknown) => Object.fromEntries(Object.entries(asRecord(list)).filter(([name]) => isGpuResource(name)));
    return { limits: pick(at(container, "resources", "limits")), requests: pick(at(container, "resources", "requests")) };
}

/** GPUs the pod asks for (limits, else requests), summed over its containers. */
export function podGpuCount(workload: Workload): number {
    return workload.containers.reduce((total, { container }) => {
        const { limits, requests } = gpuResources(container);
        const amounts = Object.keys(limits).length > 0 ? limits : requests;
        return total + Object.values(amounts).reduce<number>((sum, value) => sum + (parseQuantity(value) ?? 0), 0);
    }, 0);
}

export function requestsGpus(workload: Workload): boolean {
    return workload.containers.some(({ container }) => {
        const { limits, requests } = gpuResources(container);
        return Object.keys(limits).length > 0 || Object.keys(requests).length > 0;
    });
}

/**
 * Whether the pod tolerates the GPU taint (`nvidia.com/gpu`, effect NoSchedule). A
 * toleration with no key and operator Exists tolerates every taint, this one included.
 */
export function toleratesGpuTaint(spec: Props): boolean {
    return asArray(spec.tolerations).some((value) => {
        const toleration = asRecord(value);
        const key = asString(toleration.key);
        const operator = asString(toleration.operator) ?? "Equal";
        const effect = asString(toleration.effect);
        const effectMatches = effect === undefined || effect === "" || effect === "NoSchedule";
        if (!key) {
            return operator === "Exists" && effectMatches;
        }
        return key === GPU_TAINT_KEY && effectMatches;
    });
}

/**
 * Whether the pod may only land on GPU nodes: its nodeSelector carries a GPU node label,
 * or every term of its required node affinity does (the terms are ORed).
 */
export function selectsGpuNodes(spec: Props, gpuNodeLabels: readonly string[]): boolean {
    const selector = asStringMap(spec.nodeSelector);
    if (gpuNodeLabels.some((label) => hasNodeLabel(selector, label))) {
        return true;
    }
    const terms = asArray(at(spec, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"));
    return terms.length > 0 && terms.every((term) => asArray(asRecord(term).matchExpressions).some((expression) => {
        const { key, operator, values } = asRecord(expression);
        return gpuNodeLabels.some((label) => {
            const [labelKey, labelValue] = label.split("=");
            if (key !== labelKey) {
                return false;
            }
            return labelValue === undefined ? operator === "Exists" || operator === "In"
                : operator === "In" && asArray(values).includes(labelValue);
        });
    }));
}

/** Whether labels (a nodeSelector, a node group's labels) carry a `key=value` (or `key`) label. */
export function hasNodeLabel(labels: Record<string, string>, label: string): boolean {
    const [key, value] = label.split("=", 2);
    return value === undefined ? key in labels : labels[key] === value;
}
