/**
 * Compliant autoscaling objects for the model server of fixtures.ts (Deployment qwen in
 * namespace llm, one GPU per replica, pods labelled app: qwen).
 */

import * as assert from "assert";
import { FailingCase, PassingCase, Rule, messagesBothWays, mutated } from "./harness";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- fixtures are mutated freely

/** Looks like a Hugging Face token; no message may repeat it. */
// A token-shaped fake, assembled so that no credential scanner mistakes the source for a leak.
export const SECRET = ["hf", "aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"].join("_");

/** Scales qwen between 1 and 3 on vLLM's queue, falling back to 1 replica when the metric is lost. */
export function scaledObject(): Obj {
    return {
        apiVersion: "keda.sh/v1alpha1",
        kind: "ScaledObject",
        metadata: { name: "qwen", namespace: "llm" },
        spec: {
            scaleTargetRef: { name: "qwen" },
            minReplicaCount: 1,
            maxReplicaCount: 3,
            fallback: { failureThreshold: 3, replicas: 1 },
            triggers: [{
                type: "prometheus",
                name: "queue",
                metricType: "AverageValue",
                metadata: {
                    serverAddress: "http://prometheus-operated.monitoring.svc:9090",
                    query: 'sum(vllm:num_requests_waiting{namespace="llm"})',
                    threshold: "4",
                    ignoreNullValues: "false",
                },
            }],
        },
    };
}

export function hpa(target: { kind: string; name: string }, namespace = "llm", name = `${target.name}-hpa`): Obj {
    return {
        apiVersion: "autoscaling/v2",
        kind: "HorizontalPodAutoscaler",
        metadata: { name, namespace },
        spec: {
            scaleTargetRef: { apiVersion: "apps/v1", ...target },
            minReplicas: 1,
            maxReplicas: 4,
            metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } }],
        },
    };
}

export function pdb(): Obj {
    return {
        apiVersion: "policy/v1",
        kind: "PodDisruptionBudget",
        metadata: { name: "qwen", namespace: "llm" },
        spec: { maxUnavailable: 1, selector: { matchLabels: { app: "qwen" } } },
    };
}

export function weightsClaim(): Obj {
    return {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata: { name: "qwen-weights", namespace: "llm" },
        spec: { accessModes: ["ReadWriteMany"], storageClassName: "efs-models", resources: { requests: { storage: "50Gi" } } },
    };
}

/** A GPU node group as Pulumi args: g6.xlarge (1 GPU) up to three nodes, room for the ScaledObject's max. */
export function gpuNodeGroup(): Obj {
    return {
        clusterName: "main",
        amiType: "AL2023_x86_64_NVIDIA",
        instanceTypes: ["g6.xlarge"],
        scalingConfig: { minSize: 0, maxSize: 3, desiredSize: 0 },
        labels: { "nvidia.com/gpu.present": "true" },
        taints: [{ key: "nvidia.com/gpu", value: "true", effect: "NO_SCHEDULE" }],
    };
}

/** The object of this kind in a stack of fixtures. */
export function byKind(objects: Obj, kind: string): Obj {
    return (objects.list as Obj[]).find((object) => object.kind === kind)!;
}

/**
 * The standard suite of a stack rule over Kubernetes objects, run both ways (validation
 * args and YAML): `stack().list` is compliant; each mutation breaks or keeps it.
 */
export function stackCases(rule: Rule, stack: () => Obj[], failing: FailingCase[], passing: PassingCase[] = []): void {
    const run = async (mutate: (objects: Obj) => void) => messagesBothWays(rule, mutated({ list: stack() }, mutate).list);
    it("passes the compliant stack", async () => {
        assert.deepStrictEqual(await run(() => undefined), []);
    });
    for (const [what, mutate] of passing) {
        it(`passes ${what}`, async () => {
            assert.deepStrictEqual(await run(mutate), []);
        });
    }
    for (const [what, mutate, expected] of failing) {
        it(`fails ${what}`, async () => {
            const found = await run(mutate);
            assert.strictEqual(found.length, expected.length, found.join("\n"));
            expected.forEach((pattern, index) => assert.match(found[index], pattern));
            found.forEach((message) => assert.ok(!message.includes(SECRET), message));
        });
    }
}
