import type { ModelConfig } from "../../config";
import type { EngineProfile } from "./engines";
import type { HttpAddOnEndpoints } from "../autoscaling/keda-http-add-on";
import { ModelServerNames, commonLabels } from "./names";
import { SERVICE_PORT } from "./resources";

/**
 * Scale from zero through the KEDA HTTP add-on (kedacore/http-add-on v0.15.0, as its docs
 * "Autoscale an App" describe it): a model with no pods has no engine metrics, so requests reach
 * it through the add-on's interceptor, which counts them, holds them while the model has no ready
 * endpoint, and forwards them to the model's Service once it has.
 *
 * - an InterceptorRoute (http.keda.sh/v1beta1) routes the model's host names to its Service and
 *   defines the concurrency metric; it creates no ScaledObject (unlike an HTTPScaledObject, which
 *   the add-on v0.15.0 still serves but deprecates in its favour);
 * - the model's one ScaledObject gets an `external-push` trigger naming the InterceptorRoute, next
 *   to its engine-metric triggers: the add-on's scaler pushes "active" as soon as a request waits,
 *   and KEDA scales the Deployment from 0 to 1; the engine metrics take it from 1 to N;
 * - an ExternalName Service `<model>-proxy` in the model's namespace points at the interceptor's
 *   proxy Service, so that clients call `http://<model>-proxy.<namespace>.svc.cluster.local:8080/v1`
 *   and send, without trying, a Host header the InterceptorRoute matches (the interceptor ignores
 *   the port: pkg/routing `stripPort`).
 *
 * Two kinds of model go through the interceptor:
 * - models that can scale to zero (minReplicas 0): nothing else would wake them;
 * - models that scale on `requestRate` on an engine without metrics (Ollama): the interceptor is
 *   where their requests are counted (`interceptor_request_count_total` per route, scraped by the
 *   add-on's PodMonitor: components/autoscaling/keda-http-add-on.ts INTERCEPTOR_METRICS), on every cluster
 *   flavour, EKS, k3s, kind and minikube alike. Traefik, which k3s ships, would count only Ingress
 *   traffic and is absent from kind and minikube; a metrics proxy in front of the engine would be one
 *   more image to build and pin. The count covers what goes through the interceptor: the exported
 *   URL and the Ingress; a client that calls the model's own Service bypasses it.
 * Any other model is called on its own Service: its engine's metrics see every request, and the
 * extra hop would only add latency and a shared point of failure.
 */

export function scalesFromZero(model: Pick<ModelConfig, "minReplicas">): boolean {
    return model.minReplicas === 0;
}

/** True when the model's request rate is measured at the interceptor: signal requestRate on an engine without metrics. */
export function countsRequestsAtInterceptor(model: Pick<ModelConfig, "autoscaling">, profile: Pick<EngineProfile, "load">): boolean {
    return model.autoscaling.signal === "requestRate" && profile.load === undefined;
}

/** True when clients call the model through the add-on's interceptor (see above). */
export function usesInterceptor(model: Pick<ModelConfig, "minReplicas" | "autoscaling">, profile: Pick<EngineProfile, "load">): boolean {
    return scalesFromZero(model) || countsRequestsAtInterceptor(model, profile);
}

/**
 * How long the interceptor holds a request for a model that has no ready replica: the model's
 * startup budget plus the 20 minutes the Deployment's rollout also allows for a GPU node to join
 * and the serving image to be pulled (components/model-server.ts customTimeouts). A client that
 * waits less gets its own timeout; the model still wakes.
 */
export const NODE_AND_IMAGE_SECONDS = 20 * 60;

export function coldStartSeconds(model: Pick<ModelConfig, "startupBudgetSeconds">): number {
    return model.startupBudgetSeconds + NODE_AND_IMAGE_SECONDS;
}

/**
 * In-flight requests per replica the interceptor reports as its target: the engine's running
 * plus waiting targets. While the model serves (every request through the interceptor, in-flight
 * = running + waiting) this trigger never asks for more replicas than the engine-metric triggers
 * already do: (w + r) / (Q + R) <= max(w / Q, r / R). While it wakes, the engine triggers read
 * nothing and the requests the interceptor holds size the first step alone: a burst at wake (the
 * scaling replay's 120 held requests on `dev`, against 4 + 48) asks for its replicas at once.
 */
export function concurrencyTarget(model: Pick<ModelConfig, "autoscaling">): number {
    return Math.max(1, Math.ceil(model.autoscaling.queuePerReplica + model.autoscaling.runningPerReplica));
}

/** The Host names a client of the proxy Service may send: its short and qualified DNS names. */
export function proxyHosts(names: Pick<ModelServerNames, "proxy" | "namespace">): string[] {
    const { proxy, namespace } = names;
    return [proxy, `${proxy}.${namespace}`, `${proxy}.${namespace}.svc`, `${proxy}.${namespace}.svc.cluster.local`];
}

/** In-cluster base URL of the OpenAI-compatible API through the interceptor. */
export function proxyUrl(names: Pick<ModelServerNames, "proxy" | "namespace">, addOn: Pick<HttpAddOnEndpoints, "proxyPort">): string {
    return `http://${names.proxy}.${names.namespace}.svc.cluster.local:${addOn.proxyPort}/v1`;
}

/**
 * The InterceptorRoute (fields of config/crd/bases/http.keda.sh_interceptorroutes.yaml at
 * v0.15.0): every path of the model's proxy host names (and its Ingress host, if any) to its
 * Service; host names are unique per model, so no path prefix is needed to tell models apart.
 */
export function interceptorRoute(model: ModelConfig, names: ModelServerNames) {
    const hosts = [...proxyHosts(names), ...(model.ingress.host ? [model.ingress.host] : [])];
    return {
        metadata: { name: names.server, namespace: names.namespace, labels: commonLabels(model) },
        spec: {
            target: { service: names.server, port: SERVICE_PORT },
            rules: [{ hosts }],
            scalingMetric: { concurrency: { targetValue: concurrencyTarget(model) } },
            // responseHeader "0s" lifts the interceptor's 300s default (CRD v0.15.0): a non-streaming
            // completion sends its headers only when the whole generation is done.
            timeouts: { readiness: `${coldStartSeconds(model)}s`, responseHeader: "0s" },
        },
    };
}

/** The ExternalName Service clients call: a DNS alias of the interceptor's proxy Service. */
export function proxyService(model: ModelConfig, names: ModelServerNames, addOn: HttpAddOnEndpoints) {
    return {
        metadata: { name: names.proxy, namespace: names.namespace, labels: commonLabels(model) },
        spec: {
            type: "ExternalName",
            externalName: addOn.proxyHost,
            // Informational for ExternalName (no proxying): the port the interceptor listens on.
            ports: [{ name: "http", port: addOn.proxyPort, protocol: "TCP" }],
        },
    };
}

/**
 * The ScaledObject trigger that wakes the model (pkg/k8s/scaledobject.go at v0.15.0: trigger type
 * "external-push", metadata keys "scalerAddress" and "interceptorRoute").
 */
export function requestTrigger(names: Pick<ModelServerNames, "server">, addOn: Pick<HttpAddOnEndpoints, "scalerAddress">) {
    return {
        type: "external-push",
        name: "requests",
        metricType: "AverageValue",
        metadata: { scalerAddress: addOn.scalerAddress, interceptorRoute: names.server },
    };
}
