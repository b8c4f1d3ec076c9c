/**
 * npm run bench [-- --runs <n>] [--charts <dir>]
 *
 * Times the offline plan (compiled, as `npm run plan` runs it) of each stack file and of
 * generated stacks with 1, 8 and 32 models, against the bare cost of starting Node and
 * loading the Pulumi SDKs the program imports; with `--charts`, also each stack's plan with
 * its charts rendered from that directory, reported apart. Prints medians; a benchmark, not
 * a test.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseArgs } from "util";
import { dump, load } from "js-yaml";
import { PROJECT_DIR } from "../config/project";
import { exitWhenFlushed } from "./offline/exit";

const PLAN = path.join(__dirname, "plan.js");
const STACKS = ["dev", "prod", "local"];
const MODEL_COUNTS = [1, 8, 32];
const TARGETS = { prodOverBaseline: 1.5, msPerExtraModel: 20 };

interface Case {
    readonly label: string;
    readonly args: string[];
}

interface Measurement {
    readonly label: string;
    readonly medianMs: number;
}

/**
 * Runs every case once per round, for `runs` rounds, so that a busy moment of the machine
 * spreads over all cases instead of skewing one; returns each case's median.
 */
function measure(cases: readonly Case[], runs: number): Measurement[] {
    const samples = cases.map(() => [] as number[]);
    for (let round = 0; round < runs; round++) {
        cases.forEach(({ args }, index) => {
            const start = process.hrtime.bigint();
            const result = spawnSync(process.execPath, args, { cwd: PROJECT_DIR, encoding: "utf8" });
            samples[index].push(Number(process.hrtime.bigint() - start) / 1e6);
            if (result.status !== 0 && result.status !== 1) {
                throw new Error(`${args.join(" ")} exited ${result.status}: ${result.stderr.trim().split("\n")[0]}`);
            }
        });
    }
    return cases.map(({ label }, index) => ({ label, medianMs: median(samples[index]) }));
}

function median(samples: number[]): number {
    const sorted = [...samples].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** The Pulumi SDKs the program depends on, as package.json lists them. */
function pulumiSdks(): string[] {
    const manifest = JSON.parse(fs.readFileSync(path.join(PROJECT_DIR, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    return Object.keys(manifest.dependencies).filter((name) => name.startsWith("@pulumi/"));
}

/** A stack file with `count` copies of the local stack's first model, named apart. */
function generatedStack(count: number, dir: string): string {
    const local = load(fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.local.yaml"), "utf8")) as { config: Record<string, unknown> };
    const [template] = (local.config["llm-platform:models"] as Record<string, unknown>[] | undefined) ?? [];
    if (!template) {
        throw new Error("Pulumi.local.yaml has no model to copy");
    }
    const models = Array.from({ length: count }, (_, index) => ({ ...template, name: `bench-${index}` }));
    const file = path.join(dir, `Pulumi.bench-${count}.yaml`);
    fs.writeFileSync(file, dump({ config: { ...local.config, "llm-platform:models": models } }));
    return file;
}

/**
 * The Pulumi SDK files a plan of `stack` loads (@pulumi/* modules, lazily loaded parts
 * included): loading exactly these is the SDK cost the program cannot avoid.
 */
function sdkFilesOfPlan(stack: string, outDir: string): string[] {
    const preload = path.join(outDir, "list-sdk-modules.js");
    const list = path.join(outDir, "sdk-modules.json");
    fs.writeFileSync(preload, `process.on("exit", () => require("fs").writeFileSync(${JSON.stringify(list)},
        JSON.stringify(Object.keys(require.cache).filter((file) => /[\\/]node_modules[\\/]@pulumi[\\/]/.test(file)))));`);
    spawnSync(process.execPath, ["-r", preload, PLAN, "--stack", stack, "--out", path.join(outDir, "sdk-list")], { cwd: PROJECT_DIR });
    return JSON.parse(fs.readFileSync(list, "utf8")) as string[];
}

interface BenchOptions {
    readonly runs: number;
    /** A `--charts` directory: then the stacks are also planned with their charts rendered. */
    readonly charts?: string;
}

/** The options, or a one-line error. */
function optionsOf(argv: string[]): BenchOptions | string {
    let values;
    try {
        ({ values } = parseArgs({ args: argv, options: { runs: { type: "string", default: "7" }, charts: { type: "string" } } }));
    } catch (error) {
        return `${(error as Error).message.split("\n")[0]}; usage: npm run bench [-- --runs <n>] [--charts <dir>]`;
    }
    const runs = Number(values.runs);
    if (!Number.isInteger(runs) || runs < 1) {
        return `--runs must be a whole number of at least 1, got ${JSON.stringify(values.runs)}`;
    }
    if (values.charts !== undefined && !fs.existsSync(values.charts)) {
        return `--charts ${values.charts}: no such directory`;
    }
    return { runs, charts: values.charts && path.resolve(values.charts) };
}

function main(): void {
    const options = optionsOf(process.argv.slice(2));
    if (typeof options === "string") {
        console.error(`error: ${options}`);
        exitWhenFlushed(2);
        return;
    }
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-"));
    try {
        report(options, outDir);
    } finally {
        fs.rmSync(outDir, { recursive: true, force: true });
    }
}

function report({ runs, charts }: BenchOptions, outDir: string): void {
    const planCase = (label: string, args: string[]): Case => ({ label, args: [PLAN, ...args, "--out", path.join(outDir, label)] });

    const sdks = pulumiSdks();
    const sdkFiles = path.join(outDir, "prod-sdk-files.json");
    fs.writeFileSync(sdkFiles, JSON.stringify(sdkFilesOfPlan("prod", outDir)));
    const cases: Case[] = [
        { label: "node + require() of each @pulumi package", args: ["-e", sdks.map((sdk) => `require(${JSON.stringify(sdk)})`).join(";")] },
        { label: "node + the SDK modules the prod plan loads", args: ["-e", `for (const f of require(${JSON.stringify(sdkFiles)})) require(f)`] },
        ...STACKS.map((stack) => planCase(`plan ${stack}`, ["--stack", stack])),
        ...MODEL_COUNTS.map((count) => planCase(`plan ${count} models`, ["--stack", `bench-${count}`, "--config", generatedStack(count, outDir)])),
        ...(charts ? STACKS.map((stack) => planCase(`plan ${stack}, charts rendered`, ["--stack", stack, "--charts", charts])) : []),
    ];
    const results = measure(cases, runs);
    const baseline = results[1];
    const byLabel = new Map(results.map((result) => [result.label, result.medianMs]));

    console.log(`median of ${runs} interleaved runs, ${os.cpus().length} cores, node ${process.version}; baseline: ${baseline.label}`);
    console.log(`${"case".padEnd(44)} ${"ms".padStart(8)} ${"x baseline".padStart(11)}`);
    for (const { label, medianMs } of results) {
        console.log(`${label.padEnd(44)} ${medianMs.toFixed(0).padStart(8)} ${(medianMs / baseline.medianMs).toFixed(2).padStart(11)}`);
    }
    const prod = byLabel.get("plan prod")! / baseline.medianMs;
    const perModel = (byLabel.get("plan 32 models")! - byLabel.get("plan 1 models")!) / (MODEL_COUNTS[2] - MODEL_COUNTS[0]);
    console.log(`prod plan / baseline: ${prod.toFixed(2)}x (target <= ${TARGETS.prodOverBaseline}x) ${prod <= TARGETS.prodOverBaseline ? "ok" : "MISSED"}`);
    console.log(`each extra model: ${perModel.toFixed(1)} ms (target < ${TARGETS.msPerExtraModel} ms) ${perModel < TARGETS.msPerExtraModel ? "ok" : "MISSED"}`);
}

main();
