import { Props, asArray, asRecord, asString, asStringMap, at, objectName, objectNamespace } from "./values";

/** Where each pod-bearing type keeps its pod spec. */
const POD_SPEC_PATHS: Readonly<Record<string, readonly string[]>> = {
    "kubernetes:core/v1:Pod": ["spec"],
    "kubernetes:core/v1:ReplicationController": ["spec", "template", "spec"],
    "kubernetes:apps/v1:Deployment": ["spec", "template", "spec"],
    "kubernetes:apps/v1:StatefulSet": ["spec", "template", "spec"],
    "kubernetes:apps/v1:DaemonSet": ["spec", "template", "spec"],
    "kubernetes:apps/v1:ReplicaSet": ["spec", "template", "spec"],
    "kubernetes:batch/v1:Job": ["spec", "template", "spec"],
    "kubernetes:batch/v1:CronJob": ["spec", "jobTemplate", "spec", "template", "spec"],
};

export const CONTAINER_LISTS = ["initContainers", "containers", "ephemeralContainers"] as const;

export interface ContainerRef {
    readonly list: (typeof CONTAINER_LISTS)[number];
    readonly name: string;
    readonly container: Props;
}

/** A resource that runs pods, seen through its pod spec. */
export interface Workload {
    readonly type: string;
    readonly kind: string;
    readonly name: string;
    readonly namespace: string;
    /** The pod template's labels (a Pod's own), merged over the workload's. */
    readonly labels: Record<string, string>;
    readonly props: Props;
    readonly spec: Props;
    /** Every container of the pod: init (native sidecars included), main and ephemeral. */
    readonly containers: readonly ContainerRef[];
}

/** The workload view of a pod-bearing resource, or undefined for any other type. */
export function workloadOf(type: string, props: Props, fallbackName: string): Workload | undefined {
    const path = POD_SPEC_PATHS[type];
    if (!path) {
        return undefined;
    }
    const spec = asRecord(at(props, ...path));
    const templateMetadata = type === "kubernetes:core/v1:Pod" ? at(props, "metadata") : at(props, ...path.slice(0, -1), "metadata");
    return {
        type,
        kind: type.slice(type.lastIndexOf(":") + 1),
        name: objectName(props, fallbackName),
        namespace: objectNamespace(props),
        labels: { ...asStringMap(at(props, "metadata", "labels")), ...asStringMap(at(templateMetadata, "labels")) },
        props,
        spec,
        containers: CONTAINER_LISTS.flatMap((list) => asArray(spec[list]).map((value, index) => {
            const container = asRecord(value);
            return { list, name: asString(container.name) ?? `${list}[${index}]`, container };
        })),
    };
}

/** `containers "vllm"`, `initContainers "wait"`: how messages name a container. */
export function describeContainer(ref: ContainerRef): string {
    return `${ref.list === "containers" ? "container" : ref.list.replace(/s$/, "")} "${ref.name}"`;
}
