/**
 * npm run plan -- --stack <name> [--out <dir>] [--config <file>] [--charts <dir>] [--pull-charts] [--diff <base-dir>]
 *
 * Runs the program offline under Pulumi mocks with the stack's config, renders its Helm charts
 * with a real helm when given their sources, evaluates the policy pack on what it built and
 * rendered, prints a summary (models, pools, prices: ./offline/summary.ts) and writes
 * resources.json, manifests.yaml, policy-report.json, summary.json and secrets.json (a digest per
 * `secure:` value: ./offline/diff-secrets.ts). With --diff, compares them with an earlier plan's
 * (./offline/diff.ts) and writes diff.json and diff.md. Exit status: 0 no
 * mandatory violation, 1 a mandatory violation, a chart that fails to render or a values key a
 * chart ignores, 2 invalid config or usage, 3 the program itself failed.
 */
import type { Policies } from "@pulumi/policy";
import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "util";
import { ingressNotices } from "../components/model-server/resources";
import { networkPolicyNotices } from "../components/network-policies";
import { programConfig } from "../config";
import { PROJECT_DIR } from "../config/project";
import { architectureNotices } from "../lib/model-architectures";
import { PACK_NAME, packArgs } from "../policies/pack";
import { boxLine, boxNeeds } from "./offline/box";
import { PlanFiles, PlannedResource, diffLines, diffPlans } from "./offline/diff";
import { readPlanFiles, writeDiff } from "./offline/diff-files";
import { stackFileSecureDigests } from "./offline/diff-secrets";
import { exitWhenFlushed } from "./offline/exit";
import { KubernetesObject, kubernetesObjects, sortObjects, toManifestYaml } from "./offline/manifests";
import { packConfigPath, readPackConfig } from "./offline/pack-config";
import { PolicyReport, evaluatePolicies, violationLine } from "./offline/policies";
import type { ChartRendering } from "./offline/render";
import { ProgramRun, RecordedResource, nameOfUrn, runProgram } from "./offline/run";
import {
    ChartOptions, chartProblems, chartSummary, renderedManifests, renderedResources, renderedSubjects, stackCharts,
} from "./offline/stack-charts";
import { StackSummary, stackSummary, summaryLines } from "./offline/summary";
import { closeTransformClients } from "./offline/transforms";
import { InputError, readStackFile, stackFilePath, stackOption } from "./offline/stack-file";
import { isConfigError, withStackTraceOnFailure } from "./offline/stack-traces";

const USAGE = "usage: npm run plan -- --stack <name> [--out <dir>] [--config <file>] [--charts <dir>] [--pull-charts] [--diff <base-dir>]";

export const EXIT = { ok: 0, mandatoryViolation: 1, invalidInput: 2, programFailed: 3 } as const;

interface PlanOptions {
    readonly stack: string;
    readonly outDir: string;
    readonly configFile: string;
    readonly charts: ChartOptions;
    /** The out directory of an earlier plan to compare with. */
    readonly diffDir?: string;
}

export interface Plan {
    readonly run: ProgramRun;
    /** Every chart of the program, rendered or with the reason it was not. */
    readonly charts: readonly ChartRendering[];
    /** The objects the program declares and those its charts render (no hooks). */
    readonly objects: KubernetesObject[];
    readonly report: PolicyReport;
    /** Per model and per pool: GPUs, KV cache, replicas, cold start, nodes and prices. */
    /** The platform's summary; none for another program than index.ts (its config is not the platform's). */
    readonly summary?: StackSummary;
    /** One line per model whose KV cache and context checks were skipped (no architecture facts). */
    readonly notes: readonly string[];
}

function parseCommandLine(argv: string[]): PlanOptions {
    let values;
    try {
        ({ values } = parseArgs({
            args: argv,
            options: {
                stack: { type: "string" }, out: { type: "string" }, config: { type: "string" },
                charts: { type: "string" }, "pull-charts": { type: "boolean" }, diff: { type: "string" },
            },
            strict: true,
            allowPositionals: false,
        }));
    } catch (error) {
        throw new InputError(`${(error as Error).message.split("\n")[0]}; ${USAGE}`);
    }
    const stack = stackOption(values.stack, USAGE);
    return {
        stack,
        outDir: path.resolve(values.out ?? path.join("out", stack)),
        configFile: path.resolve(values.config ?? stackFilePath(PROJECT_DIR, stack)),
        charts: { dir: values.charts === undefined ? undefined : path.resolve(values.charts), pull: values["pull-charts"] === true },
        diffDir: values.diff === undefined ? undefined : path.resolve(values.diff),
    };
}

/** Where a stack's pack config is: ./offline/pack-config.ts, shared with `npm run check -- --stack`. */
export { packConfigPath };

export interface PlanOverrides {
    /** The rules to evaluate; defaults to the pack's. */
    readonly policies?: Policies;
    /** Another program than index.ts (tests plan deliberately broken programs). */
    readonly program?: string;
    /** Where the charts come from; by default they are not rendered. */
    readonly charts?: ChartOptions;
}

/** The program beside tools/: index.ts from source, bin/index.js when compiled. */
const PROGRAM = path.join(__dirname, "..", "index");

/** Runs the program and the pack for one stack; throws ConfigError or InputError on bad input. */
export async function plan(
    stack: string, configFile: string, { policies = packArgs.policies, program = PROGRAM, charts: chartOptions }: PlanOverrides = {},
): Promise<Plan> {
    const stackConfig = readStackFile(configFile);
    const packConfig = readPackConfig(packConfigPath(stack), policies);
    const run = await runProgram({ stack, ...stackConfig, program });
    // The config the program validated (its run left the stack's values in the runtime's config),
    // with every default applied; another program has none of the platform's.
    const config = program === PROGRAM ? programConfig() : undefined;
    const summary = config && stackSummary({ stack, config, region: stackConfig.config["aws:region"] });
    const notes = config ? [
        ...architectureNotices(config.models), ...networkPolicyNotices(config.clusterFlavour),
        ...ingressNotices(config.models, config.network.ingressControllerNamespace),
    ] : [];
    try {
        const charts = await stackCharts(run, chartOptions);
        const report = await evaluatePolicies(policies, [...run.resources.map(toPolicySubject), ...renderedSubjects(charts)], {
            stack,
            config: packConfig,
            packEnforcementLevel: packArgs.enforcementLevel,
        });
        return { run, charts, objects: sortObjects([...kubernetesObjects(run.resources), ...renderedManifests(charts)]), report, summary, notes };
    } finally {
        closeTransformClients();
    }
}

function toPolicySubject(resource: RecordedResource) {
    return { type: resource.type, name: resource.name, urn: resource.urn, parentUrn: resource.parentUrn, props: resource.inputs, protect: resource.protect };
}

/** resources.json: what the program registered and its charts render, by type and name. */
export function plannedResources({ run, charts }: Pick<Plan, "run" | "charts">): PlannedResource[] {
    return [
        ...run.resources.map(({ type, name, parentUrn, inputs }) => ({ type, name, parent: parentUrn ? nameOfUrn(parentUrn) : null, inputs })),
        ...renderedResources(charts),
    ].sort((a, b) => a.type.localeCompare(b.type) || a.name.localeCompare(b.name));
}

function writePlan(outDir: string, plan: Plan, secrets: Record<string, string>): void {
    const { objects, report, summary } = plan;
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(path.join(outDir, "resources.json"), `${JSON.stringify(plannedResources(plan), null, 2)}\n`);
    fs.writeFileSync(path.join(outDir, "manifests.yaml"), toManifestYaml(objects));
    fs.writeFileSync(path.join(outDir, "policy-report.json"), `${JSON.stringify(report, null, 2)}\n`);
    if (summary) {
        fs.writeFileSync(path.join(outDir, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
    }
    fs.writeFileSync(path.join(outDir, "secrets.json"), `${JSON.stringify(secrets, null, 2)}\n`);
}

function summarise(options: PlanOptions, { run, charts, objects, report, summary, notes }: Plan): string {
    const counts = new Map<string, number>();
    for (const resource of run.resources) {
        counts.set(resource.type, (counts.get(resource.type) ?? 0) + 1);
    }
    const lines = [
        `plan of stack ${options.stack} (${path.relative(PROJECT_DIR, options.configFile) || options.configFile})`,
        `${run.resources.length} resources, ${objects.length} Kubernetes objects:`,
        ...[...counts].sort(([a], [b]) => a.localeCompare(b)).map(([type, count]) => `  ${String(count).padStart(4)}  ${type}`),
        ...(charts.length > 0 ? [`${charts.length} Helm charts:`, ...chartSummary(charts)] : []),
        ...chartProblems(charts).map((problem) => `error: ${problem}`),
        `policy pack ${PACK_NAME}: ${report.violations.length === 0 ? "no violations" : `${report.violations.length} violations`}`,
        ...report.violations.map((v) => `  ${violationLine(v)}`),
        // A local stack is one box (README, "Stacks"); an aws stack's nodes come and go with its pools.
        ...(run.outputs.target === "local" ? [boxLine(options.stack, boxNeeds(run.resources, charts))] : []),
        ...notes,
        ...(summary ? summaryLines(summary) : []),
        `wrote resources.json, manifests.yaml, policy-report.json${summary ? ", summary.json" : ""}, secrets.json to ${displayPath(options.outDir)}`,
    ];
    return lines.join("\n");
}

function displayPath(dir: string): string {
    return path.relative(process.cwd(), dir) || ".";
}

/** With --diff: compares the files just written with the base plan's, writes diff.json and diff.md, returns the lines to print. */
function diffWithBase(options: PlanOptions, base: PlanFiles, baseDir: string): string[] {
    const diff = diffPlans(options.stack, base, readPlanFiles(options.outDir));
    writeDiff(options.outDir, diff);
    return [...diffLines(diff, displayPath(baseDir)), `wrote diff.json, diff.md to ${displayPath(options.outDir)}`];
}

export function exitStatus({ report, charts }: Pick<Plan, "report" | "charts">): number {
    const mandatory = report.violations.some((v) => v.enforcementLevel === "mandatory");
    return mandatory || chartProblems(charts).length > 0 ? EXIT.mandatoryViolation : EXIT.ok;
}

async function main(argv: string[]): Promise<number> {
    try {
        const options = parseCommandLine(argv);
        // Read first: a bad --diff is bad usage, said before the plan runs; and --out may be the same directory.
        const base = options.diffDir === undefined ? undefined : readPlanFiles(options.diffDir);
        const result = await withStackTraceOnFailure(() => plan(options.stack, options.configFile, { charts: options.charts }));
        writePlan(options.outDir, result, stackFileSecureDigests(options.configFile));
        console.log(summarise(options, result));
        if (base && options.diffDir !== undefined) {
            console.log(diffWithBase(options, base, options.diffDir).join("\n"));
        }
        return exitStatus(result);
    } catch (error) {
        if (error instanceof InputError) {
            error.message.split("\n").forEach((line) => console.error(`error: ${line}`));
            return EXIT.invalidInput;
        }
        if (isConfigError(error)) {
            error.problems.forEach((problem) => console.error(`error: ${problem}`));
            return EXIT.invalidInput;
        }
        console.error(`error: the program failed: ${error instanceof Error ? error.stack : String(error)}`);
        return EXIT.programFailed;
    }
}

if (require.main === module) {
    // Not process.exit(): it would cut the output still waiting in a pipe (tools/offline/exit.ts).
    main(process.argv.slice(2)).then(exitWhenFlushed);
}
