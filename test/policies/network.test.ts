import * as assert from "assert";
import { namespaceDefaultDeny } from "../../policies/rules/network";
import { cpuService, modelServer } from "./fixtures";
import { k8s, messagesBothWays, mutated, violations } from "./harness";
import { stackCases } from "./scaling-fixtures";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- fixtures are mutated freely

function networkPolicy(name: string, spec: Obj, namespace = "llm"): Obj {
    return { apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name, namespace }, spec };
}

const defaultDeny = () => networkPolicy("default-deny", { podSelector: {}, policyTypes: ["Ingress", "Egress"] });
const namespace = (name = "llm") => ({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
/** The model's callers, as components/model-server/network-policy.ts writes them. */
const callers = () => networkPolicy("qwen-ingress", {
    podSelector: { matchLabels: { app: "qwen" } },
    policyTypes: ["Ingress"],
    ingress: [
        { from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "team-a" } } }], ports: [{ port: 8000, protocol: "TCP" }] },
        { from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } }, podSelector: { matchLabels: { "app.kubernetes.io/name": "prometheus" } } }], ports: [{ port: 8000, protocol: "TCP" }] },
    ],
});

const byName = (o: Obj, name: string): Obj => (o.list as Obj[]).find((object) => object.metadata.name === name)!;
const without = (o: Obj, name: string) => { o.list = (o.list as Obj[]).filter((object) => object.metadata.name !== name); };

const MISSING = /^namespace llm: runs model servers \(Deployment qwen\) but no NetworkPolicy there selects all its pods for Ingress without admitting every source, so any pod of the cluster can call them; add one with podSelector: \{\} and policyTypes: \[Ingress\]/;

describe("namespace-default-deny", () => {
    stackCases(namespaceDefaultDeny, () => [namespace(), modelServer(), defaultDeny(), callers()], [
        ["a model namespace without NetworkPolicies (today's manifests)", (o) => { without(o, "default-deny"); without(o, "qwen-ingress"); }, [MISSING]],
        ["a default deny in another namespace", (o) => { byName(o, "default-deny").metadata.namespace = "web"; }, [MISSING]],
        ["a policy of all pods for Egress only", (o) => { byName(o, "default-deny").spec.policyTypes = ["Egress"]; }, [MISSING]],
        ["a deny that selects some pods only", (o) => { byName(o, "default-deny").spec.podSelector = { matchLabels: { app: "qwen" } }; }, [MISSING]],
        ["a deny that selects by expression", (o) => { byName(o, "default-deny").spec.podSelector = { matchExpressions: [{ key: "app", operator: "Exists" }] }; }, [MISSING]],
        ["a 'deny' with an ingress rule without from (admits everyone)", (o) => { byName(o, "default-deny").spec.ingress = [{ ports: [{ port: 8000 }] }]; },
            [/^NetworkPolicy default-deny in namespace llm, where model servers run: ingress\[0\] has no from, so it admits every source; name the callers/, MISSING]],
        ["a caller policy open to every namespace", (o) => { byName(o, "qwen-ingress").spec.ingress[0].from = [{ namespaceSelector: {} }]; },
            [/^NetworkPolicy qwen-ingress in namespace llm, where model servers run: ingress\[0\] admits every pod of every namespace \(namespaceSelector: \{\}\)/]],
        ["a caller policy open to every namespace by the name label's existence", (o) => { byName(o, "qwen-ingress").spec.ingress[0].from = [{ namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "Exists" }] } }]; },
            [/^NetworkPolicy qwen-ingress in namespace llm, where model servers run: ingress\[0\] admits every pod of every namespace/]],
        ["a caller policy open to every address", (o) => { byName(o, "qwen-ingress").spec.ingress[1].from = [{ ipBlock: { cidr: "0.0.0.0/0" } }]; },
            [/^NetworkPolicy qwen-ingress in namespace llm, where model servers run: ingress\[1\] admits every address \(ipBlock 0.0.0.0\/0\)/]],
        ["a caller policy with an empty from", (o) => { byName(o, "qwen-ingress").spec.ingress[0].from = []; }, [/ingress\[0\] has no from, so it admits every source/]],
        ["an open caller policy with policyTypes [] (the API server makes it Ingress)", (o) => { const p = byName(o, "qwen-ingress"); p.spec.policyTypes = []; p.spec.ingress[0].from = [{ namespaceSelector: {} }]; },
            [/^NetworkPolicy qwen-ingress in namespace llm, where model servers run: ingress\[0\] admits every pod of every namespace/]],
        ["a model server known by its image only", (o) => {
            without(o, "default-deny");
            const server = byName(o, "qwen");
            delete server.metadata.labels;
            delete server.spec.template.metadata.labels["llm-platform.io/role"];
        }, [MISSING]],
        ["with the namespace not in the stack: reported on the model server", (o) => { without(o, "llm"); without(o, "default-deny"); }, [MISSING]],
    ], [
        ["policyTypes unset (Ingress is implied)", (o) => { delete byName(o, "default-deny").spec.policyTypes; }],
        ["policyTypes [] (defaulted to Ingress)", (o) => { byName(o, "default-deny").spec.policyTypes = []; }],
        ["an explicit empty selector and an empty ingress list", (o) => { byName(o, "default-deny").spec = { podSelector: { matchLabels: {} }, policyTypes: ["Ingress"], ingress: [] }; }],
        ["an ipBlock of every address with exceptions", (o) => { byName(o, "qwen-ingress").spec.ingress[1].from = [{ ipBlock: { cidr: "0.0.0.0/0", except: ["10.0.0.0/8"] } }]; }],
        ["an open Egress-only policy (egress is not this rule's)", (o) => { o.list.push(networkPolicy("out", { podSelector: {}, policyTypes: ["Egress"], ingress: [{}], egress: [{}] })); }],
        ["a namespace without model servers and without policies", (o) => { o.list.push(mutated(cpuService(), (w) => { w.metadata.namespace = "web"; })); }],
    ]);

    it("names a second model namespace on its own", async () => {
        const tgi = mutated(modelServer(), (w) => { w.metadata.name = "qwen-tgi"; w.metadata.namespace = "llm-tgi"; });
        const messages = await messagesBothWays(namespaceDefaultDeny, [namespace(), modelServer(), defaultDeny(), namespace("llm-tgi"), tgi]);
        assert.deepStrictEqual(messages.map((message) => message.split(":")[0]), ["namespace llm-tgi"]);
    });

    it("reports on the Namespace (else the first model server), which an exemption names", async () => {
        const found = await violations(namespaceDefaultDeny, [namespace(), modelServer()].map(k8s));
        assert.deepStrictEqual(found.map((v) => [v.resourceType, v.resourceName, v.enforcementLevel]), [["kubernetes:core/v1:Namespace", "llm", "mandatory"]]);
        const alone = await violations(namespaceDefaultDeny, [modelServer()].map(k8s));
        assert.deepStrictEqual(alone.map((v) => [v.resourceType, v.resourceName]), [["kubernetes:apps/v1:Deployment", "qwen"]]);
        assert.deepStrictEqual(await messagesBothWays(namespaceDefaultDeny, [namespace(), modelServer()], { exemptions: [{ name: "llm", reason: "fenced by the cluster's own policies" }] }), []);
    });
});
