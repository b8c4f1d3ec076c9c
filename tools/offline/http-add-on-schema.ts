/**
 * A schema check for the KEDA HTTP add-on's InterceptorRoute (http.keda.sh/v1beta1), which no
 * kubernetes-models package covers: @kubernetes-models/keda 2.0.0 has keda.sh and eventing.keda.sh
 * only.
 *
 * The schema below is a hand transcription of the parts of the CRD's openAPIV3Schema
 * (kedacore/http-add-on v0.15.0, config/crd/bases/http.keda.sh_interceptorroutes.yaml; the chart
 * 0.15.0 installs the same) that an InterceptorRoute may set: types, required fields, bounds, and
 * the CRD's CEL rule "exactly one of port or portName" on target. It is stricter than the API
 * server in one way, on purpose: unknown fields are errors here, where the server would prune them
 * silently. It is weaker in others: not every CEL rule, no defaults, metadata only as far as name
 * and namespace. Update it with KEDA_HTTP_CHART (components/autoscaling/keda-http-add-on.ts).
 */

/** The JSON Schema subset the transcription uses. */
export interface Schema {
    readonly type: "object" | "array" | "string" | "integer";
    readonly properties?: Readonly<Record<string, Schema>>;
    readonly required?: readonly string[];
    /** Objects: whether properties not listed are allowed (additionalProperties). */
    readonly open?: boolean;
    /** Objects: the schema of every value of a map (additionalProperties: {schema}). */
    readonly values?: Schema;
    readonly items?: Schema;
    readonly minLength?: number;
    readonly maxLength?: number;
    readonly minimum?: number;
    readonly maximum?: number;
    /** Objects: exactly one of these fields (the CRD's CEL rule `has(self.a) != has(self.b)`). */
    readonly oneOf?: readonly [string, string];
}

const str = (minLength?: number, maxLength?: number): Schema => ({ type: "string", ...(minLength ? { minLength } : {}), ...(maxLength ? { maxLength } : {}) });
const int32 = (minimum?: number, maximum?: number): Schema => ({ type: "integer", ...(minimum !== undefined ? { minimum } : {}), ...(maximum !== undefined ? { maximum } : {}) });
const object = (properties: Record<string, Schema>, extra: Partial<Schema> = {}): Schema => ({ type: "object", properties, ...extra });

const serviceRef = object({ name: str(1), port: int32(1, 65535), portName: str(1) }, { required: ["name"], oneOf: ["port", "portName"] });

export const INTERCEPTOR_ROUTE_SPEC: Schema = object({
    target: object({ service: str(1), port: int32(1, 65535), portName: str(1) }, { required: ["service"], oneOf: ["port", "portName"] }),
    rules: {
        type: "array",
        items: object({
            hosts: { type: "array", items: str() },
            paths: { type: "array", items: object({ value: str(1) }, { required: ["value"] }) },
            headers: { type: "array", items: object({ name: str(1), value: str() }, { required: ["name"] }) },
        }),
    },
    scalingMetric: object({
        concurrency: object({ targetValue: int32(1) }, { required: ["targetValue"] }),
        requestRate: object({ targetValue: int32(1), window: str(), granularity: str() }, { required: ["targetValue"] }),
    }),
    timeouts: object({ request: str(), responseHeader: str(), readiness: str() }),
    coldStart: object({
        fallback: object({ service: serviceRef }, { required: ["service"] }),
        placeholder: object({
            response: object({
                statusCode: int32(100, 599),
                headers: { type: "object", values: str() },
                body: str(undefined, 32768),
                bodyFromConfigMap: object({ name: str(1), key: str() }, { required: ["name"] }),
            }),
        }, { required: ["response"] }),
    }),
}, { required: ["scalingMetric", "target"] });

/** The problems of `value` against `schema`, each with its path (`/spec/target/port must be integer`). */
export function schemaProblems(value: unknown, schema: Schema, path = ""): string[] {
    const at = path || "/";
    switch (schema.type) {
        case "string":
            if (typeof value !== "string") {
                return [`${at} must be string`];
            }
            if (schema.minLength !== undefined && value.length < schema.minLength) {
                return [`${at} must NOT have fewer than ${schema.minLength} characters`];
            }
            return schema.maxLength !== undefined && value.length > schema.maxLength ? [`${at} must NOT have more than ${schema.maxLength} characters`] : [];
        case "integer":
            if (typeof value !== "number" || !Number.isInteger(value)) {
                return [`${at} must be integer`];
            }
            if (schema.minimum !== undefined && value < schema.minimum) {
                return [`${at} must be >= ${schema.minimum}`];
            }
            return schema.maximum !== undefined && value > schema.maximum ? [`${at} must be <= ${schema.maximum}`] : [];
        case "array":
            if (!Array.isArray(value)) {
                return [`${at} must be array`];
            }
            return schema.items ? value.flatMap((item, index) => schemaProblems(item, schema.items!, `${path}/${index}`)) : [];
        case "object": {
            if (typeof value !== "object" || value === null || Array.isArray(value)) {
                return [`${at} must be object`];
            }
            const fields = value as Record<string, unknown>;
            const problems = (schema.required ?? []).filter((key) => fields[key] === undefined).map((key) => `${at} must have required property '${key}'`);
            if (schema.oneOf && (fields[schema.oneOf[0]] === undefined) === (fields[schema.oneOf[1]] === undefined)) {
                problems.push(`${at} must set exactly one of '${schema.oneOf[0]}' or '${schema.oneOf[1]}'`);
            }
            for (const [key, field] of Object.entries(fields)) {
                if (field === undefined) {
                    continue; // absent, as in JSON
                }
                const fieldSchema = schema.properties?.[key] ?? schema.values;
                if (fieldSchema) {
                    problems.push(...schemaProblems(field, fieldSchema, `${path}/${key}`));
                } else if (!schema.open) {
                    problems.push(`${at} must NOT have additional property '${key}'`);
                }
            }
            return problems;
        }
    }
}

/** An InterceptorRoute's problems: metadata name and namespace (it is namespaced; the rest is ObjectMeta), and its spec. */
export function interceptorRouteProblems(route: { readonly metadata: Readonly<Record<string, unknown>>; readonly [key: string]: unknown }): string[] {
    const { apiVersion: _apiVersion, kind: _kind, metadata, ...rest } = route;
    const metadataSchema = object({ name: str(1, 253), namespace: str(1, 63) }, { required: ["name", "namespace"], open: true });
    return [...schemaProblems(metadata, metadataSchema, "/metadata"), ...schemaProblems(rest, object({ spec: INTERCEPTOR_ROUTE_SPEC }, { required: ["spec"] }))];
}
