import { dump } from "js-yaml";
import { isRecord } from "../../config/project";
import type { RecordedResource } from "./run";

export interface KubernetesObject {
    readonly apiVersion: string;
    readonly kind: string;
    readonly metadata: { readonly name?: string; readonly namespace?: string; readonly [key: string]: unknown };
    readonly [key: string]: unknown;
}

/** `apps/v1` + `Deployment` -> `kubernetes:apps/v1:Deployment`, as @pulumi/kubernetes names it. */
export function typeToken(apiVersion: string, kind: string): string {
    return `kubernetes:${apiVersion.includes("/") ? apiVersion : `core/${apiVersion}`}:${kind}`;
}

/** Types that stand for many objects (rendered elsewhere) rather than one. */
const NOT_OBJECTS = /^kubernetes:(helm\.sh\/v[0-9]+:(Chart|Release)|yaml\/v[0-9]+:Config(Group|File)|kustomize\/v[0-9]+:Directory)$/;

/** Apply order, as Helm installs kinds (helm.sh/helm/v3/pkg/releaseutil/kind_sorter.go). */
const KIND_ORDER = [
    "PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodDisruptionBudget",
    "ServiceAccount", "Secret", "ConfigMap", "StorageClass", "PersistentVolume", "PersistentVolumeClaim",
    "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Service",
    "DaemonSet", "Pod", "ReplicaSet", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob",
    "IngressClass", "Ingress", "APIService", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
];

/** The Kubernetes objects the program declares itself, in a stable apply order. */
export function kubernetesObjects(resources: readonly RecordedResource[]): KubernetesObject[] {
    return resources
        .filter((resource) => resource.custom && resource.type.startsWith("kubernetes:") && !NOT_OBJECTS.test(resource.type))
        .map((resource) => resource.inputs)
        .filter(isKubernetesObject)
        .sort(compareObjects);
}

/** The objects in apply order (as Helm installs kinds), then by namespace and name. */
export function sortObjects(objects: readonly KubernetesObject[]): KubernetesObject[] {
    return [...objects].sort(compareObjects);
}

/** An object with an apiVersion, a kind and metadata. */
export function isKubernetesObject(value: unknown): value is KubernetesObject {
    return isRecord(value) && typeof value.apiVersion === "string" && typeof value.kind === "string" && isRecord(value.metadata);
}

function compareObjects(a: KubernetesObject, b: KubernetesObject): number {
    return kindRank(a.kind) - kindRank(b.kind)
        || a.kind.localeCompare(b.kind)
        || (a.metadata.namespace ?? "").localeCompare(b.metadata.namespace ?? "")
        || (a.metadata.name ?? "").localeCompare(b.metadata.name ?? "");
}

function kindRank(kind: string): number {
    const rank = KIND_ORDER.indexOf(kind);
    return rank === -1 ? KIND_ORDER.length : rank;
}

/** One multi-document YAML file; each object with apiVersion, kind and metadata first. */
export function toManifestYaml(objects: readonly KubernetesObject[]): string {
    return objects
        .map(({ apiVersion, kind, metadata, ...rest }) => dump({ apiVersion, kind, metadata, ...rest }, { lineWidth: -1, noRefs: true }))
        .join("---\n");
}
