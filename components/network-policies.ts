import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ClusterFlavour, ModelConfig } from "../config";
import { servingNamespace } from "./model-server/engines";
import { interceptedModels } from "./autoscaling/keda-http-add-on";
import { ModelCallers, interceptorPolicy, modelNamespacePolicies } from "./model-server/network-policy";
import type { NetworkPolicyBody } from "./network-policy-peers";
import { monitoringPolicies } from "./observability/network-policy";

export interface NetworkPoliciesArgs {
    /** The stack's `namespace` (its TGI sibling, if any, follows from the models: engines.ts servingNamespace). */
    readonly namespace: string;
    /** The stack's models, validated, defaults applied. */
    readonly models: readonly ModelConfig[];
    /** Who may call the models (config clientNamespaces, ingressControllerNamespace) and where KEDA runs. */
    readonly callers: ModelCallers;
    /** The namespaces the policies go into, which must exist first: the model namespaces, `monitoring`, KEDA's. Defaults to none. */
    readonly dependsOn?: pulumi.Resource[];
}

/**
 * The platform's network fences (components/model-server/network-policy.ts and
 * components/observability/network-policy.ts say who reaches what): default deny in every model
 * namespace with one way in per caller of each model and the download Jobs' way out, the
 * interceptors' fence in KEDA's namespace when a model is called through them, and the same
 * default deny for `monitoring`. Enforced only where the cluster's network plugin implements
 * NetworkPolicy (README, "Security").
 */
export class NetworkPolicies extends pulumi.ComponentResource {
    public readonly policies: k8s.networking.v1.NetworkPolicy[];

    constructor(name: string, args: NetworkPoliciesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("llm-platform:network:NetworkPolicies", name, {}, opts);
        this.policies = networkPolicyBodies(args).map((body) => new k8s.networking.v1.NetworkPolicy(
            `${name}-${body.metadata.namespace}-${body.metadata.name}`, body, { parent: this, dependsOn: args.dependsOn ?? [] }));
        this.registerOutputs({ policies: this.policies });
    }
}

/** Every policy of the stack, model namespaces first (in the order their models appear), then KEDA's, then `monitoring`. */
export function networkPolicyBodies(args: Pick<NetworkPoliciesArgs, "namespace" | "models" | "callers">): NetworkPolicyBody[] {
    const byNamespace = new Map<string, ModelConfig[]>([[args.namespace, []]]);
    for (const model of args.models) {
        const namespace = servingNamespace(args.namespace, model.engine);
        byNamespace.set(namespace, [...(byNamespace.get(namespace) ?? []), model]);
    }
    const intercepted = interceptedModels(args.models);
    return [
        ...[...byNamespace].flatMap(([namespace, models]) => modelNamespacePolicies(namespace, models, args.callers)),
        ...(intercepted.length > 0 ? [interceptorPolicy(intercepted, args.callers)] : []),
        ...monitoringPolicies(args.callers.kedaNamespace),
    ];
}

/**
 * The plan's note for a cluster flavour whose default network plugin does not enforce
 * NetworkPolicy, where the fences are objects that fence nothing (README, "Security"): minikube
 * picks the bridge CNI for its default Docker runtime on one node (minikube
 * pkg/minikube/cni/cni.go chooseDefault). EKS (the VPC CNI with enableNetworkPolicy, lib/eks.ts),
 * K3s (its embedded kube-router controller) and kind (kindnetd, v0.24.0 on) enforce them; a generic
 * cluster's plugin is unknown, and the README says what to check.
 */
export function networkPolicyNotices(flavour: ClusterFlavour): string[] {
    return flavour === "minikube"
        ? ["note: minikube's default CNI (bridge, with the Docker runtime on one node) ignores NetworkPolicies: the fences fence nothing unless it runs kindnet or Calico (minikube start --cni=calico; README, \"Security\")"]
        : [];
}
