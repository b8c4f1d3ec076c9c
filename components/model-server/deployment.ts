import type { ModelConfig } from "../../config";
import { gpuNodeSelector, gpuToleration } from "../../lib/gpu-scheduling";
import { parseQuantity } from "../../lib/quantity";
import { EngineProfile, completeMarker, engineCommand } from "../engines";
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

/** The budget a startup probe grants: initialDelay + failureThreshold x period. */
export function startupBudget(timing: StartupProbeTiming): number {
    return timing.initialDelaySeconds + timing.failureThreshold * timing.periodSeconds;
}

/**
 * Drain: preStop sleeps drainSeconds while the pod, already out of the Service's endpoints,
 * finishes its in-flight requests; then SIGTERM, with 15 more seconds for the engine to exit.
 */
export function drainTiming(drainSeconds: number): { preStopSleepSeconds: number; terminationGracePeriodSeconds: number } {
    return { preStopSleepSeconds: drainSeconds, terminationGracePeriodSeconds: drainSeconds + 15 };
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
}

/** The serving Deployment's object body. No spec.replicas: the ScaledObject owns the replica count. */
export function serverDeployment(model: ModelConfig, { names, profile }: DeploymentOptions) {
    const startup = startupProbeTiming(model.startupBudgetSeconds);
    const drain = drainTiming(model.drainSeconds);
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
            // Replace one replica at a time, keeping the serving ones up.
            strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
            template: {
                metadata: { labels: podLabels(model) },
                spec: {
                    automountServiceAccountToken: false,
                    enableServiceLinks: false,
                    securityContext: restrictedPodSecurity(profile.runAsUser),
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
                        securityContext: restrictedContainerSecurity(),
                        volumeMounts: [mounts[0]],
                    }],
                    containers: [{
                        name: "server",
                        image: profile.image,
                        command,
                        args,
                        env,
                        ports: [{ name: "http", containerPort: profile.port, protocol: "TCP" }],
                        resources: serverResources(model),
                        // Startup ends when the model is served (ollama imports it after its server is up).
                        startupProbe: { httpGet: http(profile.readinessPath(model.servedModelName)), timeoutSeconds: 5, ...startup },
                        readinessProbe: { httpGet: http(profile.readinessPath(model.servedModelName)), periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 },
                        livenessProbe: { httpGet: http(profile.healthPath), periodSeconds: 20, timeoutSeconds: 10, failureThreshold: 3 },
                        lifecycle: { preStop: { exec: { command: ["sleep", String(drain.preStopSleepSeconds)] } } },
                        securityContext: restrictedContainerSecurity(),
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
