import type { PolicyResource } from "@pulumi/policy";
import { isEngineImage, isModelServer, modelServerImagesSchema, servingContainers } from "../lib/model-servers";
import { Workload, describeContainer, workloadOf } from "../lib/pods";
import { RuleConfig, show, stackRule, typedRule } from "../lib/rule";
import { selects } from "../lib/scaling";
import { Props, asArray, asRecord, asString, asStringMap, at, objectName, objectNamespace } from "../lib/values";

/**
 * Who may call a model from outside the cluster: an Ingress that reaches a model server needs
 * a key in front of it (model-endpoint-protected), and every Ingress needs TLS (ingress-tls).
 * Written for the Ingress path the platform builds (components/model-server/resources.ts): an
 * ingress-nginx-style controller that reads `spec.tls` and follows ExternalName backends to the
 * KEDA HTTP add-on's interceptor, which routes by Host header (InterceptorRoute).
 */

const INGRESS_TYPES = [
    "kubernetes:networking.k8s.io/v1:Ingress",
    "kubernetes:networking.k8s.io/v1beta1:Ingress",
    "kubernetes:extensions/v1beta1:Ingress",
];
const SERVICE_TYPE = "kubernetes:core/v1:Service";
const INTERCEPTOR_ROUTE = /^kubernetes:http\.keda\.sh\/v[0-9a-z]+:InterceptorRoute$/;
const HTTP_SCALED_OBJECT = /^kubernetes:http\.keda\.sh\/v[0-9a-z]+:HTTPScaledObject$/;

/** The Services in front of the KEDA HTTP add-on's interceptor (chart keda-add-ons-http 0.15.0). */
const DEFAULT_INTERCEPTOR_SERVICES = ["keda-add-ons-http-interceptor-proxy"];

/**
 * The engines' key settings: vLLM's VLLM_API_KEY (vllm/entrypoints/serve/middleware/register.py) and
 * TGI's launcher API_KEY (clap `env` of --api-key, launcher/src/main.rs at v3.3.2). Both read
 * `--api-key` on the command line too.
 */
const DEFAULT_KEY_VARIABLES = ["VLLM_API_KEY", "API_KEY"];

/**
 * vLLM's key guards only paths that start with /v1 (and, in 0.27 to 0.29, /v2 and /inference:
 * AuthenticationMiddleware, a path-prefix test in vllm/entrypoints/serve/utils/server_utils.py, earlier
 * vllm/entrypoints/openai/server_utils.py), yet it generates outside them: SageMaker's POST
 * /invocations takes chat and completion requests. An Ingress path outside /v1 to a vLLM server is a way in without the key.
 */
const VLLM_IMAGE = "vllm/vllm-openai";

function underV1(path: string): boolean {
    return path === "/v1" || path.startsWith("/v1/");
}

/**
 * ingress-nginx's rewrite: the backend gets this path, not the one the client asked for (capture
 * groups of the rule's path in `$1`...; ingress-nginx docs, examples/rewrite). Under `/v1` in the
 * Ingress, `/$2` at the server: `/v1/invocations` would reach vLLM's unguarded POST /invocations.
 */
const NGINX_REWRITE_TARGET = "nginx.ingress.kubernetes.io/rewrite-target";

/** ingress-nginx's external and basic/digest authentication (docs: user-guide/nginx-configuration/annotations.md). */
const NGINX_AUTH_URL = "nginx.ingress.kubernetes.io/auth-url";
const NGINX_AUTH_TYPE = "nginx.ingress.kubernetes.io/auth-type";
const NGINX_AUTH_SECRET = "nginx.ingress.kubernetes.io/auth-secret";

interface ProtectedConfig extends RuleConfig {
    readonly modelServerImages: readonly string[];
    readonly keyVariables: readonly string[];
    readonly nginxIngressClasses: readonly string[];
    readonly interceptorServices: readonly string[];
}

/** One way into the cluster: a host name of an Ingress (or "" for any host), a path prefix and the Service it sends to. */
interface Backend {
    readonly host: string;
    readonly path: string;
    readonly service: string;
}

/** The Services every rule and the default backend of an Ingress send to (networking.k8s.io/v1, and v1beta1's serviceName). */
export function ingressBackends(props: Props): Backend[] {
    const serviceOf = (backend: unknown) => asString(at(backend, "service", "name")) ?? asString(at(backend, "serviceName"));
    const spec = asRecord(props.spec);
    const fallback = serviceOf(spec.defaultBackend) ?? serviceOf(spec.backend);
    const backends: Backend[] = fallback ? [{ host: "", path: "/", service: fallback }] : [];
    for (const rule of asArray(spec.rules).map(asRecord)) {
        const host = asString(rule.host) ?? "";
        for (const path of asArray(at(rule, "http", "paths")).map(asRecord)) {
            const service = serviceOf(path.backend);
            if (service) {
                backends.push({ host, path: asString(path.path) ?? "/", service });
            }
        }
    }
    return backends;
}

/** `name`, `name.ns`, `name.ns.svc`, `name.ns.svc.cluster.local`: the Service an ExternalName names, if in-cluster. */
function externalService(externalName: string, namespace: string): { name: string; namespace: string } | undefined {
    const match = /^([a-z0-9-]+)(?:\.([a-z0-9-]+)(?:\.svc(?:\.cluster\.local)?)?)?\.?$/.exec(externalName);
    return match ? { name: match[1], namespace: match[2] ?? namespace } : undefined;
}

/** Whether a route that lists `hosts` takes a request for `host` ("" = any host; a route without hosts takes every one). */
function routeMatches(hosts: readonly string[], host: string): boolean {
    return host === "" || hosts.length === 0 || hosts.includes(host);
}

class Reachability {
    private readonly services = new Map<string, Props>();
    private readonly routes: { namespace: string; hosts: string[]; service: string; what: string }[] = [];
    readonly workloads: Workload[] = [];

    constructor(resources: readonly PolicyResource[], private readonly config: ProtectedConfig) {
        for (const resource of resources) {
            const namespace = objectNamespace(resource.props);
            const name = objectName(resource.props, resource.name);
            if (resource.type === SERVICE_TYPE) {
                this.services.set(`${namespace}/${name}`, resource.props);
            } else if (INTERCEPTOR_ROUTE.test(resource.type)) {
                const hosts = asArray(at(resource.props, "spec", "rules")).flatMap((rule) => asArray(asRecord(rule).hosts)).filter((host): host is string => typeof host === "string");
                const service = asString(at(resource.props, "spec", "target", "service"));
                if (service) {
                    this.routes.push({ namespace, hosts, service, what: `InterceptorRoute ${name}` });
                }
            } else if (HTTP_SCALED_OBJECT.test(resource.type)) {
                const hosts = asArray(at(resource.props, "spec", "hosts")).filter((host): host is string => typeof host === "string");
                const service = asString(at(resource.props, "spec", "scaleTargetRef", "service"));
                if (service) {
                    this.routes.push({ namespace, hosts, service, what: `HTTPScaledObject ${name}` });
                }
            } else {
                const workload = workloadOf(resource.type, resource.props, resource.name);
                if (workload && isModelServer(workload, config.modelServerImages)) {
                    this.workloads.push(workload);
                }
            }
        }
    }

    /**
     * The model servers a request for `host` sent to Service `service` in `namespace` may reach:
     * the pods its selector selects; through an ExternalName, the Service it names; and through the
     * interceptor (an ExternalName, or its own Service), every route that takes the host.
     */
    modelServers(namespace: string, service: string, host: string, depth = 0): Workload[] {
        const props = this.services.get(`${namespace}/${service}`);
        if (!props || depth > 4) {
            return [];
        }
        const spec = asRecord(props.spec);
        if (spec.type === "ExternalName") {
            const target = externalService(asString(spec.externalName) ?? "", namespace);
            return [
                ...(target ? this.modelServers(target.namespace, target.name, host, depth + 1) : []),
                ...this.throughRoutes(host, depth),
            ];
        }
        if (this.config.interceptorServices.includes(service)) {
            return this.throughRoutes(host, depth);
        }
        const selector = asStringMap(spec.selector);
        if (Object.keys(selector).length === 0) {
            return [];
        }
        return this.workloads.filter((workload) => workload.namespace === namespace && selects({ matchLabels: selector }, workload.labels));
    }

    private throughRoutes(host: string, depth: number): Workload[] {
        return this.routes.filter((route) => routeMatches(route.hosts, host))
            .flatMap((route) => this.modelServers(route.namespace, route.service, host, depth + 1));
    }
}

type KeySource = "secret" | "literal" | "none";

function fromSecret(variable: Props | undefined): boolean {
    return asString(at(variable, "valueFrom", "secretKeyRef", "name")) !== undefined;
}

/** The value of `--api-key` on the command line (`--api-key=X` or `--api-key X`), if any. */
function apiKeyArgument(container: Props): string | undefined {
    const words = [...asArray(container.command), ...asArray(container.args)].filter((word): word is string => typeof word === "string");
    for (let i = 0; i < words.length; i++) {
        if (words[i].startsWith("--api-key=")) {
            return words[i].slice("--api-key=".length);
        }
        if (words[i] === "--api-key") {
            return words[i + 1] ?? "";
        }
    }
    return undefined;
}

/**
 * Where a container's API key comes from: a Secret (a key variable from secretKeyRef, or
 * `--api-key $(VAR)` with VAR from secretKeyRef: Kubernetes expands `$(VAR)` in command and args),
 * a literal in the manifest, or nowhere.
 */
function keySource(container: Props, keyVariables: readonly string[]): KeySource {
    const env = new Map(asArray(container.env).map(asRecord).map((variable) => [asString(variable.name) ?? "", variable]));
    const argument = apiKeyArgument(container);
    if (argument !== undefined) {
        const reference = /^\$\(([A-Za-z_][A-Za-z0-9_]*)\)$/.exec(argument);
        return reference && fromSecret(env.get(reference[1])) ? "secret" : "literal";
    }
    const variables = keyVariables.map((name) => env.get(name)).filter((variable): variable is Props => variable !== undefined);
    if (variables.some(fromSecret)) {
        return "secret";
    }
    return variables.some((variable) => asString(variable.value)) ? "literal" : "none";
}

/** The Ingress's class: spec.ingressClassName, or the older kubernetes.io/ingress.class annotation. */
function ingressClass(props: Props): string | undefined {
    return asString(at(props, "spec", "ingressClassName")) ?? asString(at(props, "metadata", "annotations", "kubernetes.io/ingress.class"));
}

/** An authentication ingress-nginx enforces before it proxies: an external auth URL, or basic/digest with its Secret. */
function nginxAuthenticates(props: Props, classes: readonly string[]): boolean {
    const annotations = asStringMap(at(props, "metadata", "annotations"));
    const className = ingressClass(props);
    if (className === undefined || !classes.includes(className)) {
        return false;
    }
    return Boolean(annotations[NGINX_AUTH_URL]) || (["basic", "digest"].includes(annotations[NGINX_AUTH_TYPE] ?? "") && Boolean(annotations[NGINX_AUTH_SECRET]));
}

export const modelEndpointProtected = stackRule<ProtectedConfig>({
    name: "model-endpoint-protected",
    description: "A model server reachable through an Ingress (its backend Service's pods; through an ExternalName or the KEDA HTTP add-on's interceptor, the routes that take its hosts) requires a key: its engine's key setting from a Secret (for vLLM, on Ingress paths under /v1 only, the paths its key guards, and no ingress-nginx rewrite out of /v1), or an auth annotation the ingress class honours.",
    enforcementLevel: "mandatory",
    properties: {
        modelServerImages: modelServerImagesSchema,
        keyVariables: {
            type: "array", items: { type: "string" }, default: DEFAULT_KEY_VARIABLES,
            description: "Environment variables that set a serving engine's API key (vLLM VLLM_API_KEY, TGI API_KEY).",
        },
        nginxIngressClasses: {
            type: "array", items: { type: "string" }, default: ["nginx"],
            description: "Ingress classes served by ingress-nginx, whose auth-url and auth-type annotations count as a key in front of the model.",
        },
        interceptorServices: {
            type: "array", items: { type: "string" }, default: DEFAULT_INTERCEPTOR_SERVICES,
            description: "Services of the KEDA HTTP add-on's interceptor, which routes by Host header to InterceptorRoute targets.",
        },
    },
}, (resources, config, reportViolation) => {
    const reach = new Reachability(resources, config);
    for (const ingress of resources.filter((resource) => INGRESS_TYPES.includes(resource.type))) {
        if (nginxAuthenticates(ingress.props, config.nginxIngressClasses)) {
            continue;
        }
        const namespace = objectNamespace(ingress.props);
        const name = objectName(ingress.props, ingress.name);
        const reached = new Map<string, { workload: Workload; paths: Set<string> }>();
        for (const backend of ingressBackends(ingress.props)) {
            for (const workload of reach.modelServers(namespace, backend.service, backend.host)) {
                const key = `${workload.kind}/${workload.namespace}/${workload.name}`;
                const entry = reached.get(key) ?? { workload, paths: new Set<string>() };
                entry.paths.add(backend.path);
                reached.set(key, entry);
            }
        }
        for (const { workload, paths } of reached.values()) {
            for (const ref of servingContainers(workload, config.modelServerImages)) {
                const source = keySource(ref.container, config.keyVariables);
                const outside = [...paths].filter((path) => !underV1(path));
                const rewrite = asString(at(ingress.props, "metadata", "annotations", NGINX_REWRITE_TARGET));
                const vllm = source === "secret" && isEngineImage(asString(ref.container.image), [VLLM_IMAGE]);
                if (vllm && outside.length > 0) {
                    reportViolation(`Ingress ${namespace}/${name} publishes path ${show(outside[0])} of ${workload.kind} ${workload.namespace}/${workload.name}, whose ${describeContainer(ref)} is vLLM: its key guards only paths under /v1, and POST /invocations generates without it; publish path /v1 (Prefix) only.`, ingress.urn);
                } else if (vllm && rewrite !== undefined && !underV1(rewrite)) {
                    reportViolation(`Ingress ${namespace}/${name} rewrites its paths to ${show(rewrite)} (${NGINX_REWRITE_TARGET}) for ${workload.kind} ${workload.namespace}/${workload.name}, whose ${describeContainer(ref)} is vLLM: its key guards only paths under /v1, and a rewrite out of /v1 reaches POST /invocations without it; drop the rewrite, or keep the target under /v1.`, ingress.urn);
                }
                if (source === "literal") {
                    reportViolation(`Ingress ${namespace}/${name} reaches ${workload.kind} ${workload.namespace}/${workload.name}, whose ${describeContainer(ref)} takes its API key as a literal in the manifest; put the key in a Secret and set it with secretKeyRef.`, ingress.urn);
                } else if (source === "none") {
                    reportViolation(`Ingress ${namespace}/${name} reaches ${workload.kind} ${workload.namespace}/${workload.name}, whose ${describeContainer(ref)} requires no API key; set ${config.keyVariables.join(" or ")} from a Secret (secretKeyRef), or an auth annotation its ingress class honours (${NGINX_AUTH_URL}).`, ingress.urn);
                }
            }
        }
    }
});

/** A tls entry's host covers `host`: the same name, or a wildcard `*.domain` for one more label. */
function covers(tlsHost: string, host: string): boolean {
    if (tlsHost === host) {
        return true;
    }
    return tlsHost.startsWith("*.") && host.endsWith(tlsHost.slice(1)) && !host.slice(0, host.length - tlsHost.length + 1).includes(".");
}

/**
 * ingress-nginx (and Traefik, and cert-manager's ingress-shim) read `spec.tls`: each entry names the
 * hosts its certificate Secret serves. An ALB's certificate-arn annotation is not accepted: the
 * platform's Ingress goes to ExternalName backends, which the AWS Load Balancer Controller cannot
 * serve (kubernetes-sigs/aws-load-balancer-controller#3505).
 */
export const ingressTls = typedRule<RuleConfig>({
    name: "ingress-tls",
    description: "Every Ingress has tls entries, each naming its certificate Secret, that cover the hosts of all its rules; every rule names a host, there is no default backend, and ingress-nginx's ssl-redirect is not turned off.",
    enforcementLevel: "mandatory",
}, INGRESS_TYPES, (props, _config, reportViolation, args) => {
    const where = `Ingress ${objectNamespace(props)}/${objectName(props, args.name)}`;
    const spec = asRecord(props.spec);
    const tls = asArray(spec.tls).map(asRecord);
    const rules = asArray(spec.rules).map(asRecord);
    if (tls.length === 0) {
        reportViolation(`${where} has no tls: it serves HTTP in clear, API keys and prompts included; add spec.tls with the hosts and a certificate Secret (cert-manager.io/cluster-issuer issues one).`);
        return;
    }
    tls.forEach((entry, index) => {
        if (!asString(entry.secretName)) {
            reportViolation(`${where}: tls[${index}] names no secretName; the controller would serve its default certificate, which names none of the hosts.`);
        }
    });
    const tlsHosts = tls.flatMap((entry) => asArray(entry.hosts)).filter((host): host is string => typeof host === "string");
    // The default backend takes the requests no rule's host matches: every other host name, on ingress-nginx's
    // catch-all server, which has no certificate of this Ingress and serves plain HTTP (API IngressSpec.defaultBackend).
    if (spec.defaultBackend !== undefined || spec.backend !== undefined) {
        reportViolation(`${where} has a default backend (spec.${spec.defaultBackend !== undefined ? "defaultBackend" : "backend"}): it answers every host name, which no certificate names; route by host in rules instead.`);
    }
    rules.forEach((rule, index) => {
        const host = asString(rule.host);
        if (!host) {
            reportViolation(`${where}: rules[${index}] has no host: it answers every host name, which no certificate names; give the rule its host.`);
        } else if (!tlsHosts.some((tlsHost) => covers(tlsHost, host))) {
            reportViolation(`${where}: host ${show(host)} is in no tls entry's hosts; it would be served with a certificate that does not name it.`);
        }
    });
    if (at(props, "metadata", "annotations", "nginx.ingress.kubernetes.io/ssl-redirect") === "false") {
        reportViolation(`${where} sets nginx.ingress.kubernetes.io/ssl-redirect "false": ingress-nginx would keep serving plain HTTP beside TLS; remove it.`);
    }
});

export const endpointSecurityRules = [modelEndpointProtected, ingressTls];
