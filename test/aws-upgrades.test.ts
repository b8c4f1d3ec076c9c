import * as assert from "assert";
import { AUTOSCALER_RELEASES } from "../components/cluster/cluster-autoscaler";
import { AUTOSCALER_MINORS } from "../config/aws";
import { ADDONS, ADDON_VERSIONS, AddonName, addonConfigurationValues, addonVersion } from "../lib/eks";
import { ProgramRun, RecordedResource } from "../tools/offline/run";
import { acceptedAwsLayer, configProblems, inputs, resource, resourcesOfType } from "./mocks";

const ADDON = "aws:eks/addon:Addon";
const NODE_GROUP = "aws:eks/nodeGroup:NodeGroup";
const CLUSTER = "aws:eks/cluster:Cluster";

/** The AWS cluster layer (clusters.ts: EKS, its add-ons and system groups, the GPU pool and its autoscaler) at a Kubernetes minor. */
function awsLayerAt(kubernetesVersion: string): Promise<ProgramRun> {
    return acceptedAwsLayer({ cluster: { kubernetesVersion, deployerCidrs: ["detect"] } });
}

/** What a run installs that a kubernetesVersion bump must move: the control plane, each add-on, each node group, the autoscaler. */
function versions(run: ProgramRun): Record<string, string> {
    const chart = inputs(resource(run, "kubernetes:helm.sh/v4:Chart", "gpu-autoscaler-chart"));
    return {
        cluster: inputs(resourcesOfType(run, CLUSTER)[0]).version,
        ...Object.fromEntries(resourcesOfType(run, ADDON).map((addon) => [`addon ${inputs(addon).addonName}`, inputs(addon).addonVersion])),
        ...Object.fromEntries(resourcesOfType(run, NODE_GROUP).map((group) => [`node group ${group.name}`, inputs(group).version])),
        autoscaler: `${chart.version} ${chart.values.image.tag}`,
    };
}

/**
 * Whether `from` waits for `to` in the engine's order: through its dependencies (dependsOn and the
 * resources its inputs' Outputs come from), transitively. A component in dependsOn is already its
 * custom children there (@pulumi/pulumi runtime/dependsOn.js getAllTransitivelyReferencedResourceURNs).
 */
function waitsFor(run: ProgramRun, from: RecordedResource, to: RecordedResource): boolean {
    const byUrn = new Map(run.resources.map((found) => [found.urn, found]));
    const seen = new Set<string>();
    const pending = [...from.dependencies];
    while (pending.length > 0) {
        const urn = pending.pop()!;
        if (seen.has(urn)) {
            continue;
        }
        seen.add(urn);
        const found = byUrn.get(urn);
        pending.push(...(found?.dependencies ?? []));
    }
    return seen.has(to.urn);
}

function addonNamed(run: ProgramRun, name: AddonName): RecordedResource {
    const found = resourcesOfType(run, ADDON).find((addon) => inputs(addon).addonName === name);
    assert.ok(found, `no add-on ${name}`);
    return found;
}

describe("aws upgrades: a kubernetesVersion bump moves everything, in order", function () {
    this.timeout(120_000);
    let at134: ProgramRun;
    let at135: ProgramRun;
    before(async () => {
        at134 = await awsLayerAt("1.34");
        at135 = await awsLayerAt("1.35");
    });

    describe("versions per Kubernetes minor", () => {
        it("pins every add-on for exactly the minors the autoscaler is pinned for, as EKS add-on versions (-eksbuild.N)", () => {
            assert.deepStrictEqual(Object.keys(ADDON_VERSIONS), [...AUTOSCALER_MINORS]);
            assert.deepStrictEqual(Object.keys(ADDON_VERSIONS), Object.keys(AUTOSCALER_RELEASES));
            for (const [minor, pinned] of Object.entries(ADDON_VERSIONS)) {
                assert.deepStrictEqual(Object.keys(pinned).sort(), ADDONS.map((addon) => addon.name).sort(), minor);
                for (const [name, version] of Object.entries(pinned)) {
                    assert.match(version, /^v\d+\.\d+\.\d+-eksbuild\.\d+$/, `${minor} ${name}`);
                }
                assert.ok(pinned["kube-proxy"].startsWith(`v${minor}.`), `kube-proxy follows the minor (${minor}: ${pinned["kube-proxy"]})`);
            }
        });

        it("installs each add-on at its pinned version, and each node group on the cluster's minor", () => {
            for (const [minor, run] of [["1.34", at134], ["1.35", at135]] as const) {
                const addons = resourcesOfType(run, ADDON);
                assert.deepStrictEqual(addons.map((addon) => inputs(addon).addonName).sort(), Object.keys(ADDON_VERSIONS[minor]).sort(), `${minor}: every pinned add-on is installed`);
                for (const addon of addons) {
                    assert.strictEqual(inputs(addon).addonVersion, ADDON_VERSIONS[minor][inputs(addon).addonName as AddonName], `${minor} ${addon.name}`);
                }
                const groups = resourcesOfType(run, NODE_GROUP);
                assert.deepStrictEqual(groups.map((group) => group.name).sort(), ["gpu", "llm-system-0", "llm-system-1"]);
                assert.ok(groups.every((group) => inputs(group).version === minor), `${minor}: every node group's version`);
            }
        });

        it("moves the control plane, kube-proxy, CoreDNS, every node group and the autoscaler from 1.34 to 1.35", () => {
            const before = versions(at134);
            const after = versions(at135);
            const moved = Object.keys(after).filter((key) => before[key] !== after[key]).sort();
            assert.deepStrictEqual(moved, [
                "addon coredns", "addon kube-proxy", "autoscaler", "cluster", "node group gpu", "node group llm-system-0", "node group llm-system-1",
            ]);
            assert.deepStrictEqual([before.cluster, after.cluster], ["1.34", "1.35"]);
            assert.deepStrictEqual([before["addon kube-proxy"], after["addon kube-proxy"]], ["v1.34.6-eksbuild.2", "v1.35.3-eksbuild.2"]);
            assert.deepStrictEqual([before.autoscaler, after.autoscaler], ["9.53.0 v1.34.5", "9.59.0 v1.35.2"]);
        });

        it("takes a stack's own version for an add-on (cluster.addonVersions), the pinned ones for the rest", async () => {
            const run = await acceptedAwsLayer({ cluster: { kubernetesVersion: "1.35", deployerCidrs: ["detect"], addonVersions: { coredns: "v1.14.3-eksbuild.2" } } });
            const addons = resourcesOfType(run, ADDON);
            assert.ok(addons.some((addon) => inputs(addon).addonName === "coredns"), "coredns is installed");
            for (const addon of addons) {
                const name = inputs(addon).addonName as AddonName;
                assert.strictEqual(inputs(addon).addonVersion, name === "coredns" ? "v1.14.3-eksbuild.2" : ADDON_VERSIONS["1.35"][name], name);
            }
            assert.strictEqual(addonVersion("1.33", "coredns", { coredns: "v1.11.4-eksbuild.24" }), "v1.11.4-eksbuild.24");
        });

        it("refuses an add-on version that is not an EKS one, an unknown add-on, and a kube-proxy of another minor, one line each", async () => {
            const problems = await configProblems({
                target: "aws",
                cluster: {
                    kubernetesVersion: "1.35", deployerCidrs: ["detect"],
                    addonVersions: { coredns: "1.14.3", "metrics-server": "v0.8.1-eksbuild.6", "kube-proxy": "v1.34.6-eksbuild.2" },
                },
            });
            const lines = problems.filter((line) => line.includes("addonVersions"));
            assert.strictEqual(lines.length, 3, lines.join("\n"));
            assert.ok(lines.some((line) => /^llm-platform:cluster\.addonVersions\.coredns = "1\.14\.3": is not an EKS add-on version/.test(line)), lines.join("\n"));
            assert.ok(lines.some((line) => line.startsWith("llm-platform:cluster.addonVersions.metrics-server")), lines.join("\n"));
            assert.ok(lines.some((line) => /^llm-platform:cluster\.addonVersions\.kube-proxy = "v1\.34\.6-eksbuild\.2": is not of Kubernetes 1\.35/.test(line)), lines.join("\n"));
        });

        it("refuses a minor without pinned versions, one line naming the key", async () => {
            assert.throws(() => addonVersion("1.33", "coredns"), /^Error: no pinned EKS add-on versions for Kubernetes 1\.33$/);
            const problems = await configProblems({ target: "aws", cluster: { kubernetesVersion: "1.36", deployerCidrs: ["detect"] } });
            assert.deepStrictEqual(problems.filter((line) => line.includes("kubernetesVersion")).length, 1);
            assert.match(problems.find((line) => line.includes("kubernetesVersion"))!, /^llm-platform:cluster\.kubernetesVersion = "1\.36": has no pinned/);
        });
    });

    describe("upgrade order: control plane, add-ons, node groups", () => {
        it("has every add-on wait for the control plane", () => {
            const cluster = resourcesOfType(at135, CLUSTER)[0];
            for (const addon of resourcesOfType(at135, ADDON)) {
                assert.ok(waitsFor(at135, addon, cluster), addon.name);
            }
        });

        it("has every node group wait for the node add-ons (VPC CNI, kube-proxy, Pod Identity agent), which wait for no node group", () => {
            const nodeAddons = ADDONS.filter((addon) => addon.beforeNodes).map((addon) => addonNamed(at135, addon.name));
            assert.deepStrictEqual(nodeAddons.map((addon) => inputs(addon).addonName), ["vpc-cni", "kube-proxy", "eks-pod-identity-agent"]);
            for (const group of resourcesOfType(at135, NODE_GROUP)) {
                for (const addon of nodeAddons) {
                    assert.ok(waitsFor(at135, group, addon), `${group.name} waits for ${addon.name}`);
                    assert.ok(!waitsFor(at135, addon, group), `${addon.name} does not wait for ${group.name}`);
                }
            }
        });

        it("has CoreDNS and the CSI drivers, which need running nodes to become ACTIVE, wait for every system node group", () => {
            const systemGroups = resourcesOfType(at135, NODE_GROUP).filter((group) => group.name.startsWith("llm-system"));
            for (const name of ["coredns", "aws-ebs-csi-driver", "aws-efs-csi-driver"] as const) {
                for (const group of systemGroups) {
                    assert.ok(waitsFor(at135, addonNamed(at135, name), group), `${name} waits for ${group.name}`);
                }
            }
        });
    });

    describe("the VPC CNI enforces NetworkPolicies (issue 14)", () => {
        it("turns on the CNI's network policy agent, as the string the add-on's configuration takes", () => {
            const cni = inputs(addonNamed(at135, "vpc-cni"));
            assert.deepStrictEqual(JSON.parse(cni.configurationValues), { enableNetworkPolicy: "true" });
            assert.strictEqual(addonConfigurationValues(ADDONS.find((addon) => addon.name === "vpc-cni")!), '{"enableNetworkPolicy":"true"}');
            assert.strictEqual(inputs(addonNamed(at135, "kube-proxy")).configurationValues, undefined, "an add-on without configuration sends none");
        });
    });
});
