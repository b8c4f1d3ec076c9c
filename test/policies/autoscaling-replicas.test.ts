import * as assert from "assert";
import { modelPvcAccessMode, pdbSane, spreadReplicas } from "../../policies/rules/autoscaling-replicas";
import { cpuService, modelServer, podSpec } from "./fixtures";
import { k8s, messagesBothWays, mutated, violations } from "./harness";
import { SECRET, byKind, pdb, scaledObject, stackCases, weightsClaim } from "./scaling-fixtures";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- fixtures are mutated freely

const budget = (o: Obj) => byKind(o, "PodDisruptionBudget");

describe("pdb-sane", () => {
    stackCases(pdbSane, () => [modelServer(), scaledObject(), pdb()], [
        ["a scaled workload without a PodDisruptionBudget", (o) => { o.list = o.list.filter((x: Obj) => x.kind !== "PodDisruptionBudget"); },
            [/^Deployment qwen: can run 3 replicas but no PodDisruptionBudget in namespace llm selects its pod labels; add one with maxUnavailable: 1/]],
        ["a budget whose selector matches other pods", (o) => { budget(o).spec.selector.matchLabels.app = "other"; }, [/no PodDisruptionBudget in namespace llm selects/]],
        ["a budget in another namespace", (o) => { budget(o).metadata.namespace = "default"; }, [/no PodDisruptionBudget in namespace llm/]],
        ["a budget without selector (selects nothing in policy/v1)", (o) => { delete budget(o).spec.selector; }, [/no PodDisruptionBudget/]],
        ["a budget without spec", (o) => { delete budget(o).spec; }, [/no PodDisruptionBudget/]],
        ["KEDA's default maxReplicaCount (100) and no budget", (o) => { delete byKind(o, "ScaledObject").spec.maxReplicaCount; o.list = o.list.slice(0, 2); },
            [/can run 100 replicas but no PodDisruptionBudget/]],
        ["spec.replicas 2 without autoscaler or budget", (o) => { o.list = [mutated(cpuService(), (w) => { w.spec.replicas = 2; })]; },
            [/^Deployment web: can run 2 replicas but no PodDisruptionBudget in namespace apps/]],
        ["two budgets selecting the same pods", (o) => { o.list.push(mutated(pdb(), (p) => { p.metadata.name = "qwen-extra"; })); },
            [/^Deployment qwen: its pods are selected by 2 PodDisruptionBudgets \(qwen, qwen-extra\); the eviction API refuses pods with more than one/]],
        ["maxUnavailable 0", (o) => { budget(o).spec.maxUnavailable = 0; },
            [/^PodDisruptionBudget qwen: spec.maxUnavailable is 0, so no pod may ever be evicted and node drains hang; allow at least 1/]],
        ["maxUnavailable \"0%\"", (o) => { budget(o).spec.maxUnavailable = "0%"; }, [/spec.maxUnavailable is "0%", so no pod may ever be evicted/]],
        ["minAvailable \"100%\"", (o) => { delete budget(o).spec.maxUnavailable; budget(o).spec.minAvailable = "100%"; }, [/spec.minAvailable is "100%", so no pod may ever be evicted/]],
        ["minAvailable equal to the max replicas", (o) => { delete budget(o).spec.maxUnavailable; budget(o).spec.minAvailable = 3; },
            [/^PodDisruptionBudget qwen: spec.minAvailable 3 is not below the 3 replicas Deployment qwen can run, so none of its pods may be evicted/]],
        ["minAvailable 1 on a single replica", (o) => {
            o.list = [cpuService(), mutated(pdb(), (p) => { p.metadata.namespace = "apps"; p.spec = { minAvailable: 1, selector: { matchLabels: { app: "web" } } }; })];
        }, [/spec.minAvailable 1 is not below the 1 replicas Deployment web can run/]],
    ], [
        ["a single-replica workload without a budget", (o) => { o.list = [cpuService()]; }],
        ["a budget selecting by matchExpressions", (o) => { budget(o).spec.selector = { matchExpressions: [{ key: "app", operator: "In", values: ["qwen", "qwen-canary"] }] }; }],
        ["an empty selector, which selects the whole namespace", (o) => { budget(o).spec.selector = {}; }],
        ["minAvailable below the max replicas", (o) => { delete budget(o).spec.maxUnavailable; budget(o).spec.minAvailable = 2; }],
        ["maxUnavailable \"50%\"", (o) => { budget(o).spec.maxUnavailable = "50%"; }],
        ["a workload without spec", (o) => { o.list = [mutated(cpuService(), (w) => { delete w.spec; })]; }],
    ]);

    it("takes the replica threshold from config, and skips an exempted workload", async () => {
        const stack = [modelServer(), scaledObject()];
        assert.strictEqual((await messagesBothWays(pdbSane, stack)).length, 1);
        assert.deepStrictEqual(await messagesBothWays(pdbSane, stack, { minReplicas: 4 }), []);
        const renamed = [mutated(modelServer(), (o) => { o.metadata.name = "qwen-server"; }), mutated(scaledObject(), (o) => { o.spec.scaleTargetRef.name = "qwen-server"; })];
        assert.deepStrictEqual(await messagesBothWays(pdbSane, renamed, { exemptions: [{ name: "qwen-server", reason: "single-node lab" }] }), []);
    });

    it("reports a blocking budget on the budget, mandatory", async () => {
        const found = await violations(pdbSane, [modelServer(), scaledObject(), mutated(pdb(), (p) => { p.spec.maxUnavailable = 0; })].map(k8s));
        assert.deepStrictEqual(found.map((v) => [v.resourceType, v.resourceName, v.enforcementLevel]), [["kubernetes:policy/v1:PodDisruptionBudget", "qwen", "mandatory"]]);
    });
});

describe("spread-replicas", () => {
    stackCases(spreadReplicas, () => [modelServer(), scaledObject()], [
        ["replicas without any spread", (o) => { delete podSpec(byKind(o, "Deployment")).topologySpreadConstraints; },
            [/^Deployment qwen: can run 3 replicas but has no topologySpreadConstraints or podAntiAffinity on kubernetes.io\/hostname or topology.kubernetes.io\/zone/]],
        ["a spread on another key (kubernetes.io/arch)", (o) => { podSpec(byKind(o, "Deployment")).topologySpreadConstraints[0].topologyKey = "kubernetes.io/arch"; }, [/has no topologySpreadConstraints or podAntiAffinity/]],
        ["a spread whose labelSelector selects other pods", (o) => { podSpec(byKind(o, "Deployment")).topologySpreadConstraints[0].labelSelector = { matchLabels: { app: "other" } }; },
            [/^Deployment qwen: its spread constraints and anti-affinity terms on .* have a labelSelector that does not select its own pods/]],
        ["spec.replicas 2 without spread", (o) => { o.list = [mutated(cpuService(), (w) => { w.spec.replicas = 2; })]; }, [/^Deployment web: can run 2 replicas but has no/]],
    ], [
        ["preferred pod anti-affinity on the zone", (o) => {
            const spec = podSpec(byKind(o, "Deployment"));
            delete spec.topologySpreadConstraints;
            spec.affinity = { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: "topology.kubernetes.io/zone", labelSelector: { matchLabels: { app: "qwen" } } } }] } };
        }],
        ["required pod anti-affinity on the hostname", (o) => {
            const spec = podSpec(byKind(o, "Deployment"));
            delete spec.topologySpreadConstraints;
            spec.affinity = { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: "kubernetes.io/hostname", labelSelector: { matchExpressions: [{ key: "app", operator: "Exists" }] } }] } };
        }],
        ["a single replica without spread", (o) => { o.list = [mutated(cpuService(), (w) => { w.spec.replicas = 1; })]; }],
        ["a DaemonSet, which runs one pod per node anyway", (o) => { o.list = [mutated(cpuService(), (w) => { w.kind = "DaemonSet"; w.spec.replicas = 5; })]; }],
    ]);

    it("is advisory and takes the topology keys from config", async () => {
        const [found] = await violations(spreadReplicas, [modelServer(), scaledObject()].map(k8s), { topologyKeys: ["topology.kubernetes.io/zone"] });
        assert.strictEqual(found.enforcementLevel, "advisory");
        assert.match(found.message, /has no topologySpreadConstraints or podAntiAffinity on topology.kubernetes.io\/zone;/);
    });
});

describe("model-pvc-access-mode", () => {
    stackCases(modelPvcAccessMode, () => [modelServer(), scaledObject(), weightsClaim()], [
        ["a ReadWriteOnce weights claim for up to 3 replicas", (o) => { byKind(o, "PersistentVolumeClaim").spec.accessModes = ["ReadWriteOnce"]; },
            [/^Deployment qwen: can run 3 replicas but claim qwen-weights has accessModes ReadWriteOnce; replicas on other nodes could not mount it, so use ReadOnlyMany or ReadWriteMany/]],
        ["a claim without accessModes", (o) => { delete byKind(o, "PersistentVolumeClaim").spec; }, [/claim qwen-weights has accessModes unset;/]],
        ["a claim with a secret-looking access mode, which is not echoed", (o) => { byKind(o, "PersistentVolumeClaim").spec.accessModes = [SECRET]; }, [/has accessModes unset;/]],
        ["ReadWriteOncePod for 2 replicas of a StatefulSet sharing one claim", (o) => {
            byKind(o, "Deployment").kind = "StatefulSet";
            byKind(o, "ScaledObject").spec.scaleTargetRef.kind = "StatefulSet";
            byKind(o, "PersistentVolumeClaim").spec.accessModes = ["ReadWriteOncePod"];
        }, [/^StatefulSet qwen: can run 3 replicas but claim qwen-weights has accessModes ReadWriteOncePod/]],
        ["spec.replicas 2 and a ReadWriteOnce claim", (o) => {
            o.list = [mutated(modelServer(), (w) => { w.spec.replicas = 2; }), mutated(weightsClaim(), (c) => { c.spec.accessModes = ["ReadWriteOnce"]; })];
        }, [/can run 2 replicas but claim qwen-weights/]],
    ], [
        ["ReadOnlyMany", (o) => { byKind(o, "PersistentVolumeClaim").spec.accessModes = ["ReadOnlyMany"]; }],
        ["a ReadWriteOnce claim for at most one replica", (o) => {
            byKind(o, "PersistentVolumeClaim").spec.accessModes = ["ReadWriteOnce"];
            byKind(o, "ScaledObject").spec.maxReplicaCount = 1;
        }],
        ["one claim per replica (a StatefulSet volumeClaimTemplate)", (o) => {
            const server = byKind(o, "Deployment");
            server.kind = "StatefulSet";
            podSpec(server).volumes = podSpec(server).volumes.filter((volume: Obj) => volume.name !== "weights");
            server.spec.volumeClaimTemplates = [{ metadata: { name: "weights" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "50Gi" } } } }];
            byKind(o, "ScaledObject").spec.scaleTargetRef.kind = "StatefulSet";
            o.list = o.list.filter((x: Obj) => x.kind !== "PersistentVolumeClaim");
        }],
        ["a claim that is not in the stack (skipped by default)", (o) => { o.list = o.list.filter((x: Obj) => x.kind !== "PersistentVolumeClaim"); }],
        ["a CPU service sharing a ReadWriteOnce claim", (o) => {
            o.list = [mutated(cpuService(), (w) => {
                w.spec.replicas = 3;
                podSpec(w).volumes = [{ name: "data", persistentVolumeClaim: { claimName: "data" } }];
                podSpec(w).containers[0].volumeMounts = [{ name: "data", mountPath: "/data" }];
            }), mutated(weightsClaim(), (c) => { c.metadata = { name: "data", namespace: "apps" }; c.spec.accessModes = ["ReadWriteOnce"]; })];
        }],
        ["a model server whose pod spec is missing", (o) => { delete byKind(o, "Deployment").spec.template; }],
    ]);

    it("reports a claim missing from the stack when requireClaimInStack is set", async () => {
        const stack = [modelServer(), scaledObject(), mutated(weightsClaim(), (c) => { c.metadata.namespace = "other"; })];
        assert.deepStrictEqual(await messagesBothWays(modelPvcAccessMode, stack), []);
        assert.match((await messagesBothWays(modelPvcAccessMode, stack, { requireClaimInStack: true }))[0], /^Deployment qwen: claim qwen-weights is not declared in namespace llm of this stack/);
    });

    it("recognises model servers by the configured images", async () => {
        const unlabelled = mutated(modelServer(), (o) => { delete o.metadata.labels; delete o.spec.template.metadata.labels["llm-platform.io/role"]; });
        const stack = [unlabelled, scaledObject(), mutated(weightsClaim(), (c) => { c.spec.accessModes = ["ReadWriteOnce"]; })];
        assert.strictEqual((await messagesBothWays(modelPvcAccessMode, stack)).length, 1);
        assert.deepStrictEqual(await messagesBothWays(modelPvcAccessMode, stack, { modelServerImages: ["ollama/ollama"] }), []);
    });
});
