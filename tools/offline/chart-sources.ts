/**
 * Where the plan finds the charts it renders: `--charts <dir>` holds each chart unpacked as
 * `<dir>/<chart>-<version>/` (Chart.yaml directly inside, subcharts under its charts/, unpacked or
 * as .tgz: what `helm pull --untar` gives, one level up); `--pull-charts` first fills that
 * directory (default: a cache) from each chart's repository with `helm pull`.
 */
import { execFile } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { promisify } from "util";
import { PROJECT_DIR } from "../../config/project";
import { InputError } from "./stack-file";

/** A `kubernetes.helm.v4.Chart` as the program declared it. */
export interface ChartRef {
    readonly chart: string;
    readonly version: string;
    /** repositoryOpts.repo; undefined for an OCI reference in `chart`. */
    readonly repo?: string;
}

export interface ChartSourceOptions {
    /** The directory of unpacked charts. */
    readonly dir: string;
    /** Fill `dir` first with `helm pull` where a chart is missing. */
    readonly pull: boolean;
}

/** Where `--pull-charts` keeps charts when no `--charts` directory is given. */
export const CHART_CACHE = path.join(PROJECT_DIR, "node_modules", ".cache", "llm-platform", "charts");

/** `kube-prometheus-stack-88.5.3`; for an OCI reference, the name after its last slash. */
export function chartDirName({ chart, version }: ChartRef): string {
    return `${chart.slice(chart.lastIndexOf("/") + 1)}-${version}`;
}

export function chartDirectory(ref: ChartRef, dir: string): string {
    return path.join(dir, chartDirName(ref));
}

/** InputError naming every chart that `dir` lacks. */
export function requireCharts(refs: readonly ChartRef[], dir: string): void {
    const missing = refs.filter((ref) => !fs.existsSync(path.join(chartDirectory(ref, dir), "Chart.yaml")));
    if (missing.length > 0) {
        throw new InputError(missing.map((ref) => `--charts ${dir}: chart ${ref.chart} ${ref.version} is missing: expected ${path.join(chartDirectory(ref, dir), "Chart.yaml")} (helm pull ${ref.chart} --version ${ref.version} --untar, or --pull-charts)`).join("\n"));
    }
}

/** `helm pull --untar` of each missing chart into `dir`; a failed pull is an InputError naming the chart. */
export async function pullCharts(helm: string, refs: readonly ChartRef[], dir: string): Promise<void> {
    fs.mkdirSync(dir, { recursive: true });
    for (const ref of refs.filter((candidate) => !fs.existsSync(path.join(chartDirectory(candidate, dir), "Chart.yaml")))) {
        // In `dir` itself, so that the rename below never crosses file systems.
        const scratch = fs.mkdtempSync(path.join(dir, ".pull-"));
        try {
            const source = ref.repo ? [ref.chart, "--repo", ref.repo] : [ref.chart];
            await promisify(execFile)(helm, ["pull", ...source, "--version", ref.version, "--untar", "--untardir", scratch], { maxBuffer: 16 << 20 });
            const [unpacked] = fs.readdirSync(scratch);
            fs.renameSync(path.join(scratch, unpacked), chartDirectory(ref, dir));
        } catch (error) {
            const message = ((error as { stderr?: string }).stderr || (error as Error).message).trim().split("\n")[0];
            throw new InputError(`--pull-charts: cannot pull ${ref.chart} ${ref.version}${ref.repo ? ` from ${ref.repo}` : ""}: ${message}`);
        } finally {
            fs.rmSync(scratch, { recursive: true, force: true });
        }
    }
}
