import { isModelServer, modelServerImagesSchema, servingContainers } from "../lib/model-servers";
import { ContainerRef, Workload, describeContainer } from "../lib/pods";
import { RuleConfig, podRule, show } from "../lib/rule";
import { Props, asArray, asRecord, asString, at } from "../lib/values";

interface ModelServerConfig extends RuleConfig {
    readonly modelServerImages: readonly string[];
}

function modelServerRule<C extends ModelServerConfig>(
    metadata: Parameters<typeof podRule>[0],
    check: (workload: Workload, serving: ContainerRef[], config: C, reportViolation: (message: string) => void) => void,
) {
    return podRule<C>({ ...metadata, properties: { ...metadata.properties, modelServerImages: modelServerImagesSchema } },
        (workload, config, reportViolation) => {
            if (isModelServer(workload, config.modelServerImages)) {
                check(workload, servingContainers(workload, config.modelServerImages), config, reportViolation);
            }
        });
}

const DOWNLOADER = /\b(hf download|huggingface-cli download|snapshot_download|hf_hub_download|git lfs|git clone|ollama pull|wget|curl)\b/;

function volumesByName(spec: Props): Map<string, Props> {
    return new Map(asArray(spec.volumes).map((value) => [asString(asRecord(value).name) ?? "", asRecord(value)]));
}

function mounts(container: Props): Props[] {
    return asArray(container.volumeMounts).map(asRecord);
}

function commandLine(container: Props): string {
    return [...asArray(container.command), ...asArray(container.args)].filter((part) => typeof part === "string").join(" ");
}

/** EKS best practices, AI/ML storage: weights on a shared volume, never fetched into the pod at start. */
export const modelWeightsOnPvc = modelServerRule<ModelServerConfig>({
    name: "model-weights-on-pvc",
    description: "A model server reads its weights from a PersistentVolumeClaim mounted read-only, with no hostPath and no download into an emptyDir at start.",
    enforcementLevel: "mandatory",
}, (workload, serving, _config, reportViolation) => {
    const volumes = volumesByName(workload.spec);
    for (const ref of serving) {
        const claimMounts = mounts(ref.container).filter((mount) => volumes.get(asString(mount.name) ?? "")?.persistentVolumeClaim !== undefined);
        if (claimMounts.length === 0) {
            reportViolation(`${workload.kind} ${workload.name}: ${describeContainer(ref)} mounts no PersistentVolumeClaim to read the model weights from.`);
        }
        for (const mount of claimMounts) {
            const volume = volumes.get(asString(mount.name) ?? "");
            if (mount.readOnly !== true && at(volume, "persistentVolumeClaim", "readOnly") !== true) {
                reportViolation(`${workload.kind} ${workload.name}: ${describeContainer(ref)} mounts claim ${show(at(volume, "persistentVolumeClaim", "claimName"))} read-write; mount the weights readOnly: true.`);
            }
        }
    }
    for (const [name, volume] of volumes) {
        if (volume.hostPath !== undefined) {
            reportViolation(`${workload.kind} ${workload.name}: volume ${show(name)} is a hostPath; model weights belong on a PersistentVolumeClaim.`);
        }
    }
    const diskEmptyDirs = new Set([...volumes].filter(([, volume]) => volume.emptyDir !== undefined && at(volume, "emptyDir", "medium") !== "Memory").map(([name]) => name));
    for (const ref of workload.containers) {
        const writesEmptyDir = mounts(ref.container).some((mount) => diskEmptyDirs.has(asString(mount.name) ?? ""));
        if (writesEmptyDir && DOWNLOADER.test(commandLine(ref.container))) {
            reportViolation(`${workload.kind} ${workload.name}: ${describeContainer(ref)} downloads into an emptyDir at start; fill a PersistentVolumeClaim once, with a Job, instead.`);
        }
    }
});

interface ProbesConfig extends ModelServerConfig {
    readonly minStartupSeconds: number;
}

/** Kubernetes probe defaults: period 10 s, failureThreshold 3, no initial delay. */
export function startupBudgetSeconds(probe: Props): number {
    const number = (value: unknown, fallback: number) => (typeof value === "number" && Number.isFinite(value) ? value : fallback);
    return number(probe.initialDelaySeconds, 0) + number(probe.failureThreshold, 3) * number(probe.periodSeconds, 10);
}

/** Gatekeeper K8sRequiredProbes; EKS best practices on startup probes for slow-loading models. */
export const llmProbes = modelServerRule<ProbesConfig>({
    name: "llm-probes",
    description: "A model server has a readinessProbe and a startupProbe whose budget (initialDelay + failureThreshold x period) covers the model load.",
    enforcementLevel: "mandatory",
    properties: {
        minStartupSeconds: { type: "integer", minimum: 1, default: 300, description: "The least time a model may take to load before the kubelet restarts it." },
    },
}, (workload, serving, config, reportViolation) => {
    for (const ref of serving) {
        const startup = ref.container.startupProbe;
        if (startup === undefined || startup === null) {
            reportViolation(`${workload.kind} ${workload.name}: ${describeContainer(ref)} has no startupProbe; without one the liveness probe kills a server still loading its model.`);
        } else if (startupBudgetSeconds(asRecord(startup)) < config.minStartupSeconds) {
            reportViolation(`${workload.kind} ${workload.name}: ${describeContainer(ref)} startupProbe allows ${startupBudgetSeconds(asRecord(startup))} s, less than the ${config.minStartupSeconds} s a model load needs.`);
        }
        if (ref.container.readinessProbe === undefined || ref.container.readinessProbe === null) {
            reportViolation(`${workload.kind} ${workload.name}: ${describeContainer(ref)} has no readinessProbe; traffic would reach it before the model is served.`);
        }
    }
});

interface DrainConfig extends ModelServerConfig {
    readonly minGracePeriodSeconds: number;
}

/** EKS best practices, reliability: finish in-flight generations before the pod goes. */
export const gracefulDrain = modelServerRule<DrainConfig>({
    name: "graceful-drain",
    description: "A model server has a preStop hook and a termination grace period long enough to finish in-flight requests.",
    enforcementLevel: "advisory",
    properties: {
        minGracePeriodSeconds: { type: "integer", minimum: 1, default: 60, description: "The least terminationGracePeriodSeconds for a model server." },
    },
}, (workload, serving, config, reportViolation) => {
    const raw = workload.spec.terminationGracePeriodSeconds;
    const grace = typeof raw === "number" ? raw : 30;
    if (grace < config.minGracePeriodSeconds) {
        reportViolation(`${workload.kind} ${workload.name}: terminationGracePeriodSeconds is ${grace}, less than ${config.minGracePeriodSeconds}; long generations would be cut off.`);
    }
    for (const ref of serving) {
        const preStop = at(ref.container, "lifecycle", "preStop");
        if (preStop === undefined || preStop === null) {
            reportViolation(`${workload.kind} ${workload.name}: ${describeContainer(ref)} has no preStop hook to stop taking traffic before it is terminated.`);
            continue;
        }
        const sleep = at(preStop, "sleep", "seconds");
        if (typeof sleep === "number" && sleep >= grace) {
            reportViolation(`${workload.kind} ${workload.name}: ${describeContainer(ref)} preStop sleeps ${sleep} s, not less than the ${grace} s grace period; the server would be killed without a chance to drain.`);
        }
    }
});

export const modelServerRules = [modelWeightsOnPvc, llmProbes, gracefulDrain];
