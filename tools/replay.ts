/**
 * npm run replay -- --stack <name> [--config <file>] [--model <name>] [--out <file.svg>]
 *                   [--profile 3x60,12x60,...] [--quiet <seconds>] [--start-seconds <seconds>]
 *                   [--request-seconds <seconds>]
 *
 * Replays a load profile (by default the seed design's 3, 12, 25, 8, 2 req/s for a minute each,
 * then a quiet tail) against a model's ScaledObject as the stack's program builds it: the series
 * its Prometheus triggers read are backfilled into a real Prometheus, the exact queries run at
 * each instant KEDA and the HPA read them, and the HPA's algorithm with the ScaledObject's
 * behavior turns the values into desired and Ready replicas (tools/replay/simulate.ts). Prints
 * the time from each load step to the scale decision and to Ready, and writes an SVG of load,
 * desired and Ready replicas over time. `--start-seconds`: a pod's creation to Ready (default per
 * target: tools/replay/setup.ts START_SECONDS); `--request-seconds`: the engine model's mean
 * request time (tools/replay/engine.ts). Exit status: 0 done, 2 bad input, 3 the replay failed.
 */
import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "util";
import { PROJECT_DIR } from "../config/project";
import { exitWhenFlushed } from "./offline/exit";
import { InputError, readStackFile, stackFilePath, stackOption } from "./offline/stack-file";
import { figuresText } from "./replay/figures";
import { LoadProfile, parseProfile, seedProfile } from "./replay/profile";
import { missingBinaries } from "./replay/prometheus";
import { stackReplay } from "./replay/setup";
import { DEFAULT_REQUEST_SECONDS, replay } from "./replay/simulate";
import { replaySvg } from "./replay/svg";

const USAGE = "usage: npm run replay -- --stack <name> [--config <file>] [--model <name>] [--out <file.svg>] [--profile 3x60,12x60,...] [--quiet <seconds>] [--start-seconds <seconds>] [--request-seconds <seconds>]";

/** The quiet tail after the seed's table: longer than a 300 s stabilisation window plus the scale-down policy periods. */
export const DEFAULT_QUIET_SECONDS = 900;

/** The program beside tools/: index.ts from source, bin/index.js when compiled (as tools/plan.ts). */
const PROGRAM = path.join(__dirname, "..", "index");

interface ReplayOptions {
    readonly stack: string;
    readonly configFile: string;
    readonly model?: string;
    readonly out: string;
    readonly profile: LoadProfile;
    /** undefined: the stack's target's START_SECONDS. */
    readonly startSeconds?: number;
    readonly requestSeconds: number;
}

function whole(name: string, value: string | undefined, fallback: number): number;
function whole(name: string, value: string | undefined): number | undefined;
function whole(name: string, value: string | undefined, fallback?: number): number | undefined {
    if (value === undefined) {
        return fallback;
    }
    if (!/^\d+$/.test(value)) {
        throw new InputError(`--${name} "${value}" is not a whole number of seconds`);
    }
    return Number(value);
}

function positive(name: string, value: string | undefined, fallback: number): number {
    if (value === undefined) {
        return fallback;
    }
    if (!/^\d+(\.\d+)?$/.test(value) || Number(value) <= 0) {
        throw new InputError(`--${name} "${value}" is not a positive number of seconds`);
    }
    return Number(value);
}

function parseCommandLine(argv: string[]): ReplayOptions {
    let values;
    try {
        ({ values } = parseArgs({
            args: argv,
            options: {
                stack: { type: "string" }, config: { type: "string" }, model: { type: "string" }, out: { type: "string" },
                profile: { type: "string" }, quiet: { type: "string" }, "start-seconds": { type: "string" }, "request-seconds": { type: "string" },
            },
            strict: true,
            allowPositionals: false,
        }));
    } catch (error) {
        throw new InputError(`${(error as Error).message.split("\n")[0]}; ${USAGE}`);
    }
    const stack = stackOption(values.stack, USAGE);
    const quiet = whole("quiet", values.quiet, DEFAULT_QUIET_SECONDS);
    let profile: LoadProfile;
    try {
        profile = values.profile === undefined ? seedProfile(quiet) : parseProfile(values.profile);
    } catch (error) {
        throw new InputError((error as Error).message);
    }
    return {
        stack,
        configFile: path.resolve(values.config ?? stackFilePath(PROJECT_DIR, stack)),
        model: values.model,
        out: path.resolve(values.out ?? path.join("out", stack, "scaling-replay.svg")),
        profile,
        startSeconds: whole("start-seconds", values["start-seconds"]),
        requestSeconds: positive("request-seconds", values["request-seconds"], DEFAULT_REQUEST_SECONDS),
    };
}

async function main(argv: string[]): Promise<number> {
    try {
        const options = parseCommandLine(argv);
        const missing = missingBinaries();
        if (missing) {
            throw new InputError(missing);
        }
        const stack = await stackReplay(options.stack, readStackFile(options.configFile), PROGRAM);
        const target = options.model === undefined ? stack.targets[0] : stack.targets.find((candidate) => candidate.model === options.model);
        if (!target) {
            throw new InputError(options.model === undefined ? `stack ${options.stack} has no models` : `--model "${options.model}": stack ${options.stack} has models ${stack.targets.map((t) => t.model).join(", ")}`);
        }
        const result = await replay(target, options.profile, {
            scrapeIntervalSeconds: stack.scrapeIntervalSeconds, podStartSeconds: options.startSeconds ?? stack.startSeconds, requestSeconds: options.requestSeconds,
        });
        console.log(figuresText(result));
        fs.mkdirSync(path.dirname(options.out), { recursive: true });
        fs.writeFileSync(options.out, replaySvg(result, { min: target.minReplicaCount, max: target.maxReplicaCount }));
        console.log(`wrote ${path.relative(process.cwd(), options.out) || options.out}`);
        return 0;
    } catch (error) {
        if (error instanceof InputError || (error instanceof Error && error.name === "ConfigError")) {
            const problems = (error as Error & { problems?: string[] }).problems ?? error.message.split("\n");
            problems.forEach((line) => console.error(`error: ${line}`));
            return 2;
        }
        console.error(`error: the replay failed: ${error instanceof Error ? error.message : String(error)}`);
        return 3;
    }
}

if (require.main === module) {
    // Not process.exit(): it would cut the output still waiting in a pipe (tools/offline/exit.ts).
    main(process.argv.slice(2)).then(exitWhenFlushed);
}
