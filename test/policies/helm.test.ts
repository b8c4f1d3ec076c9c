import * as assert from "assert";
import { noHelmRelease } from "../../policies/rules/helm";
import { violations } from "./harness";

const RELEASE = "kubernetes:helm.sh/v3:Release";
/** Looks like a Grafana admin password; no message may repeat it. */
const SECRET = "gr4fana-Adm1n-S3cret-Pa55word";

function release(): Record<string, unknown> {
    return {
        chart: "grafana",
        version: "8.5.0",
        repositoryOpts: { repo: "https://grafana.github.io/helm-charts" },
        namespace: "monitoring",
        values: { adminPassword: SECRET },
    };
}

describe("no-helm-release", () => {
    it("fails a helm.sh/v3 Release, pointing at helm.v4.Chart, without echoing its values", async () => {
        const found = await violations(noHelmRelease, [{ type: RELEASE, name: "grafana", props: release() }]);
        assert.strictEqual(found.length, 1);
        assert.match(found[0].message, /^Helm release grafana: helm.sh\/v3 Release installs objects the policy pack never sees; deploy the chart with kubernetes.helm.v4.Chart at a pinned version instead\.$/);
        assert.ok(!found[0].message.includes(SECRET));
        assert.deepStrictEqual([found[0].policy, found[0].enforcementLevel, found[0].resourceType], ["no-helm-release", "mandatory", RELEASE]);
    });

    it("fails a Release with no inputs, or inputs unknown during preview", async () => {
        const found = await violations(noHelmRelease, [
            { type: RELEASE, name: "empty", props: {} },
            { type: RELEASE, name: "unknown", props: { chart: undefined, values: undefined } },
        ]);
        assert.deepStrictEqual(found.map((v) => v.resourceName), ["empty", "unknown"]);
    });

    it("passes a helm.v4.Chart and other resources", async () => {
        assert.deepStrictEqual(await violations(noHelmRelease, [
            { type: "kubernetes:helm.sh/v4:Chart", name: "grafana", props: release() },
            { type: "kubernetes:core/v1:ConfigMap", name: "cm", props: { metadata: { name: "cm" } } },
        ]), []);
    });

    it("skips a Release exempted by its Pulumi name, and follows the configured level", async () => {
        const subjects = [{ type: RELEASE, name: "legacy-ingress", props: release() }];
        assert.deepStrictEqual(await violations(noHelmRelease, subjects, { exemptions: [{ name: "legacy-ingress", reason: "migrating to helm.v4.Chart" }] }), []);
        assert.strictEqual((await violations(noHelmRelease, subjects, "advisory"))[0].enforcementLevel, "advisory");
    });
});
