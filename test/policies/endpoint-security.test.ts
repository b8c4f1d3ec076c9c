import * as assert from "assert";
import { ingressTls, modelEndpointProtected } from "../../policies/rules/endpoint-security";
import { mainContainer, modelServer } from "./fixtures";
import { cases, k8s, messagesBothWays, mutated, violations } from "./harness";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- fixtures are mutated freely

/** Not a real key: what a literal would look like, to check that no message repeats it. */
const LITERAL_KEY = "sk-not-a-real-key-0123456789";

/** The model server with its key from a Secret, as components/model-server/engines.ts apiKeyEnv sets it. */
function keyedServer(): Obj {
    return mutated(modelServer(), (o) => {
        mainContainer(o).env.push({ name: "VLLM_API_KEY", valueFrom: { secretKeyRef: { name: "qwen-api-key", key: "key" } } });
    });
}

function service(): Obj {
    return {
        apiVersion: "v1", kind: "Service", metadata: { name: "qwen", namespace: "llm" },
        spec: { type: "ClusterIP", selector: { app: "qwen" }, ports: [{ name: "http", port: 80, targetPort: "http" }] },
    };
}

function ingress(backend = "qwen"): Obj {
    return {
        apiVersion: "networking.k8s.io/v1", kind: "Ingress", metadata: { name: "qwen", namespace: "llm" },
        spec: {
            ingressClassName: "nginx",
            tls: [{ hosts: ["qwen.example.com"], secretName: "qwen-tls" }],
            rules: [{ host: "qwen.example.com", http: { paths: [{ path: "/v1", pathType: "Prefix", backend: { service: { name: backend, port: { name: "http" } } } }] } }],
        },
    };
}

/** The scale-from-zero path (components/model-server/request-routing.ts): Ingress -> ExternalName -> interceptor -> route -> Service. */
function proxyService(): Obj {
    return {
        apiVersion: "v1", kind: "Service", metadata: { name: "qwen-proxy", namespace: "llm" },
        spec: { type: "ExternalName", externalName: "keda-add-ons-http-interceptor-proxy.keda.svc.cluster.local", ports: [{ name: "http", port: 8080 }] },
    };
}

function interceptorRoute(hosts = ["qwen-proxy", "qwen.example.com"]): Obj {
    return {
        apiVersion: "http.keda.sh/v1beta1", kind: "InterceptorRoute", metadata: { name: "qwen", namespace: "llm" },
        spec: { target: { service: "qwen", port: 80 }, rules: [{ hosts }] },
    };
}

function interceptorService(): Obj {
    return {
        apiVersion: "v1", kind: "Service", metadata: { name: "keda-add-ons-http-interceptor-proxy", namespace: "keda" },
        spec: { type: "ClusterIP", selector: { "app.kubernetes.io/component": "interceptor" }, ports: [{ name: "proxy", port: 8080 }] },
    };
}

async function protectedMessages(objects: Obj[], settings?: Record<string, unknown>): Promise<string[]> {
    return messagesBothWays(modelEndpointProtected, objects, settings);
}

const NO_KEY = /^Ingress llm\/qwen reaches Deployment llm\/qwen, whose container "vllm" requires no API key; set VLLM_API_KEY or API_KEY from a Secret \(secretKeyRef\), or an auth annotation its ingress class honours \(nginx\.ingress\.kubernetes\.io\/auth-url\)\.$/;
const LITERAL = /^Ingress llm\/qwen reaches Deployment llm\/qwen, whose container "vllm" takes its API key as a literal in the manifest; put the key in a Secret and set it with secretKeyRef\.$/;

describe("model-endpoint-protected", () => {
    it("passes a keyed model server behind an Ingress", async () => {
        assert.deepStrictEqual(await protectedMessages([keyedServer(), service(), ingress()]), []);
    });

    it("fails a model server without a key behind an Ingress (the program's objects before issue 14)", async () => {
        const messages = await protectedMessages([modelServer(), service(), ingress()]);
        assert.strictEqual(messages.length, 1, messages.join("\n"));
        assert.match(messages[0], NO_KEY);
    });

    it("reports on the Ingress, at mandatory level", async () => {
        const found = await violations(modelEndpointProtected, [modelServer(), service(), ingress()].map(k8s));
        assert.deepStrictEqual(found.map((v) => [v.resourceType, v.resourceName, v.enforcementLevel]), [["kubernetes:networking.k8s.io/v1:Ingress", "qwen", "mandatory"]]);
    });

    it("passes a model server no Ingress reaches, and an Ingress to another Service", async () => {
        assert.deepStrictEqual(await protectedMessages([modelServer(), service()]), []);
        const web = { ...service(), metadata: { name: "web", namespace: "llm" }, spec: { selector: { app: "web" }, ports: [{ port: 80 }] } };
        assert.deepStrictEqual(await protectedMessages([modelServer(), service(), web, ingress("web")]), []);
    });

    it("matches the Service's selector to the pods of its own namespace only", async () => {
        const elsewhere = mutated(modelServer(), (o) => { o.metadata.namespace = "other"; });
        assert.deepStrictEqual(await protectedMessages([elsewhere, service(), ingress()]), []);
    });

    it("fails a literal key, never repeating it", async () => {
        for (const set of [
            (o: Obj) => mainContainer(o).env.push({ name: "VLLM_API_KEY", value: LITERAL_KEY }),
            (o: Obj) => mainContainer(o).args.push(`--api-key=${LITERAL_KEY}`),
            (o: Obj) => mainContainer(o).args.push("--api-key", LITERAL_KEY),
        ]) {
            const messages = await protectedMessages([mutated(modelServer(), set), service(), ingress()]);
            assert.strictEqual(messages.length, 1, messages.join("\n"));
            assert.match(messages[0], LITERAL);
            assert.ok(!messages[0].includes(LITERAL_KEY));
        }
    });

    it("fails a keyed vLLM server published outside /v1, the only paths its key guards", async () => {
        for (const path of ["/", "/invocations", "/v10"]) {
            const messages = await protectedMessages([keyedServer(), service(), mutated(ingress(), (o) => { o.spec.rules[0].http.paths[0].path = path; })]);
            assert.deepStrictEqual(messages, [`Ingress llm/qwen publishes path ${JSON.stringify(path)} of Deployment llm/qwen, whose container "vllm" is vLLM: its key guards only paths under /v1, and POST /invocations generates without it; publish path /v1 (Prefix) only.`]);
        }
        const defaultBackend = mutated(ingress(), (o) => { o.spec.defaultBackend = { service: { name: "qwen", port: { name: "http" } } }; });
        assert.deepStrictEqual(await protectedMessages([keyedServer(), service(), defaultBackend]), [
            `Ingress llm/qwen publishes path "/" of Deployment llm/qwen, whose container "vllm" is vLLM: its key guards only paths under /v1, and POST /invocations generates without it; publish path /v1 (Prefix) only.`,
        ]);
        const subPath = mutated(ingress(), (o) => { o.spec.rules[0].http.paths[0].path = "/v1/chat"; });
        assert.deepStrictEqual(await protectedMessages([keyedServer(), service(), subPath]), []);
    });

    it("fails an ingress-nginx rewrite out of /v1 to a keyed vLLM server: /v1/invocations would reach POST /invocations", async () => {
        const rewrite = (target: string) => mutated(ingress(), (o) => {
            o.metadata.annotations = { "nginx.ingress.kubernetes.io/rewrite-target": target, "nginx.ingress.kubernetes.io/use-regex": "true" };
            o.spec.rules[0].http.paths[0] = { ...o.spec.rules[0].http.paths[0], path: "/v1/(.*)", pathType: "ImplementationSpecific" };
        });
        assert.deepStrictEqual(await protectedMessages([keyedServer(), service(), rewrite("/$1")]), [
            `Ingress llm/qwen rewrites its paths to "/$1" (nginx.ingress.kubernetes.io/rewrite-target) for Deployment llm/qwen, whose container "vllm" is vLLM: its key guards only paths under /v1, and a rewrite out of /v1 reaches POST /invocations without it; drop the rewrite, or keep the target under /v1.`,
        ]);
        assert.deepStrictEqual(await protectedMessages([keyedServer(), service(), rewrite("/v1/$1")]), []);
    });

    it("leaves TGI's paths to its own key, which guards its generation routes wherever they are", async () => {
        const tgi = mutated(modelServer(), (o) => {
            mainContainer(o).image = "ghcr.io/huggingface/text-generation-inference:3.3.2";
            mainContainer(o).env.push({ name: "API_KEY", valueFrom: { secretKeyRef: { name: "qwen-api-key", key: "key" } } });
        });
        assert.deepStrictEqual(await protectedMessages([tgi, service(), mutated(ingress(), (o) => { o.spec.rules[0].http.paths[0].path = "/"; })]), []);
    });

    it("passes --api-key $(VAR) with VAR from a Secret, and TGI's API_KEY", async () => {
        const argument = mutated(modelServer(), (o) => {
            mainContainer(o).env.push({ name: "KEY", valueFrom: { secretKeyRef: { name: "qwen-api-key", key: "key" } } });
            mainContainer(o).args.push("--api-key", "$(KEY)");
        });
        assert.deepStrictEqual(await protectedMessages([argument, service(), ingress()]), []);
        const tgi = mutated(modelServer(), (o) => {
            mainContainer(o).image = "ghcr.io/huggingface/text-generation-inference:3.3.2";
            mainContainer(o).env.push({ name: "API_KEY", valueFrom: { secretKeyRef: { name: "qwen-api-key", key: "key" } } });
        });
        assert.deepStrictEqual(await protectedMessages([tgi, service(), ingress()]), []);
    });

    it("fails --api-key $(VAR) where VAR is a literal", async () => {
        const literalVariable = mutated(modelServer(), (o) => {
            mainContainer(o).env.push({ name: "KEY", value: LITERAL_KEY });
            mainContainer(o).args.push("--api-key=$(KEY)");
        });
        assert.match((await protectedMessages([literalVariable, service(), ingress()]))[0], LITERAL);
    });

    it("passes an auth annotation its ingress class honours, and only then", async () => {
        const authUrl = mutated(ingress(), (o) => { o.metadata.annotations = { "nginx.ingress.kubernetes.io/auth-url": "http://oauth2-proxy.auth.svc/oauth2/auth" }; });
        assert.deepStrictEqual(await protectedMessages([modelServer(), service(), authUrl]), []);
        const basic = mutated(ingress(), (o) => { o.metadata.annotations = { "nginx.ingress.kubernetes.io/auth-type": "basic", "nginx.ingress.kubernetes.io/auth-secret": "qwen-users" }; });
        assert.deepStrictEqual(await protectedMessages([modelServer(), service(), basic]), []);
        const basicWithoutUsers = mutated(basic, (o) => { delete o.metadata.annotations["nginx.ingress.kubernetes.io/auth-secret"]; });
        assert.match((await protectedMessages([modelServer(), service(), basicWithoutUsers]))[0], NO_KEY);
        const traefik = mutated(authUrl, (o) => { o.spec.ingressClassName = "traefik"; });
        assert.match((await protectedMessages([modelServer(), service(), traefik]))[0], NO_KEY);
        assert.deepStrictEqual(await protectedMessages([modelServer(), service(), traefik], { nginxIngressClasses: ["traefik"] }), []);
    });

    describe("through the KEDA HTTP add-on's interceptor", () => {
        it("follows the ExternalName proxy to the InterceptorRoute that takes the Ingress's host", async () => {
            const messages = await protectedMessages([modelServer(), service(), proxyService(), interceptorRoute(), ingress("qwen-proxy")]);
            assert.strictEqual(messages.length, 1, messages.join("\n"));
            assert.match(messages[0], NO_KEY);
            assert.deepStrictEqual(await protectedMessages([keyedServer(), service(), proxyService(), interceptorRoute(), ingress("qwen-proxy")]), []);
        });

        it("also with the interceptor's own Service in the stack (a rendered chart)", async () => {
            const messages = await protectedMessages([modelServer(), service(), proxyService(), interceptorService(), interceptorRoute(), ingress("qwen-proxy")]);
            assert.strictEqual(messages.length, 1, messages.join("\n"));
            assert.match(messages[0], NO_KEY);
        });

        it("skips a route that does not take the host, but not when a rule has no host (any Host header)", async () => {
            const otherHosts = interceptorRoute(["qwen-proxy"]);
            assert.deepStrictEqual(await protectedMessages([modelServer(), service(), proxyService(), otherHosts, ingress("qwen-proxy")]), []);
            const anyHost = mutated(ingress("qwen-proxy"), (o) => { delete o.spec.rules[0].host; });
            assert.deepStrictEqual((await protectedMessages([modelServer(), service(), proxyService(), otherHosts, anyHost])).map((message) => NO_KEY.test(message)), [true]);
        });

        it("follows an HTTPScaledObject's hosts to its Service too", async () => {
            const scaled = {
                apiVersion: "http.keda.sh/v1alpha1", kind: "HTTPScaledObject", metadata: { name: "qwen", namespace: "llm" },
                spec: { hosts: ["qwen.example.com"], scaleTargetRef: { name: "qwen", kind: "Deployment", apiVersion: "apps/v1", service: "qwen", port: 80 } },
            };
            assert.deepStrictEqual((await protectedMessages([modelServer(), service(), proxyService(), scaled, ingress("qwen-proxy")])).map((message) => NO_KEY.test(message)), [true]);
        });

        it("follows an ExternalName to a Service of the stack by its DNS name", async () => {
            const alias = { ...proxyService(), spec: { type: "ExternalName", externalName: "qwen.llm.svc.cluster.local" } };
            assert.deepStrictEqual((await protectedMessages([modelServer(), service(), alias, ingress("qwen-proxy")])).map((message) => NO_KEY.test(message)), [true]);
        });
    });

    it("skips an exempt Ingress", async () => {
        assert.deepStrictEqual(await protectedMessages([modelServer(), service(), ingress()], { exemptions: [{ name: "qwen", namespace: "llm", reason: "a lab demo behind a VPN" }] }), []);
    });
});

describe("ingress-tls", () => {
    cases(ingressTls, () => ingress(), [
        ["no tls (the program's Ingress before issue 14)", (o) => { delete o.spec.tls; }, [/^Ingress llm\/qwen has no tls: it serves HTTP in clear/]],
        ["a host no tls entry names", (o) => { o.spec.tls[0].hosts = ["other.example.com"]; }, [/^Ingress llm\/qwen: host "qwen\.example\.com" is in no tls entry's hosts/]],
        ["a tls entry without secretName", (o) => { delete o.spec.tls[0].secretName; }, [/tls\[0\] names no secretName/]],
        ["a rule without host", (o) => { delete o.spec.rules[0].host; }, [/rules\[0\] has no host: it answers every host name/]],
        ["a default backend (every other host, on the controller's catch-all server)", (o) => { o.spec.defaultBackend = { service: { name: "qwen", port: { name: "http" } } }; },
            [/^Ingress llm\/qwen has a default backend \(spec\.defaultBackend\): it answers every host name, which no certificate names/]],
        ["a second rule's host left out", (o) => { o.spec.rules.push({ host: "chat.example.com", http: o.spec.rules[0].http }); }, [/host "chat\.example\.com" is in no tls entry's hosts/]],
        ["a wildcard that does not cover two labels", (o) => { o.spec.tls[0].hosts = ["*.com"]; }, [/host "qwen\.example\.com" is in no tls entry's hosts/]],
        ["ssl-redirect turned off", (o) => { o.metadata.annotations = { "nginx.ingress.kubernetes.io/ssl-redirect": "false" }; }, [/ssl-redirect "false": ingress-nginx would keep serving plain HTTP/]],
    ], [
        ["a wildcard certificate", (o) => { o.spec.tls[0].hosts = ["*.example.com"]; }],
        ["a cert-manager issuer annotation with the tls entry it fills", (o) => { o.metadata.annotations = { "cert-manager.io/cluster-issuer": "letsencrypt" }; }],
        ["a workload that is no Ingress", (o) => { Object.assign(o, modelServer()); }],
    ]);
});
