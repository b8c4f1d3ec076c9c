import * as k8s from "@pulumi/kubernetes";
import { GpuRuntime } from "./components/gpu/gpu-runtime";
import { Keda } from "./components/autoscaling/keda";
import { DEFAULT_KEDA_NAMESPACE, interceptedModels, longestHoldSeconds, longestServingGraceSeconds } from "./components/autoscaling/keda-http-add-on";
import { servingNamespace } from "./components/model-server/engines";
import { modelNamespaces } from "./components/model-server/model-namespaces";
import { ModelServer } from "./components/model-server";
import { modelApiKey } from "./components/model-server/api-key";
import { NetworkPolicies } from "./components/network-policies";
import { rollingUpdate } from "./components/model-server/deployment";
import { Observability } from "./components/observability";
import { awsCluster, localCluster } from "./clusters";
import { loadConfig } from "./config";

const config = loadConfig();

// The autoscaler lets the serving pods it evicts keep their grace periods.
const cluster = config.aws ? awsCluster(config.aws, config.observability.loki, longestServingGraceSeconds(config.models)) : localCluster(config.kubernetes);
const provider = cluster.provider;

// Model servers run as restricted pods (the API server enforces it); TGI, which starts only as
// root, in a baseline sibling namespace.
const servingNamespaces = modelNamespaces(config.namespace, config.models.map((model) => model.engine), { provider });
const modelNamespace = servingNamespaces.get(config.namespace) as k8s.core.v1.Namespace;

// Before the model servers: their ServiceMonitors need its CRDs, their ScaledObjects its Prometheus.
const observability = new Observability("observability", {
    config: config.observability,
    clusterFlavour: config.clusterFlavour,
    modelNamespaces: [...servingNamespaces.keys()],
    models: config.models,
    grafanaAdminPassword: config.grafanaAdminPassword,
    lokiObjectStore: cluster.lokiObjectStore,
}, { provider });

// GPU nodes exist on aws only; the DCGM exporter's ServiceMonitor needs the operator's CRDs.
if (config.aws) {
    new GpuRuntime("gpu-runtime", { provider, scrapeInterval: config.observability.scrapeInterval, dependsOn: [observability] });
}

// The HTTP add-on only where a model is called through it: its interceptor holds the requests that
// wake a model at zero, and drains for as long as it may hold one; it also counts the requests of a
// requestRate model without engine metrics (components/model-server/request-routing.ts usesInterceptor).
const heldModels = interceptedModels(config.models);
const keda = new Keda("keda", {
    httpAddOn: heldModels.length > 0 ? { holdSeconds: longestHoldSeconds(heldModels) } : undefined,
    dependsOn: [observability],
}, { provider });

// One bearer key for the models that require one: the stack's secret apiKeyValue, or generated once.
const apiKeyOfModels = modelApiKey(config.models, config.apiKeyValue);

// The fences (README, "Security"): before the model servers, so a download Job starts with its way out.
const network = new NetworkPolicies("network", {
    namespace: config.namespace,
    models: config.models,
    callers: { ...config.network, kedaNamespace: DEFAULT_KEDA_NAMESPACE },
    dependsOn: [...servingNamespaces.values(), observability.namespace, keda.namespace],
}, { provider });

const modelServers = config.models.map((model) => {
    const namespace = servingNamespace(config.namespace, model.engine);
    return new ModelServer(model.name, {
        model,
        namespace,
        hfToken: config.hfToken,
        apiKey: model.apiKey === "required" ? apiKeyOfModels : undefined,
        dependsOn: [servingNamespaces.get(namespace) as k8s.core.v1.Namespace, observability, network],
        rollingUpdate: rollingUpdate(model, config.models, config.aws?.gpuPool),
        prometheusAddress: observability.prometheusUrl,
        autoscalerDependsOn: [keda],
        httpAddOn: keda.httpAddOnEndpoints,
    }, { provider });
});

export const target = config.target;
/** (aws) The EKS cluster, its kubeconfig (secret: it names the endpoint), the GPU pool and the GPUs it holds at max size. */
export const { clusterName, kubeconfig, gpuPoolName, gpuCapacityAtMax } = cluster;
export const namespace = modelNamespace.metadata.name;
/**
 * Per model: the in-cluster base URL of its OpenAI-compatible API and the model name clients send.
 * A model that scales to zero, or on request rate without engine metrics (local), is called through the KEDA HTTP add-on
 * (`http://<model>-proxy.<namespace>.svc.cluster.local:8080/v1`).
 */
export const models = Object.fromEntries(modelServers.map((server, i) => [config.models[i].name, { url: server.url, servedModelName: server.servedModelName }]));
/**
 * (a model with apiKey: required) The bearer key its clients send, `Authorization: Bearer <key>`: a secret output,
 * `pulumi stack output apiKey --show-secrets`. Undefined when no model requires one.
 */
export const apiKey = apiKeyOfModels;
/** Grafana inside the cluster (kubectl -n monitoring port-forward svc/grafana 3000:80), and the Secret with its admin login. */
export const grafanaUrl = observability.grafanaUrl;
export const grafanaAdminSecret = { namespace: observability.namespace.metadata.name, name: observability.adminSecret.metadata.name };
/** (aws, observability.loki.storage s3) The S3 bucket holding Loki's chunks and index. */
export const lokiBucket = cluster.lokiObjectStore?.bucketName;
