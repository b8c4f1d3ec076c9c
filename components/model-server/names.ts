import { createHash } from "crypto";
import type { ModelConfig } from "../../config";

/** Stable Kubernetes names and labels of one model's objects, all derived from the model's name. */
export interface ModelServerNames {
    /** Deployment, Service, ServiceMonitor, PodDisruptionBudget, Ingress, ScaledObject and InterceptorRoute. */
    readonly server: string;
    readonly claim: string;
    /** The download Job: a new revision (or repo) is a new Job. */
    readonly downloadJob: string;
    readonly tokenSecret: string;
    /** (scale to zero) The ExternalName Service that leads to the KEDA HTTP add-on's interceptor. */
    readonly proxy: string;
    readonly namespace: string;
}

/** A short, stable hash of the pinned weights: the first 8 hex digits of sha256("repo@revision"). */
export function revisionHash(model: Pick<ModelConfig, "repo" | "revision">): string {
    return createHash("sha256").update(`${model.repo}@${model.revision}`).digest("hex").slice(0, 8);
}

export function modelServerNames(model: Pick<ModelConfig, "name" | "repo" | "revision">, namespace: string): ModelServerNames {
    return {
        server: model.name,
        claim: `${model.name}-weights`,
        downloadJob: `${model.name}-download-${revisionHash(model)}`,
        tokenSecret: `${model.name}-hf-token`,
        proxy: `${model.name}-proxy`,
        namespace,
    };
}

export const ROLE_LABEL = "llm-platform.io/role";

/** What marks the download Job's pods (its own labels, and the fence's egress policy selects them by it). */
export const DOWNLOAD_COMPONENT = { "app.kubernetes.io/component": "model-download" } as const;

/** What the Deployment, Service, PodDisruptionBudget and spread constraints select on. */
export function selectorLabels(model: Pick<ModelConfig, "name">): Record<string, string> {
    return { "app.kubernetes.io/instance": model.name, "app.kubernetes.io/component": "model-server" };
}

/** Labels of every object of the model server (the download Job's pods do not match the selector). */
export function commonLabels(model: Pick<ModelConfig, "name" | "engine">): Record<string, string> {
    return {
        "app.kubernetes.io/name": "model-server",
        "app.kubernetes.io/instance": model.name,
        "app.kubernetes.io/part-of": "llm-platform",
        "llm-platform.io/engine": model.engine,
    };
}

/** The serving pods' labels: selector, common, and the role the policy pack recognises model servers by. */
export function podLabels(model: Pick<ModelConfig, "name" | "engine">): Record<string, string> {
    return { ...commonLabels(model), ...selectorLabels(model), [ROLE_LABEL]: "model-server" };
}

/** The restricted pod security settings every pod of the model server runs with. */
export function restrictedPodSecurity(user: number) {
    return {
        runAsNonRoot: true,
        runAsUser: user,
        runAsGroup: user,
        // The claim's files are group-owned by this gid (block volumes; EFS access points set their own uid/gid).
        fsGroup: user,
        seccompProfile: { type: "RuntimeDefault" },
    };
}

/** The restricted container security context (Pod Security Standards, restricted profile). */
export function restrictedContainerSecurity() {
    return {
        allowPrivilegeEscalation: false,
        privileged: false,
        runAsNonRoot: true,
        capabilities: { drop: ["ALL"] },
        seccompProfile: { type: "RuntimeDefault" },
    };
}
