/**
 * What the replay replays: each model's ScaledObject as the program builds it for a stack (the
 * program run under Pulumi mocks, as `npm run plan` runs it), the series behind each of its
 * Prometheus triggers (loadTriggers' `series`, matched to the ScaledObject's triggers by name
 * and query), and the stack's scrape interval.
 */
import { ModelConfig, PlatformConfig, loadConfig } from "../../config";
import { durationSeconds } from "../../config/observability";
import { engineProfile } from "../../components/engines";
import { modelServerNames } from "../../components/model-server/names";
import { TriggerSeries, loadTriggers } from "../../components/model-server/scaled-object";
import { kubernetesObjects } from "../offline/manifests";
import { runProgram, runUnderMocks } from "../offline/run";
import { StackConfig } from "../offline/stack-file";
import type { HpaBehavior, ScalingRules } from "./hpa";
import type { FallbackBehavior } from "./keda";
import type { ReplayTarget, ReplayTrigger } from "./simulate";

export interface StackReplay {
    readonly targets: readonly ReplayTarget[];
    readonly scrapeIntervalSeconds: number;
}

interface ScaledObjectSpec {
    minReplicaCount?: number;
    maxReplicaCount?: number;
    pollingInterval?: number;
    cooldownPeriod?: number;
    fallback?: { failureThreshold: number; replicas: number; behavior?: FallbackBehavior };
    advanced?: { horizontalPodAutoscalerConfig?: { behavior?: Partial<Record<"scaleUp" | "scaleDown", Partial<ScalingRules>>> } };
    triggers: { type: string; name?: string; metricType?: string; metadata: Record<string, string> }[];
}

/** The stack's config, loaded as the program loads it. */
async function stackConfig(stack: string, config: StackConfig): Promise<PlatformConfig> {
    let loaded: PlatformConfig | undefined;
    let failure: unknown;
    await runUnderMocks({ stack, ...config }, () => {
        try {
            loaded = loadConfig();
        } catch (error) {
            failure = error;
        }
    });
    if (!loaded) {
        throw failure;
    }
    return loaded;
}

/**
 * The HPA behavior KEDA hands to the HPA: the ScaledObject's, with the API server's defaults for
 * what it leaves out (kubernetes/kubernetes pkg/apis/autoscaling/v2/defaults.go,
 * SetDefaults_HorizontalPodAutoscalerBehavior: scale-up window 0, Max of 100 % and 4 pods per
 * 15 s; scale-down Max of 100 % per 15 s, its window left to the controller's
 * --horizontal-pod-autoscaler-downscale-stabilization, 300 s).
 */
function hpaBehavior(spec: ScaledObjectSpec): HpaBehavior {
    const given = spec.advanced?.horizontalPodAutoscalerConfig?.behavior ?? {};
    const scaleUp: ScalingRules = {
        stabilizationWindowSeconds: 0, selectPolicy: "Max",
        policies: [{ type: "Percent", value: 100, periodSeconds: 15 }, { type: "Pods", value: 4, periodSeconds: 15 }],
        ...given.scaleUp,
    };
    const scaleDown: ScalingRules = {
        stabilizationWindowSeconds: 300, selectPolicy: "Max", policies: [{ type: "Percent", value: 100, periodSeconds: 15 }],
        ...given.scaleDown,
    };
    return { scaleUp, scaleDown };
}

/** The series a trigger's `or` guard reads, when loadTriggers names it. */
function guardOf(trigger: object): TriggerSeries | undefined {
    const guard = "guard" in trigger ? trigger.guard : undefined;
    return guard && typeof guard === "object" && "metric" in guard ? guard as TriggerSeries : undefined;
}

function replayTriggers(model: ModelConfig, namespace: string, spec: ScaledObjectSpec): ReplayTrigger[] {
    const names = modelServerNames(model, namespace);
    const known = loadTriggers(model, engineProfile(model.engine, model.image), names);
    return spec.triggers.filter((trigger) => trigger.type === "prometheus").map((trigger) => {
        const match = known.find((candidate) => candidate.name === trigger.name);
        if (!match || match.query !== trigger.metadata.query) {
            throw new Error(`model ${model.name}: the ScaledObject's trigger ${trigger.name} has no matching loadTriggers() entry with its query`);
        }
        if (trigger.metricType !== "AverageValue") {
            throw new Error(`model ${model.name}: trigger ${trigger.name} is ${trigger.metricType}; the replay models AverageValue triggers`);
        }
        return {
            name: match.name, query: trigger.metadata.query, series: match.series, guard: guardOf(match),
            threshold: Number(trigger.metadata.threshold), activationThreshold: Number(trigger.metadata.activationThreshold ?? 0),
        };
    });
}

/**
 * Runs the program for the stack and returns each model's ScaledObject in replay terms.
 * `program`: the entry point (the compiled command passes bin/index.js); defaults to index.ts.
 */
export async function stackReplay(stack: string, config: StackConfig, program?: string): Promise<StackReplay> {
    const platform = await stackConfig(stack, config);
    const run = await runProgram({ stack, ...config, program });
    const scaledObjects = kubernetesObjects(run.resources).filter((object) => object.kind === "ScaledObject");
    const targets = platform.models.map((model): ReplayTarget => {
        const object = scaledObjects.find((candidate) => candidate.metadata.name === modelServerNames(model, platform.namespace).server);
        if (!object) {
            throw new Error(`model ${model.name}: the program declares no ScaledObject for it`);
        }
        const spec = (object as unknown as { spec: ScaledObjectSpec }).spec;
        return {
            model: model.name,
            triggers: replayTriggers(model, platform.namespace, spec),
            minReplicaCount: spec.minReplicaCount ?? 0,
            maxReplicaCount: spec.maxReplicaCount ?? 100,
            pollingInterval: spec.pollingInterval ?? 30,
            cooldownPeriod: spec.cooldownPeriod ?? 300,
            fallback: spec.fallback ? { ...spec.fallback, behavior: spec.fallback.behavior ?? "static" } : undefined,
            behavior: hpaBehavior(spec),
        };
    });
    return { targets, scrapeIntervalSeconds: durationSeconds(platform.observability.scrapeInterval) ?? 30 };
}
