import type * as pulumi from "@pulumi/pulumi";
import type { ModelConfig } from "../../config";
import { gpuNodeSelector, gpuToleration } from "../../lib/gpu-scheduling";
import { parseQuantity } from "../../lib/quantity";
import { EngineProfile, NON_ROOT_UID, apiKeyEnv, completeMarker, engineCommand } from "./engines";
import { ModelServerNames, commonLabels, podLabels, restrictedContainerSecurity, restrictedPodSecurity, selectorLabels } from "./names";

export const GPU_RESOURCE = "nvidia.com/gpu";
const WEIGHTS_MOUNT = "/models";
const CACHE_DIR = "/cache";

/** How long a replica may take to start, as probe settings: initialDelay + failureThreshold x period >= budget. */
export interface StartupProbeTiming {
    readonly initialDelaySeconds: number;
    readonly periodSeconds: number;
    readonly failureThreshold: number;
}

export function startupProbeTiming(startupBudgetSeconds: number, periodSeconds = 10): StartupProbeTiming {
    return { initialDelaySeconds: 0, periodSeconds, failureThreshold: Math.max(1, Math.ceil(startupBudgetSeconds / periodSeconds)) };
}

/**
 * How long the endpoint removal of a terminating pod takes to reach every client: the kubelet's
 * preStop hook and the EndpointSlice update start together when the pod is deleted, and
 * kube-proxy, the KEDA HTTP add-on's interceptor and Ingress controllers each learn of it a few
 * seconds later. Until then a request may still be sent to the pod, so the engine must still
 * take it. 15 s is what KServe's LLM templates sleep for the same reason (kserve/kserve#5485).
 */
export const ENDPOINT_PROPAGATION_SECONDS = 15;

/** After the drain: the engine's own exit (GPU memory freed, workers joined) before SIGKILL. */
export const EXIT_MARGIN_SECONDS = 15;

export interface DrainTiming {
    /** The preStop sleep: the pod still serves everything while its endpoint removal propagates. */
    readonly preStopSleepSeconds: number;
    /** The longest the engine takes after SIGTERM to finish its in-flight requests (its own timeout). */
    readonly engineShutdownSeconds: number;
    /** preStop + engine shutdown + margin: the kubelet's SIGKILL comes only after all of it. */
    readonly terminationGracePeriodSeconds: number;
}

/**
 * Drain, so that requests in flight when a pod is asked to stop get at least drainSeconds to finish.
 *
 * An engine that drains itself on SIGTERM (vLLM with --shutdown-timeout, TGI with
 * --graceful-termination-timeout, both set to drainSeconds by engineCommand) sleeps in preStop
 * only while its endpoint removal propagates, then stops taking requests and exits as soon as the
 * last one is done: an idle pod goes in about ENDPOINT_PROPAGATION_SECONDS, not drainSeconds. It
 * keeps serving during the sleep, so a request gets the sleep plus drainSeconds at the least.
 * (vLLM's drain answers new requests 503 and TGI's closes its listener: a sleep shorter than the
 * propagation would refuse requests still routed to the pod.)
 *
 * An engine that drops its connections on SIGTERM (Ollama) must finish before the signal: its
 * preStop sleeps drainSeconds (at least the propagation time), and SIGTERM then ends it at once.
 *
 * vLLM's deployment guide states the rule this keeps: terminationGracePeriodSeconds >= preStop
 * sleep + --shutdown-timeout (vllm-project/vllm docs/deployment/k8s.md, PR #43208); the margin
 * covers the exit after the drain. TGI's launcher then stops its shards with the same timeout;
 * they exit on SIGTERM within seconds (server/text_generation_server/server.py SignalHandler), and
 * a shard stuck past the margin is killed with no request left to lose.
 */
export function drainTiming(onSigterm: EngineProfile["onSigterm"], drainSeconds: number): DrainTiming {
    const preStopSleepSeconds = onSigterm === "drains" ? ENDPOINT_PROPAGATION_SECONDS : Math.max(drainSeconds, ENDPOINT_PROPAGATION_SECONDS);
    const engineShutdownSeconds = onSigterm === "drains" ? drainSeconds : 0;
    return { preStopSleepSeconds, engineShutdownSeconds, terminationGracePeriodSeconds: preStopSleepSeconds + engineShutdownSeconds + EXIT_MARGIN_SECONDS };
}

/** A Deployment's rolling update: how many extra pods it may add, and how many it may take down. */
export interface RollingUpdate {
    readonly maxSurge: number;
    readonly maxUnavailable: number;
}

/** Replace one replica at a time, starting its successor first: no capacity lost. */
export const SURGE: RollingUpdate = { maxSurge: 1, maxUnavailable: 0 };
/** Take one replica down, then start its successor: needs no spare GPU. */
export const REPLACE: RollingUpdate = { maxSurge: 0, maxUnavailable: 1 };

/** The GPU node pool at its largest: `gpuPool.maxSize` nodes of `gpuPool.gpusPerNode` GPUs. */
export interface GpuPoolSize {
    readonly maxSize: number;
    readonly gpusPerNode: number;
}

/**
 * The rollout strategy of a model. A surge pod needs a GPU no replica holds: when every GPU model
 * of the stack runs at its maxReplicas and the pool at its max size has no room left for one more
 * replica of this model, the surge pod stays Pending, the rollout never finishes and `pulumi up`
 * waits out its timeout (dev: 2 nodes x 1 GPU, qwen-1-5b at 2 replicas). Such a model rolls with
 * REPLACE: one old pod drains and goes, then its successor starts on the freed GPU. With
 * maxReplicas 1 that means no replica for the drain plus the new pod's start (up to
 * startupBudgetSeconds); a model that scales to zero is called through the HTTP add-on, whose
 * interceptor holds requests while the model has no ready endpoint. With room, or without GPUs,
 * or where the pool is unknown (`local`), SURGE.
 *
 * Room is counted per node, as the scheduler places pods: every GPU model's replicas at their
 * maxReplicas are packed, largest first, onto the pool's nodes, and this model needs one node
 * with gpusPerReplica GPUs still free.
 */
export function rollingUpdate(model: Pick<ModelConfig, "name" | "gpusPerReplica">, models: readonly Pick<ModelConfig, "name" | "gpusPerReplica" | "maxReplicas">[], pool?: GpuPoolSize): RollingUpdate {
    if (model.gpusPerReplica === 0 || pool === undefined) {
        return SURGE;
    }
    const free: number[] = Array.from({ length: pool.maxSize }, () => pool.gpusPerNode);
    const replicas = models.flatMap((other) => Array.from({ length: other.gpusPerReplica > 0 ? other.maxReplicas : 0 }, () => other.gpusPerReplica));
    for (const gpus of replicas.sort((a, b) => b - a)) {
        const node = free.findIndex((left) => left >= gpus);
        if (node < 0) {
            return REPLACE;
        }
        free[node] -= gpus;
    }
    return free.some((left) => left >= model.gpusPerReplica) ? SURGE : REPLACE;
}

/** The pod's security context: restricted as a non-root uid, or root with the rest restricted (TGI). */
function podSecurity(profile: EngineProfile) {
    if (profile.runAsUser !== 0) {
        return restrictedPodSecurity(profile.runAsUser);
    }
    return { runAsNonRoot: false, runAsUser: 0, runAsGroup: 0, fsGroup: NON_ROOT_UID, seccompProfile: { type: "RuntimeDefault" } };
}

/** A container's security context: restricted, and as root only where the engine needs it (TGI's server). */
function containerSecurity(profile: EngineProfile, { root }: { root: boolean }) {
    if (profile.runAsUser !== 0) {
        return restrictedContainerSecurity();
    }
    return root
        ? { ...restrictedContainerSecurity(), runAsNonRoot: false }
        // The weights-ready check needs no root: a pod-level uid 0 is overridden here.
        : { ...restrictedContainerSecurity(), runAsUser: NON_ROOT_UID, runAsGroup: NON_ROOT_UID };
}

/** Tolerations and node selection: GPU pods go to (and only to) the tainted GPU nodes. */
export function gpuPlacement(gpus: number) {
    if (gpus <= 0) {
        return {};
    }
    return {
        tolerations: [gpuToleration()],
        nodeSelector: gpuNodeSelector(),
    };
}

/** cpu/memory requests and limits; GPUs as limits equal to requests. */
export function serverResources(model: ModelConfig) {
    const gpu: Record<string, string> = model.gpusPerReplica > 0 ? { [GPU_RESOURCE]: String(model.gpusPerReplica) } : {};
    const { cpu, memory, cpuLimit, memoryLimit } = model.resources;
    return {
        requests: { cpu, memory, ...gpu },
        limits: { cpu: cpuLimit, memory: memoryLimit, ...gpu },
    };
}

/** Spread replicas over nodes and zones, softly: a scarce GPU pool must not leave a replica Pending. */
export function topologySpread(model: Pick<ModelConfig, "name">) {
    return ["kubernetes.io/hostname", "topology.kubernetes.io/zone"].map((topologyKey) => ({
        maxSkew: 1,
        topologyKey,
        whenUnsatisfiable: "ScheduleAnyway",
        labelSelector: { matchLabels: selectorLabels(model) },
    }));
}

export interface DeploymentOptions {
    readonly names: ModelServerNames;
    readonly profile: EngineProfile;
    /** The rolling update (rollingUpdate()). Defaults to SURGE. */
    readonly rollingUpdate?: RollingUpdate;
    /**
     * The name of the Secret holding the bearer key the engine requires (apiKey: required): the
     * Secret's output, since Pulumi names it (resources.ts apiKeySecretMetadata). Defaults to none: no key.
     */
    readonly apiKeySecret?: pulumi.Input<string>;
}

/** The serving Deployment's object body. No spec.replicas: the ScaledObject owns the replica count. */
export function serverDeployment(model: ModelConfig, { names, profile, rollingUpdate: rollout = SURGE, apiKeySecret }: DeploymentOptions) {
    const startup = startupProbeTiming(model.startupBudgetSeconds);
    const drain = drainTiming(profile.onSigterm, model.drainSeconds);
    const { command, args, env } = engineCommand(model, profile, CACHE_DIR);
    const marker = completeMarker(model, WEIGHTS_MOUNT);
    const http = (path: string) => ({ path, port: "http" });
    const mounts = [
        { name: "weights", mountPath: WEIGHTS_MOUNT, readOnly: true },
        { name: "cache", mountPath: CACHE_DIR },
        { name: "dshm", mountPath: "/dev/shm" },
    ];
    return {
        metadata: { name: names.server, namespace: names.namespace, labels: commonLabels(model) },
        spec: {
            selector: { matchLabels: selectorLabels(model) },
            revisionHistoryLimit: 3,
            // One replica at a time: its successor first where a GPU is spare, else after it (rollingUpdate()).
            strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: rollout.maxSurge, maxUnavailable: rollout.maxUnavailable } },
            template: {
                metadata: { labels: podLabels(model) },
                spec: {
                    automountServiceAccountToken: false,
                    enableServiceLinks: false,
                    securityContext: podSecurity(profile),
                    terminationGracePeriodSeconds: drain.terminationGracePeriodSeconds,
                    ...gpuPlacement(model.gpusPerReplica),
                    topologySpreadConstraints: topologySpread(model),
                    initContainers: [{
                        // Belt and braces to the Job dependency: a pod scheduled by anyone (KEDA, kubectl)
                        // waits here until this revision's weights are complete on the claim.
                        name: "weights-ready",
                        image: profile.image,
                        command: ["/bin/sh", "-c", `until [ -f "${marker}" ]; do echo "waiting for ${marker}"; sleep 10; done`],
                        resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { cpu: "100m", memory: "64Mi" } },
                        securityContext: containerSecurity(profile, { root: false }),
                        volumeMounts: [mounts[0]],
                    }],
                    containers: [{
                        name: "server",
                        image: profile.image,
                        command,
                        args,
                        env: [...env, ...apiKeyEnv(profile, apiKeySecret)],
                        ports: [{ name: "http", containerPort: profile.port, protocol: "TCP" }],
                        resources: serverResources(model),
                        // Startup ends when the model is served (ollama imports it after its server is up).
                        startupProbe: { httpGet: http(profile.readinessPath(model.servedModelName)), timeoutSeconds: 5, ...startup },
                        readinessProbe: { httpGet: http(profile.readinessPath(model.servedModelName)), periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 },
                        // Not probed while the pod terminates: the kubelet stops liveness and startup probes once
                        // the pod has a deletion timestamp (kubernetes/kubernetes#98571, pkg/kubelet/prober/worker.go),
                        // so an engine that answers /health 503 while it drains is not restarted mid-drain.
                        livenessProbe: { httpGet: http(profile.healthPath), periodSeconds: 20, timeoutSeconds: 10, failureThreshold: 3 },
                        lifecycle: { preStop: { exec: { command: ["sleep", String(drain.preStopSleepSeconds)] } } },
                        securityContext: containerSecurity(profile, { root: true }),
                        volumeMounts: mounts,
                    }],
                    volumes: [
                        { name: "weights", persistentVolumeClaim: { claimName: names.claim, readOnly: true } },
                        // Compile caches and (ollama) the imported model: scratch, not weights downloaded at start.
                        { name: "cache", emptyDir: { sizeLimit: profileCacheSize(model) } },
                        { name: "dshm", emptyDir: { medium: "Memory", sizeLimit: model.resources.shmSize } },
                    ],
                },
            },
        },
    };
}

/** Ollama keeps its converted copy of the model in the cache: room for twice the weights, plus 2Gi. */
function profileCacheSize(model: ModelConfig): string {
    const weights = parseQuantity(model.modelSize) ?? 0;
    return model.engine === "ollama" ? `${Math.ceil((2 * weights) / 2 ** 30) + 2}Gi` : "10Gi";
}
