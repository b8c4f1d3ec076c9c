import Ajv, { ValidateFunction } from "ajv";
import { isRecord } from "../../config/project";
import { interceptorRouteProblems } from "./http-add-on-schema";
import { servedVersions } from "./api-resources";
import type { KubernetesObject } from "./manifests";
import { SECRET } from "./run";

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

/**
 * Validates each object; a custom resource whose CRD is among `crds` (the CRDs the stack itself
 * installs, at the charts' pinned versions) against that CRD's own openAPIV3Schema, which is what
 * the API server applies. The kubernetes-models packages are generated from other versions of the
 * CRDs and are stricter in places: they require `apiVersion` and `kind` of the Prometheus
 * operator's embedded `storage.volumeClaimTemplate`, which its CRD does not.
 */
export async function validateObjects(objects: readonly KubernetesObject[], crds: readonly KubernetesObject[] = []): Promise<SchemaProblem[]> {
    const problems: SchemaProblem[] = [];
    const crdSchemas = crdValidators(crds);
    for (const object of objects) {
        const label = `${object.kind} ${object.metadata.namespace ? `${object.metadata.namespace}/` : ""}${object.metadata.name ?? "(no name)"}`;
        const crdSchema = crdSchemas.get(`${object.apiVersion} ${object.kind}`);
        if (crdSchema) {
            problems.push(...(crdSchema(object) ? [] : (crdSchema.errors ?? []).map((error) => ({ object: label, message: `${error.instancePath || "/"} ${error.message ?? ""}` }))));
            continue;
        }
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
            new Model(withSecretDataAsBase64(object)).validate();
        } catch (error) {
            problems.push({ object: label, message: error instanceof Error ? error.message : String(error) });
        }
    }
    return problems;
}

/**
 * The plan writes a Secret's `data` values as SECRET, which is no base64: each stands for a value
 * the plan cannot see, so it is checked as an empty (valid) one.
 */
function withSecretDataAsBase64(object: KubernetesObject): KubernetesObject {
    if (object.apiVersion !== "v1" || object.kind !== "Secret" || !isRecord(object.data)) {
        return object;
    }
    return { ...object, data: Object.fromEntries(Object.entries(object.data).map(([key, value]) => [key, value === SECRET ? "" : value])) };
}

/** `group/version Kind` -> a validator of the CRD's schema for that served version, compiled on first use. */
function crdValidators(crds: readonly KubernetesObject[]): { get(key: string): ValidateFunction | undefined } {
    // Not strict: CRD schemas carry the x-kubernetes-* extensions, which are no JSON Schema keywords.
    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false, code: { regExp: goRegExp } });
    const schemas = new Map<string, Record<string, unknown>>(servedVersions(crds).flatMap(({ group, version, kind, schema }) => (schema ? [[`${group}/${version} ${kind}`, schema]] : [])));
    const compiled = new Map<string, ValidateFunction>();
    return {
        get(key) {
            const schema = schemas.get(key);
            if (schema && !compiled.has(key)) {
                compiled.set(key, ajv.compile(schema));
            }
            return compiled.get(key);
        },
    };
}

/**
 * CRD patterns are Go (RE2) regular expressions: a leading `(?i)` flag, which JavaScript has no
 * inline form for, becomes the `i` flag of the whole pattern (more permissive, never stricter).
 */
const goRegExp = Object.assign(
    (pattern: string, flags: string) => (pattern.includes("(?i)") ? new RegExp(pattern.replace(/\(\?i\)/g, ""), `${flags}i`) : new RegExp(pattern, flags)),
    // Only ajv's standalone code generation, which the plan does not use, reads this.
    { code: "new RegExp" },
);
