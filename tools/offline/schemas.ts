import { interceptorRouteProblems } from "./http-add-on-schema";
import type { KubernetesObject } from "./manifests";

/**
 * Validates Kubernetes objects against the upstream OpenAPI schemas (kubernetes-models)
 * and the CRD schemas of the operators the platform uses. A kind without a schema is a
 * problem too: every object the program declares must be checkable.
 */

/**
 * Kinds no kubernetes-models package covers, checked against a transcription of their CRD's
 * schema instead (see each module for what it does and does not check).
 */
const TRANSCRIBED: Readonly<Record<string, (object: KubernetesObject) => string[]>> = {
    "http.keda.sh/v1beta1 InterceptorRoute": interceptorRouteProblems,
};

/** Packages with the schemas of API groups that are not part of Kubernetes itself. */
const CRD_PACKAGES: Readonly<Record<string, string>> = {
    "keda.sh": "@kubernetes-models/keda",
    "monitoring.coreos.com": "@kubernetes-models/prometheus-operator",
};

interface Model {
    validate(): void;
}

type ModelModule = Record<string, (new (data: unknown) => Model) | undefined>;

export interface SchemaProblem {
    readonly object: string;
    readonly message: string;
}

function modulePath(apiVersion: string): string | undefined {
    const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
    if (!group) {
        return `kubernetes-models/${version}`;
    }
    const crdPackage = CRD_PACKAGES[group];
    if (crdPackage) {
        return `${crdPackage}/${group}/${version}`;
    }
    return group.includes(".") && !group.endsWith(".k8s.io") ? undefined : `kubernetes-models/${group}/${version}`;
}

async function loadModel(apiVersion: string, kind: string): Promise<(new (data: unknown) => Model) | undefined> {
    const path = modulePath(apiVersion);
    if (!path) {
        return undefined;
    }
    try {
        const module = (await import(path)) as ModelModule;
        return module[kind];
    } catch {
        return undefined;
    }
}

export async function validateObjects(objects: readonly KubernetesObject[]): Promise<SchemaProblem[]> {
    const problems: SchemaProblem[] = [];
    for (const object of objects) {
        const label = `${object.kind} ${object.metadata.namespace ? `${object.metadata.namespace}/` : ""}${object.metadata.name ?? "(no name)"}`;
        const transcribed = TRANSCRIBED[`${object.apiVersion} ${object.kind}`];
        if (transcribed) {
            problems.push(...transcribed(object).map((message) => ({ object: label, message })));
            continue;
        }
        const Model = await loadModel(object.apiVersion, object.kind);
        if (!Model) {
            problems.push({ object: label, message: `no schema for ${object.apiVersion} ${object.kind}` });
            continue;
        }
        try {
            new Model(object).validate();
        } catch (error) {
            problems.push({ object: label, message: error instanceof Error ? error.message : String(error) });
        }
    }
    return problems;
}
