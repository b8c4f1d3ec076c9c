/**
 * What box a single-node stack needs: the cpu and memory requests of every pod it runs, with
 * its models at their minimum and at their maximum replicas, from what the plan recorded.
 *
 * - The program's own workloads (Deployments, StatefulSets, DaemonSets) from their inputs; a
 *   workload a ScaledObject scales counts its minReplicaCount and maxReplicaCount.
 * - A rendered chart's workloads from the rendered objects, and the pods the Prometheus operator
 *   makes of a rendered Prometheus or Alertmanager (spec.resources and the config reloader the
 *   operator adds, sized by its Deployment's --config-reloader-* arguments).
 * - A chart that was not rendered: its pods as CHART_PODS reads them from our values for it, an
 *   estimate that the plan's line says it is; a chart CHART_PODS does not know is named as not counted.
 *
 * A pod requests the most of the sum of its containers (with sidecar init containers) and each
 * init container (Kubernetes' effective request; the kubelet's pod overhead is nil without a
 * RuntimeClass that sets one). A DaemonSet counts once: one node. Jobs run to completion (the
 * weights download, once per revision) and are not counted.
 */
import { parseQuantity } from "../../lib/quantity";
import { kindOf } from "../../policies/lib/scaling";
import { at } from "../../policies/lib/values";
import type { ChartRendering } from "./render";
import type { RecordedResource } from "./run";

export interface Requests {
    /** Cores. */
    readonly cpu: number;
    /** Bytes. */
    readonly memory: number;
}

/** Pods of one kind, and how many of them run at the models' minimum and maximum. */
export interface Workload {
    readonly name: string;
    readonly pod: Requests;
    readonly min: number;
    readonly max: number;
    /** Scaled by a ScaledObject of the program: a model server. */
    readonly model: boolean;
}

export interface BoxNeeds {
    readonly workloads: readonly Workload[];
    readonly min: Requests;
    readonly max: Requests;
    /** Model replicas: the replicas of the program's scaled workloads, at min and at max. */
    readonly minReplicas: number;
    readonly maxReplicas: number;
    /** Charts whose pods are estimated from our values for them (not rendered). */
    readonly estimated: readonly string[];
    /** Charts neither rendered nor known to CHART_PODS. */
    readonly uncounted: readonly string[];
}

type Json = Record<string, unknown>;

const ZERO: Requests = { cpu: 0, memory: 0 };

function amount(value: unknown): number {
    return parseQuantity(value) ?? 0;
}

const add = (a: Requests, b: Requests): Requests => ({ cpu: a.cpu + b.cpu, memory: a.memory + b.memory });
const times = (a: Requests, n: number): Requests => ({ cpu: a.cpu * n, memory: a.memory * n });
const most = (a: Requests, b: Requests): Requests => ({ cpu: Math.max(a.cpu, b.cpu), memory: Math.max(a.memory, b.memory) });

/** A container's (or a values block's) `resources.requests`; a request left out is 0, as the scheduler counts it. */
export function containerRequests(resources: unknown): Requests {
    return { cpu: amount(at(resources, "requests", "cpu")), memory: amount(at(resources, "requests", "memory")) };
}

/**
 * A pod's effective request (kubernetes pkg/api/v1/resource helpers.go PodRequests): the larger
 * of the containers' sum (with sidecar init containers, restartPolicy Always) and each regular
 * init container with the sidecars started before it.
 */
export function podRequests(spec: unknown): Requests {
    const list = (key: string) => (Array.isArray(at(spec, key)) ? at(spec, key) as unknown[] : []);
    let sidecars = ZERO;
    let inits = ZERO;
    for (const init of list("initContainers")) {
        const requests = containerRequests(at(init, "resources"));
        if (at(init, "restartPolicy") === "Always") {
            sidecars = add(sidecars, requests);
            inits = most(inits, sidecars);
        } else {
            inits = most(inits, add(requests, sidecars));
        }
    }
    const containers = list("containers").reduce<Requests>((sum, container) => add(sum, containerRequests(at(container, "resources"))), ZERO);
    return most(add(containers, sidecars), inits);
}

const WORKLOAD_KINDS = ["Deployment", "StatefulSet", "DaemonSet"];

interface ObjectView {
    readonly kind: string;
    readonly name: string;
    readonly object: Json;
}

function view(type: string, object: Json): ObjectView | undefined {
    const kind = kindOf(type);
    const name = at(object, "metadata", "name");
    return typeof name === "string" ? { kind, name, object } : undefined;
}

/** minReplicaCount and maxReplicaCount of the ScaledObjects, by the Deployment (or StatefulSet) each scales. */
function scaledTargets(objects: readonly ObjectView[]): Map<string, { min: number; max: number }> {
    const targets = new Map<string, { min: number; max: number }>();
    for (const { object } of objects.filter((candidate) => candidate.kind === "ScaledObject")) {
        const target = at(object, "spec", "scaleTargetRef", "name");
        if (typeof target === "string") {
            // KEDA's defaults: minReplicaCount 0 (idle at zero), maxReplicaCount 100 (keda apis/keda/v1alpha1
            // scaledobject_types.go defaultHPAMaxReplicas).
            const min = at(object, "spec", "minReplicaCount");
            const max = at(object, "spec", "maxReplicaCount");
            targets.set(target, { min: typeof min === "number" ? min : 0, max: typeof max === "number" ? max : 100 });
        }
    }
    return targets;
}

function workloadsOf(objects: readonly ObjectView[], own: boolean): Workload[] {
    const scaled = scaledTargets(objects);
    return objects.filter(({ kind }) => WORKLOAD_KINDS.includes(kind)).map(({ kind, name, object }) => {
        const pod = podRequests(at(object, "spec", "template", "spec"));
        const range = scaled.get(name);
        if (range) {
            return { name, pod, min: range.min, max: range.max, model: own };
        }
        const replicas = kind === "DaemonSet" ? 1 : at(object, "spec", "replicas");
        const count = typeof replicas === "number" ? replicas : 1;
        return { name, pod, min: count, max: count, model: false };
    });
}

/** The config reloader the Prometheus operator adds to each pod it makes, from its Deployment's arguments. */
function operatorReloader(objects: readonly ObjectView[]): Requests {
    const args = objects.filter(({ kind }) => kind === "Deployment")
        .flatMap(({ object }) => (Array.isArray(at(object, "spec", "template", "spec", "containers")) ? at(object, "spec", "template", "spec", "containers") as unknown[] : []))
        .flatMap((container) => (Array.isArray(at(container, "args")) ? at(container, "args") as unknown[] : []))
        .filter((arg): arg is string => typeof arg === "string");
    const flag = (name: string) => amount(args.find((arg) => arg.startsWith(`--${name}=`))?.split("=")[1]);
    return { cpu: flag("config-reloader-cpu-request"), memory: flag("config-reloader-memory-request") };
}

/** Pods the Prometheus operator makes of the Prometheus and Alertmanager objects (prometheus-operator pkg/prometheus, pkg/alertmanager statefulset.go). */
function operatorPods(objects: readonly ObjectView[]): Workload[] {
    const reloader = operatorReloader(objects);
    return objects.filter(({ kind }) => kind === "Prometheus" || kind === "Alertmanager").map(({ name, object }) => {
        const replicas = at(object, "spec", "replicas");
        const count = typeof replicas === "number" ? replicas : 1;
        return { name, pod: add(containerRequests(at(object, "spec", "resources")), reloader), min: count, max: count, model: false };
    });
}

/** One kind of pod a chart runs, as our values for it size it. */
interface ChartPod {
    readonly name: string;
    /** Paths (in the chart's values) of the `resources` blocks of its containers. */
    readonly containers: readonly (readonly string[])[];
    /** Its replicas, from the values; 1 when not given (a DaemonSet: one node). */
    readonly replicas?: (values: Json) => number;
    /** Replicas the chart's own ScaledObject ranges over: the least at the models' minimum, the most at their maximum. */
    readonly scaled?: (values: Json) => { min: number; max: number };
    /** Runs only when this says so; always when not given. */
    readonly when?: (values: Json) => boolean;
}

const replicasAt = (...path: string[]) => (values: Json) => {
    const value = at(values, ...path);
    return typeof value === "number" ? value : 1;
};

/**
 * The pods each chart the program installs runs, read from the values we give it: the chart
 * templates that make them are named per chart. Keep in step with the values builders.
 */
export const CHART_PODS: Readonly<Record<string, readonly ChartPod[]>> = {
    // kube-prometheus-stack 88.5.3: templates/prometheus-operator/deployment.yaml, prometheus/prometheus.yaml and
    // alertmanager/alertmanager.yaml (the operator adds the config reloader, sized by prometheusConfigReloader),
    // the kube-state-metrics and prometheus-node-exporter (DaemonSet) subcharts, and grafana with its two sidecars.
    "kube-prometheus-stack": [
        { name: "prometheus-operator", containers: [["prometheusOperator", "resources"]] },
        {
            name: "prometheus",
            containers: [["prometheus", "prometheusSpec", "resources"], ["prometheusOperator", "prometheusConfigReloader", "resources"]],
            replicas: replicasAt("prometheus", "prometheusSpec", "replicas"),
        },
        {
            name: "alertmanager",
            containers: [["alertmanager", "alertmanagerSpec", "resources"], ["prometheusOperator", "prometheusConfigReloader", "resources"]],
            replicas: replicasAt("alertmanager", "alertmanagerSpec", "replicas"),
        },
        { name: "kube-state-metrics", containers: [["kube-state-metrics", "resources"]] },
        { name: "node-exporter", containers: [["prometheus-node-exporter", "resources"]] },
        {
            name: "grafana",
            containers: [["grafana", "resources"], ["grafana", "sidecar", "resources"], ["grafana", "sidecar", "resources"]],
            when: (values) => at(values, "grafana", "enabled") !== false,
        },
    ],
    // loki 18.11.0 (grafana-community): templates/single-binary/statefulset.yaml.
    loki: [{ name: "loki", containers: [["singleBinary", "resources"]], replicas: replicasAt("singleBinary", "replicas") }],
    // alloy 1.11.1: templates/controllers/daemonset.yaml, the alloy container and its config reloader.
    alloy: [{ name: "alloy", containers: [["alloy", "resources"], ["configReloader", "resources"]] }],
    // keda 2.20.2: templates/manager, metrics-server and webhooks deployment.yaml, one replica each.
    keda: [
        { name: "keda-operator", containers: [["resources", "operator"]] },
        { name: "keda-metrics-apiserver", containers: [["resources", "metricServer"]] },
        { name: "keda-admission-webhooks", containers: [["resources", "webhooks"]], when: (values) => at(values, "webhooks", "enabled") !== false },
    ],
    // keda-add-ons-http 0.15.0: templates/operator/deployment.yaml and scaler/deployment.yaml (`replicas`), and
    // interceptor/deployment.yaml, which interceptor/scaledobject.yaml scales from replicas.min to replicas.max.
    "keda-add-ons-http": [
        { name: "http-add-on-operator", containers: [["operator", "resources"]], replicas: replicasAt("operator", "replicas") },
        { name: "http-add-on-scaler", containers: [["scaler", "resources"]], replicas: replicasAt("scaler", "replicas") },
        {
            name: "http-add-on-interceptor",
            containers: [["interceptor", "resources"]],
            scaled: (values) => ({ min: replicasAt("interceptor", "replicas", "min")(values), max: replicasAt("interceptor", "replicas", "max")(values) }),
        },
    ],
};

function estimatedPods(chart: string, values: Json): Workload[] {
    return (CHART_PODS[chart] ?? []).filter((pod) => pod.when?.(values) ?? true).map((pod) => {
        const count = pod.replicas?.(values) ?? 1;
        const { min, max } = pod.scaled?.(values) ?? { min: count, max: count };
        const requests = pod.containers.reduce<Requests>((sum, path) => add(sum, containerRequests(at(values, ...path))), ZERO);
        return { name: pod.name, pod: requests, min, max, model: false };
    });
}

/** Everything the stack runs on one node, and what it adds up to. */
export function boxNeeds(resources: readonly RecordedResource[], charts: readonly ChartRendering[]): BoxNeeds {
    const own = resources.flatMap(({ type, inputs }) => view(type, inputs) ?? []);
    const workloads: Workload[] = workloadsOf(own, true);
    const estimated: string[] = [];
    const uncounted: string[] = [];
    for (const { release, objects, notRendered, error } of charts) {
        if (!notRendered && !error) {
            const rendered = objects.filter((object) => !object.hook).flatMap(({ type, object }) => view(type, object as Json) ?? []);
            workloads.push(...workloadsOf(rendered, false), ...operatorPods(rendered));
        } else if (CHART_PODS[release.chart]) {
            workloads.push(...estimatedPods(release.chart, release.values));
            estimated.push(release.chart);
        } else {
            uncounted.push(release.chart);
        }
    }
    const total = (count: (workload: Workload) => number) => workloads.reduce<Requests>((sum, workload) => add(sum, times(workload.pod, count(workload))), ZERO);
    const models = workloads.filter((workload) => workload.model);
    return {
        workloads,
        min: total((workload) => workload.min),
        max: total((workload) => workload.max),
        minReplicas: models.reduce((sum, workload) => sum + workload.min, 0),
        maxReplicas: models.reduce((sum, workload) => sum + workload.max, 0),
        estimated,
        uncounted,
    };
}

const GIB = 2 ** 30;

/** Rounded up to a tenth: a box that has less does not hold it. */
function tenths(value: number): string {
    return (Math.ceil(Math.round(value * 1e6) / 1e5) / 10).toFixed(1);
}

function size({ cpu, memory }: Requests): string {
    return `${tenths(cpu)} CPU / ${tenths(memory / GIB)} GiB`;
}

const replicas = (count: number) => `${count} ${count === 1 ? "replica" : "replicas"}`;

/**
 * The plan's line, e.g. `local needs 1.6 CPU / 3.2 GiB at min (1 replica), 4.6 CPU / 8.2 GiB at
 * max (5 replicas)`, then what of it is estimated or missing.
 */
export function boxLine(stack: string, needs: BoxNeeds): string {
    const line = `${stack} needs ${size(needs.min)} at min (${replicas(needs.minReplicas)}), ${size(needs.max)} at max (${replicas(needs.maxReplicas)})`;
    const notes = [
        ...(needs.estimated.length > 0 ? [`estimated: ${needs.estimated.join(", ")} counted from our values, not rendered (give --charts)`] : []),
        ...(needs.uncounted.length > 0 ? [`not counted: ${needs.uncounted.join(", ")}`] : []),
    ];
    return notes.length > 0 ? `${line} (${notes.join("; ")})` : line;
}

/**
 * An 8 GiB / 4-core box running k3s (the box the K3s design ran on), and what is not there for
 * pods. k3s sets no kube-reserved or system-reserved, and its kubelet's `eviction-hard` names only
 * imagefs and nodefs (k3s pkg/daemons/agent agent_linux.go), dropping the kubelet's default
 * memory.available<100Mi: the node's allocatable is all of it, and the scheduler places pods into
 * memory k3s itself uses. So the budget subtracts, besides the pods k3s ships:
 */
export const K3S_BOX = {
    capacity: { cpu: 4, memory: 8 * GIB },
    reserved: [
        // docs.k3s.io/reference/resource-profiling: "K3s server with a workload", 6% of a core and 1596 M
        // with kine/SQLite (system.slice/k3s.service: k3s and containerd), Intel 8375C.
        { what: "the k3s server and containerd", requests: { cpu: 0.06, memory: 1596e6 } },
        // k3s manifests/coredns.yaml (100m, 70Mi) and metrics-server (100m, 70Mi); Traefik, klipper-lb and
        // local-path-provisioner request nothing.
        { what: "CoreDNS and metrics-server (k3s's own pods)", requests: { cpu: 0.2, memory: 140 * 2 ** 20 } },
        // Not measured by k3s: "do not include overhead for system-level management agents or logging". A judgement.
        { what: "the host OS (sshd, journald, udev)", requests: { cpu: 0.1, memory: 256 * 2 ** 20 } },
    ],
} as const;

/** What the box leaves for the platform and its models. */
export function boxBudget(box: typeof K3S_BOX = K3S_BOX): Requests {
    return box.reserved.reduce<Requests>((left, { requests }) => ({ cpu: left.cpu - requests.cpu, memory: left.memory - requests.memory }), box.capacity);
}

/**
 * How many replicas of the stack's one model the budget holds beside everything else; undefined
 * with more or fewer models than one.
 */
export function replicasThatFit(needs: BoxNeeds, budget: Requests = boxBudget()): number | undefined {
    const models = needs.workloads.filter((workload) => workload.model);
    if (models.length !== 1) {
        return undefined;
    }
    const [model] = models;
    const rest = add(needs.min, times(model.pod, -model.min));
    const fit = Math.min((budget.cpu - rest.cpu) / model.pod.cpu, (budget.memory - rest.memory) / model.pod.memory);
    return Math.max(0, Math.floor(fit + 1e-9));
}
