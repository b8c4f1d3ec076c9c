import { parseQuantity } from "../../lib/quantity";
import { gpuResources } from "../lib/gpu";
import { describeContainer } from "../lib/pods";
import { RuleConfig, podRule, show } from "../lib/rule";
import { asRecord, at } from "../lib/values";

interface ResourcesConfig extends RuleConfig {
    readonly requireCpuLimit: boolean;
}

/**
 * Kyverno require-requests-limits, Gatekeeper K8sContainerRequests/K8sContainerLimits,
 * kube-linter unset-cpu-requirements/unset-memory-requirements.
 */
export const resourcesRequired = podRule<ResourcesConfig>({
    name: "resources-required",
    description: "Every container sets cpu and memory requests and a memory limit, with valid quantities and requests no larger than limits.",
    enforcementLevel: "mandatory",
    properties: {
        requireCpuLimit: { type: "boolean", default: false, description: "Also require a cpu limit (off: cpu limits throttle latency-sensitive servers)." },
    },
}, (workload, config, reportViolation) => {
    // Kubernetes forbids resources on ephemeral containers, so they cannot be held to this.
    for (const ref of workload.containers.filter(({ list }) => list !== "ephemeralContainers")) {
        const requests = asRecord(at(ref.container, "resources", "requests"));
        const limits = asRecord(at(ref.container, "resources", "limits"));
        const required: [string, Record<string, unknown>, string][] = [
            ["requests.cpu", requests, "cpu"], ["requests.memory", requests, "memory"], ["limits.memory", limits, "memory"],
            ...(config.requireCpuLimit ? [["limits.cpu", limits, "cpu"] as [string, Record<string, unknown>, string]] : []),
        ];
        for (const [field, list, resource] of required) {
            if (list[resource] === undefined || list[resource] === null) {
                reportViolation(`${workload.kind} ${workload.name}: ${describeContainer(ref)} has no resources.${field}.`);
            }
        }
        for (const [listName, list] of [["requests", requests], ["limits", limits]] as const) {
            for (const resource of ["cpu", "memory"]) {
                const value = list[resource];
                if (value !== undefined && value !== null && parseQuantity(value) === undefined) {
                    reportViolation(`${workload.kind} ${workload.name}: ${describeContainer(ref)} resources.${listName}.${resource} ${show(value)} is not a Kubernetes quantity.`);
                }
            }
        }
        for (const resource of ["cpu", "memory"]) {
            const [request, limit] = [parseQuantity(requests[resource]), parseQuantity(limits[resource])];
            if (request !== undefined && limit !== undefined && request > limit) {
                reportViolation(`${workload.kind} ${workload.name}: ${describeContainer(ref)} requests more ${resource} (${show(requests[resource])}) than its limit (${show(limits[resource])}).`);
            }
        }
    }
});

/** kubernetes.io "Schedule GPUs": GPUs are limits-only; requests, if set, must equal them. */
export const gpuLimitsEqualRequests = podRule<RuleConfig>({
    name: "gpu-limits-equal-requests",
    description: "GPU resources are set in limits, requests are absent or equal, and the count is a whole number of at least 1.",
    enforcementLevel: "mandatory",
}, (workload, _config, reportViolation) => {
    for (const ref of workload.containers) {
        const { limits, requests } = gpuResources(ref.container);
        const where = `${workload.kind} ${workload.name}: ${describeContainer(ref)}`;
        for (const [resource, request] of Object.entries(requests)) {
            if (!(resource in limits)) {
                reportViolation(`${where} requests ${resource} without a limit; GPUs are set in limits (requests default to them).`);
            } else if (parseQuantity(request) !== parseQuantity(limits[resource])) {
                reportViolation(`${where} requests ${show(request)} ${resource} but limits ${show(limits[resource])}; they must be equal.`);
            }
        }
        for (const [resource, limit] of Object.entries(limits)) {
            const count = parseQuantity(limit);
            if (count === undefined || !Number.isInteger(count) || count < 1) {
                reportViolation(`${where} limits ${resource} to ${show(limit)}; a GPU count is a whole number of at least 1.`);
            }
        }
    }
});

export const resourceRules = [resourcesRequired, gpuLimitsEqualRequests];
