import type { PolicyResource } from "@pulumi/policy";
import { podGpuCount } from "../lib/gpu";
import { workloadOf } from "../lib/pods";
import { RuleConfig, stackRule, typedRule } from "../lib/rule";
import { Props, asArray, asRecord, asString, at, objectName, objectNamespace } from "../lib/values";
import { Autoscaler, SCALED_OBJECT, autoscalersIn, kindOf, label, maxReplicasField, targetsOf, wholeNumber } from "../lib/scaling";
import {
    DEFAULT_GPUS_PER_INSTANCE_TYPE, DEFAULT_GPUS_PER_NODE_KEY, GPU_POOL_PROPERTIES, GpuPoolConfig, NODE_GROUP, gpusPerNode, isGpuNodeGroup,
} from "./aws-nodes";
import { replicaRules } from "./autoscaling-replicas";

interface FallbackConfig extends RuleConfig {
    readonly minFallbackReplicas?: number;
}

/** KEDA ScaledObject spec and Prometheus scaler: a lost metric falls back to a safe replica count instead of reading as zero. */
export const kedaFallback = typedRule<FallbackConfig>({
    name: "keda-fallback",
    description: "A KEDA ScaledObject has a fallback, and each Prometheus trigger sets ignoreNullValues to the string \"false\" so that a lost metric triggers it.",
    enforcementLevel: "mandatory",
    properties: {
        minFallbackReplicas: { type: "integer", minimum: 0, default: 1, description: "The least spec.fallback.replicas: what serves while the metric is lost." },
    },
}, [SCALED_OBJECT], (props, config, reportViolation, args) => {
    const where = label("ScaledObject", objectName(props, args.name));
    const spec = asRecord(props.spec);
    const minReplicas = config.minFallbackReplicas ?? 1;
    const fallback = spec.fallback;
    if (typeof fallback !== "object" || fallback === null || Array.isArray(fallback)) {
        reportViolation(`${where}: spec.fallback is unset; add { failureThreshold: 3, replicas: ${Math.max(minReplicas, 1)} } so that a failing scaler holds a known replica count.`);
    } else {
        const { failureThreshold, replicas } = fallback as Props;
        const threshold = wholeNumber(failureThreshold);
        if (threshold === undefined || threshold < 1) {
            reportViolation(`${where}: spec.fallback.failureThreshold is ${threshold === undefined ? (failureThreshold === undefined ? "unset" : "not a whole number") : threshold}; set the number of failed reads (>= 1) before the fallback applies.`);
        }
        const count = wholeNumber(replicas);
        if (count === undefined || count < minReplicas) {
            reportViolation(`${where}: spec.fallback.replicas is ${count === undefined ? (replicas === undefined ? "unset" : "not a whole number") : count}; set at least ${minReplicas} so that the model keeps serving while its metric is lost.`);
        }
    }
    asArray(spec.triggers).map(asRecord).forEach((trigger, index) => {
        if (trigger.type !== "prometheus") {
            return;
        }
        const name = asString(trigger.name);
        const which = name && /^[a-z0-9-]{1,63}$/.test(name) ? `trigger "${name}"` : `triggers[${index}]`;
        const value = at(trigger, "metadata", "ignoreNullValues");
        if (value === "false") {
            return;
        }
        const why = value === false ? "the boolean false (trigger metadata values are strings: quote it, \"false\")"
            : value === undefined || value === null ? "unset, and KEDA defaults it to \"true\"" : value === "true" ? "\"true\"" : "not the string \"false\"";
        reportViolation(`${where}: ${which} metadata.ignoreNullValues is ${why}; set it to "false" so that an empty Prometheus result is an error that triggers the fallback, not zero load.`);
    });
});

/** KEDA admission webhook; kube-linter dangling-horizontalpodautoscaler: each autoscaler owns one existing workload's replica count. */
export const autoscalerTarget = stackRule<RuleConfig>({
    name: "autoscaler-target",
    description: "An autoscaler's scaleTargetRef names a workload of the stack in its namespace, no workload has two autoscalers, and the workload leaves spec.replicas unset.",
    enforcementLevel: "mandatory",
}, (resources, _config, reportViolation) => {
    const owners = new Map<PolicyResource, Autoscaler[]>();
    for (const autoscaler of autoscalersIn(resources)) {
        const where = label(autoscaler.kind, autoscaler.name);
        const report = (message: string) => reportViolation(`${where}: ${message}`, autoscaler.resource.urn);
        if (autoscaler.targetName === undefined || autoscaler.targetKind === undefined) {
            report(`spec.scaleTargetRef.${autoscaler.targetName === undefined ? "name" : "kind"} is unset; name the workload it scales.`);
            continue;
        }
        const target = targetsOf(autoscaler, resources)[0];
        if (!target) {
            const elsewhere = resources.find((resource) => kindOf(resource.type) === autoscaler.targetKind && objectName(resource.props, resource.name) === autoscaler.targetName);
            report(`spec.scaleTargetRef names ${label(autoscaler.targetKind, autoscaler.targetName)}, which is not in namespace ${autoscaler.namespace} of this stack${elsewhere ? ` (it is in namespace ${objectNamespace(elsewhere.props)}; an autoscaler only scales its own namespace)` : ""}; point it at an existing workload.`);
            continue;
        }
        owners.set(target, [...(owners.get(target) ?? []), autoscaler]);
    }
    for (const [target, autoscalers] of owners) {
        const workload = label(kindOf(target.type), objectName(target.props, target.name));
        const [first, ...others] = autoscalers;
        for (const other of others) {
            reportViolation(`${label(other.kind, other.name)}: ${workload} is already scaled by ${label(first.kind, first.name)}; keep one autoscaler per workload, or they fight over its replica count.`, other.resource.urn);
        }
        const replicas = at(target.props, "spec", "replicas");
        if (replicas !== undefined && replicas !== null) {
            const shown = wholeNumber(replicas) !== undefined ? ` (${replicas})` : "";
            reportViolation(`${workload}: spec.replicas is set${shown} while ${label(first.kind, first.name)} scales it; every deploy would reset the replica count, so leave spec.replicas unset.`, target.urn);
        }
    }
});

interface CapacityConfig extends GpuPoolConfig {
    readonly gpusPerInstanceType?: Readonly<Record<string, number>>;
    readonly gpusPerNodeKey?: string;
}

/** EKS best practices, AI/ML compute: an autoscaler never asks for more GPUs than the GPU pool can add. */
export const gpuCapacityFit = stackRule<CapacityConfig>({
    name: "gpu-capacity-fit",
    description: "An autoscaled GPU workload's max replicas times GPUs per replica fits in the GPU node groups at their max size.",
    enforcementLevel: "advisory",
    properties: {
        ...GPU_POOL_PROPERTIES,
        gpusPerInstanceType: {
            type: "object", default: {},
            description: "GPUs per node by EC2 instance type, added to (or overriding) the built-in table of g4dn, g5, g6, g6e, p4d, p4de and p5 sizes.",
        },
        gpusPerNodeKey: {
            type: "string", minLength: 1, default: DEFAULT_GPUS_PER_NODE_KEY,
            description: "A node group tag or label stating its GPUs per node; it wins over the instance type table.",
        },
    },
}, (resources, config, reportViolation) => {
    const nodeGroups = resources.filter((resource) => resource.type === NODE_GROUP);
    if (nodeGroups.length === 0) {
        return; // no node groups in the stack (local, `npm run check`): nothing to compare with
    }
    const table = { ...DEFAULT_GPUS_PER_INSTANCE_TYPE, ...asRecord(config.gpusPerInstanceType) } as Record<string, number>;
    const key = config.gpusPerNodeKey ?? DEFAULT_GPUS_PER_NODE_KEY;
    let capacity = 0;
    let undetermined = false;
    const pools: string[] = [];
    for (const group of nodeGroups.filter((resource) => isGpuNodeGroup(resource.props, config))) {
        const perNode = gpusPerNode(group.props, table, key);
        const maxSize = wholeNumber(at(group.props, "scalingConfig", "maxSize"));
        if (perNode === undefined || maxSize === undefined) {
            undetermined = true;
            reportViolation(perNode === undefined
                ? `GPU node group ${group.name}: its GPUs per node are unknown (instanceTypes not in gpusPerInstanceType, no ${key} tag); add them to the rule's config.`
                : `GPU node group ${group.name}: scalingConfig.maxSize is not a whole number; set it so that GPU capacity can be checked.`, group.urn);
            continue;
        }
        capacity += maxSize * perNode;
        pools.push(`${group.name}: ${maxSize} x ${perNode}`);
    }
    if (undetermined) {
        return;
    }
    for (const autoscaler of autoscalersIn(resources)) {
        const target = targetsOf(autoscaler, resources)[0];
        const workload = target ? workloadOf(target.type, target.props, target.name) : undefined;
        const gpus = workload ? podGpuCount(workload) : 0;
        if (!workload || gpus <= 0 || autoscaler.maxReplicas === undefined || autoscaler.maxReplicas * gpus <= capacity) {
            continue;
        }
        const field = maxReplicasField(autoscaler.kind);
        const held = pools.length > 0 ? `the GPU node groups hold ${capacity} at max size (${pools.join(", ")})` : "the stack has no GPU node group";
        reportViolation(`${label(autoscaler.kind, autoscaler.name)}: spec.${field} ${autoscaler.maxReplicas}${autoscaler.maxIsDefault ? " (KEDA's default)" : ""} x ${gpus} GPUs per replica of ${label(workload.kind, workload.name)} = ${autoscaler.maxReplicas * gpus} GPUs, but ${held}; lower ${field} to ${Math.floor(capacity / gpus)} or raise scalingConfig.maxSize.`, autoscaler.resource.urn);
    }
});


export const autoscalingRules = [kedaFallback, autoscalerTarget, gpuCapacityFit, ...replicaRules];
