/** What the API server knows of kinds: which a CRD serves, and which have no namespace. */
import { isRecord } from "../../config/project";
import type { KubernetesObject } from "./manifests";

export function isCrd(object: Record<string, unknown>): object is KubernetesObject {
    return object.kind === "CustomResourceDefinition";
}

/** One version a CRD serves. */
export interface CrdVersion {
    readonly group: string;
    readonly version: string;
    readonly kind: string;
    readonly schema?: Record<string, unknown>;
}

/** Every version the CRDs serve, with its openAPIV3Schema. */
export function servedVersions(crds: readonly KubernetesObject[]): CrdVersion[] {
    return crds.flatMap((crd) => {
        const spec = isRecord(crd.spec) ? crd.spec : {};
        const { group, names } = spec;
        const kind = isRecord(names) ? names.kind : undefined;
        if (typeof group !== "string" || typeof kind !== "string") {
            return [];
        }
        return (Array.isArray(spec.versions) ? spec.versions.filter(isRecord) : [])
            .filter((version) => version.served !== false && typeof version.name === "string")
            .map((version) => {
                const schema = isRecord(version.schema) ? version.schema.openAPIV3Schema : undefined;
                return { group, version: version.name as string, kind, schema: isRecord(schema) ? schema : undefined };
            });
    });
}

/** `group/version` and `group/version/Kind` of every served version of the CRDs, as `helm --api-versions` takes them. */
export function crdApiVersions(crds: readonly KubernetesObject[]): string[] {
    const versions = servedVersions(crds).flatMap(({ group, version, kind }) => [`${group}/${version}`, `${group}/${version}/${kind}`]);
    return [...new Set(versions)].sort();
}

/**
 * Kinds without a namespace: the built-in cluster-scoped kinds of Kubernetes 1.35 (`kubectl
 * api-resources --namespaced=false`) and the CRDs of scope Cluster. The provider asks the cluster
 * (clients.IsNamespacedKind); offline, a kind neither lists is taken as namespaced.
 */
const BUILT_IN_CLUSTER_SCOPED = [
    "APIService", "CSIDriver", "CSINode", "CertificateSigningRequest", "ClusterRole", "ClusterRoleBinding",
    "ClusterTrustBundle", "ComponentStatus", "CustomResourceDefinition", "DeviceClass", "FlowSchema", "IPAddress",
    "IngressClass", "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding", "MutatingWebhookConfiguration",
    "Namespace", "Node", "PersistentVolume", "PriorityClass", "PriorityLevelConfiguration", "ResourceSlice",
    "RuntimeClass", "ServiceCIDR", "StorageClass", "StorageVersionMigration", "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding", "ValidatingWebhookConfiguration", "VolumeAttachment", "VolumeAttributesClass",
];

export function clusterScopedKinds(crds: readonly KubernetesObject[]): Set<string> {
    const kinds = new Set(BUILT_IN_CLUSTER_SCOPED);
    for (const crd of crds) {
        const spec = isRecord(crd.spec) ? crd.spec : {};
        if (spec.scope === "Cluster" && isRecord(spec.names) && typeof spec.names.kind === "string") {
            kinds.add(spec.names.kind);
        }
    }
    return kinds;
}
