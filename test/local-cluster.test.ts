import * as assert from "assert";
import { LocalCluster, localProviderArgs } from "../components/cluster/local-cluster";
import { nameOfUrn } from "../tools/offline/run";
import { resource, runComponent, runStack } from "./mocks";

describe("local target", () => {
    describe("localProviderArgs", () => {
        it("leaves the kubeconfig to the Kubernetes defaults when none is configured", () => {
            assert.deepStrictEqual(localProviderArgs({}), { kubeconfig: undefined, context: undefined });
        });

        it("expands ~ to the home directory", () => {
            assert.strictEqual(localProviderArgs({ kubeconfig: "~/.kube/k3s.yaml" }, "/home/ops", "/repo").kubeconfig, "/home/ops/.kube/k3s.yaml");
        });

        it("resolves a relative path against the project directory", () => {
            assert.strictEqual(localProviderArgs({ kubeconfig: "clusters/kind.yaml" }, "/home/ops", "/repo").kubeconfig, "/repo/clusters/kind.yaml");
        });

        it("passes the context through", () => {
            assert.strictEqual(localProviderArgs({ context: "kind-llm" }).context, "kind-llm");
        });
    });

    it("registers a Kubernetes provider with the kubeconfig and context, as a child of the component", async () => {
        const run = await runComponent(() => new LocalCluster("lab", { kubeconfig: "/etc/rancher/k3s/k3s.yaml", context: "default" }));
        const provider = resource(run, "pulumi:providers:kubernetes", "lab-k8s");
        assert.strictEqual(provider.inputs.kubeconfig, "/etc/rancher/k3s/k3s.yaml");
        assert.strictEqual(provider.inputs.context, "default");
        assert.strictEqual(provider.parentUrn && nameOfUrn(provider.parentUrn), "lab");
        assert.strictEqual(resource(run, "llm-platform:cluster:LocalCluster", "lab").custom, false);
    });

    it("deploys the model namespace through that provider, with restricted pod security", async () => {
        const run = await runStack({ target: "local", kubeContext: "kind-llm", namespace: "serving" });
        const provider = resource(run, "pulumi:providers:kubernetes", "local-k8s");
        assert.strictEqual(provider.inputs.context, "kind-llm");
        const namespace = run.resources.find((r) => r.type === "kubernetes:core/v1:Namespace" && (r.inputs.metadata as { name?: string }).name === "serving");
        assert.ok(namespace, "the model namespace is declared");
        assert.strictEqual(namespace.providerUrn, provider.urn);
        assert.strictEqual((namespace.inputs.metadata as { labels: Record<string, string> }).labels["pod-security.kubernetes.io/enforce"], "restricted");
    });
});
