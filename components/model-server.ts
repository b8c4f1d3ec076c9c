import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ModelConfig } from "../config";
import { API_KEY_SECRET_KEY, engineProfile } from "./model-server/engines";
import type { HttpAddOnEndpoints } from "./autoscaling/keda-http-add-on";
import { RollingUpdate, serverDeployment } from "./model-server/deployment";
import { DOWNLOAD_DEADLINE_SECONDS, downloadJob } from "./model-server/download-job";
import { modelServerNames } from "./model-server/names";
import {
    apiKeySecretMetadata, disruptionBudget, serverIngress, serverService, serviceMonitor, serviceUrl, tokenSecretMetadata, weightsClaim,
} from "./model-server/resources";
import { interceptorRoute, proxyService, proxyUrl, scalesFromZero, usesInterceptor } from "./model-server/request-routing";
import { scaledObject } from "./model-server/scaled-object";

export interface ModelServerArgs {
    /** The model to serve, validated, with every default applied (config.models[i]). */
    readonly model: ModelConfig;
    /** Namespace of every object of the model server; it must exist (see `dependsOn`). */
    readonly namespace: string;
    /** Hugging Face token (secret) for gated or private repos. Defaults to none: public repos only. */
    readonly hfToken?: pulumi.Input<string>;
    /**
     * The bearer key clients must send (secret), required when the model has `apiKey: required`: it
     * reaches the engine from the Secret `<model>-api-key-<suffix>` (named by Pulumi, renamed with
     * each new key: model-server/resources.ts apiKeySecretMetadata), never as a literal. Defaults to none.
     */
    readonly apiKey?: pulumi.Input<string>;
    /** Prometheus the ScaledObject queries. Defaults to the observability layer's (PROMETHEUS_URL). */
    readonly prometheusAddress?: string;
    /** Labels for the ServiceMonitor, to match Prometheus's serviceMonitorSelector. Defaults to none. */
    readonly serviceMonitorLabels?: Record<string, string>;
    /** Resources every object waits for (the namespace). Defaults to none. */
    readonly dependsOn?: pulumi.Resource[];
    /** What the ScaledObject (and InterceptorRoute) wait for: KEDA, its HTTP add-on and their CRDs. Defaults to none. */
    readonly autoscalerDependsOn?: pulumi.Resource[];
    /**
     * The KEDA HTTP add-on (Keda's `httpAddOnEndpoints`), required when the model is called through
     * its interceptor (model-server/request-routing.ts usesInterceptor): when it scales to zero
     * (minReplicas 0), the interceptor holds the requests that wake it; when it scales on
     * requestRate on an engine without metrics, the interceptor counts its requests. Defaults to none.
     */
    readonly httpAddOn?: HttpAddOnEndpoints;
    /**
     * The Deployment's rolling update, from the GPU pool's headroom (model-server/deployment.ts
     * rollingUpdate()). Defaults to a surge of one (a spare replica's resources needed).
     */
    readonly rollingUpdate?: RollingUpdate;
}

/**
 * One served model: weights claim, the Job that fills it with the pinned revision, the
 * serving Deployment (which waits for that Job), Service, ServiceMonitor, PodDisruptionBudget,
 * optional Ingress and the KEDA ScaledObject that owns the replica count. A model that scales to
 * zero, or on requestRate on an engine without metrics, is called through the KEDA HTTP add-on's
 * interceptor, which wakes it or counts its requests (model-server/request-routing.ts): an
 * InterceptorRoute and a `<model>-proxy` Service; at zero, an `external-push` trigger in the same
 * ScaledObject.
 */
export class ModelServer extends pulumi.ComponentResource {
    public readonly claim: k8s.core.v1.PersistentVolumeClaim;
    public readonly tokenSecret?: k8s.core.v1.Secret;
    /** (apiKey: required) The Secret whose `key` the engine requires as `Authorization: Bearer <key>`. */
    public readonly apiKeySecret?: k8s.core.v1.Secret;
    public readonly downloadJob: k8s.batch.v1.Job;
    public readonly deployment: k8s.apps.v1.Deployment;
    public readonly service: k8s.core.v1.Service;
    public readonly serviceMonitor?: k8s.apiextensions.CustomResource;
    public readonly disruptionBudget?: k8s.policy.v1.PodDisruptionBudget;
    public readonly ingress?: k8s.networking.v1.Ingress;
    public readonly scaledObject: k8s.apiextensions.CustomResource;
    /** (through the interceptor) Routes the model's proxy host names to its Service. */
    public readonly interceptorRoute?: k8s.apiextensions.CustomResource;
    /** (through the interceptor) The ExternalName Service clients call, an alias of the interceptor's proxy. */
    public readonly proxyService?: k8s.core.v1.Service;
    /** In-cluster base URL of the OpenAI-compatible API (through the interceptor when the model uses it). */
    public readonly url: pulumi.Output<string>;
    /** The model name clients send (`model` in OpenAI requests). */
    public readonly servedModelName: pulumi.Output<string>;

    constructor(name: string, args: ModelServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("llm-platform:models:ModelServer", name, {}, opts);
        const { model } = args;
        const names = modelServerNames(model, args.namespace);
        const profile = engineProfile(model.engine, model.image);
        const base = { parent: this, dependsOn: args.dependsOn ?? [] };
        const httpAddOn = usesInterceptor(model, profile) ? args.httpAddOn : undefined;
        if (scalesFromZero(model) && !httpAddOn) {
            throw new Error(`model ${model.name}: minReplicas 0 needs the KEDA HTTP add-on (httpAddOn), or nothing would wake it`);
        }
        if (usesInterceptor(model, profile) && !httpAddOn) {
            throw new Error(`model ${model.name}: autoscaling.signal requestRate on ${model.engine} (no metrics) needs the KEDA HTTP add-on (httpAddOn), whose interceptor counts the requests`);
        }

        this.claim = new k8s.core.v1.PersistentVolumeClaim(`${name}-weights`, weightsClaim(model, names), base);

        if (args.hfToken !== undefined) {
            this.tokenSecret = new k8s.core.v1.Secret(`${name}-hf-token`, {
                metadata: tokenSecretMetadata(model, names),
                type: "Opaque",
                stringData: { token: pulumi.secret(args.hfToken) },
            }, base);
        }

        if (model.apiKey === "required") {
            if (args.apiKey === undefined) {
                throw new Error(`model ${model.name}: apiKey required needs the key (apiKey), or the engine would serve every caller`);
            }
            this.apiKeySecret = new k8s.core.v1.Secret(`${name}-api-key`, {
                metadata: apiKeySecretMetadata(model, names),
                type: "Opaque",
                // A new key is a new Secret (apiKeySecretMetadata), never an edit of this one.
                immutable: true,
                stringData: { [API_KEY_SECRET_KEY]: pulumi.secret(args.apiKey) },
            }, base);
        }

        const downloadTimeout = `${Math.ceil(DOWNLOAD_DEADLINE_SECONDS / 60) + 10}m`;
        // The provider waits for a Job to complete: the Deployment below depends on it, so it
        // is not created (or updated to a new revision) before the weights are verified.
        this.downloadJob = new k8s.batch.v1.Job(`${name}-download`, downloadJob(model, { names, withToken: this.tokenSecret !== undefined }), {
            ...base,
            dependsOn: [...base.dependsOn, this.claim, ...(this.tokenSecret ? [this.tokenSecret] : [])],
            // A new revision is a new Job name (and so a new Job). Pulumi waits as long as the Job may run.
            customTimeouts: { create: downloadTimeout, update: downloadTimeout },
        });

        this.deployment = new k8s.apps.v1.Deployment(`${name}-server`, serverDeployment(model, {
            names, profile, rollingUpdate: args.rollingUpdate, apiKeySecret: this.apiKeySecret?.metadata.name,
        }), {
            ...base,
            dependsOn: [...base.dependsOn, this.downloadJob, ...(this.apiKeySecret ? [this.apiKeySecret] : [])],
            // Rollout waits for readiness: node scale-up plus the model's startup budget.
            customTimeouts: { create: `${Math.ceil(model.startupBudgetSeconds / 60) + 20}m`, update: `${Math.ceil(model.startupBudgetSeconds / 60) + 20}m` },
        });

        this.service = new k8s.core.v1.Service(`${name}-service`, serverService(model, names), base);

        const monitor = serviceMonitor(model, names, profile, args.serviceMonitorLabels);
        if (monitor) {
            this.serviceMonitor = new k8s.apiextensions.CustomResource(`${name}-monitor`, {
                apiVersion: "monitoring.coreos.com/v1", kind: "ServiceMonitor", ...monitor,
            }, base);
        }

        const budget = disruptionBudget(model, names);
        if (budget) {
            this.disruptionBudget = new k8s.policy.v1.PodDisruptionBudget(`${name}-pdb`, budget, base);
        }

        const autoscalerDependsOn = [...base.dependsOn, ...(args.autoscalerDependsOn ?? [])];
        if (httpAddOn) {
            this.proxyService = new k8s.core.v1.Service(`${name}-proxy`, proxyService(model, names, httpAddOn), base);
            this.interceptorRoute = new k8s.apiextensions.CustomResource(`${name}-route`, {
                apiVersion: "http.keda.sh/v1beta1",
                kind: "InterceptorRoute",
                ...interceptorRoute(model, names),
            }, { ...base, dependsOn: [...autoscalerDependsOn, this.service] });
        }

        const ingress = serverIngress(model, names, this.proxyService ? { name: names.proxy, port: { name: "http" } } : undefined);
        if (ingress) {
            this.ingress = new k8s.networking.v1.Ingress(`${name}-ingress`, ingress, { ...base, dependsOn: [...base.dependsOn, this.proxyService ?? this.service] });
        }

        // After the InterceptorRoute: KEDA asks the add-on's scaler for the trigger's metric spec
        // when it reconciles, and gets none while the route does not exist (add-on docs, step 2).
        this.scaledObject = new k8s.apiextensions.CustomResource(`${name}-scaler`, {
            apiVersion: "keda.sh/v1alpha1",
            kind: "ScaledObject",
            ...scaledObject(model, { names, profile, prometheusAddress: args.prometheusAddress, httpAddOn }),
        }, { ...base, dependsOn: [...autoscalerDependsOn, this.deployment, ...(this.interceptorRoute ? [this.interceptorRoute] : [])] });

        this.url = pulumi.output(httpAddOn ? proxyUrl(names, httpAddOn) : serviceUrl(names));
        this.servedModelName = pulumi.output(model.servedModelName);

        this.registerOutputs({
            claim: this.claim, tokenSecret: this.tokenSecret, apiKeySecret: this.apiKeySecret, downloadJob: this.downloadJob, deployment: this.deployment,
            service: this.service, serviceMonitor: this.serviceMonitor, disruptionBudget: this.disruptionBudget,
            ingress: this.ingress, scaledObject: this.scaledObject, interceptorRoute: this.interceptorRoute, proxyService: this.proxyService,
            url: this.url, servedModelName: this.servedModelName,
        });
    }
}
