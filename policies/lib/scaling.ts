/**
 * The stack seen as autoscalers and the workloads they scale, for the stack rules of
 * policies/rules/autoscaling*.ts.
 */
import type { PolicyResource } from "@pulumi/policy";
import { Workload, workloadOf } from "./pods";
import { asRecord, asString, asStringMap, at, objectName, objectNamespace } from "./values";

export const SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject";
/**
 * The KEDA HTTP add-on's HTTPScaledObject: its operator creates a ScaledObject of the same name for
 * its scaleTargetRef unless the annotation below is "true" (http-add-on v0.15.0,
 * operator/controllers/http/app.go), so it counts as an autoscaler unless it carries it.
 */
export const HTTP_SCALED_OBJECT = "kubernetes:http.keda.sh/v1alpha1:HTTPScaledObject";
export const SKIP_SCALED_OBJECT_ANNOTATION = "httpscaledobject.keda.sh/skip-scaledobject-creation";
export const HPA_TYPES = [
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
    "kubernetes:autoscaling/v1:HorizontalPodAutoscaler",
    "kubernetes:autoscaling/v2beta2:HorizontalPodAutoscaler",
];
/** Workloads with a replica count; the autoscalers' usual targets. */
export const SCALABLE_TYPES = [
    "kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:ReplicaSet", "kubernetes:core/v1:ReplicationController",
];
/** KEDA's maxReplicaCount when a ScaledObject leaves it unset. */
export const KEDA_DEFAULT_MAX_REPLICAS = 100;

export function wholeNumber(value: unknown): number | undefined {
    return typeof value === "number" && Number.isInteger(value) ? value : undefined;
}

export function kindOf(type: string): string {
    return type.slice(type.lastIndexOf(":") + 1);
}

/** A ScaledObject, HorizontalPodAutoscaler or HTTPScaledObject (one that creates a ScaledObject), with what it scales. */
export interface Autoscaler {
    readonly resource: PolicyResource;
    readonly kind: "ScaledObject" | "HorizontalPodAutoscaler" | "HTTPScaledObject";
    readonly name: string;
    readonly namespace: string;
    /** KEDA defaults it to Deployment; an HPA must name it. */
    readonly targetKind?: string;
    readonly targetName?: string;
    /** KEDA (and the HTTP add-on) default it to 100; undefined for an HPA without a whole number. */
    readonly maxReplicas?: number;
    readonly maxIsDefault: boolean;
}

/** The field of an autoscaler that holds its max replicas. */
export function maxReplicasField(kind: Autoscaler["kind"]): string {
    return kind === "ScaledObject" ? "maxReplicaCount" : kind === "HTTPScaledObject" ? "replicas.max" : "maxReplicas";
}

function httpScaledObjectOf(resource: PolicyResource): Autoscaler | undefined {
    if (at(resource.props, "metadata", "annotations", SKIP_SCALED_OBJECT_ANNOTATION) === "true") {
        return undefined;
    }
    const spec = asRecord(resource.props.spec);
    const ref = asRecord(spec.scaleTargetRef);
    const declaredMax = wholeNumber(at(spec, "replicas", "max"));
    return {
        resource,
        kind: "HTTPScaledObject",
        name: objectName(resource.props, resource.name),
        namespace: objectNamespace(resource.props),
        targetKind: asString(ref.kind) ?? "Deployment",
        targetName: asString(ref.name),
        maxReplicas: declaredMax ?? KEDA_DEFAULT_MAX_REPLICAS,
        maxIsDefault: declaredMax === undefined,
    };
}

export function autoscalerOf(resource: PolicyResource): Autoscaler | undefined {
    if (resource.type === HTTP_SCALED_OBJECT) {
        return httpScaledObjectOf(resource);
    }
    const scaledObject = resource.type === SCALED_OBJECT;
    if (!scaledObject && !HPA_TYPES.includes(resource.type)) {
        return undefined;
    }
    const spec = asRecord(resource.props.spec);
    const ref = asRecord(spec.scaleTargetRef);
    const declaredMax = wholeNumber(scaledObject ? spec.maxReplicaCount : spec.maxReplicas);
    return {
        resource,
        kind: scaledObject ? "ScaledObject" : "HorizontalPodAutoscaler",
        name: objectName(resource.props, resource.name),
        namespace: objectNamespace(resource.props),
        targetKind: asString(ref.kind) ?? (scaledObject ? "Deployment" : undefined),
        targetName: asString(ref.name),
        maxReplicas: declaredMax ?? (scaledObject ? KEDA_DEFAULT_MAX_REPLICAS : undefined),
        maxIsDefault: scaledObject && declaredMax === undefined,
    };
}

export function autoscalersIn(resources: readonly PolicyResource[]): Autoscaler[] {
    return resources.map(autoscalerOf).filter((autoscaler): autoscaler is Autoscaler => autoscaler !== undefined);
}

/** The resources an autoscaler's scaleTargetRef names: same kind and name, in its namespace. */
export function targetsOf(autoscaler: Autoscaler, resources: readonly PolicyResource[]): PolicyResource[] {
    // The kind first: it rules out most resources before autoscalerOf reads their spec.
    return resources.filter((resource) => kindOf(resource.type) === autoscaler.targetKind && autoscalerOf(resource) === undefined
        && objectName(resource.props, resource.name) === autoscaler.targetName && objectNamespace(resource.props) === autoscaler.namespace);
}

/** A workload with a replica count, and how many replicas it can run (its own count, or its autoscalers' max). */
export interface ScalableWorkload {
    readonly resource: PolicyResource;
    readonly workload: Workload;
    /** Labels of the pods it creates (the template's), which PDBs and spread constraints select. */
    readonly podLabels: Record<string, string>;
    readonly autoscalers: readonly Autoscaler[];
    readonly maxReplicas: number;
}

export function scalableWorkloads(resources: readonly PolicyResource[]): ScalableWorkload[] {
    const autoscalers = autoscalersIn(resources);
    return resources.filter((resource) => SCALABLE_TYPES.includes(resource.type)).flatMap((resource) => {
        const workload = workloadOf(resource.type, resource.props, resource.name);
        if (!workload) {
            return [];
        }
        const own = autoscalers.filter((autoscaler) => targetsOf(autoscaler, [resource]).length > 0);
        const replicas = wholeNumber(at(resource.props, "spec", "replicas")) ?? 1;
        const maxReplicas = Math.max(replicas, ...own.map((autoscaler) => autoscaler.maxReplicas ?? replicas));
        return [{ resource, workload, podLabels: asStringMap(at(resource.props, "spec", "template", "metadata", "labels")), autoscalers: own, maxReplicas }];
    });
}

/** `ScaledObject qwen`, `Deployment web`. */
export function label(kind: string, name: string): string {
    return `${kind} ${name}`;
}

/**
 * Whether a label selector (matchLabels and matchExpressions) selects pods with these
 * labels. An empty selector selects every pod; a missing one (null) selects none, as a
 * policy/v1 PodDisruptionBudget reads it.
 */
export function selects(selector: unknown, labels: Record<string, string>): boolean {
    if (typeof selector !== "object" || selector === null || Array.isArray(selector)) {
        return false;
    }
    const { matchLabels, matchExpressions } = selector as Record<string, unknown>;
    const labelsMatch = Object.entries(asRecord(matchLabels)).every(([key, value]) => labels[key] === value);
    const expressionsMatch = (Array.isArray(matchExpressions) ? matchExpressions : []).map(asRecord).every((expression) => {
        const key = asString(expression.key) ?? "";
        const values = Array.isArray(expression.values) ? expression.values : [];
        switch (expression.operator) {
            case "In": return key in labels && values.includes(labels[key]);
            case "NotIn": return !(key in labels) || !values.includes(labels[key]);
            case "Exists": return key in labels;
            case "DoesNotExist": return !(key in labels);
            default: return false;
        }
    });
    return labelsMatch && expressionsMatch;
}
