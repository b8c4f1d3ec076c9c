/**
 * Renders the program's `kubernetes.helm.v4.Chart`s with a real Helm, as the Kubernetes provider
 * does (pulumi-kubernetes provider/pkg/provider/helm/v4/chart.go): `helm template` of the chart at
 * its pinned version with the recorded values, release name (the resource's name when unset) and
 * namespace, CRDs included unless skipCrds, hooks set apart (the provider never creates them), for
 * the stack's Kubernetes version and the API versions of the CRDs the stack installs. The objects
 * then go the provider's way (provider/pkg/provider/yaml/v2/yaml.go): namespaced kinds without a
 * namespace get the release namespace (Normalize), each becomes a child of the chart named
 * `<chart resource>:<namespace>/<name>` (register), and the chart's and its ancestors' `transforms`
 * apply to it (tools/offline/transforms.ts).
 */
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { isRecord } from "../../config/project";
import { isHelmHook } from "../../policies/lib/helm-hooks";
import { readChartDirectory } from "./chart-files";
import { ChartRef } from "./chart-sources";
import { unknownValuesKeys } from "./chart-values";
import { parseManifestDocuments } from "./manifest-documents";
import { KubernetesObject, typeToken } from "./manifests";
import type { RecordedResource } from "./run";
import { applyTransforms } from "./transforms";

export const CHART_TYPE = "kubernetes:helm.sh/v4:Chart";

/** A chart of the program, with what Helm needs to render it. */
export interface ChartRelease extends ChartRef {
    readonly resource: RecordedResource;
    readonly releaseName: string;
    readonly namespace: string;
    readonly values: Record<string, unknown>;
    readonly includeCrds: boolean;
}

/** An object a chart rendered, as the engine would register it. */
export interface RenderedObject {
    readonly type: string;
    /** `<chart resource>:<namespace>/<name>`, or `<chart resource>:<name>` for a cluster-scoped object. */
    readonly name: string;
    readonly urn: string;
    readonly parentUrn: string;
    readonly object: KubernetesObject;
    /** A Helm hook: never created by helm.v4.Chart, seen only by chart-no-hook-dependency. */
    readonly hook: boolean;
}

export interface ChartRendering {
    readonly release: ChartRelease;
    /** Why it was not rendered (no chart source given), or Helm's error when it failed. */
    readonly notRendered?: string;
    readonly error?: string;
    readonly objects: readonly RenderedObject[];
    /** Values key paths the chart does not read. */
    readonly unknownKeys: readonly string[];
    /** Warnings about the rendered text (a duplicated key), one line each. */
    readonly warnings: readonly string[];
}

/** The program's charts. */
export function chartReleases(resources: readonly RecordedResource[]): ChartRelease[] {
    return resources.filter((resource) => resource.type === CHART_TYPE).map((resource) => {
        const inputs = resource.inputs;
        const text = (value: unknown) => (typeof value === "string" && value !== "" ? value : undefined);
        return {
            resource,
            chart: text(inputs.chart) ?? "",
            version: text(inputs.version) ?? "",
            repo: isRecord(inputs.repositoryOpts) ? text(inputs.repositoryOpts.repo) : undefined,
            // chart.go: Name defaults to the resource's name; the namespace to the provider's default.
            releaseName: text(inputs.name) ?? resource.name,
            namespace: text(inputs.namespace) ?? "default",
            values: isRecord(inputs.values) ? inputs.values : {},
            includeCrds: inputs.skipCrds !== true,
        };
    });
}

export interface RenderOptions {
    readonly helm: string;
    /** The chart's directory. */
    readonly chartDir: (release: ChartRelease) => string;
    /** `1.35`: the cluster's Kubernetes minor. */
    readonly kubeVersion: string;
    /** Objects the program declares itself: their CRDs count among the API versions. */
    readonly programObjects: readonly KubernetesObject[];
}

/**
 * Renders every chart. A first pass finds the CRDs that the charts and the program install; the
 * second renders with their API versions, as a chart installed after them sees the cluster
 * (`.Capabilities.APIVersions.Has "monitoring.coreos.com/v1"` and the like).
 */
export async function renderCharts(releases: readonly ChartRelease[], options: RenderOptions): Promise<ChartRendering[]> {
    const first = await inParallel(releases, (release) => helmTemplate(release, options, []));
    const crds = [...options.programObjects, ...first.flatMap((result) => result.documents)].filter((object) => object.kind === "CustomResourceDefinition");
    const apiVersions = crdApiVersions(crds);
    const second = apiVersions.length === 0 ? first : await inParallel(releases, (release) => helmTemplate(release, options, apiVersions));
    const clusterScoped = clusterScopedKinds(crds);
    return Promise.all(releases.map(async (release, index) => {
        const { documents, error, warnings } = second[index];
        const unknownKeys = error ? [] : unknownValuesKeys(release.values, readChartDirectory(options.chartDir(release)));
        const objects = error ? [] : await registeredObjects(release, documents, clusterScoped);
        return { release, error, objects, unknownKeys, warnings };
    }));
}

/** The charts as not rendered, with the reason. */
export function unrendered(releases: readonly ChartRelease[], reason: string): ChartRendering[] {
    return releases.map((release) => ({ release, notRendered: reason, objects: [], unknownKeys: [], warnings: [] }));
}

interface TemplateResult {
    readonly documents: KubernetesObject[];
    readonly error?: string;
    readonly warnings: readonly string[];
}

async function helmTemplate(release: ChartRelease, options: RenderOptions, apiVersions: readonly string[]): Promise<TemplateResult> {
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "llm-platform-values-"));
    try {
        const valuesFile = path.join(scratch, "values.json");
        fs.writeFileSync(valuesFile, JSON.stringify(release.values));
        const args = [
            "template", release.releaseName, options.chartDir(release),
            "--namespace", release.namespace,
            "--values", valuesFile,
            "--kube-version", `v${options.kubeVersion}.0`,
            ...apiVersions.flatMap((apiVersion) => ["--api-versions", apiVersion]),
            ...(release.includeCrds ? ["--include-crds"] : []),
        ];
        const stdout = await new Promise<string>((resolve, reject) => {
            execFile(options.helm, args, { maxBuffer: 256 << 20 }, (error, out, err) => (error ? reject(new Error(err.trim() || error.message)) : resolve(out)));
        });
        const { documents, warnings } = parseManifestDocuments(`${release.chart}-${release.version} (rendered)`, stdout);
        return { documents: documents.filter(isKubernetesObject), warnings };
    } catch (error) {
        // One line: Helm's message lists schema problems one per line.
        return { documents: [], error: (error as Error).message.replace(/^Error: /, "").replace(/\s*\n\s*/g, " "), warnings: [] };
    } finally {
        fs.rmSync(scratch, { recursive: true, force: true });
    }
}

function isKubernetesObject(value: unknown): value is KubernetesObject {
    return isRecord(value) && typeof value.apiVersion === "string" && typeof value.kind === "string" && isRecord(value.metadata);
}

async function registeredObjects(release: ChartRelease, documents: readonly KubernetesObject[], clusterScoped: ReadonlySet<string>): Promise<RenderedObject[]> {
    const chart = release.resource;
    return Promise.all(documents.map(async (document) => {
        const namespaced = !clusterScoped.has(document.kind);
        const object = namespaced && !document.metadata.namespace
            ? { ...document, metadata: { ...document.metadata, namespace: release.namespace } } : document;
        const type = typeToken(object.apiVersion, object.kind);
        const name = `${chart.name}:${object.metadata.namespace ? `${object.metadata.namespace}/` : ""}${object.metadata.name ?? ""}`;
        const props = await applyTransforms(chart.transforms, { type, name, custom: true, parentUrn: chart.urn, props: object });
        return { type, name, urn: childUrn(chart.urn, type, name), parentUrn: chart.urn, object: props as KubernetesObject, hook: isHelmHook(object) };
    }));
}

/** `urn:pulumi:<stack>::<project>::<parent types>$<type>::<name>`. */
function childUrn(parentUrn: string, type: string, name: string): string {
    const [prefix, project, parentType] = parentUrn.split("::");
    return [prefix, project, `${parentType}$${type}`, name].join("::");
}

/** `group/version` and `group/version/Kind` of every served version of the CRDs. */
function crdApiVersions(crds: readonly KubernetesObject[]): string[] {
    const versions = new Set<string>();
    for (const crd of crds) {
        const spec = isRecord(crd.spec) ? crd.spec : {};
        const kind = isRecord(spec.names) ? spec.names.kind : undefined;
        for (const version of Array.isArray(spec.versions) ? spec.versions.filter(isRecord) : []) {
            if (version.served !== false && typeof spec.group === "string" && typeof version.name === "string") {
                versions.add(`${spec.group}/${version.name}`);
                if (typeof kind === "string") {
                    versions.add(`${spec.group}/${version.name}/${kind}`);
                }
            }
        }
    }
    return [...versions].sort();
}

/**
 * Kinds without a namespace: the built-in cluster-scoped kinds of Kubernetes 1.35 (`kubectl
 * api-resources --namespaced=false`) and the CRDs of scope Cluster. The provider asks the cluster
 * (clients.IsNamespacedKind); offline, a kind neither lists is taken as namespaced.
 */
const BUILT_IN_CLUSTER_SCOPED = [
    "APIService", "CSIDriver", "CSINode", "CertificateSigningRequest", "ClusterRole", "ClusterRoleBinding",
    "ClusterTrustBundle", "ComponentStatus", "CustomResourceDefinition", "DeviceClass", "FlowSchema", "IPAddress",
    "IngressClass", "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding", "MutatingWebhookConfiguration",
    "Namespace", "Node", "PersistentVolume", "PriorityClass", "PriorityLevelConfiguration", "ResourceSlice",
    "RuntimeClass", "ServiceCIDR", "StorageClass", "StorageVersionMigration", "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding", "ValidatingWebhookConfiguration", "VolumeAttachment", "VolumeAttributesClass",
];

function clusterScopedKinds(crds: readonly KubernetesObject[]): Set<string> {
    const kinds = new Set(BUILT_IN_CLUSTER_SCOPED);
    for (const crd of crds) {
        const spec = isRecord(crd.spec) ? crd.spec : {};
        if (spec.scope === "Cluster" && isRecord(spec.names) && typeof spec.names.kind === "string") {
            kinds.add(spec.names.kind);
        }
    }
    return kinds;
}

/** Runs `task` on every item, as many at once as the machine has cores; results in input order. */
async function inParallel<T, R>(items: readonly T[], task: (item: T) => Promise<R>): Promise<R[]> {
    const results: R[] = new Array(items.length);
    let next = 0;
    const worker = async () => {
        while (next < items.length) {
            const index = next++;
            results[index] = await task(items[index]);
        }
    };
    await Promise.all(Array.from({ length: Math.min(items.length, os.cpus().length) }, worker));
    return results;
}
