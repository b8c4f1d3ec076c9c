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
import { clusterScopedKinds, crdApiVersions, isCrd } from "./api-resources";
import { ChartFiles, readChartDirectory } from "./chart-files";
import { ChartRef } from "./chart-sources";
import { unknownValuesKeys } from "./chart-values";
import { parseManifestDocuments } from "./manifest-documents";
import { KubernetesObject, isKubernetesObject, typeToken } from "./manifests";
import { PropertyPath, RecordedResource, maskLeaves } from "./run";
import { TransformCallback, applyTransforms } from "./transforms";

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
    /** Paths of `object` the provider registers as secret (a Secret's data and stringData), now SECRET leaves. */
    readonly secretPaths: readonly PropertyPath[];
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
    /** Every resource of the program: the charts' dependencies, their parents' transforms, the program's own CRDs. */
    readonly resources: readonly RecordedResource[];
}

/**
 * Renders every chart as a first `pulumi up` does. The provider renders a chart with the API
 * versions the cluster serves at that moment (chart.go setKubeVersionAndAPIVersions, from
 * discovery), and a chart is constructed only once what it depends on exists (the SDK registers
 * it after the URNs of every custom resource it depends on, transitively, resolve: @pulumi/pulumi
 * runtime/dependsOn.ts getAllTransitivelyReferencedResourceURNs; the engine answers a custom
 * resource's registration only when its step is done: pulumi/pulumi source_eval.go
 * RegisterResource, "block waiting for the operation to finish"): so a chart sees
 * the CRDs of the charts and objects it depends on, directly or not, and never its own. A first
 * pass renders every chart bare and finds the CRDs; a chart whose templates ask
 * `.Capabilities.APIVersions` and depends on CRDs is rendered again with them.
 */
export async function renderCharts(releases: readonly ChartRelease[], options: RenderOptions): Promise<ChartRendering[]> {
    const files = releases.map((release) => readChartDirectory(options.chartDir(release)));
    const first = await inParallel(releases, (release) => helmTemplate(release, options, []));
    const crdsByUrn = new Map<string, KubernetesObject[]>(options.resources.map((resource) => [resource.urn, isCrd(resource.inputs) ? [resource.inputs] : []]));
    releases.forEach((release, index) => crdsByUrn.set(release.resource.urn, first[index].documents.filter(isCrd)));
    const rendered = await inParallel(releases, async (release, index) => {
        const apiVersions = crdApiVersions(dependenciesOf(release.resource, options.resources).flatMap((urn) => crdsByUrn.get(urn) ?? []));
        return apiVersions.length > 0 && asksApiVersions(files[index]) ? helmTemplate(release, options, apiVersions) : first[index];
    });
    const clusterScoped = clusterScopedKinds([...crdsByUrn.values()].flat());
    return Promise.all(releases.map(async (release, index) => {
        const { documents, error, warnings } = rendered[index];
        const unknownKeys = error ? [] : unknownValuesKeys(release.values, files[index]);
        const objects = error ? [] : await registeredObjects(release, documents, clusterScoped, transformsOf(release.resource, options.resources));
        return { release, error, objects, unknownKeys, warnings };
    }));
}

/** The URNs a resource waits for, directly or through what it waits for. */
function dependenciesOf(resource: RecordedResource, resources: readonly RecordedResource[]): string[] {
    const byUrn = new Map(resources.map((candidate) => [candidate.urn, candidate]));
    const seen = new Set<string>();
    const visit = (urns: readonly string[]) => urns.filter((urn) => !seen.has(urn)).forEach((urn) => {
        seen.add(urn);
        visit(byUrn.get(urn)?.dependencies ?? []);
    });
    visit(resource.dependencies);
    return [...seen];
}

function asksApiVersions(chart: ChartFiles): boolean {
    return chart.templates.includes("Capabilities.APIVersions") || [...chart.subcharts.values()].some(asksApiVersions);
}

/**
 * The transforms a child of the chart goes through: the chart's own, then each ancestor's,
 * nearest first (source_eval.go; the stack's own transforms, registered apart, are not recorded:
 * the program registers none).
 */
function transformsOf(chart: RecordedResource, resources: readonly RecordedResource[]): TransformCallback[] {
    const byUrn = new Map(resources.map((resource) => [resource.urn, resource]));
    const transforms: TransformCallback[] = [];
    for (let current: RecordedResource | undefined = chart; current; current = current.parentUrn ? byUrn.get(current.parentUrn) : undefined) {
        transforms.push(...current.transforms);
    }
    return transforms;
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
        const objects = documents.filter((document) => document !== null && document !== undefined);
        const unnamed = objects.find((object) => !isKubernetesObject(object) || typeof object.metadata.name !== "string");
        if (unnamed !== undefined) {
            // The provider refuses it too: an object it cannot name (yaml/v2 Normalize, register).
            throw new Error(`an object without apiVersion, kind or metadata.name: ${JSON.stringify(unnamed).slice(0, 120)}`);
        }
        return { documents: objects as KubernetesObject[], warnings };
    } catch (error) {
        // One line: Helm's message lists schema problems one per line.
        return { documents: [], error: (error as Error).message.replace(/^Error: /, "").replace(/\s*\n\s*/g, " "), warnings: [] };
    } finally {
        fs.rmSync(scratch, { recursive: true, force: true });
    }
}

async function registeredObjects(
    release: ChartRelease, documents: readonly KubernetesObject[], clusterScoped: ReadonlySet<string>, transforms: readonly TransformCallback[],
): Promise<RenderedObject[]> {
    const chart = release.resource;
    return Promise.all(documents.map(async (document) => {
        const namespaced = !clusterScoped.has(document.kind);
        const object = namespaced && !document.metadata.namespace
            ? { ...document, metadata: { ...document.metadata, namespace: release.namespace } } : document;
        const type = typeToken(object.apiVersion, object.kind);
        const name = `${chart.name}:${object.metadata.namespace ? `${object.metadata.namespace}/` : ""}${object.metadata.name ?? ""}`;
        const props = await applyTransforms(transforms, { type, name, custom: true, parentUrn: chart.urn, props: object });
        return { type, name, urn: childUrn(chart.urn, type, name), parentUrn: chart.urn, hook: isHelmHook(object), ...secretData(type, props) };
    }));
}

/**
 * The provider registers a rendered Secret's `data` and `stringData` as secrets (yaml/v2/yaml.go
 * register: `if fullKind == "v1/Secret"`): the plan keeps their shape and hides their values, as it
 * does for the program's own secrets.
 */
function secretData(type: string, props: Record<string, unknown>): Pick<RenderedObject, "object" | "secretPaths"> {
    if (type !== "kubernetes:core/v1:Secret") {
        return { object: props as KubernetesObject, secretPaths: [] };
    }
    const secretPaths = ["data", "stringData"].filter((key) => props[key] !== undefined).map((key) => [key]);
    const masked = Object.fromEntries(secretPaths.map(([key]) => [key, maskLeaves(props[key])]));
    return { object: { ...props, ...masked } as KubernetesObject, secretPaths };
}

/** `urn:pulumi:<stack>::<project>::<parent types>$<type>::<name>`. */
function childUrn(parentUrn: string, type: string, name: string): string {
    const [prefix, project, parentType] = parentUrn.split("::");
    return [prefix, project, `${parentType}$${type}`, name].join("::");
}

/** Runs `task` on every item, as many at once as the machine has cores; results in input order. */
async function inParallel<T, R>(items: readonly T[], task: (item: T, index: number) => Promise<R>): Promise<R[]> {
    const results: R[] = new Array(items.length);
    let next = 0;
    const worker = async () => {
        while (next < items.length) {
            const index = next++;
            results[index] = await task(items[index], index);
        }
    };
    await Promise.all(Array.from({ length: Math.min(items.length, os.cpus().length) }, worker));
    return results;
}
