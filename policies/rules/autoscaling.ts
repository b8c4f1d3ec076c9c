import type { PolicyResource, ReportViolation } from "@pulumi/policy";
import { podGpuCount } from "../lib/gpu";
import { GpuPool, packReplicas, replicasPerNode } from "../lib/gpu-packing";
import { ContainerRef, Workload } from "../lib/pods";
import { RuleConfig, stackRule, typedRule } from "../lib/rule";
import { Props, asArray, asRecord, asString, asStringMap, at, objectName, objectNamespace } from "../lib/values";
import { Autoscaler, SCALED_OBJECT, autoscalersIn, kindOf, label, maxReplicasField, scalableWorkloads, targetsOf, wholeNumber } from "../lib/scaling";
import {
    DEFAULT_GPUS_PER_INSTANCE_TYPE, DEFAULT_GPUS_PER_NODE_KEY, GPU_POOL_PROPERTIES, GpuPoolConfig, NODE_GROUP, gpusPerNode, instanceTypes, isGpuNodeGroup,
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
    // The stack's resources by kind and name: each autoscaler looks its target up here instead of
    // scanning the whole stack, which made the rule quadratic in the number of models.
    const byKindAndName = new Map<string, PolicyResource[]>();
    for (const resource of resources) {
        const key = `${kindOf(resource.type)}/${objectName(resource.props, resource.name)}`;
        byKindAndName.set(key, [...(byKindAndName.get(key) ?? []), resource]);
    }
    for (const autoscaler of autoscalersIn(resources)) {
        const where = label(autoscaler.kind, autoscaler.name);
        const report = (message: string) => reportViolation(`${where}: ${message}`, autoscaler.resource.urn);
        if (autoscaler.targetName === undefined || autoscaler.targetKind === undefined) {
            report(`spec.scaleTargetRef.${autoscaler.targetName === undefined ? "name" : "kind"} is unset; name the workload it scales.`);
            continue;
        }
        const named = byKindAndName.get(`${autoscaler.targetKind}/${autoscaler.targetName}`) ?? [];
        const target = targetsOf(autoscaler, named)[0];
        if (!target) {
            const elsewhere = named[0];
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

/** A GPU workload at its max replicas, and the autoscaler (or spec.replicas) that sets the max. */
interface GpuWorkload {
    readonly workload: Workload;
    readonly autoscaler?: Autoscaler;
    readonly urn: string;
    readonly replicas: number;
    readonly gpus: number;
    /** The GPU node groups its nodeSelector admits. */
    readonly pools: readonly string[];
}

/** Node labels EKS sets from the node group's own fields, which a nodeSelector may name. */
const INSTANCE_TYPE_LABELS = ["node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type"];
const CAPACITY_TYPE_LABEL = "eks.amazonaws.com/capacityType";

/**
 * Whether a pod's nodeSelector may match the node group's nodes. Only what the group declares
 * can rule it out (its labels, instance types, capacity type); a label it does not declare may
 * still be set on its nodes (by GPU feature discovery, say), so it does not.
 */
function nodeSelectorAdmits(spec: Props, group: Props): boolean {
    const labels = asStringMap(group.labels);
    return Object.entries(asStringMap(spec.nodeSelector)).every(([key, value]) => {
        if (key in labels) {
            return labels[key] === value;
        }
        if (INSTANCE_TYPE_LABELS.includes(key)) {
            return instanceTypes(group).includes(value);
        }
        return key !== CAPACITY_TYPE_LABEL || (asString(group.capacityType) ?? "ON_DEMAND") === value;
    });
}

/**
 * GPUs one pod of the workload holds on its node: the larger of its app containers plus
 * sidecars, and its largest init container plus the sidecars started before it
 * (kubernetes.io, "Init Containers" and "Sidecar Containers", resource sharing within containers).
 */
export function replicaGpus(workload: Workload): number {
    const gpus = (ref: ContainerRef) => podGpuCount({ ...workload, containers: [ref] });
    let sidecars = 0;
    let initPeak = 0;
    for (const ref of workload.containers.filter((container) => container.list === "initContainers")) {
        if (ref.container.restartPolicy === "Always") {
            sidecars += gpus(ref);
        } else {
            initPeak = Math.max(initPeak, gpus(ref) + sidecars);
        }
    }
    const running = workload.containers.filter((container) => container.list === "containers").reduce((sum, ref) => sum + gpus(ref), 0);
    return Math.max(running + sidecars, initPeak);
}

/**
 * Every GPU workload with its most replicas: an autoscaled one at its largest max (an HPA
 * without a whole-number max is skipped, as unknown), any other at spec.replicas (default 1),
 * for it holds GPUs too.
 */
function gpuWorkloads(resources: readonly PolicyResource[], groups: readonly PolicyResource[]): GpuWorkload[] {
    // Fixed replica counts first: with equal sizes, the packing blames an autoscaler's max, not a fixed count.
    const all = scalableWorkloads(resources);
    const ordered = [...all.filter((item) => item.autoscalers.length === 0), ...all.filter((item) => item.autoscalers.length > 0)];
    return ordered.flatMap(({ resource, workload, autoscalers }) => {
        const gpus = replicaGpus(workload);
        if (gpus <= 0) {
            return [];
        }
        const pools = groups.filter((group) => nodeSelectorAdmits(workload.spec, group.props)).map((group) => group.name);
        if (autoscalers.length === 0) {
            const replicas = wholeNumber(at(resource.props, "spec", "replicas")) ?? 1;
            return [{ workload, urn: resource.urn, replicas, gpus, pools }];
        }
        // Two autoscalers on one workload (autoscaler-target reports it): the larger max counts.
        const counted = autoscalers.flatMap((autoscaler) => (autoscaler.maxReplicas === undefined ? [] : [{ autoscaler, replicas: autoscaler.maxReplicas }]));
        const most = counted.reduce<(typeof counted)[number] | undefined>((best, candidate) => (best && best.replicas >= candidate.replicas ? best : candidate), undefined);
        return most ? [{ workload, autoscaler: most.autoscaler, urn: most.autoscaler.resource.urn, replicas: most.replicas, gpus, pools }] : [];
    });
}

function count(amount: number, noun: string): string {
    return `${amount} ${noun}${amount === 1 ? "" : "s"}`;
}

function poolText(pool: GpuPool): string {
    return `${pool.name}: ${count(pool.nodes, "node")} x ${count(pool.gpusPerNode, "GPU")}`;
}

/** `a 4-GPU node holds 1 such replica`, for each node size the workload may use. */
function perNodeText(pools: readonly GpuPool[], gpus: number): string {
    const sizes = [...new Set(pools.map((pool) => pool.gpusPerNode))].sort((a, b) => b - a);
    return sizes.map((size) => {
        const held = replicasPerNode(size, gpus);
        const article = String(size).startsWith("8") || size === 11 || size === 18 ? "an" : "a";
        return `${article} ${size}-GPU node holds ${held === 0 ? "no" : held} such replica${held > 1 ? "s" : ""}`;
    }).join(", ");
}

/** The violation of a workload whose replicas do not all fit, with what shares its nodes. */
function misfitMessage(item: GpuWorkload, unplaced: number, pools: readonly GpuPool[], others: readonly GpuWorkload[], exact: boolean): string {
    const own = pools.filter((pool) => item.pools.includes(pool.name));
    const field = item.autoscaler ? maxReplicasField(item.autoscaler.kind) : "replicas";
    const where = item.autoscaler ? label(item.autoscaler.kind, item.autoscaler.name) : label(item.workload.kind, item.workload.name);
    const of = item.autoscaler ? ` of ${label(item.workload.kind, item.workload.name)}` : "";
    const kedaDefault = item.autoscaler?.maxIsDefault ? " (KEDA's default)" : "";
    const head = `${where}: spec.${field} ${item.replicas}${kedaDefault} x ${count(item.gpus, "GPU")} per replica${of}`;
    if (pools.length === 0) {
        return `${head} = ${count(item.replicas * item.gpus, "GPU")}, but the stack has no GPU node group; lower ${field} to 0 or add a GPU node group.`;
    }
    if (own.length === 0) {
        return `${head}: its nodeSelector admits none of the GPU node groups (${pools.map(poolText).join(", ")}), so none of its replicas can run; select a GPU node group's labels.`;
    }
    const largest = Math.max(...own.map((pool) => pool.gpusPerNode));
    if (largest < item.gpus) {
        return `${head}: a replica does not span nodes, and no node it may use has ${item.gpus} GPUs (${own.map(poolText).join(", ")}); use an instance type with at least ${item.gpus} GPUs per node.`;
    }
    const sharing = others.filter((other) => other !== item && other.pools.some((name) => item.pools.includes(name)));
    const shared = sharing.length > 0
        ? `, and ${sharing.map((other) => `${label(other.workload.kind, other.workload.name)} (${count(other.replicas, "replica")} x ${count(other.gpus, "GPU")})`).join(", ")} share${sharing.length === 1 ? "s" : ""} them`
        : "";
    const heuristic = exact ? "" : " (The packing is first-fit decreasing, which can miss a placement when replica and node sizes do not divide each other.)";
    return `${head}: ${count(unplaced, "replica")} ${unplaced === 1 ? "does" : "do"} not fit the GPU node groups at max size (${own.map(poolText).join(", ")}), `
        + `since a replica does not span nodes and ${perNodeText(own, item.gpus)}${shared}; lower ${field} to ${item.replicas - unplaced} or raise scalingConfig.maxSize.${heuristic}`;
}

/** EKS best practices, AI/ML compute: the GPU pool at its max size has a node for every replica the autoscalers may ask for. */
export const gpuCapacityFit = stackRule<CapacityConfig>({
    name: "gpu-capacity-fit",
    description: "Every GPU workload at its max replicas, packed replica by replica (a replica does not span nodes), fits the GPU node groups at their max size.",
    enforcementLevel: "advisory",
    properties: {
        ...GPU_POOL_PROPERTIES,
        gpusPerInstanceType: {
            type: "object", default: {},
            description: "GPUs per node by EC2 instance type, added to (or overriding) the built-in table (lib/instance-types.ts: g4dn, g5, g6, gr6, g6e, p4d, p4de, p5, p5e and p5en sizes).",
        },
        gpusPerNodeKey: {
            type: "string", minLength: 1, default: DEFAULT_GPUS_PER_NODE_KEY,
            description: "A node group tag or label stating its GPUs per node; it wins over the instance type table.",
        },
    },
}, (resources, config, reportViolation) => {
    if (!resources.some((resource) => resource.type === NODE_GROUP)) {
        return; // no node groups in the stack (local, `npm run check`): nothing to compare with
    }
    const groups = resources.filter((resource) => resource.type === NODE_GROUP && isGpuNodeGroup(resource.props, config));
    const pools = gpuPools(groups, config, reportViolation);
    if (pools === undefined) {
        return;
    }
    const items = gpuWorkloads(resources, groups);
    const packing = packReplicas(pools, items);
    items.forEach((item, index) => {
        const unplaced = packing.unplaced[index];
        if (unplaced > 0) {
            reportViolation(misfitMessage(item, unplaced, pools, items, packing.exact), item.urn);
        }
    });
});

/** The GPU node groups at max size, or undefined (each reported) when one's size is unknown. */
function gpuPools(groups: readonly PolicyResource[], config: CapacityConfig, reportViolation: ReportViolation): GpuPool[] | undefined {
    const table = { ...DEFAULT_GPUS_PER_INSTANCE_TYPE, ...asRecord(config.gpusPerInstanceType) } as Record<string, number>;
    const key = config.gpusPerNodeKey ?? DEFAULT_GPUS_PER_NODE_KEY;
    let undetermined = false;
    const pools: GpuPool[] = [];
    for (const group of groups) {
        const perNode = gpusPerNode(group.props, table, key);
        const maxSize = wholeNumber(at(group.props, "scalingConfig", "maxSize"));
        if (perNode === undefined || maxSize === undefined) {
            undetermined = true;
            reportViolation(perNode === undefined
                ? `GPU node group ${group.name}: its GPUs per node are unknown (instanceTypes not in gpusPerInstanceType, no ${key} tag); add them to the rule's config.`
                : `GPU node group ${group.name}: scalingConfig.maxSize is not a whole number; set it so that GPU capacity can be checked.`, group.urn);
            continue;
        }
        pools.push({ name: group.name, nodes: maxSize, gpusPerNode: perNode });
    }
    return undetermined ? undefined : pools;
}

export const autoscalingRules = [kedaFallback, autoscalerTarget, gpuCapacityFit, ...replicaRules];
