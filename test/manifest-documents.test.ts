import * as assert from "assert";
import { parseManifestDocuments } from "../tools/offline/manifest-documents";
import { InputError } from "../tools/offline/stack-file";

const duplicate = (file: string, line: number, key: string) =>
    `${file}:${line}: duplicate key ${JSON.stringify(key)} (the last value wins, as Kubernetes decodes it)`;

/** What KEDA 2.20.2's chart renders when the values repeat its own nodeSelector key, after another document. */
const RENDERED = `---
# Source: keda/templates/manager/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: keda-operator
---
# Source: keda/templates/manager/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: keda-operator
spec:
  template:
    spec:
      containers:
        - name: keda-operator
          image: ghcr.io/kedacore/keda:2.20.2
        - name: sidecar
          image: busybox:1.37
      nodeSelector:
        kubernetes.io/os: linux
        kubernetes.io/os: linux-last
`;

describe("parseManifestDocuments", () => {
    it("reads every document, the last value of a duplicated key winning, with a warning naming the file, line and key", () => {
        const { documents, warnings } = parseManifestDocuments("manifests.yaml", RENDERED);
        assert.deepStrictEqual(documents.map((d) => (d as { kind: string }).kind), ["Service", "Deployment"]);
        const deployment = documents[1] as { spec: { template: { spec: { nodeSelector: unknown; containers: { name: string }[] } } } };
        assert.deepStrictEqual(deployment.spec.template.spec.nodeSelector, { "kubernetes.io/os": "linux-last" });
        // The same key in sibling mappings (two containers' `name`) is no duplicate.
        assert.deepStrictEqual(deployment.spec.template.spec.containers.map((c) => c.name), ["keda-operator", "sidecar"]);
        assert.deepStrictEqual(warnings, [duplicate("manifests.yaml", 23, "kubernetes.io/os")]);
    });

    it("reports duplicates in every document and at every depth, in the order of the text, each repeat once", () => {
        const text = [
            "kind: A", "metadata:", "  labels: {app: x, app: y}", "  name: a", "kind: B",
            "---",
            "kind: C", "spec:", "  list:", "  - key: 1", "    key: 2", "    key: 3", "  other: {\"q\": 1, \"q\": 2}",
        ].join("\n");
        const { documents, warnings } = parseManifestDocuments("two.yaml", text);
        assert.deepStrictEqual(documents, [
            { kind: "B", metadata: { labels: { app: "y" }, name: "a" } },
            { kind: "C", spec: { list: [{ key: 3 }], other: { q: 2 } } },
        ]);
        assert.deepStrictEqual(warnings, [
            duplicate("two.yaml", 3, "app"), duplicate("two.yaml", 5, "kind"),
            duplicate("two.yaml", 11, "key"), duplicate("two.yaml", 12, "key"), duplicate("two.yaml", 13, "q"),
        ]);
    });

    it("reports an explicit `? key` written twice", () => {
        const { documents, warnings } = parseManifestDocuments("explicit.yaml", "? a\n: 1\n? a\n: 2\n");
        assert.deepStrictEqual(documents, [{ a: 2 }]);
        assert.deepStrictEqual(warnings, [duplicate("explicit.yaml", 3, "a")]);
    });

    it("warns about nothing in text that only looks like keys", () => {
        const text = [
            "kind: ConfigMap", "data:", "  config.yaml: |", "    a: 1", "    a: 2", "  quoted: 'a: b'", "  url: http://x:80/a?b",
            "  empty:", "  json: {\"a\": [1, {\"b\": 2}], \"c\": \"a: 1, a: 2\"}", "  question: what?", "  when: 2025-01-01",
        ].join("\n");
        const { documents, warnings } = parseManifestDocuments("plain.yaml", text);
        assert.deepStrictEqual(warnings, []);
        // The core schema: a date stays a string, as the Pulumi CLI reads YAML.
        assert.strictEqual((documents[0] as { data: { when: unknown } }).data.when, "2025-01-01");
    });

    it("expands a List into its items, and keeps an empty document as null", () => {
        const text = "apiVersion: v1\nkind: List\nitems:\n- {kind: A}\n- {kind: B}\n---\n---\nkind: C\n";
        assert.deepStrictEqual(parseManifestDocuments("list.yaml", text).documents, [{ kind: "A" }, { kind: "B" }, null, { kind: "C" }]);
    });

    it("throws an InputError naming the file on invalid YAML", () => {
        assert.throws(() => parseManifestDocuments("broken.yaml", "kind: [unclosed\n"),
            (error: unknown) => error instanceof InputError && /^broken\.yaml: not valid YAML: /.test(error.message) && !error.message.includes("\n"));
    });
});
