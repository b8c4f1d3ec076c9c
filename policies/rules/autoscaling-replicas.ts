/** Rules on workloads that can run several replicas: disruption budgets, spreading, shared weights. */
import type { PolicyResource } from "@pulumi/policy";
import { isModelServer, modelServerImagesSchema } from "../lib/model-servers";
import { RuleConfig, stackRule } from "../lib/rule";
import { ScalableWorkload, label, scalableWorkloads, selects } from "../lib/scaling";
import { Props, asArray, asRecord, asString, at, objectName, objectNamespace } from "../lib/values";

export const PDB_TYPES = ["kubernetes:policy/v1:PodDisruptionBudget", "kubernetes:policy/v1beta1:PodDisruptionBudget"];
export const PVC_TYPE = "kubernetes:core/v1:PersistentVolumeClaim";

function describe(workload: ScalableWorkload): string {
    return label(workload.workload.kind, workload.workload.name);
}

/** An int-or-string budget field: a whole number, or a percentage; undefined when unset or unreadable. */
function budget(value: unknown): { count?: number; percent?: number } | undefined {
    if (typeof value === "number" && Number.isInteger(value)) {
        return { count: value };
    }
    const match = typeof value === "string" ? /^(\d+(?:\.\d+)?)(%?)$/.exec(value) : null;
    return match ? (match[2] === "%" ? { percent: Number(match[1]) } : { count: Number(match[1]) }) : undefined;
}

interface PdbConfig extends RuleConfig {
    readonly minReplicas?: number;
}

/** Gatekeeper K8sPodDisruptionBudget; kube-linter pdb-*: replicated workloads survive drains, and drains can finish. */
export const pdbSane = stackRule<PdbConfig>({
    name: "pdb-sane",
    description: "A workload that can run 2+ replicas has one PodDisruptionBudget in its namespace selecting its pods, and no budget blocks every drain.",
    enforcementLevel: "mandatory",
    properties: {
        minReplicas: { type: "integer", minimum: 2, default: 2, description: "Workloads that can run this many replicas (spec.replicas or an autoscaler's max) need a budget." },
    },
}, (resources, config, reportViolation) => {
    const workloads = scalableWorkloads(resources);
    const budgets = resources.filter((resource) => PDB_TYPES.includes(resource.type));
    // What each budget selects, matched once: asking it again for every workload made the rule
    // cubic in the number of models (workloads x budgets x workloads selector matches).
    const selectedBy = new Map(budgets.map((pdb) => [pdb, workloads.filter((workload) =>
        objectNamespace(pdb.props) === workload.workload.namespace && selects(at(pdb.props, "spec", "selector"), workload.podLabels))]));
    const selected = (pdb: PolicyResource) => selectedBy.get(pdb) ?? [];
    for (const workload of workloads) {
        if (workload.maxReplicas < (config.minReplicas ?? 2)) {
            continue;
        }
        const matching = budgets.filter((pdb) => selected(pdb).includes(workload));
        if (matching.length === 0) {
            reportViolation(`${describe(workload)}: can run ${workload.maxReplicas} replicas but no PodDisruptionBudget in namespace ${workload.workload.namespace} selects its pod labels; add one with maxUnavailable: 1.`, workload.resource.urn);
        } else if (matching.length > 1) {
            reportViolation(`${describe(workload)}: its pods are selected by ${matching.length} PodDisruptionBudgets (${matching.map((pdb) => objectName(pdb.props, pdb.name)).join(", ")}); the eviction API refuses pods with more than one, so keep one.`, workload.resource.urn);
        }
    }
    for (const pdb of budgets) {
        const where = label("PodDisruptionBudget", objectName(pdb.props, pdb.name));
        const spec = asRecord(pdb.props.spec);
        const maxUnavailable = budget(spec.maxUnavailable);
        const minAvailable = budget(spec.minAvailable);
        if (maxUnavailable && (maxUnavailable.count === 0 || maxUnavailable.percent === 0)) {
            reportViolation(`${where}: spec.maxUnavailable is ${JSON.stringify(spec.maxUnavailable)}, so no pod may ever be evicted and node drains hang; allow at least 1.`, pdb.urn);
        } else if (minAvailable?.percent !== undefined && minAvailable.percent >= 100) {
            reportViolation(`${where}: spec.minAvailable is ${JSON.stringify(spec.minAvailable)}, so no pod may ever be evicted and node drains hang; use maxUnavailable: 1.`, pdb.urn);
        } else if (minAvailable?.count !== undefined) {
            const blocked = selected(pdb).find((workload) => minAvailable.count! >= workload.maxReplicas);
            if (blocked) {
                reportViolation(`${where}: spec.minAvailable ${minAvailable.count} is not below the ${blocked.maxReplicas} replicas ${describe(blocked)} can run, so none of its pods may be evicted; use maxUnavailable: 1.`, pdb.urn);
            }
        }
    }
});

interface SpreadConfig extends RuleConfig {
    readonly topologyKeys?: readonly string[];
}

export const DEFAULT_TOPOLOGY_KEYS = ["kubernetes.io/hostname", "topology.kubernetes.io/zone"];

/** Whether the pod spec spreads these pods over one of the keys, by spread constraint or pod anti-affinity. */
function spreads(spec: Props, podLabels: Record<string, string>, keys: readonly string[]): "yes" | "other-pods" | "no" {
    const antiAffinity = asRecord(at(spec, "affinity", "podAntiAffinity"));
    const terms = [
        ...asArray(spec.topologySpreadConstraints).map(asRecord),
        ...asArray(antiAffinity.requiredDuringSchedulingIgnoredDuringExecution).map(asRecord),
        ...asArray(antiAffinity.preferredDuringSchedulingIgnoredDuringExecution).map((term) => asRecord(asRecord(term).podAffinityTerm)),
    ].filter((term) => keys.includes(asString(term.topologyKey) ?? ""));
    if (terms.length === 0) {
        return "no";
    }
    return terms.some((term) => selects(term.labelSelector, podLabels)) ? "yes" : "other-pods";
}

/** kube-linter no-anti-affinity: replicas of one workload do not share a node (or a zone). */
export const spreadReplicas = stackRule<SpreadConfig>({
    name: "spread-replicas",
    description: "A workload that can run 2+ replicas spreads them across nodes or zones with topologySpreadConstraints or podAntiAffinity.",
    enforcementLevel: "advisory",
    properties: {
        topologyKeys: {
            type: "array", items: { type: "string", minLength: 1 }, default: DEFAULT_TOPOLOGY_KEYS,
            description: "Topology keys a spread constraint or anti-affinity term may use.",
        },
    },
}, (resources, config, reportViolation) => {
    const keys = config.topologyKeys ?? DEFAULT_TOPOLOGY_KEYS;
    for (const workload of scalableWorkloads(resources)) {
        if (workload.maxReplicas < 2) {
            continue;
        }
        const verdict = spreads(workload.workload.spec, workload.podLabels, keys);
        if (verdict === "no") {
            reportViolation(`${describe(workload)}: can run ${workload.maxReplicas} replicas but has no topologySpreadConstraints or podAntiAffinity on ${keys.join(" or ")}; add one so that one node failure cannot take every replica.`, workload.resource.urn);
        } else if (verdict === "other-pods") {
            reportViolation(`${describe(workload)}: its spread constraints and anti-affinity terms on ${keys.join(" or ")} have a labelSelector that does not select its own pods; select the pod template's labels.`, workload.resource.urn);
        }
    }
});

interface AccessModeConfig extends RuleConfig {
    readonly modelServerImages?: readonly string[];
    readonly requireClaimInStack?: boolean;
}

const SHARED_MODES = ["ReadOnlyMany", "ReadWriteMany"];
const ACCESS_MODES = ["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"];

/** Kubernetes access modes: replicas on several nodes can only share a claim that allows many readers. */
export const modelPvcAccessMode = stackRule<AccessModeConfig>({
    name: "model-pvc-access-mode",
    description: "A model server that can run more than one replica mounts its weights claims ReadOnlyMany or ReadWriteMany, or one claim per replica.",
    enforcementLevel: "mandatory",
    properties: {
        modelServerImages: modelServerImagesSchema,
        requireClaimInStack: {
            type: "boolean", default: false,
            description: "Report a mounted claim that is not declared in the stack (its access mode cannot be checked); by default it is skipped.",
        },
    },
}, (resources, config, reportViolation) => {
    const claims = resources.filter((resource) => resource.type === PVC_TYPE);
    for (const workload of scalableWorkloads(resources)) {
        if (workload.maxReplicas < 2 || !isModelServer(workload.workload, config.modelServerImages)) {
            continue;
        }
        // StatefulSet volumeClaimTemplates (one claim per replica) are not pod volumes, so they pass.
        const mounted = new Set(workload.workload.containers.flatMap(({ container }) => asArray(container.volumeMounts).map((mount) => asString(asRecord(mount).name))));
        const claimNames = asArray(workload.workload.spec.volumes).map(asRecord)
            .filter((volume) => mounted.has(asString(volume.name)))
            .map((volume) => asString(at(volume, "persistentVolumeClaim", "claimName")))
            .filter((name): name is string => name !== undefined);
        for (const claimName of new Set(claimNames)) {
            const claim = claims.find((resource) => objectName(resource.props, resource.name) === claimName && objectNamespace(resource.props) === workload.workload.namespace);
            if (!claim) {
                if (config.requireClaimInStack === true) {
                    reportViolation(`${describe(workload)}: claim ${claimName} is not declared in namespace ${workload.workload.namespace} of this stack, so its access mode cannot be checked; declare it with ReadOnlyMany or ReadWriteMany.`, workload.resource.urn);
                }
                continue;
            }
            const modes = asArray(at(claim.props, "spec", "accessModes"));
            if (!modes.some((mode) => SHARED_MODES.includes(mode as string))) {
                const shown = modes.filter((mode) => ACCESS_MODES.includes(mode as string)).join(", ") || "unset";
                reportViolation(`${describe(workload)}: can run ${workload.maxReplicas} replicas but claim ${claimName} has accessModes ${shown}; replicas on other nodes could not mount it, so use ReadOnlyMany or ReadWriteMany (e.g. EFS), or one claim per replica.`, workload.resource.urn);
            }
        }
    }
});

export const replicaRules = [pdbSane, spreadReplicas, modelPvcAccessMode];
