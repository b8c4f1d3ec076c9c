import type { ModelConfig } from "../../config";
import type { EngineProfile } from "./engines";
import { ModelServerNames, commonLabels, selectorLabels } from "./names";

/** The small objects around the Deployment: claim, token Secret, Service, ServiceMonitor, PDB, Ingress. */

/** Service port: clients use http://<model>.<namespace>.svc.cluster.local/v1. */
export const SERVICE_PORT = 80;

/** The weights claim. An empty storageClass leaves storageClassName unset: the cluster's default class. */
export function weightsClaim(model: ModelConfig, names: ModelServerNames) {
    return {
        metadata: {
            name: names.claim, namespace: names.namespace, labels: commonLabels(model),
            // With WaitForFirstConsumer classes a claim binds only once the Job's pod exists.
            annotations: { "pulumi.com/skipAwait": "true" },
        },
        spec: {
            accessModes: [model.storage.accessMode],
            resources: { requests: { storage: model.storage.size } },
            ...(model.storage.storageClass ? { storageClassName: model.storage.storageClass } : {}),
        },
    };
}

export function tokenSecretMetadata(model: ModelConfig, names: ModelServerNames) {
    return { name: names.tokenSecret, namespace: names.namespace, labels: commonLabels(model) };
}

export function serverService(model: ModelConfig, names: ModelServerNames) {
    return {
        metadata: { name: names.server, namespace: names.namespace, labels: commonLabels(model) },
        spec: {
            type: "ClusterIP",
            selector: selectorLabels(model),
            ports: [{ name: "http", port: SERVICE_PORT, targetPort: "http", protocol: "TCP" }],
        },
    };
}

/** In-cluster base URL of the OpenAI-compatible API. */
export function serviceUrl(names: ModelServerNames): string {
    return `http://${names.server}.${names.namespace}.svc.cluster.local${SERVICE_PORT === 80 ? "" : `:${SERVICE_PORT}`}/v1`;
}

/**
 * The ServiceMonitor that has Prometheus scrape the engine's metrics; undefined for engines
 * without metrics. `labels` are added for Prometheus's serviceMonitorSelector (kube-prometheus-
 * stack selects `release: <its release name>` unless told otherwise).
 */
export function serviceMonitor(model: ModelConfig, names: ModelServerNames, profile: EngineProfile, labels: Record<string, string> = {}) {
    if (!profile.metricsPath) {
        return undefined;
    }
    return {
        metadata: { name: names.server, namespace: names.namespace, labels: { ...commonLabels(model), ...labels } },
        spec: {
            selector: { matchLabels: commonLabels(model) },
            namespaceSelector: { matchNames: [names.namespace] },
            // No interval of its own: Prometheus's scrapeInterval (observability config) applies.
            endpoints: [{ port: "http", path: profile.metricsPath }],
        },
    };
}

/** At most one replica down at a time during voluntary disruptions; only when there can be two. */
export function disruptionBudget(model: ModelConfig, names: ModelServerNames) {
    if (model.maxReplicas < 2) {
        return undefined;
    }
    return {
        metadata: { name: names.server, namespace: names.namespace, labels: commonLabels(model) },
        spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(model) } },
    };
}

/**
 * The API key Secret's metadata: the bearer key clients send (components/model-server/engines.ts
 * apiKeyEnv reads it). No name: Pulumi names it `<model>-api-key-<8 random hex>`, and a new key is a
 * new Secret under a new name, so the Deployment's secretKeyRef, and with it its pod template,
 * changes and the pods roll onto the new key (a container reads a secretKeyRef variable only when it
 * starts). pulumi-kubernetes replaces a Secret whose data changes (provider/pkg/provider/diff.go
 * forceNewProperties: `.data`, `.stringData` unless enableSecretMutable, and always for an immutable
 * Secret); replacing an autonamed object creates its successor first under a new name (provider.go
 * Diff: delete-before-replace only for an object named by the user; metadata/naming.go
 * AssignNameIfAutonamable, `<resource name>-` plus a random suffix), and deletes the old one after the
 * Deployment has rolled. No hash of the key appears anywhere: the suffix is random.
 */
export function apiKeySecretMetadata(model: ModelConfig, names: ModelServerNames) {
    return { namespace: names.namespace, labels: commonLabels(model) };
}

/** cert-manager's ingress-shim issues a certificate for an Ingress with this annotation into each tls[].secretName. */
export const CLUSTER_ISSUER_ANNOTATION = "cert-manager.io/cluster-issuer";

/**
 * The one path an Ingress publishes: the OpenAI API, which the engines' keys guard. vLLM's key guards
 * only paths starting with /v1 (and /v2, /inference: AuthenticationMiddleware, a path-prefix test in
 * vllm/entrypoints/serve/utils/server_utils.py in 0.27 to 0.29, README "Security"), and
 * vLLM serves generation outside them too: SageMaker's POST /invocations takes chat and completion
 * requests (INVOCATION_TYPES), unguarded. Published at "/", that would be a keyless way in from the
 * internet; /metrics and /health would be public as well. A Prefix "/v1" matches /v1 and /v1/... only
 * (Kubernetes Ingress, path types: element-wise prefix).
 */
export const INGRESS_PATH = "/v1";

/** The Secret holding the Ingress's certificate: the configured one, or `<model>-tls` for cert-manager to fill. */
export function tlsSecretName(model: Pick<ModelConfig, "name" | "ingress">): string {
    return model.ingress.tls.secretName || `${model.name}-tls`;
}

/**
 * The plan's note for each published model (`ingress.host`): what must run in the cluster, which
 * the stack does not install (README, "Security"): an Ingress controller in the namespace the
 * fence admits, and cert-manager with the ClusterIssuer the model names. Without cert-manager the
 * Secret is never filled, and ingress-nginx serves its default certificate instead, the
 * self-signed "Kubernetes Ingress Controller Fake Certificate" it generates at start
 * (kubernetes/ingress-nginx internal/net/ssl/ssl.go GetFakeSSLCert).
 */
export function ingressNotices(models: readonly Pick<ModelConfig, "name" | "ingress">[], ingressControllerNamespace: string): string[] {
    return models.filter((model) => model.ingress.host).map(({ name, ingress }) => {
        const certificate = ingress.tls.clusterIssuer
            ? `cert-manager with the ClusterIssuer ${ingress.tls.clusterIssuer} (it fills the Secret ${tlsSecretName({ name, ingress })})`
            : `the TLS Secret ${ingress.tls.secretName} in the model's namespace`;
        return `note: model ${name} is published at https://${ingress.host}${INGRESS_PATH}: the cluster needs an Ingress controller in namespace ${ingressControllerNamespace} and ${certificate}; the stack installs neither`;
    });
}

/**
 * The Ingress, to the model's Service, or (scale to zero) to `backend`, the proxy Service that
 * leads to the KEDA HTTP add-on's interceptor: the Ingress controller must then support
 * ExternalName backends (ingress-nginx does; the AWS Load Balancer Controller does not:
 * kubernetes-sigs/aws-load-balancer-controller#3505, which is why TLS is the Ingress's own
 * `tls`, not an ACM certificate in ALB annotations). TLS in `spec.tls`, as ingress-nginx and
 * Traefik read it: an existing Secret, or cert-manager's from `ingress.tls.clusterIssuer`
 * (its ingress-shim reads the annotation and the tls entries). The config refuses a host without
 * either (config/models.ts checkEndpoint).
 */
export function serverIngress(model: ModelConfig, names: ModelServerNames, backend = { name: names.server, port: { name: "http" } }) {
    const { host, className, tls } = model.ingress;
    if (!host) {
        return undefined;
    }
    return {
        metadata: {
            name: names.server, namespace: names.namespace, labels: commonLabels(model),
            ...(tls.clusterIssuer ? { annotations: { [CLUSTER_ISSUER_ANNOTATION]: tls.clusterIssuer } } : {}),
        },
        spec: {
            ...(className ? { ingressClassName: className } : {}),
            tls: [{ hosts: [host], secretName: tlsSecretName(model) }],
            rules: [{
                host,
                http: { paths: [{ path: INGRESS_PATH, pathType: "Prefix", backend: { service: backend } }] },
            }],
        },
    };
}
