/**
 * Issue 14, keys and TLS, end to end: the config's API key and TLS settings, the objects the
 * program builds from them (prod and variants of it), and the two rules on those objects through
 * the offline evaluator and `npm run check` / `npm run plan` as a user runs them.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { stringify } from "yaml";
import { ingressNotices } from "../components/model-server/resources";
import { ingressTls, modelEndpointProtected } from "../policies/rules/endpoint-security";
import { KubernetesObject, kubernetesObjects, toManifestYaml, typeToken } from "../tools/offline/manifests";
import { evaluatePolicies } from "../tools/offline/policies";
import { ProgramRun } from "../tools/offline/run";
import { PROJECT_DIR, acceptedConfig, buildTools, configProblems, loadConfigWith, runStack, runStackFile, stackFileConfig } from "./mocks";

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any -- objects are read and broken freely

const MY_RULES = [modelEndpointProtected, ingressTls];
const HOST = "qwen.example.com";

/** prod's config with its model given an Ingress; `ingress` merged over { host }. */
function prodWithIngress(ingress: Record<string, unknown> = {}, model: Record<string, unknown> = {}): Record<string, unknown> {
    const prod = stackFileConfig("prod");
    const [first] = prod.models as Record<string, unknown>[];
    return { ...prod, models: [{ ...first, ...model, ingress: { host: HOST, ...ingress } }] };
}

async function ruleMessages(objects: readonly KubernetesObject[], rules = MY_RULES): Promise<string[]> {
    const subjects = objects.map((object, index) => {
        const type = typeToken(object.apiVersion, object.kind);
        return { type, name: object.metadata.name ?? `r${index}`, urn: `urn:pulumi:test::llm-platform::${type}::${object.metadata.namespace}/${object.metadata.name}`, props: object as Record<string, unknown> };
    });
    return (await evaluatePolicies(rules, subjects)).violations.map((violation) => `${violation.policy}: ${violation.message}`);
}

function find(objects: readonly KubernetesObject[], kind: string, name: string): Json {
    const found = objects.find((object) => object.kind === kind && object.metadata.name === name);
    assert.ok(found, `${kind} ${name}`);
    return found;
}

/** The objects as the program built them before issue 14: no key in the engine, no TLS on the Ingress. */
function beforeIssue14(objects: readonly KubernetesObject[]): KubernetesObject[] {
    const copy = structuredClone(objects) as Json[];
    for (const object of copy) {
        if (object.kind === "Deployment") {
            for (const container of object.spec.template.spec.containers) {
                container.env = (container.env ?? []).filter((variable: Json) => variable.name !== "VLLM_API_KEY" && variable.name !== "API_KEY");
            }
        }
        if (object.kind === "Ingress") {
            delete object.spec.tls;
            object.spec.rules[0].http.paths[0].path = "/";
        }
    }
    return copy.filter((object) => !(object.kind === "Secret" && object.stringData?.key !== undefined));
}

describe("issue 14: API keys and TLS", function () {
    this.timeout(300_000);

    describe("config", () => {
        const local = () => stackFileConfig("local");
        const vllmModel = { name: "qwen", repo: "Qwen/Qwen2.5-0.5B-Instruct", revision: "7ae557604adf67be50417f59c2c2f167def9a775", modelSize: "1Gi", storage: { size: "5Gi" } };

        it("requires no key by default, and a model takes the stack's apiKey unless it sets its own", async () => {
            assert.deepStrictEqual((await acceptedConfig(local())).models.map((model) => model.apiKey), ["none"]);
            const config = await acceptedConfig({ target: "local", apiKey: "required", models: [vllmModel, { ...vllmModel, name: "open", apiKey: "none" }] });
            assert.deepStrictEqual(config.models.map((model) => model.apiKey), ["required", "none"]);
        });

        it("reads the key from the secret apiKeyValue, kept secret", async () => {
            const config = await loadConfigWith({ target: "local", apiKey: "required", models: [vllmModel], apiKeyValue: "not-a-real-key" }, ["apiKeyValue"]);
            assert.ok(!(config instanceof Error) && config.apiKeyValue);
            assert.strictEqual(await (await import("@pulumi/pulumi")).isSecret(config.apiKeyValue), true);
        });

        it("refuses a key on Ollama, which checks none, naming the key, whether the model or the stack asks for it", async () => {
            const ollama = { ...local(), apiKey: "required" };
            assert.deepStrictEqual(await configProblems(ollama), [
                `llm-platform:models[0].apiKey = "\\"\\" (the stack's apiKey: required)": engine ollama has no API key check of its own (it reads no key and serves every caller): set this model's apiKey: none, or serve it with vllm or tgi`,
            ]);
            const own = local();
            (own.models as Json[])[0].apiKey = "required";
            assert.match((await configProblems(own))[0], /^llm-platform:models\[0\]\.apiKey = "required": engine ollama has no API key check/);
        });

        it("refuses an unknown apiKey", async () => {
            assert.match((await configProblems({ ...local(), apiKey: "optional" }))[0], /^llm-platform:apiKey = "optional": /);
        });

        it("refuses ingress.host without a key, and without TLS, one line each naming the key", async () => {
            assert.deepStrictEqual(await configProblems({ target: "local", models: [{ ...vllmModel, gpusPerReplica: 1, ingress: { host: HOST, tls: { secretName: "qwen-cert" } } }] }), [
                `llm-platform:models[0].ingress.host = "${HOST}": publishes the model outside the cluster without an API key: set apiKey: required (this model's, or the stack's llm-platform:apiKey)`,
            ]);
            assert.deepStrictEqual(await configProblems(prodWithIngress()), [
                `llm-platform:models[0].ingress.host = "${HOST}": is set without TLS: set ingress.tls.secretName (an existing TLS Secret in the model's namespace) or ingress.tls.clusterIssuer (cert-manager issues it)`,
            ]);
            const ollama = local();
            (ollama.models as Json[])[0].ingress = { host: HOST, tls: { secretName: "qwen-cert" } };
            assert.deepStrictEqual(await configProblems(ollama), [
                `llm-platform:models[0].ingress.host = "${HOST}": publishes the model outside the cluster, but engine ollama has no API key check: serve it with vllm or tgi to publish it`,
            ]);
        });
    });

    describe("the prod stack", () => {
        let run: ProgramRun;
        let objects: KubernetesObject[];
        before(async () => {
            run = await runStackFile("prod");
            objects = kubernetesObjects(run.resources);
        });

        it("has the key: a generated secret, in the Secret qwen-7b-api-key-<suffix>, reaching vLLM as VLLM_API_KEY from it, exported as a secret", () => {
            assert.ok(run.resources.some((resource) => resource.type === "random:index/randomPassword:RandomPassword" && resource.name === "model-api-key"));
            const secret = run.resources.find((resource) => resource.type === "kubernetes:core/v1:Secret" && resource.name === "qwen-7b-api-key")?.inputs as Json;
            assert.strictEqual(secret.metadata.namespace, "llm");
            assert.deepStrictEqual(Object.keys(secret.stringData), ["key"]);
            // A new key rolls the pods: the Secret is immutable and Pulumi names it, so a new key is a new
            // Secret under a new name, and the Deployment's secretKeyRef (its pod template) follows it.
            assert.strictEqual(secret.immutable, true);
            assert.strictEqual(secret.metadata.name, undefined);
            const server = find(objects, "Deployment", "qwen-7b").spec.template.spec.containers[0];
            assert.deepStrictEqual(server.env.filter((variable: Json) => /API_KEY/.test(variable.name)),
                [{ name: "VLLM_API_KEY", valueFrom: { secretKeyRef: { name: "qwen-7b-api-key-00000000", key: "key" } } }]);
            assert.ok(!server.args.some((arg: string) => arg.startsWith("--api-key")));
            assert.strictEqual(run.outputs.apiKey, "[secret]");
            // The generated value (tools/offline/fakes.ts) is in no object in clear.
            assert.ok(!JSON.stringify(run.resources.map((resource) => resource.inputs)).includes("offline-password-model-api-key"));
        });

        it("probes paths the key leaves open: readiness and startup on /health, not /v1/models", () => {
            const server = find(objects, "Deployment", "qwen-7b").spec.template.spec.containers[0];
            assert.deepStrictEqual([server.startupProbe.httpGet.path, server.readinessProbe.httpGet.path, server.livenessProbe.httpGet.path], ["/health", "/health", "/health"]);
            assert.strictEqual(find(objects, "ServiceMonitor", "qwen-7b").spec.endpoints[0].path, "/metrics");
        });

        it("keeps the in-cluster URL output, and has no violation of either rule (no Ingress)", async () => {
            assert.deepStrictEqual(run.outputs.models, { "qwen-7b": { url: "http://qwen-7b.llm.svc.cluster.local/v1", servedModelName: "Qwen/Qwen2.5-7B-Instruct" } });
            assert.deepStrictEqual(await ruleMessages(objects), []);
        });
    });

    describe("a prod variant with ingress.host", () => {
        let objects: KubernetesObject[];
        before(async () => {
            const run = await runStack(prodWithIngress({ className: "nginx", tls: { clusterIssuer: "letsencrypt-prod" } }), "prod");
            assert.deepStrictEqual(run.failures, []);
            objects = kubernetesObjects(run.resources);
        });

        it("has TLS from cert-manager: the issuer annotation and a tls entry for the host", () => {
            const ingress = find(objects, "Ingress", "qwen-7b");
            assert.strictEqual(ingress.metadata.annotations["cert-manager.io/cluster-issuer"], "letsencrypt-prod");
            assert.deepStrictEqual(ingress.spec.tls, [{ hosts: [HOST], secretName: "qwen-7b-tls" }]);
        });

        it("publishes only /v1, the paths vLLM's key guards; the key alone at / would leave POST /invocations open", async () => {
            const ingress = find(objects, "Ingress", "qwen-7b");
            assert.deepStrictEqual(ingress.spec.rules[0].http.paths.map((path: Json) => [path.path, path.pathType]), [["/v1", "Prefix"]]);
            const atRoot = structuredClone(objects) as Json[];
            find(atRoot, "Ingress", "qwen-7b").spec.rules[0].http.paths[0].path = "/";
            assert.deepStrictEqual(await ruleMessages(atRoot), [
                `model-endpoint-protected: Ingress llm/qwen-7b publishes path "/" of Deployment llm/qwen-7b, whose container "server" is vLLM: its key guards only paths under /v1, and POST /invocations generates without it; publish path /v1 (Prefix) only.`,
            ]);
        });

        it("passes both rules, and each fails on the objects the program built before issue 14", async () => {
            assert.deepStrictEqual(await ruleMessages(objects), []);
            assert.deepStrictEqual(await ruleMessages(beforeIssue14(objects)), [
                `model-endpoint-protected: Ingress llm/qwen-7b reaches Deployment llm/qwen-7b, whose container "server" requires no API key; set VLLM_API_KEY or API_KEY from a Secret (secretKeyRef), or an auth annotation its ingress class honours (nginx.ingress.kubernetes.io/auth-url).`,
                `ingress-tls: Ingress llm/qwen-7b has no tls: it serves HTTP in clear, API keys and prompts included; add spec.tls with the hosts and a certificate Secret (cert-manager.io/cluster-issuer issues one).`,
            ]);
        });

        describe("through npm run check, as YAML", () => {
            const check = (objectsToCheck: readonly KubernetesObject[]) => {
                const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "check-")), "manifests.yaml");
                fs.writeFileSync(file, toManifestYaml(objectsToCheck));
                return spawnSync(process.execPath, [path.join(PROJECT_DIR, "bin", "tools", "check.js"), file], { cwd: PROJECT_DIR, encoding: "utf8", timeout: 60_000 });
            };
            const model = (all: readonly KubernetesObject[]) => all.filter((object) => object.metadata.namespace === "llm" && ["Deployment", "Service", "Ingress", "Secret", "PodDisruptionBudget", "NetworkPolicy"].includes(object.kind));
            before(() => buildTools());

            it("passes the model's objects", () => {
                const result = check(model(objects));
                assert.strictEqual(result.status, 0, result.stdout + result.stderr);
                assert.doesNotMatch(result.stdout, /model-endpoint-protected|ingress-tls/);
            });

            it("fails a default backend and a rewrite out of /v1, with exit 1", () => {
                const broken = structuredClone(model(objects)) as Json[];
                const ingress = find(broken, "Ingress", "qwen-7b");
                ingress.spec.defaultBackend = ingress.spec.rules[0].http.paths[0].backend;
                ingress.metadata.annotations = { ...ingress.metadata.annotations, "nginx.ingress.kubernetes.io/rewrite-target": "/" };
                const result = check(broken);
                assert.strictEqual(result.status, 1, result.stdout + result.stderr);
                assert.match(result.stdout, /^\[mandatory\] ingress-tls: kubernetes:networking\.k8s\.io\/v1:Ingress qwen-7b: Ingress llm\/qwen-7b has a default backend/m);
                assert.match(result.stdout, /^\[mandatory\] model-endpoint-protected: kubernetes:networking\.k8s\.io\/v1:Ingress qwen-7b: Ingress llm\/qwen-7b publishes path "\/" of Deployment llm\/qwen-7b/m);
            });

            it("fails them as they were before issue 14, with one line per rule and exit 1", () => {
                const result = check(model(beforeIssue14(objects)));
                assert.strictEqual(result.status, 1, result.stdout + result.stderr);
                assert.match(result.stdout, /^\[mandatory\] model-endpoint-protected: kubernetes:networking\.k8s\.io\/v1:Ingress qwen-7b: Ingress llm\/qwen-7b reaches Deployment llm\/qwen-7b/m);
                assert.match(result.stdout, /^\[mandatory\] ingress-tls: kubernetes:networking\.k8s\.io\/v1:Ingress qwen-7b: Ingress llm\/qwen-7b has no tls/m);
            });
        });
    });

    describe("a dev variant with ingress.host (scale from zero: the Ingress goes to the interceptor's ExternalName proxy)", () => {
        let objects: KubernetesObject[];
        before(async () => {
            const dev = stackFileConfig("dev");
            const [first] = dev.models as Record<string, unknown>[];
            const run = await runStack({ ...dev, models: [{ ...first, apiKey: "required", ingress: { host: HOST, tls: { secretName: "qwen-cert" } } }] }, "dev");
            assert.deepStrictEqual(run.failures, []);
            objects = kubernetesObjects(run.resources);
        });

        it("protects the model behind the proxy, and the rule follows the proxy to it when the key is gone", async () => {
            assert.strictEqual(find(objects, "Ingress", "qwen-1-5b").spec.rules[0].http.paths[0].backend.service.name, "qwen-1-5b-proxy");
            assert.deepStrictEqual(await ruleMessages(objects), []);
            assert.deepStrictEqual(await ruleMessages(beforeIssue14(objects), [modelEndpointProtected]), [
                `model-endpoint-protected: Ingress llm/qwen-1-5b reaches Deployment llm/qwen-1-5b, whose container "server" requires no API key; set VLLM_API_KEY or API_KEY from a Secret (secretKeyRef), or an auth annotation its ingress class honours (nginx.ingress.kubernetes.io/auth-url).`,
            ]);
        });
    });

    describe("a prod variant served by TGI", () => {
        it("keeps the key out of TGI's logs: its launcher prints its arguments, the key among them, at info; LOG_LEVEL holds the launcher at warn", async () => {
            const prod = stackFileConfig("prod");
            const [first] = prod.models as Record<string, unknown>[];
            const run = await runStack({ ...prod, models: [{ ...first, engine: "tgi" }] }, "prod");
            assert.deepStrictEqual(run.failures, []);
            const server = find(kubernetesObjects(run.resources), "Deployment", "qwen-7b").spec.template.spec.containers[0];
            assert.deepStrictEqual(server.env.filter((variable: Json) => ["API_KEY", "LOG_LEVEL"].includes(variable.name)), [
                { name: "API_KEY", valueFrom: { secretKeyRef: { name: "qwen-7b-api-key-00000000", key: "key" } } },
                { name: "LOG_LEVEL", value: "info,text_generation_launcher=warn" },
            ]);
            // Without a key, TGI logs as it always did.
            const open = await runStack({ ...prod, apiKey: "none", models: [{ ...first, engine: "tgi" }] }, "prod");
            const keyless = find(kubernetesObjects(open.resources), "Deployment", "qwen-7b").spec.template.spec.containers[0];
            assert.deepStrictEqual(keyless.env.filter((variable: Json) => ["API_KEY", "LOG_LEVEL"].includes(variable.name)), []);
        });
    });

    it("no shipped stack (dev, prod, local) publishes a model: the rules have no Ingress there to look at", async () => {
        for (const stack of ["dev", "prod", "local"]) {
            const objects = kubernetesObjects((await runStackFile(stack)).resources);
            assert.deepStrictEqual(objects.filter((object) => object.kind === "Ingress"), [], stack);
        }
    });

    describe("npm run plan on a prod variant with ingress.host", () => {
        const planWith = (config: Record<string, unknown>) => {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "plan-"));
            const file = path.join(dir, "Pulumi.variant.yaml");
            fs.writeFileSync(file, stringify({ config: Object.fromEntries(Object.entries(config).map(([key, value]) => [key.includes(":") ? key : `llm-platform:${key}`, value])) }));
            return spawnSync(process.execPath, [path.join(PROJECT_DIR, "bin", "tools", "plan.js"), "--stack", "prod", "--config", file, "--out", path.join(dir, "out")],
                { cwd: PROJECT_DIR, encoding: "utf8", timeout: 180_000 });
        };
        before(() => buildTools());

        it("refuses it without TLS, in one line naming the key", () => {
            const result = planWith(prodWithIngress());
            assert.notStrictEqual(result.status, 0);
            assert.match(result.stderr, /^error: .*llm-platform:models\[0\]\.ingress\.host = "qwen\.example\.com": is set without TLS: set ingress\.tls\.secretName/m);
            assert.doesNotMatch(result.stderr, /\n\s+at /);
        });

        it("passes it with TLS: exit 0, no violations, and notes what the cluster must run that the stack does not install", () => {
            const result = planWith(prodWithIngress({ tls: { secretName: "qwen-cert" } }));
            assert.strictEqual(result.status, 0, result.stdout + result.stderr);
            assert.match(result.stdout, /^policy pack llm-platform: no violations$/m);
            assert.ok(result.stdout.split("\n").includes("note: model qwen-7b is published at https://qwen.example.com/v1: "
                + "the cluster needs an Ingress controller in namespace ingress-nginx and the TLS Secret qwen-cert in the model's namespace; the stack installs neither"),
            result.stdout);
        });

        it("names cert-manager and its ClusterIssuer when the certificate comes from one", () => {
            assert.deepStrictEqual(ingressNotices([{ name: "qwen-7b", ingress: { host: HOST, className: "nginx", tls: { secretName: "", clusterIssuer: "letsencrypt" } } }], "ingress-nginx"), [
                `note: model qwen-7b is published at https://${HOST}/v1: the cluster needs an Ingress controller in namespace ingress-nginx `
                + "and cert-manager with the ClusterIssuer letsencrypt (it fills the Secret qwen-7b-tls); the stack installs neither",
            ]);
            assert.deepStrictEqual(ingressNotices([{ name: "in-cluster", ingress: { host: "", className: "", tls: { secretName: "", clusterIssuer: "" } } }], "ingress-nginx"), []);
        });
    });
});
