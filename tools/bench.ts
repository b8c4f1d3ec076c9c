/**
 * npm run bench [-- --runs <n>] [--charts <dir>]
 *
 * Times the offline plan (compiled, as `npm run plan` runs it) of each stack file and of
 * generated stacks with 1, 8 and 32 models, against the bare cost of starting Node and
 * loading the Pulumi SDKs the program imports; with `--charts`, also each stack's plan with
 * its charts rendered from that directory, reported apart; and the SDK alone registering the
 * resources of the 1- and 32-model plans (tools/sdk-floor.ts), to split each extra model's time
 * into the SDK's share and the platform's; and the prod plan with `--diff` against a prod plan,
 * for what the diff adds. Prints medians; a benchmark, not
 * a test, but every case must succeed (exit 0): a plan refused is not the plan being timed.
 */
import { SpawnSyncReturns, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseArgs } from "util";
import { dump, load } from "js-yaml";
import { PROJECT_DIR } from "../config/project";
import { exitWhenFlushed } from "./offline/exit";
import { packConfigPath } from "./offline/pack-config";

const PLAN = path.join(__dirname, "plan.js");
const SDK_FLOOR = path.join(__dirname, "sdk-floor.js");
const STACKS = ["dev", "prod", "local"];
const MODEL_COUNTS = [1, 8, 32];
const TARGETS = { prodOverBaseline: 1.5, msPerExtraModel: 20, msDiffOverPlan: 1000 };

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
            const failure = caseFailure(args, result);
            if (failure) {
                throw new Error(failure);
            }
        });
    }
    return cases.map(({ label }, index) => ({ label, medianMs: median(samples[index]) }));
}

/** Why a case's run does not count (it did not exit 0), or undefined when it does. */
export function caseFailure(args: readonly string[], result: Pick<SpawnSyncReturns<string>, "status" | "signal" | "stdout" | "stderr">): string | undefined {
    if (result.status === 0) {
        return undefined;
    }
    const said = `${result.stderr}`.trim().split("\n")[0] || `${result.stdout}`.split("\n").find((line) => line.includes("[mandatory]"))?.trim() || "";
    return `${args.join(" ")} ${result.signal ? `was killed by ${result.signal}` : `exited ${result.status}`}${said ? `: ${said}` : ""}`;
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

interface GeneratedStack {
    readonly stack: string;
    readonly configFile: string;
    /** Its pack config, written where the plan reads a stack's (packConfigPath); removed after the bench. */
    readonly packConfigFile?: string;
}

type PackConfig = Record<string, { exemptions?: { name: string }[] } | string>;

/**
 * A stack of `count` copies of the local stack's first model, named apart, with the local
 * stack's pack config: an exemption it grants that model (local's weights claim is
 * ReadWriteOnce on a one-node box: model-pvc-access-mode) is granted to each copy, so the
 * plan timed is one that passes, as local's does, after evaluating the same rules.
 */
export function generatedStack(count: number, dir: string): GeneratedStack {
    const stack = `bench-${count}`;
    const local = load(fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.local.yaml"), "utf8")) as { config: Record<string, unknown> };
    const [template] = (local.config["llm-platform:models"] as Record<string, unknown>[] | undefined) ?? [];
    if (!template || typeof template.name !== "string") {
        throw new Error("Pulumi.local.yaml has no model to copy");
    }
    const names = Array.from({ length: count }, (_, index) => `bench-${index}`);
    const configFile = path.join(dir, `Pulumi.${stack}.yaml`);
    fs.writeFileSync(configFile, dump({ config: { ...local.config, "llm-platform:models": names.map((name) => ({ ...template, name })) } }));
    const localPackConfig = packConfigPath("local");
    if (!fs.existsSync(localPackConfig)) {
        return { stack, configFile };
    }
    const packConfigFile = packConfigPath(stack);
    const packConfig = copiedExemptions(JSON.parse(fs.readFileSync(localPackConfig, "utf8")) as PackConfig, template.name, names);
    // "wx": never overwrite a pack config someone keeps under that name.
    try {
        fs.writeFileSync(packConfigFile, `${JSON.stringify(packConfig, null, 4)}\n`, { flag: "wx" });
    } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "EEXIST") {
            throw new Error(`${path.relative(PROJECT_DIR, packConfigFile)} exists (left by an interrupted bench?): remove it and run again`);
        }
        throw error;
    }
    return { stack, configFile, packConfigFile };
}

/** The pack config with each exemption naming `model` (or one of its objects, `<model>-...`) repeated for each of `copies`. */
export function copiedExemptions(config: PackConfig, model: string, copies: readonly string[]): PackConfig {
    const ofModel = (name: string) => name === model || name.startsWith(`${model}-`);
    return Object.fromEntries(Object.entries(config).map(([rule, settings]) => [rule, typeof settings === "string" || !settings.exemptions ? settings : {
        ...settings,
        exemptions: settings.exemptions.flatMap((exemption) => (!ofModel(exemption.name) ? [exemption]
            : copies.map((copy) => ({ ...exemption, name: `${copy}${exemption.name.slice(model.length)}` })))),
    }]));
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
    const stacks: GeneratedStack[] = [];
    const cleanUp = () => {
        fs.rmSync(outDir, { recursive: true, force: true });
        stacks.forEach(({ packConfigFile }) => packConfigFile && fs.rmSync(packConfigFile, { force: true }));
    };
    // Without a handler SIGTERM or SIGHUP (a CI timeout, a closed terminal) would kill the bench
    // between writing the pack configs into policies/config/ and removing them. The cases run
    // synchronously, so a handled signal waits for the run to end and the finally below cleans up;
    // Ctrl-C also stops the case running (same process group), which ends the run at once.
    for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const) {
        process.on(signal, () => {
            cleanUp();
            process.exit(code);
        });
    }
    try {
        report(options, outDir, stacks);
    } catch (error) {
        console.error(`error: ${(error as Error).message.split("\n")[0]}`);
        process.exitCode = 1;
    } finally {
        cleanUp();
    }
}

/** Plans once with `planArgs` into `<outDir>/recorded-<stack>`, and returns that directory. */
function recordedPlan(stack: string, planArgs: readonly string[], outDir: string): string {
    const dir = path.join(outDir, `recorded-${stack}`);
    const args = [PLAN, "--stack", stack, ...planArgs, "--out", dir];
    const failure = caseFailure(args, spawnSync(process.execPath, args, { cwd: PROJECT_DIR, encoding: "utf8" }));
    if (failure) {
        throw new Error(failure);
    }
    return dir;
}

function report({ runs, charts }: BenchOptions, outDir: string, stacks: GeneratedStack[]): void {
    const planCase = (label: string, args: string[]): Case => ({ label, args: [PLAN, ...args, "--out", path.join(outDir, label)] });
    const sdkFloorCase = (count: number): Case => {
        const generated = stacks.find(({ stack }) => stack === `bench-${count}`)!;
        const recorded = recordedPlan(generated.stack, ["--config", generated.configFile], outDir);
        return { label: `SDK alone, ${count} models' resources`, args: [SDK_FLOOR, path.join(recorded, "resources.json")] };
    };

    const sdks = pulumiSdks();
    const sdkFiles = path.join(outDir, "prod-sdk-files.json");
    fs.writeFileSync(sdkFiles, JSON.stringify(sdkFilesOfPlan("prod", outDir)));
    const cases: Case[] = [
        { label: "node + require() of each @pulumi package", args: ["-e", sdks.map((sdk) => `require(${JSON.stringify(sdk)})`).join(";")] },
        { label: "node + the SDK modules the prod plan loads", args: ["-e", `for (const f of require(${JSON.stringify(sdkFiles)})) require(f)`] },
        ...STACKS.map((stack) => planCase(`plan ${stack}`, ["--stack", stack])),
        ...MODEL_COUNTS.map((count) => {
            const generated = generatedStack(count, outDir);
            stacks.push(generated);
            return planCase(`plan ${count} models`, ["--stack", generated.stack, "--config", generated.configFile]);
        }),
        ...(charts ? STACKS.map((stack) => planCase(`plan ${stack}, charts rendered`, ["--stack", stack, "--charts", charts])) : []),
    ];
    // The resources the fewest and the most models plan, registered by the SDK alone: how much of
    // each extra model's time is the SDK's (about ten resources a model), and how much the platform's.
    cases.push(sdkFloorCase(MODEL_COUNTS[0]), sdkFloorCase(MODEL_COUNTS[2]));
    // The prod plan compared with a prod plan (npm run plan -- --diff): what the diff adds to the plan.
    cases.push(planCase("plan prod --diff <a prod plan>", ["--stack", "prod", "--diff", recordedPlan("prod", [], outDir)]));
    const results = measure(cases, runs);
    const baseline = results[1];
    const byLabel = new Map(results.map((result) => [result.label, result.medianMs]));

    console.log(`median of ${runs} interleaved runs, ${os.cpus().length} cores, node ${process.version}; baseline: ${baseline.label}`);
    console.log(`${"case".padEnd(44)} ${"ms".padStart(8)} ${"x baseline".padStart(11)}`);
    for (const { label, medianMs } of results) {
        console.log(`${label.padEnd(44)} ${medianMs.toFixed(0).padStart(8)} ${(medianMs / baseline.medianMs).toFixed(2).padStart(11)}`);
    }
    const prod = byLabel.get("plan prod")! / baseline.medianMs;
    const extraModels = MODEL_COUNTS[2] - MODEL_COUNTS[0];
    const perModel = (byLabel.get("plan 32 models")! - byLabel.get("plan 1 models")!) / extraModels;
    const sdkPerModel = (byLabel.get("SDK alone, 32 models' resources")! - byLabel.get("SDK alone, 1 models' resources")!) / extraModels;
    console.log(`prod plan / baseline: ${prod.toFixed(2)}x (target <= ${TARGETS.prodOverBaseline}x) ${prod <= TARGETS.prodOverBaseline ? "ok" : "MISSED"}`);
    perModelLines(perModel, sdkPerModel).forEach((line) => console.log(line));
    const diff = byLabel.get("plan prod --diff <a prod plan>")! - byLabel.get("plan prod")!;
    console.log(`--diff on the prod plan: ${diff >= 0 ? "+" : ""}${diff.toFixed(0)} ms (target < ${TARGETS.msDiffOverPlan} ms) ${diff < TARGETS.msDiffOverPlan ? "ok" : "MISSED"}`);
}

/**
 * Each extra model's time against its target, split into the SDK's share and the platform's;
 * and, where the target is missed and the SDK's share alone reaches it, that the machine cannot meet it.
 */
export function perModelLines(perModel: number, sdkPerModel: number): string[] {
    const target = TARGETS.msPerExtraModel;
    return [
        `each extra model: ${perModel.toFixed(1)} ms (target < ${target} ms) ${perModel < target ? "ok" : "MISSED"}`,
        `  of which the SDK registering its resources: ${sdkPerModel.toFixed(1)} ms, the platform: ${(perModel - sdkPerModel).toFixed(1)} ms`,
        ...(perModel >= target && sdkPerModel >= target ? [`  the SDK's share alone is not under ${target} ms here: no change to the platform can meet the target on this machine`] : []),
    ];
}

if (require.main === module) {
    main();
}
