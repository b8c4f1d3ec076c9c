import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { kedaChartValues } from "../components/autoscaling/keda";
import { networkPolicyNotices } from "../components/network-policies";
import { INTERCEPTOR_POD_LABELS, KEDA_HTTP_CHART, interceptorPodMonitor, kedaHttpChartValues } from "../components/autoscaling/keda-http-add-on";
import { CLUSTER_DNS, DOWNLOAD_POD_LABELS, INTERCEPTOR_ADMIN_PORT, POLICY_NAMES, SCALER_POD_LABELS } from "../components/model-server/network-policy";
import type { NetworkPolicyBody, PolicyPeer } from "../components/network-policy-peers";
import { RELEASES } from "../components/observability/names";
import {
    ALLOY_POD_LABELS, GRAFANA_POD_LABELS, KEDA_OPERATOR_POD_LABELS, LOKI_POD_LABELS, MONITORING_POLICY_NAMES, PROMETHEUS_POD_LABELS,
} from "../components/observability/network-policy";
import { namespaceDefaultDeny } from "../policies/rules/network";
import { evaluatePolicies } from "../tools/offline/policies";
import { stackFilePath } from "../tools/offline/stack-file";
import { plan } from "../tools/plan";
import type { ProgramRun } from "../tools/offline/run";
import { Json, PROJECT_DIR, configProblems, objects, resourcesOfType, runStack, runStackFile, stackFileConfig } from "./mocks";
import { selects } from "../policies/lib/scaling";

const policiesOf = (run: ProgramRun) => objects(run).filter((object) => object.kind === "NetworkPolicy") as unknown as NetworkPolicyBody[];
const policy = (run: ProgramRun, namespace: string, name: string): NetworkPolicyBody => {
    const found = policiesOf(run).find((candidate) => candidate.metadata.namespace === namespace && candidate.metadata.name === name);
    assert.ok(found, `no NetworkPolicy ${namespace}/${name}; there are ${policiesOf(run).map((p) => `${p.metadata.namespace}/${p.metadata.name}`).join(", ")}`);
    return found;
};
/** The pack's own selector matching (matchLabels and matchExpressions); a peer without podSelector is every pod. */
const matches = (selector: Json | undefined, labels: Record<string, string>) => selects(selector ?? {}, labels);
const podTemplates = (run: ProgramRun, kind: string) => (objects(run) as Json[]).filter((object) => object.kind === kind)
    .map((object) => ({ name: object.metadata.name as string, namespace: object.metadata.namespace as string, labels: object.spec.template.metadata.labels as Record<string, string>, spec: object.spec.template.spec as Json }));
const chartValues = (run: ProgramRun, name: string): Json => {
    const chart = resourcesOfType(run, "kubernetes:helm.sh/v4:Chart").find((resource) => resource.name === name);
    assert.ok(chart, `no chart ${name}`);
    return chart.inputs as Json;
};
/** The peers of every rule of a policy, with the rule's ports. */
const peers = (body: NetworkPolicyBody) => (body.spec.ingress ?? []).flatMap((rule) => rule.from.map((peer) => ({ peer, ports: (rule.ports ?? []).map((port) => port.port) })));
const inNamespace = (peer: PolicyPeer, namespace: string) => peer.namespaceSelector?.matchLabels?.["kubernetes.io/metadata.name"] === namespace;

describe("network policies", () => {
    for (const stack of ["dev", "prod", "local"]) {
        describe(`stack ${stack}`, () => {
            it("fences every model namespace: default deny both ways, one policy per model selecting its serving pods on the engine's port", async () => {
                const run = await runStackFile(stack);
                const servers = podTemplates(run, "Deployment").filter((server) => server.labels["llm-platform.io/role"] === "model-server");
                assert.ok(servers.length > 0);
                for (const server of servers) {
                    assert.deepStrictEqual(policy(run, server.namespace, POLICY_NAMES.defaultDeny).spec, { podSelector: {}, policyTypes: ["Ingress", "Egress"] });
                    const own = policy(run, server.namespace, POLICY_NAMES.modelIngress(server.name));
                    assert.ok(matches(own.spec.podSelector, server.labels), `${own.metadata.name} does not select ${server.name}'s pods`);
                    const port = server.spec.containers[0].ports.find((candidate: Json) => candidate.name === "http").containerPort;
                    assert.ok(peers(own).length > 0, `${own.metadata.name} admits no one: the loop below would check nothing`);
                    for (const { ports } of peers(own)) {
                        assert.deepStrictEqual(ports, [port]);
                    }
                    // No other model's policy selects these pods.
                    const selecting = policiesOf(run).filter((p) => p.metadata.namespace === server.namespace && Object.keys(p.spec.podSelector.matchLabels ?? {}).length > 0 && matches(p.spec.podSelector, server.labels));
                    assert.deepStrictEqual(selecting.map((p) => p.metadata.name), [own.metadata.name]);
                }
            });

            it("lets each download Job out to the cluster DNS and HTTPS, and selects no serving pod for it", async () => {
                const run = await runStackFile(stack);
                const jobs = podTemplates(run, "Job").filter((job) => job.labels["app.kubernetes.io/component"] === "model-download");
                assert.ok(jobs.length > 0);
                for (const job of jobs) {
                    const egress = policy(run, job.namespace, POLICY_NAMES.downloadEgress);
                    assert.ok(matches(egress.spec.podSelector, job.labels));
                    assert.deepStrictEqual(egress.spec.egress?.map((rule) => rule.ports), [[{ port: 53, protocol: "UDP" }, { port: 53, protocol: "TCP" }], [{ port: 443, protocol: "TCP" }]]);
                }
                for (const server of podTemplates(run, "Deployment").filter((candidate) => candidate.labels["llm-platform.io/role"] === "model-server")) {
                    assert.ok(!matches({ matchLabels: DOWNLOAD_POD_LABELS }, server.labels), `${server.name} would get the download Job's egress`);
                }
            });

            it("fences monitoring: default deny for ingress, Prometheus from KEDA's operator and Grafana, Loki from Alloy and Grafana, everything from Prometheus", async () => {
                const run = await runStackFile(stack);
                assert.deepStrictEqual(policy(run, "monitoring", MONITORING_POLICY_NAMES.defaultDeny).spec, { podSelector: {}, policyTypes: ["Ingress"] });
                const prometheus = policy(run, "monitoring", MONITORING_POLICY_NAMES.prometheus);
                assert.deepStrictEqual(peers(prometheus).map(({ peer, ports }) => [peer.podSelector?.matchLabels, ports]), [[KEDA_OPERATOR_POD_LABELS, [9090]], [GRAFANA_POD_LABELS, [9090]]]);
                const loki = policy(run, "monitoring", MONITORING_POLICY_NAMES.loki);
                assert.deepStrictEqual(peers(loki).map(({ peer, ports }) => [peer.podSelector?.matchLabels, ports]), [[ALLOY_POD_LABELS, [3100]], [GRAFANA_POD_LABELS, [3100]]]);
                assert.deepStrictEqual(peers(policy(run, "monitoring", MONITORING_POLICY_NAMES.scrapes)), [{ peer: { podSelector: { matchLabels: PROMETHEUS_POD_LABELS } }, ports: [] }]);
            });

            it("passes namespace-default-deny, which fails the same stack without its NetworkPolicies", async () => {
                const run = await runStackFile(stack);
                const subjects = run.resources.map((resource) => ({ type: resource.type, name: resource.name, urn: resource.urn, props: resource.inputs }));
                assert.deepStrictEqual((await evaluatePolicies([namespaceDefaultDeny], subjects)).violations, []);
                const unfenced = subjects.filter((subject) => subject.type !== "kubernetes:networking.k8s.io/v1:NetworkPolicy");
                assert.ok((await evaluatePolicies([namespaceDefaultDeny], unfenced)).violations.length > 0);
            });
        });
    }

    describe("each allowed source is the pods it means (labels from our manifests and chart values)", () => {
        it("the interceptor: the labels the add-on's PodMonitor scrapes and its spread constraints select", async () => {
            const values = kedaHttpChartValues({ holdSeconds: 60 }) as Json;
            const run = await runStackFile("dev");
            const modelPolicy = policy(run, "llm", POLICY_NAMES.modelIngress("qwen-1-5b"));
            const interceptor = peers(modelPolicy).find(({ peer }) => inNamespace(peer, "keda"));
            assert.ok(interceptor, "dev's model is called through the interceptor");
            assert.deepStrictEqual(interceptor.peer.podSelector?.matchLabels, { ...INTERCEPTOR_POD_LABELS });
            for (const selector of [values.interceptor.topologySpreadConstraints[0].labelSelector, interceptorPodMonitor("keda").spec.selector]) {
                assert.ok(Object.entries(INTERCEPTOR_POD_LABELS).every(([key, value]) => selector.matchLabels[key] === value), JSON.stringify(selector));
            }
            // The scalers that ask the interceptors for their queues, on the admin port the chart's values give them.
            assert.ok(Object.entries(SCALER_POD_LABELS).every(([key, value]) => values.scaler.topologySpreadConstraints[0].labelSelector.matchLabels[key] === value));
            const fence = policy(run, "keda", POLICY_NAMES.interceptor);
            assert.ok(matches(fence.spec.podSelector, values.interceptor.topologySpreadConstraints[0].labelSelector.matchLabels));
            assert.deepStrictEqual(peers(fence).map(({ ports }) => ports), [[INTERCEPTOR_ADMIN_PORT], [2223]]);
            // The chart's admin port (values.yaml interceptor.admin.port 9090), which our values leave as it is.
            assert.strictEqual(values.interceptor.admin?.port, undefined);
            assert.strictEqual(KEDA_HTTP_CHART.version, "0.15.0", "labels and ports were read at chart 0.15.0: read them again");
        });

        it("Prometheus, Grafana, Loki, Alloy: the release names and no name override, which the charts' selector labels are made of", async () => {
            const run = await runStackFile("prod");
            const stackChart = chartValues(run, "observability-prometheus-stack");
            assert.strictEqual(stackChart.name, RELEASES.prometheusStack);
            const values = stackChart.values as Json;
            // The operator names the Prometheus `<fullname>-prometheus` unless cleanPrometheusOperatorObjectNames.
            assert.strictEqual(values.cleanPrometheusOperatorObjectNames, undefined);
            assert.strictEqual(PROMETHEUS_POD_LABELS["operator.prometheus.io/name"], `${values.fullnameOverride}-prometheus`);
            assert.deepStrictEqual(values.prometheus.prometheusSpec.podMetadata, undefined);
            assert.strictEqual(values.grafana.nameOverride, undefined);
            // No admission webhooks, so the API server calls nothing in monitoring (observability/network-policy.ts).
            assert.deepStrictEqual(values.prometheusOperator.admissionWebhooks, { enabled: false }, "webhooks on: admit the API server to the operator's port 10250 in the monitoring fence");
            assert.strictEqual(GRAFANA_POD_LABELS["app.kubernetes.io/instance"], stackChart.name);
            const loki = chartValues(run, "observability-loki");
            assert.strictEqual(LOKI_POD_LABELS["app.kubernetes.io/instance"], loki.name);
            assert.strictEqual((loki.values as Json).nameOverride, undefined);
            const alloy = chartValues(run, "observability-alloy");
            assert.strictEqual(ALLOY_POD_LABELS["app.kubernetes.io/instance"], alloy.name);
            assert.strictEqual((alloy.values as Json).nameOverride, undefined);
        });

        it("KEDA's operator: the chart's default operator name", () => {
            assert.strictEqual((kedaChartValues() as Json).operator?.name, undefined);
            assert.strictEqual(KEDA_OPERATOR_POD_LABELS["app.kubernetes.io/name"], "keda-operator");
        });

        it("Prometheus scrapes each model on the port its ServiceMonitor names", async () => {
            const run = await runStackFile("prod");
            const monitors = (objects(run) as Json[]).filter((object) => object.kind === "ServiceMonitor" && object.metadata.namespace === "llm");
            assert.ok(monitors.length > 0);
            for (const monitor of monitors) {
                assert.deepStrictEqual(monitor.spec.endpoints.map((endpoint: Json) => endpoint.port), ["http"]);
                const scrape = peers(policy(run, "llm", POLICY_NAMES.modelIngress(monitor.metadata.name))).find(({ peer }) => inNamespace(peer, "monitoring"));
                assert.deepStrictEqual(scrape?.peer.podSelector?.matchLabels, PROMETHEUS_POD_LABELS);
            }
        });

        it("DNS: CoreDNS's labels in kube-system", () => {
            assert.deepStrictEqual(CLUSTER_DNS, { namespace: "kube-system", podLabels: { "k8s-app": "kube-dns" } });
        });
    });

    it("is enforced on EKS: the VPC CNI add-on of dev and prod enables its network policy agent", async () => {
        for (const stack of ["dev", "prod"]) {
            const addon = resourcesOfType(await runStackFile(stack), "aws:eks/addon:Addon").find((resource) => resource.inputs.addonName === "vpc-cni");
            assert.ok(addon, `${stack} installs the VPC CNI add-on`);
            assert.strictEqual(JSON.parse(String(addon.inputs.configurationValues)).enableNetworkPolicy, "true");
        }
    });

    describe("callers from config", () => {
        it("lets the client namespaces call every model and the interceptor, and the Ingress controller the published models", async () => {
            const dev = stackFileConfig("dev");
            const models = (dev.models as Json[]).map((model) => ({ ...model, apiKey: "required", ingress: { host: "qwen.example.com", className: "nginx", tls: { secretName: "qwen-tls" } } }));
            const run = await runStack({ ...dev, models, clientNamespaces: ["team-a", "team-b"], ingressControllerNamespace: "ingress" }, "dev");
            const model = policy(run, "llm", POLICY_NAMES.modelIngress("qwen-1-5b"));
            assert.deepStrictEqual(peers(model)[0].peer, { namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: ["team-a", "team-b"] }] } });
            // Called through the interceptor: the Ingress leads there, not to the model.
            assert.ok(!peers(model).some(({ peer }) => inNamespace(peer, "ingress")));
            const fence = policy(run, "keda", POLICY_NAMES.interceptor);
            assert.deepStrictEqual(peers(fence).slice(0, 2).map(({ peer, ports }) => [peer.namespaceSelector, ports]), [
                [{ matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: ["team-a", "team-b"] }] }, [8080]],
                [{ matchLabels: { "kubernetes.io/metadata.name": "ingress" } }, [8080]],
            ]);
        });

        it("lets the Ingress controller reach a published model called on its Service", async () => {
            const prod = stackFileConfig("prod");
            const models = (prod.models as Json[]).map((model) => ({ ...model, apiKey: "required", ingress: { host: `${model.name}.example.com`, className: "nginx", tls: { secretName: `${model.name}-tls` } } }));
            const run = await runStack({ ...prod, models }, "prod");
            const name = (prod.models as Json[])[0].name as string;
            const ingress = peers(policy(run, "llm", POLICY_NAMES.modelIngress(name))).find(({ peer }) => inNamespace(peer, "ingress-nginx"));
            assert.ok(ingress, "the default ingressControllerNamespace is ingress-nginx");
            assert.ok(!policiesOf(run).some((p) => p.metadata.namespace === "keda"), "no interceptor, no fence for it");
        });

        it("fences the TGI sibling namespace like the stack's own, on TGI's port", async () => {
            const tgi = { name: "tgi-model", repo: "Qwen/Qwen2.5-0.5B-Instruct", revision: "7ae557604adf67be50417f59c2c2f167def9a775", modelSize: "1Gi", storage: { size: "5Gi" }, engine: "tgi" };
            const run = await runStack({ target: "local", models: [tgi], clientNamespaces: ["team-a"] });
            assert.deepStrictEqual(policiesOf(run).filter((p) => p.metadata.namespace.startsWith("llm")).map((p) => `${p.metadata.namespace}/${p.metadata.name}`).sort(), [
                "llm-tgi/default-deny", "llm-tgi/model-download-egress", "llm-tgi/tgi-model-ingress",
                "llm/default-deny", "llm/model-download-egress",
            ]);
            assert.deepStrictEqual(peers(policy(run, "llm-tgi", "tgi-model-ingress")).map(({ ports }) => ports), [[8080], [8080]]);
        });

        it("notes, in the plan, a flavour whose default network plugin ignores the fences", async () => {
            assert.deepStrictEqual(networkPolicyNotices("minikube").map((note) => /^note: minikube's default CNI .* ignores NetworkPolicies/.test(note)), [true]);
            for (const flavour of ["eks", "k3s", "kind", "generic"] as const) {
                assert.deepStrictEqual(networkPolicyNotices(flavour), []);
            }
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stack-"));
            try {
                const file = path.join(dir, "Pulumi.minikube.yaml");
                fs.writeFileSync(file, fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.local.yaml"), "utf8").replace("llm-platform:clusterFlavour: k3s", "llm-platform:clusterFlavour: minikube"));
                // The plan as npm run plan runs it: bin/, built once in the test run's global setup.
                const result = spawnSync(process.execPath, [path.join(PROJECT_DIR, "bin", "tools", "plan.js"), "--stack", "minikube", "--config", file, "--out", dir], { cwd: PROJECT_DIR, encoding: "utf8", timeout: 120_000 });
                assert.ok(result.stdout.split("\n").includes(networkPolicyNotices("minikube")[0]), result.stdout + result.stderr);
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });

        it("refuses a client namespace that is no namespace name, naming the key", async () => {
            const problems = await configProblems({ ...stackFileConfig("local"), clientNamespaces: ["Team_A"] });
            assert.strictEqual(problems.length, 1, problems.join("\n"));
            assert.match(problems[0], /clientNamespaces/);
        });
    });
});

/**
 * With the real charts (LLM_PLATFORM_CHARTS, as test/upstream-charts.test.ts takes them): every
 * policy selects pods the stack runs, and every peer that names pods names pods the charts and the
 * program render, in the namespace it names; Prometheus and Alertmanager pods are the operator's,
 * labelled as prometheus-operator v0.93.0 labels them (makeSelectorLabels) after the objects the
 * chart renders. Peers by namespace alone (client namespaces, the Ingress controller) and pods the
 * stack does not run (CoreDNS) are outside the stack.
 */
describe("network policies against the rendered charts (LLM_PLATFORM_CHARTS)", function () {
    this.timeout(300_000);
    const CHARTS = process.env.LLM_PLATFORM_CHARTS;
    before(function () {
        if (!CHARTS) {
            this.skip();
        }
    });

    it("local: each policy and each allowed source selects real pods", async () => {
        const result = await plan("local", stackFilePath(PROJECT_DIR, "local"), { charts: { dir: CHARTS as string } });
        const all = result.objects as unknown as Json[];
        const pods = [
            ...all.filter((object) => ["Deployment", "StatefulSet", "DaemonSet", "Job"].includes(object.kind))
                .map((object) => ({ namespace: object.metadata.namespace as string, name: object.metadata.name as string, labels: object.spec.template.metadata.labels as Record<string, string> })),
            ...all.filter((object) => object.kind === "Prometheus" || object.kind === "Alertmanager").map((object) => ({
                namespace: object.metadata.namespace as string,
                name: object.metadata.name as string,
                labels: {
                    "app.kubernetes.io/managed-by": "prometheus-operator", "app.kubernetes.io/name": object.kind.toLowerCase(), "app.kubernetes.io/instance": object.metadata.name,
                    ...(object.kind === "Prometheus" ? { "operator.prometheus.io/name": object.metadata.name, prometheus: object.metadata.name } : { alertmanager: object.metadata.name }),
                },
            })),
        ];
        const rendered = new Set(pods.map((pod) => pod.namespace));
        assert.ok(["keda", "monitoring", "llm"].every((namespace) => rendered.has(namespace)), [...rendered].join(", "));
        const unmatched: string[] = [];
        const fences = all.filter((object) => object.kind === "NetworkPolicy") as unknown as NetworkPolicyBody[];
        assert.ok(fences.length > 0, "the plan has NetworkPolicies to check");
        for (const body of fences) {
            const where = `${body.metadata.namespace}/${body.metadata.name}`;
            const own = body.spec.podSelector;
            if (Object.keys(own.matchLabels ?? {}).length > 0 && !pods.some((pod) => pod.namespace === body.metadata.namespace && matches(own, pod.labels))) {
                unmatched.push(`${where} selects no pod`);
            }
            for (const rule of [...(body.spec.ingress ?? []).map((r) => r.from), ...(body.spec.egress ?? []).map((r) => r.to)]) {
                for (const peer of rule) {
                    if (!peer.podSelector) {
                        continue;
                    }
                    const namespace = peer.namespaceSelector?.matchLabels?.["kubernetes.io/metadata.name"] ?? body.metadata.namespace;
                    if (rendered.has(namespace) && !pods.some((pod) => pod.namespace === namespace && matches(peer.podSelector, pod.labels))) {
                        unmatched.push(`${where}: no pod in ${namespace} has ${JSON.stringify(peer.podSelector.matchLabels)}`);
                    }
                }
            }
        }
        assert.deepStrictEqual(unmatched, []);
    });
});
