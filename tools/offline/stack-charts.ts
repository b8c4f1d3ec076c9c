/**
 * The plan's view of a stack's Helm charts: rendered from `--charts <dir>` (filled first by
 * `--pull-charts`), or reported as not rendered; what they add to the plan's files; and what
 * fails the plan (a chart Helm cannot render, a values key a chart ignores).
 */
import { configDeclarations, isRecord } from "../../config/project";
import { CHART_CACHE, chartDirectory, pullCharts, requireCharts } from "./chart-sources";
import { helmBinary } from "./helm-binary";
import type { KubernetesObject } from "./manifests";
import type { PolicySubject } from "./policies";
import { ChartRendering, RenderedObject, chartReleases, renderCharts, unrendered } from "./render";
import type { ProgramRun, RecordedResource } from "./run";

export interface ChartOptions {
    /** The directory of unpacked charts (`--charts`); with `pull`, defaults to CHART_CACHE. */
    readonly dir?: string;
    /** `--pull-charts`: fill the directory first with `helm pull`. */
    readonly pull?: boolean;
}

/** The annotation naming, in manifests.yaml, the chart an object was rendered from. */
export const RENDERED_FROM = "llm-platform.io/rendered-from";

/** Renders the program's charts, or says why not; InputError when a `--charts` directory lacks one. */
export async function stackCharts(run: ProgramRun, options: ChartOptions = {}): Promise<ChartRendering[]> {
    const releases = chartReleases(run.resources);
    const dir = options.dir ?? (options.pull ? CHART_CACHE : undefined);
    if (releases.length === 0 || dir === undefined) {
        return unrendered(releases, "not rendered (give --charts <dir> or --pull-charts)");
    }
    const helm = helmBinary();
    if (options.pull) {
        await pullCharts(helm, releases, dir);
    }
    requireCharts(releases, dir);
    return renderCharts(releases, {
        helm,
        chartDir: (release) => chartDirectory(release, dir),
        kubeVersion: kubernetesMinor(run.resources),
        resources: run.resources,
    });
}

/**
 * The cluster's Kubernetes minor: the EKS cluster's `version`, else (a `local` cluster, unknown
 * offline) the project's default `cluster.kubernetesVersion`.
 */
export function kubernetesMinor(resources: readonly RecordedResource[]): string {
    const eks = resources.find((resource) => resource.type === "aws:eks/cluster:Cluster");
    if (typeof eks?.inputs.version === "string") {
        return eks.inputs.version;
    }
    const cluster = configDeclarations().get("cluster");
    const value = cluster?.kind === "value" && isRecord(cluster.value) ? cluster.value.kubernetesVersion : undefined;
    return typeof value === "string" ? value : "1.35";
}

/**
 * Every rendered object, hooks included (only chart-no-hook-dependency looks at them), as the pack
 * sees it; with what the engine also knows of it: its secret paths, and its chart's provider,
 * which children inherit.
 */
export function renderedSubjects(renderings: readonly ChartRendering[]): (PolicySubject & Pick<RenderedObject, "secretPaths"> & { providerUrn?: string })[] {
    return renderings.flatMap(({ release, objects }) => objects.map((object) => ({
        type: object.type, name: object.name, urn: object.urn, parentUrn: object.parentUrn, props: object.object,
        secretPaths: object.secretPaths, providerUrn: release.resource.providerUrn,
    })));
}

/** The objects helm.v4.Chart would create (no hooks), each annotated with its chart, for manifests.yaml. */
export function renderedManifests(renderings: readonly ChartRendering[]): KubernetesObject[] {
    return renderings.flatMap(({ release, objects }) => objects.filter((object) => !object.hook).map(({ object }) => ({
        ...object,
        metadata: {
            ...object.metadata,
            annotations: { ...(isRecord(object.metadata.annotations) ? object.metadata.annotations : {}), [RENDERED_FROM]: `${release.resource.name} (${release.chart} ${release.version})` },
        },
    })));
}

/** Rendered objects as entries of resources.json: children of their chart. */
export function renderedResources(renderings: readonly ChartRendering[]) {
    return renderings.flatMap(({ release, objects }) => objects.filter((object) => !object.hook)
        .map(({ type, name, object }) => ({ type, name, parent: release.resource.name, inputs: object as Record<string, unknown> })));
}

/** What fails the plan: a chart that did not render, a values key a chart ignores. */
export function chartProblems(renderings: readonly ChartRendering[]): string[] {
    return renderings.flatMap(({ release, error, unknownKeys }) => [
        ...(error ? [`chart ${release.resource.name} (${release.chart} ${release.version}) failed to render: ${error}`] : []),
        ...unknownKeys.map((key) => `chart ${release.resource.name} (${release.chart} ${release.version}): values key ${key} is not a key of the chart (Helm ignores it)`),
    ]);
}

/** One line per chart for the plan's summary, then the parse warnings. */
export function chartSummary(renderings: readonly ChartRendering[]): string[] {
    const lines = renderings.map(({ release, notRendered, error, objects }) => {
        const what = `  ${release.resource.name} (${release.chart} ${release.version}, release ${release.releaseName} in ${release.namespace})`;
        if (notRendered || error) {
            return `${what}: ${notRendered ?? "failed"}`;
        }
        const hooks = objects.filter((object) => object.hook).length;
        return `${what}: ${objects.length - hooks} objects${hooks > 0 ? `, ${hooks} Helm hooks left out` : ""}`;
    });
    return [...lines, ...renderings.flatMap((rendering) => rendering.warnings.map((warning) => `  warning: ${warning}`))];
}
