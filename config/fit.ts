import { allocatable, instanceFacts } from "../lib/instance-types";
import { parseQuantity } from "../lib/quantity";
import { isCount } from "./fields";
import type { CrossFieldProblem } from "./models";
import { isRecord } from "./project";

/**
 * Does one replica of a model fit one node? The kubelet admits a pod only when its requests fit
 * the node's allocatable less what the pods already there request; on a GPU node those are the
 * node agents, DaemonSets that start before any model and stay. Their requests, per node:
 */
export interface NodeAgent {
    readonly name: string;
    readonly cpuMillis: number;
    readonly memoryBytes: number;
}

const MI = 2 ** 20;
const GI = 2 ** 30;

/**
 * The node agents on every GPU node except Alloy (whose requests are the stack's
 * `observability.alloy.resources`, see nodeAgents). test/node-fit.test.ts holds our own figures
 * to the values the components render, so they cannot drift apart.
 */
export const GPU_NODE_AGENTS: readonly NodeAgent[] = [
    // Ours: components/gpu/gpu-runtime.ts devicePluginValues, dcgmExporterValues (one container each).
    { name: "nvidia-device-plugin", cpuMillis: 50, memoryBytes: 64 * MI },
    { name: "dcgm-exporter", cpuMillis: 100, memoryBytes: 128 * MI },
    // Ours: components/observability/prometheus-values.ts, "prometheus-node-exporter" (tolerates the GPU taint).
    { name: "node-exporter", cpuMillis: 20, memoryBytes: 32 * MI },
    // Ours: components/observability/logging-values.ts alloyValues, the config-reloader sidecar.
    { name: "alloy config-reloader", cpuMillis: 10, memoryBytes: 32 * MI },
    // EKS add-ons (lib/eks.ts ADDONS), their DaemonSets tolerate every taint:
    // - vpc-cni: aws-node 25m and aws-eks-nodeagent 25m, no memory request (aws/amazon-vpc-cni-k8s
    //   config/master/aws-k8s-cni.yaml, v1.23.1, the manifest the add-on ships; its init container's
    //   25m does not add: the larger of init and regular containers counts).
    { name: "aws-node (vpc-cni)", cpuMillis: 50, memoryBytes: 0 },
    // - kube-proxy: 100m, no memory request. The add-on's manifest is not published (no chart:
    //   aws/containers-roadmap#1503); 100m is what `kubectl -n kube-system get ds kube-proxy` shows
    //   on EKS and the upstream kube-proxy manifest's request (kubernetes cluster/gce/manifests/
    //   kube-proxy.manifest); "no memory request" is aws/containers-roadmap#1509. Not read in a source.
    { name: "kube-proxy", cpuMillis: 100, memoryBytes: 0 },
    // - aws-ebs-csi-driver node: ebs-plugin 10m/40Mi (values.yaml node.resources), node-driver-registrar
    //   and liveness-probe 10m/32Mi each (templates/_node.tpl defaults when sidecars.*.resources is
    //   empty): kubernetes-sigs/aws-ebs-csi-driver charts/aws-ebs-csi-driver, commit 429e202e.
    { name: "ebs-csi-node", cpuMillis: 30, memoryBytes: 104 * MI },
    // - aws-efs-csi-driver node and eks-pod-identity-agent: no requests (node.resources and
    //   resources are {} in kubernetes-sigs/aws-efs-csi-driver charts/aws-efs-csi-driver/values.yaml
    //   and aws/eks-pod-identity-agent charts/eks-pod-identity-agent/values.yaml; efs-csi-node at
    //   0 requests on a cluster: aws/containers-roadmap#2155). The add-ons are built from these
    //   charts; their own values are not published.
    { name: "efs-csi-node", cpuMillis: 0, memoryBytes: 0 },
    { name: "eks-pod-identity-agent", cpuMillis: 0, memoryBytes: 0 },
];

/** The node agents of a stack: GPU_NODE_AGENTS and Alloy at `observability.alloy.resources` (raw: unparsable counts 0, its own check reports it). */
export function nodeAgents(observability: unknown): NodeAgent[] {
    const alloy = isRecord(observability) && isRecord(observability.alloy) && isRecord(observability.alloy.resources) ? observability.alloy.resources : {};
    return [...GPU_NODE_AGENTS, { name: "alloy", cpuMillis: millis(alloy.cpu) ?? 0, memoryBytes: bytes(alloy.memory) ?? 0 }];
}

/** What the fit reads of a model: its server container's requests and its GPUs. */
export interface FitModel {
    readonly resources: { readonly cpu: string | number; readonly memory: string | number };
    readonly gpusPerReplica: number;
}

export interface Amounts { readonly cpuMillis: number; readonly memoryBytes: number; readonly gpus: number }

export interface NodeFit {
    readonly instanceType: string;
    readonly vcpus: number;
    readonly memoryGiB: number;
    /** The node's allocatable less the node agents' requests: what one node leaves model pods. */
    readonly free: Amounts;
    /** One replica's requests (the server container: the init container asks for less). */
    readonly requested: Amounts;
    readonly fits: { readonly cpu: boolean; readonly memory: boolean; readonly gpus: boolean };
    /** Replicas of this model one empty node holds (0 when one does not fit). */
    readonly replicasPerNode: number;
}

/**
 * One replica of `model` against one empty node of `instanceType` (lib/instance-types.ts
 * allocatable, less `agents`). Undefined for a type without facts or requests that do not parse.
 */
export function nodeFit(model: FitModel, instanceType: string, agents: readonly NodeAgent[] = nodeAgents(undefined)): NodeFit | undefined {
    const node = allocatable(instanceType);
    const facts = instanceFacts(instanceType);
    const cpuMillis = millis(model.resources.cpu);
    const memoryBytes = bytes(model.resources.memory);
    if (!node || !facts || cpuMillis === undefined || memoryBytes === undefined) {
        return undefined;
    }
    const free: Amounts = {
        cpuMillis: node.cpuMillis - agents.reduce((sum, agent) => sum + agent.cpuMillis, 0),
        memoryBytes: node.memoryBytes - agents.reduce((sum, agent) => sum + agent.memoryBytes, 0),
        gpus: node.gpus,
    };
    const requested: Amounts = { cpuMillis, memoryBytes, gpus: model.gpusPerReplica };
    const fits = { cpu: cpuMillis <= free.cpuMillis, memory: memoryBytes <= free.memoryBytes, gpus: model.gpusPerReplica <= free.gpus };
    const per = (have: number, want: number) => (want > 0 ? Math.floor(have / want) : Number.POSITIVE_INFINITY);
    const replicasPerNode = Math.max(0, Math.min(per(free.cpuMillis, cpuMillis), per(free.memoryBytes, memoryBytes), per(free.gpus, model.gpusPerReplica)));
    return {
        instanceType, vcpus: facts.vcpus, memoryGiB: facts.memoryGiB, free, requested, fits,
        replicasPerNode: Number.isFinite(replicasPerNode) ? replicasPerNode : 0,
    };
}

/** What the fit checks read of the stack (raw, merged values: they may be invalid). */
export interface FitContext {
    readonly target?: unknown;
    readonly gpuPool?: unknown;
    readonly observability?: unknown;
}

type Problem = (path: (string | number)[], input: unknown, message: string) => void;

/**
 * Per model (paths start at the model's index): its memory-backed /dev/shm within its memory
 * limit, on every target; and, on target aws, one replica of a GPU model within one node of every
 * instance type of the GPU pool. GPU counts are config/models.ts checkPlacement's (against
 * gpuPool.gpusPerNode, which config/aws.ts holds to the same facts): not repeated here.
 */
export function nodeFitProblems(models: readonly unknown[], context: FitContext = {}): CrossFieldProblem[] {
    const problems: CrossFieldProblem[] = [];
    const agents = nodeAgents(context.observability);
    const types = context.target === "aws" && isRecord(context.gpuPool) && Array.isArray(context.gpuPool.instanceTypes)
        ? context.gpuPool.instanceTypes.filter((type): type is string => typeof type === "string" && instanceFacts(type) !== undefined)
        : [];
    models.forEach((model, index) => {
        const problem: Problem = (path, input, message) => problems.push({ path: [index, ...path], input, message });
        const fields = isRecord(model) ? model : {};
        const resources = isRecord(fields.resources) ? fields.resources : {};
        checkShm(resources, problem);
        if (isCount(fields.gpusPerReplica) && fields.gpusPerReplica > 0 && quantityLike(resources.cpu) && quantityLike(resources.memory)) {
            const fitModel: FitModel = { resources: { cpu: resources.cpu, memory: resources.memory }, gpusPerReplica: fields.gpusPerReplica };
            checkNodes(fitModel, types, agents, problem);
        }
    });
    return problems;
}

/**
 * The /dev/shm emptyDir has medium Memory (components/model-server/deployment.ts): "the files you
 * write count against your container's memory limit" (Kubernetes docs, Concepts > Storage >
 * Volumes, emptyDir; EmptyDirVolumeSource.sizeLimit: a memory-backed volume's usage is at most
 * the sum of the pod's memory limits). A larger sizeLimit is a promise the limit breaks: the engine
 * is OOM-killed before /dev/shm is full.
 */
function checkShm(resources: Record<string, unknown>, problem: Problem): void {
    const [shm, limit] = [bytes(resources.shmSize), bytes(resources.memoryLimit)];
    if (shm !== undefined && limit !== undefined && shm > limit) {
        problem(["resources", "shmSize"], resources.shmSize,
            `is more than resources.memoryLimit (${String(resources.memoryLimit)}): /dev/shm is memory (emptyDir medium Memory) and counts against the container's memory limit`);
    }
}

function checkNodes(model: FitModel, types: readonly string[], agents: readonly NodeAgent[], problem: Problem): void {
    const fits = types.map((type) => nodeFit(model, type, agents)).filter((fit): fit is NodeFit => fit !== undefined);
    const report = (key: "cpu" | "memory", free: (fit: NodeFit) => number, describe: (fit: NodeFit) => string) => {
        const failing = fits.filter((fit) => !fit.fits[key]).sort((a, b) => free(a) - free(b));
        if (failing.length === 0) {
            return;
        }
        const [tightest, ...others] = failing;
        const also = others.length > 0 ? ` (nor ${others.map((fit) => fit.instanceType).join(", ")})` : "";
        problem(["resources", key], model.resources[key], `does not fit one ${tightest.instanceType} node${also}: ${describe(tightest)}`);
    };
    report("cpu", (fit) => fit.free.cpuMillis,
        (fit) => `${String(model.resources.cpu)} requested, ${cores(fit.free.cpuMillis)} CPUs allocatable after the node agents (${fit.vcpus} vCPUs node)`);
    report("memory", (fit) => fit.free.memoryBytes,
        (fit) => `${String(model.resources.memory)} requested, ${gib(fit.free.memoryBytes)}Gi allocatable after the node agents (${fit.memoryGiB} GiB node)`);
}

function quantityLike(value: unknown): value is string | number {
    return typeof value === "string" || typeof value === "number";
}

function millis(value: unknown): number | undefined {
    const parsed = parseQuantity(value);
    // Up to whole millicores, as the API server rounds CPU; toFixed drops binary noise ("3510m" is 3.5100000000000002 cores).
    return parsed === undefined ? undefined : Math.ceil(Number((parsed * 1000).toFixed(6)));
}

function bytes(value: unknown): number | undefined {
    const parsed = parseQuantity(value);
    return parsed === undefined ? undefined : Math.ceil(Number(parsed.toFixed(6)));
}

/** Cores, at most 2 decimals, rounded down (never states more room than there is). */
function cores(millicores: number): string {
    return String(Math.floor(millicores / 10) / 100);
}

/** GiB, 1 decimal, rounded down. */
function gib(value: number): string {
    return String(Math.floor(value / GI * 10) / 10);
}
