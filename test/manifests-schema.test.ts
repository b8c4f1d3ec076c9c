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

        it("refuses a kind it has no schema for", async () => {
            const problems = await validateObjects([{ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" } }]);
            assert.deepStrictEqual(problems, [{ object: "Widget w", message: "no schema for example.com/v1 Widget" }]);
        });
    });
});
