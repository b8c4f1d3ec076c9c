/**
 * What the replay replays: each model's ScaledObject as the program builds it for a stack (the
 * program run under Pulumi mocks, as `npm run plan` runs it), the series behind each of its
 * Prometheus triggers (loadTriggers' `series`, matched to the ScaledObject's triggers by name
 * and query), and the stack's scrape interval.
 */
import { ModelConfig, programConfig } from "../../config";
import { durationSeconds } from "../../config/observability";
import { engineProfile } from "../../components/model-server/engines";
import { modelServerNames } from "../../components/model-server/names";
import { TriggerSeries, loadTriggers } from "../../components/model-server/scaled-object";
import { kubernetesObjects } from "../offline/manifests";
import { runProgram } from "../offline/run";
import { StackConfig } from "../offline/stack-file";
import type { HpaBehavior, ScalingRules } from "./hpa";
import type { FallbackBehavior } from "./keda";
import type { ReplayTarget, ReplayTrigger } from "./simulate";

export interface StackReplay {
    readonly targets: readonly ReplayTarget[];
    readonly scrapeIntervalSeconds: number;
    /** The pod start delay the replay assumes for the stack's target when none is given (START_SECONDS). */
    readonly startSeconds: number;
}

/**
 * From a pod's creation to Ready, when `--start-seconds` does not say: an assumption per target,
 * for a node that is already there and has the image.
 * - `local`: Ollama on CPU with a small model from the volume (the seed's Qwen2.5-0.5B): scheduling,
 *   the server up, the model loaded on the first request, the readiness probe's first success: 30 s.
 * - `aws`: vLLM on a GPU node that is up, the image cached on it, the weights on the EFS volume:
 *   the CUDA context, about 3 GB of weights read from EFS, the KV cache profiled and the CUDA
 *   graphs captured, then the probe: 120 s.
 * A GPU node to add (Cluster Autoscaler, spot) and an image to pull add minutes; the model's
 * startupBudgetSeconds bounds what the startup probe tolerates. Replay those with --start-seconds.
 */
export const START_SECONDS: Readonly<Record<"local" | "aws", number>> = { local: 30, aws: 120 };

interface ScaledObjectSpec {
    minReplicaCount?: number;
    maxReplicaCount?: number;
    pollingInterval?: number;
    cooldownPeriod?: number;
    fallback?: { failureThreshold: number; replicas: number; behavior?: FallbackBehavior };
    advanced?: { horizontalPodAutoscalerConfig?: { behavior?: Partial<Record<"scaleUp" | "scaleDown", Partial<ScalingRules>>> } };
    triggers: { type: string; name?: string; metricType?: string; metadata: Record<string, string> }[];
}

/** What the replay reads of an InterceptorRoute (http.keda.sh/v1beta1, kedacore/http-add-on v0.15.0). */
interface InterceptorRouteSpec {
    scalingMetric?: { concurrency?: { targetValue?: number } };
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

/**
 * The external-push trigger of the KEDA HTTP add-on: its metric is the route's in-flight count
 * against the InterceptorRoute's concurrency target (http-add-on v0.15.0 scaler/handlers.go
 * GetMetricSpec: TargetSize is scalingMetric.concurrency.targetValue).
 */
function pushTrigger(model: ModelConfig, trigger: ScaledObjectSpec["triggers"][number], routes: readonly { metadata: { name?: string }; spec?: InterceptorRouteSpec }[]): ReplayTrigger {
    const route = routes.find((candidate) => candidate.metadata.name === trigger.metadata.interceptorRoute);
    const target = route?.spec?.scalingMetric?.concurrency?.targetValue;
    if (target === undefined) {
        throw new Error(`model ${model.name}: trigger ${trigger.name} names InterceptorRoute ${trigger.metadata.interceptorRoute}, which the program does not declare with a concurrency target`);
    }
    return { kind: "push", name: trigger.name ?? "external-push", threshold: target, activationThreshold: 0 };
}

function replayTriggers(
    model: ModelConfig, namespace: string, spec: ScaledObjectSpec, routes: readonly { metadata: { name?: string }; spec?: InterceptorRouteSpec }[],
): ReplayTrigger[] {
    const names = modelServerNames(model, namespace);
    const known = loadTriggers(model, engineProfile(model.engine, model.image), names);
    return spec.triggers.map((trigger): ReplayTrigger => {
        if (trigger.type === "external-push") {
            return pushTrigger(model, trigger, routes);
        }
        if (trigger.type !== "prometheus") {
            throw new Error(`model ${model.name}: trigger ${trigger.name} is of type ${trigger.type}, which the replay does not model`);
        }
        const match = known.find((candidate) => candidate.name === trigger.name);
        if (!match || match.query !== trigger.metadata.query) {
            throw new Error(`model ${model.name}: the ScaledObject's trigger ${trigger.name} has no matching loadTriggers() entry with its query`);
        }
        if (trigger.metricType !== "AverageValue") {
            throw new Error(`model ${model.name}: trigger ${trigger.name} is ${trigger.metricType}; the replay models AverageValue triggers`);
        }
        return {
            kind: "prometheus", name: match.name, query: trigger.metadata.query, series: match.series, guard: guardOf(match),
            threshold: Number(trigger.metadata.threshold), activationThreshold: Number(trigger.metadata.activationThreshold ?? 0),
        };
    });
}

/**
 * Runs the program for the stack and returns each model's ScaledObject in replay terms.
 * `program`: the entry point (the compiled command passes bin/index.js); defaults to index.ts.
 */
export async function stackReplay(stack: string, config: StackConfig, program?: string): Promise<StackReplay> {
    const run = await runProgram({ stack, ...config, program });
    // The config the program validated, with every default applied: its run left the stack's
    // values in the runtime's config (as tools/plan.ts reads it), so no second run to load it.
    const platform = programConfig();
    const objects = kubernetesObjects(run.resources);
    const scaledObjects = objects.filter((object) => object.kind === "ScaledObject");
    const routes = objects.filter((object) => object.kind === "InterceptorRoute") as unknown as { metadata: { name?: string }; spec?: InterceptorRouteSpec }[];
    const targets = platform.models.map((model): ReplayTarget => {
        const object = scaledObjects.find((candidate) => candidate.metadata.name === modelServerNames(model, platform.namespace).server);
        if (!object) {
            throw new Error(`model ${model.name}: the program declares no ScaledObject for it`);
        }
        const spec = (object as unknown as { spec: ScaledObjectSpec }).spec;
        return {
            model: model.name,
            triggers: replayTriggers(model, platform.namespace, spec, routes),
            minReplicaCount: spec.minReplicaCount ?? 0,
            maxReplicaCount: spec.maxReplicaCount ?? 100,
            pollingInterval: spec.pollingInterval ?? 30,
            cooldownPeriod: spec.cooldownPeriod ?? 300,
            fallback: spec.fallback ? { ...spec.fallback, behavior: spec.fallback.behavior ?? "static" } : undefined,
            behavior: hpaBehavior(spec),
            maxNumSeqs: model.vllm.maxNumSeqs,
        };
    });
    return {
        targets, scrapeIntervalSeconds: durationSeconds(platform.observability.scrapeInterval) ?? 30,
        startSeconds: START_SECONDS[platform.target === "local" ? "local" : "aws"],
    };
}
