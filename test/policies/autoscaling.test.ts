import * as assert from "assert";
import { autoscalerTarget, kedaFallback } from "../../policies/rules/autoscaling";
import { cpuService, modelServer } from "./fixtures";
import { k8s, messagesBothWays, mutated, violations } from "./harness";
import { SECRET, byKind, hpa, scaledObject, stackCases } from "./scaling-fixtures";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- fixtures are mutated freely

const trigger = (o: Obj) => byKind(o, "ScaledObject").spec.triggers[0];

const SKIP = "httpscaledobject.keda.sh/skip-scaledobject-creation";

/** A KEDA HTTP add-on HTTPScaledObject routing to Service qwen and scaling Deployment qwen. */
function httpScaledObject(annotations?: Record<string, string>): Obj {
    return {
        apiVersion: "http.keda.sh/v1alpha1",
        kind: "HTTPScaledObject",
        metadata: { name: "qwen-http", namespace: "llm", ...(annotations ? { annotations } : {}) },
        spec: { hosts: ["qwen-proxy"], scaleTargetRef: { name: "qwen", kind: "Deployment", apiVersion: "apps/v1", service: "qwen", port: 80 }, replicas: { min: 0, max: 3 } },
    };
}

describe("keda-fallback", () => {
    stackCases(kedaFallback, () => [scaledObject()], [
        ["a ScaledObject without fallback", (o) => { delete byKind(o, "ScaledObject").spec.fallback; },
            [/^ScaledObject qwen: spec.fallback is unset; add \{ failureThreshold: 3, replicas: 1 \}/]],
        ["a ScaledObject without spec", (o) => { delete byKind(o, "ScaledObject").spec; }, [/spec.fallback is unset/]],
        ["a fallback without replicas", (o) => { delete byKind(o, "ScaledObject").spec.fallback.replicas; }, [/spec.fallback.replicas is unset; set at least 1/]],
        ["a fallback whose replicas are unknown (undefined)", (o) => { byKind(o, "ScaledObject").spec.fallback.replicas = undefined; }, [/spec.fallback.replicas is unset/]],
        ["a fallback to 0 replicas", (o) => { byKind(o, "ScaledObject").spec.fallback.replicas = 0; }, [/spec.fallback.replicas is 0; set at least 1 so that the model keeps serving/]],
        ["a failureThreshold of 0", (o) => { byKind(o, "ScaledObject").spec.fallback.failureThreshold = 0; }, [/spec.fallback.failureThreshold is 0; set the number of failed reads/]],
        ["a failureThreshold written as a string", (o) => { byKind(o, "ScaledObject").spec.fallback.failureThreshold = "3"; }, [/failureThreshold is not a whole number/]],
        ["ignoreNullValues as the boolean false", (o) => { trigger(o).metadata.ignoreNullValues = false; },
            [/^ScaledObject qwen: trigger "queue" metadata.ignoreNullValues is the boolean false \(trigger metadata values are strings: quote it, "false"\); set it to "false"/]],
        ["ignoreNullValues missing (KEDA defaults it to \"true\")", (o) => { delete trigger(o).metadata.ignoreNullValues; },
            [/trigger "queue" metadata.ignoreNullValues is unset, and KEDA defaults it to "true"; set it to "false" so that an empty Prometheus result is an error that triggers the fallback/]],
        ["ignoreNullValues \"true\"", (o) => { trigger(o).metadata.ignoreNullValues = "true"; }, [/metadata.ignoreNullValues is "true";/]],
        ["a secret-looking ignoreNullValues, which is not echoed", (o) => { trigger(o).metadata.ignoreNullValues = SECRET; }, [/metadata.ignoreNullValues is not the string "false"/]],
        ["a trigger without metadata and name, named by index", (o) => {
            byKind(o, "ScaledObject").spec.triggers.push({ type: "prometheus" });
        }, [/triggers\[1\] metadata.ignoreNullValues is unset/]],
        ["no fallback and a bad second trigger: both reported", (o) => {
            delete byKind(o, "ScaledObject").spec.fallback;
            byKind(o, "ScaledObject").spec.triggers.push({ ...trigger(o), name: "running", metadata: { ...trigger(o).metadata, ignoreNullValues: false } });
        }, [/spec.fallback is unset/, /trigger "running" metadata.ignoreNullValues is the boolean false/]],
    ], [
        ["a non-Prometheus trigger without ignoreNullValues", (o) => { byKind(o, "ScaledObject").spec.triggers.push({ type: "cron", metadata: { timezone: "UTC", start: "0 8 * * *", end: "0 18 * * *", desiredReplicas: "2" } }); }],
        ["triggers that are not a list", (o) => { byKind(o, "ScaledObject").spec.triggers = "prometheus"; }],
    ]);

    it("takes the least fallback replicas from config", async () => {
        const toZero = mutated(scaledObject(), (o) => { o.spec.fallback.replicas = 0; });
        assert.deepStrictEqual(await messagesBothWays(kedaFallback, [toZero], { minFallbackReplicas: 0 }), []);
        const toOne = scaledObject();
        assert.match((await messagesBothWays(kedaFallback, [toOne], { minFallbackReplicas: 2 }))[0], /spec.fallback.replicas is 1; set at least 2/);
    });

    it("skips a ScaledObject exempted by name, and ignores other kinds", async () => {
        const bare = mutated(scaledObject(), (o) => { delete o.spec.fallback; });
        assert.deepStrictEqual(await messagesBothWays(kedaFallback, [bare], { exemptions: [{ name: "qwen", namespace: "llm", reason: "load test" }] }), []);
        assert.strictEqual((await messagesBothWays(kedaFallback, [bare], { exemptions: [{ name: "qwen", namespace: "other", reason: "another namespace" }] })).length, 1);
        assert.deepStrictEqual(await messagesBothWays(kedaFallback, [modelServer()]), []);
    });
});

describe("autoscaler-target", () => {
    stackCases(autoscalerTarget, () => [modelServer(), scaledObject()], [
        ["a ScaledObject whose workload is not in the stack", (o) => { o.list = [byKind(o, "ScaledObject")]; },
            [/^ScaledObject qwen: spec.scaleTargetRef names Deployment qwen, which is not in namespace llm of this stack; point it at an existing workload/]],
        ["a ScaledObject whose workload is in another namespace", (o) => { byKind(o, "Deployment").metadata.namespace = "serving"; },
            [/which is not in namespace llm of this stack \(it is in namespace serving; an autoscaler only scales its own namespace\)/]],
        ["a ScaledObject targeting a StatefulSet that is a Deployment", (o) => { byKind(o, "ScaledObject").spec.scaleTargetRef.kind = "StatefulSet"; }, [/names StatefulSet qwen, which is not in namespace llm/]],
        ["a ScaledObject without scaleTargetRef.name", (o) => { delete byKind(o, "ScaledObject").spec.scaleTargetRef.name; }, [/^ScaledObject qwen: spec.scaleTargetRef.name is unset/]],
        ["a ScaledObject without spec", (o) => { delete byKind(o, "ScaledObject").spec; }, [/spec.scaleTargetRef.name is unset/]],
        ["an HPA without scaleTargetRef.kind (no default, unlike KEDA)", (o) => { o.list.push(mutated(hpa({ kind: "Deployment", name: "web" }, "apps"), (h) => { delete h.spec.scaleTargetRef.kind; }), cpuService()); },
            [/^HorizontalPodAutoscaler web-hpa: spec.scaleTargetRef.kind is unset/]],
        ["an HPA next to the ScaledObject on the same Deployment", (o) => { o.list.push(hpa({ kind: "Deployment", name: "qwen" })); },
            [/^HorizontalPodAutoscaler qwen-hpa: Deployment qwen is already scaled by ScaledObject qwen; keep one autoscaler per workload/]],
        ["a scaled Deployment that sets spec.replicas", (o) => { byKind(o, "Deployment").spec.replicas = 2; },
            [/^Deployment qwen: spec.replicas is set \(2\) while ScaledObject qwen scales it; every deploy would reset the replica count/]],
        ["a scaled Deployment whose spec.replicas is a string", (o) => { byKind(o, "Deployment").spec.replicas = SECRET; }, [/^Deployment qwen: spec.replicas is set while ScaledObject qwen scales it/]],
        ["an HTTPScaledObject on the same Deployment that creates its own ScaledObject (no skip annotation)", (o) => { o.list.push(httpScaledObject()); },
            [/^HTTPScaledObject qwen-http: Deployment qwen is already scaled by ScaledObject qwen; keep one autoscaler per workload/]],
        ["an HTTPScaledObject whose skip annotation is not the string \"true\"", (o) => { o.list.push(httpScaledObject({ [SKIP]: "yes" })); },
            [/^HTTPScaledObject qwen-http: Deployment qwen is already scaled by ScaledObject qwen/]],
    ], [
        ["an HTTPScaledObject that skips ScaledObject creation (routing only; the ScaledObject has its external-push trigger)", (o) => { o.list.push(httpScaledObject({ [SKIP]: "true" })); }],
        ["an HPA on a StatefulSet of its namespace", (o) => {
            const web = mutated(cpuService(), (w) => { w.kind = "StatefulSet"; });
            o.list.push(web, hpa({ kind: "StatefulSet", name: "web" }, "apps"));
        }],
        ["a Deployment without autoscaler that sets spec.replicas", (o) => { o.list.push(mutated(cpuService(), (w) => { w.spec.replicas = 3; })); }],
        ["a Deployment with spec.replicas unknown (undefined)", (o) => { byKind(o, "Deployment").spec.replicas = undefined; }],
    ]);

    it("skips an autoscaler exempted by name", async () => {
        const dangling = hpa({ kind: "Deployment", name: "gone" }, "apps", "legacy");
        assert.strictEqual((await messagesBothWays(autoscalerTarget, [dangling])).length, 1);
        assert.deepStrictEqual(await messagesBothWays(autoscalerTarget, [dangling], { exemptions: [{ name: "legacy", reason: "target deployed by another stack" }] }), []);
    });

    it("reports on the resource each violation is about", async () => {
        const found = await violations(autoscalerTarget, [modelServer(), mutated(scaledObject(), (o) => { o.spec.scaleTargetRef.name = "gone"; })].map(k8s));
        assert.deepStrictEqual(found.map((v) => [v.resourceType, v.resourceName, v.enforcementLevel]), [["kubernetes:keda.sh/v1alpha1:ScaledObject", "qwen", "mandatory"]]);
    });
});

// gpu-capacity-fit: test/policies/gpu-capacity-fit.test.ts
