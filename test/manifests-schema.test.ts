import * as assert from "assert";
import { KubernetesObject } from "../tools/offline/manifests";
import { validateObjects } from "../tools/offline/schemas";
import { STACKS, objects, runStackFile } from "./mocks";

describe("manifests against the upstream schemas", () => {
    for (const stack of STACKS) {
        it(`every object of the ${stack} plan validates (Kubernetes OpenAPI, KEDA and Prometheus operator CRDs)`, async () => {
            const planned = objects(await runStackFile(stack));
            assert.ok(planned.length > 0, "the plan declares Kubernetes objects");
            assert.deepStrictEqual(await validateObjects(planned), []);
        });
    }

    describe("the validator", () => {
        it("reports a field of the wrong type, with its path", async () => {
            const deployment = {
                apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", namespace: "llm" },
                spec: { selector: { matchLabels: { app: "web" } }, template: { spec: { containers: [{ name: "web", image: 3 }] } } },
            } as unknown as KubernetesObject;
            const problems = await validateObjects([deployment]);
            assert.deepStrictEqual(problems.map((p) => p.object), ["Deployment llm/web"]);
            assert.match(problems[0].message, /containers\/0\/image must be string/);
        });

        it("checks KEDA objects against the ScaledObject CRD (threshold is a string)", async () => {
            const scaledObject = {
                apiVersion: "keda.sh/v1alpha1", kind: "ScaledObject", metadata: { name: "qwen" },
                spec: { scaleTargetRef: { name: "qwen" }, triggers: [{ type: "prometheus", metadata: { query: "sum(x)", threshold: 4 } }] },
            } as unknown as KubernetesObject;
            const problems = await validateObjects([scaledObject]);
            assert.match(problems[0]?.message ?? "", /threshold must be string/);
        });

        it("checks InterceptorRoutes (no kubernetes-models package) against the transcription of their CRD schema", async () => {
            const route = {
                apiVersion: "http.keda.sh/v1beta1", kind: "InterceptorRoute", metadata: { name: "qwen", namespace: "llm" },
                spec: { target: { service: "qwen", port: 80 }, rules: [{ hosts: ["qwen-proxy"] }], scalingMetric: { concurrency: { targetValue: 52 } } },
            };
            assert.deepStrictEqual(await validateObjects([route]), []);
            const broken = {
                ...route,
                metadata: { name: "qwen" },
                spec: { target: { service: "qwen", port: "80", portName: "http" }, rules: [{ host: "qwen-proxy" }], scalingMetric: { concurrency: { targetValue: 0 } } },
            };
            assert.deepStrictEqual((await validateObjects([broken])).map((p) => p.message), [
                "/metadata must have required property 'namespace'",
                "/spec/target must set exactly one of 'port' or 'portName'",
                "/spec/target/port must be integer",
                "/spec/rules/0 must NOT have additional property 'host'",
                "/spec/scalingMetric/concurrency/targetValue must be >= 1",
            ]);
            assert.deepStrictEqual((await validateObjects([{ ...route, spec: undefined }])).map((p) => p.message), ["/ must have required property 'spec'"]);
        });

        it("checks a custom resource against the stack's own CRD when it has it, Go's (?i) patterns included", async () => {
            const crd = {
                apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition", metadata: { name: "widgets.example.com" },
                spec: {
                    group: "example.com", scope: "Namespaced", names: { kind: "Widget", plural: "widgets" },
                    versions: [{ name: "v1", served: true, storage: true, schema: { openAPIV3Schema: {
                        type: "object",
                        properties: { spec: { type: "object", properties: {
                            size: { type: "integer" },
                            month: { type: "string", pattern: "^((?i)january|february)$" },
                            claim: { type: "object", properties: { apiVersion: { type: "string" }, kind: { type: "string" }, spec: { type: "object" } } },
                        } } },
                    } } }],
                },
            };
            const widget = (spec: object) => ({ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w", namespace: "a" }, spec });
            assert.deepStrictEqual(await validateObjects([widget({ size: 1, month: "January", claim: { spec: {} } })], [crd]), []);
            assert.deepStrictEqual((await validateObjects([widget({ size: "1", month: "June" })], [crd])).map((p) => p.message),
                ["/spec/size must be integer", '/spec/month must match pattern "^((?i)january|february)$"']);
        });

        it("takes a Secret's data the plan hides as valid, and checks the rest", async () => {
            const secret = (value: string) => ({ apiVersion: "v1", kind: "Secret", metadata: { name: "s", namespace: "a" }, data: { key: value } });
            assert.deepStrictEqual(await validateObjects([secret("[secret]")]), []);
            assert.match((await validateObjects([secret("not base64!")]))[0]?.message ?? "", /must match format "byte"/);
        });

        it("refuses a kind it has no schema for", async () => {
            const problems = await validateObjects([{ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" } }]);
            assert.deepStrictEqual(problems, [{ object: "Widget w", message: "no schema for example.com/v1 Widget" }]);
        });
    });
});
