import * as k8s from "@pulumi/kubernetes";
import type { Engine } from "../../config";
import { podSecurityLabels, servingNamespace } from "./engines";

/**
 * The namespaces the model servers run in: the stack's `namespace`, which enforces the
 * `restricted` Pod Security level, and for an engine that starts only as root (TGI) its
 * `baseline` sibling `<namespace>-<engine>`, created only when such a model is configured
 * (components/model-server/engines.ts servingNamespace, TGI_ROOT_REASON). Keyed by namespace name.
 *
 * Top-level resources, not a component's children: the first is the `models` Namespace of every
 * stack deployed before TGI had its own, and a new parent would change its URN and replace it
 * (deleting every model with it).
 */
export function modelNamespaces(namespace: string, engines: readonly Engine[], opts: { provider: k8s.Provider }): Map<string, k8s.core.v1.Namespace> {
    const names = [...new Set([namespace, ...engines.map((engine) => servingNamespace(namespace, engine))])];
    return new Map(names.map((name) => [name, new k8s.core.v1.Namespace(name === namespace ? "models" : `models-${name}`, {
        metadata: {
            name,
            labels: { "app.kubernetes.io/part-of": "llm-platform", ...podSecurityLabels(name === namespace ? "restricted" : "baseline") },
        },
    }, opts)]));
}
