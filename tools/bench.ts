/**
 * npm run bench [-- --runs <n>]
 *
 * Times the offline plan (compiled, as `npm run plan` runs it) of each stack file and of
 * generated stacks with 1, 8 and 32 models, against the bare cost of starting Node and
 * loading the Pulumi SDKs the program imports. Prints medians; a benchmark, not a test.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseArgs } from "util";
import { parse, stringify } from "yaml";
import { PROJECT_DIR } from "../config/project";

const PLAN = path.join(__dirname, "plan.js");
const STACKS = ["dev", "prod", "local"];
const MODEL_COUNTS = [1, 8, 32];
const TARGETS = { prodOverBaseline: 1.5, msPerExtraModel: 20 };

interface Measurement {
    readonly label: string;
    readonly medianMs: number;
}

function timeCommand(args: string[], runs: number): number {
    const samples: number[] = [];
    for (let run = 0; run < runs; run++) {
        const start = process.hrtime.bigint();
        const result = spawnSync(process.execPath, args, { cwd: PROJECT_DIR, encoding: "utf8" });
        samples.push(Number(process.hrtime.bigint() - start) / 1e6);
        if (result.status !== 0 && result.status !== 1) {
            throw new Error(`${args.join(" ")} exited ${result.status}: ${result.stderr.trim().split("\n")[0]}`);
        }
    }
    return median(samples);
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
    const local = parse(fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.local.yaml"), "utf8")) as { config: Record<string, unknown> };
    const [template] = (local.config["llm-platform:models"] as Record<string, unknown>[] | undefined) ?? [];
    if (!template) {
        throw new Error("Pulumi.local.yaml has no model to copy");
    }
    const models = Array.from({ length: count }, (_, index) => ({ ...template, name: `bench-${index}` }));
    const file = path.join(dir, `Pulumi.bench-${count}.yaml`);
    fs.writeFileSync(file, stringify({ config: { ...local.config, "llm-platform:models": models } }));
    return file;
}

function main(): void {
    const { values } = parseArgs({ options: { runs: { type: "string", default: "7" } } });
    const runs = Number(values.runs);
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-"));
    const plan = (label: string, args: string[]): Measurement => ({ label, medianMs: timeCommand([PLAN, ...args, "--out", path.join(outDir, label)], runs) });

    const sdks = pulumiSdks();
    const baseline: Measurement = {
        label: `node + ${sdks.join(", ")}`,
        medianMs: timeCommand(["-e", sdks.map((sdk) => `require(${JSON.stringify(sdk)})`).join(";")], runs),
    };
    const stacks = STACKS.map((stack) => plan(`plan ${stack}`, ["--stack", stack]));
    const generated = MODEL_COUNTS.map((count) => plan(`plan ${count} models`, ["--stack", `bench-${count}`, "--config", generatedStack(count, outDir)]));

    console.log(`median of ${runs} runs, ${os.cpus().length} cores, node ${process.version}`);
    console.log(`${"case".padEnd(48)} ${"ms".padStart(8)} ${"x baseline".padStart(11)}`);
    for (const { label, medianMs } of [baseline, ...stacks, ...generated]) {
        console.log(`${label.padEnd(48)} ${medianMs.toFixed(0).padStart(8)} ${(medianMs / baseline.medianMs).toFixed(2).padStart(11)}`);
    }
    const prod = stacks[STACKS.indexOf("prod")].medianMs / baseline.medianMs;
    const perModel = (generated[2].medianMs - generated[0].medianMs) / (MODEL_COUNTS[2] - MODEL_COUNTS[0]);
    console.log(`prod plan / baseline: ${prod.toFixed(2)}x (target <= ${TARGETS.prodOverBaseline}x) ${prod <= TARGETS.prodOverBaseline ? "ok" : "MISSED"}`);
    console.log(`each extra model: ${perModel.toFixed(1)} ms (target < ${TARGETS.msPerExtraModel} ms) ${perModel < TARGETS.msPerExtraModel ? "ok" : "MISSED"}`);
    fs.rmSync(outDir, { recursive: true, force: true });
}

main();
