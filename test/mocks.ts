/**
 * The one place tests set up Pulumi mocks. Every helper runs code under
 * `pulumi.runtime.setMocks(..., "llm-platform", stack, false)` with strict provider
 * functions (tools/offline/fakes.ts) and records what reached the engine. Also where the
 * suites that run the commands as a user does build them, once.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { awsCluster } from "../clusters";
import { longestServingGraceSeconds } from "../components/autoscaling/keda-http-add-on";
import { ConfigError, PlatformConfig, loadConfig } from "../config";
import { PROJECT } from "../config/project";
import { KubernetesObject, kubernetesObjects } from "../tools/offline/manifests";
import { ProgramRun, RecordedResource, runProgram, runUnderMocks } from "../tools/offline/run";
import { readStackFile, stackFilePath } from "../tools/offline/stack-file";

export const PROJECT_DIR = path.resolve(__dirname, "..");

/** Set once bin/ is built: the workers of a parallel run inherit it from the process that built it. */
const BUILT = "LLM_PLATFORM_TOOLS_BUILT";

/**
 * `npm run build` (bin/, as `npm run plan` and `npm run check` run), once per test run
 * (test/global-setup.ts does it first), and only when bin/ is older than its sources: a build
 * deletes bin/ under whatever runs from it (another suite, a bench).
 */
export function buildTools(): void {
    if (!process.env[BUILT]) {
        if (!builtToolsAreFresh(builtOutputs(), buildSources())) {
            const build = spawnSync("npm", ["run", "-s", "build"], { cwd: PROJECT_DIR, encoding: "utf8" });
            assert.strictEqual(build.status, 0, build.stderr);
        }
        process.env[BUILT] = "1";
    }
}

/** What `npm run build` writes: bin/<entry>.js for each entry point its script names. */
export function builtOutputs(buildScript = packageScripts().build): string[] {
    return [...buildScript.matchAll(/(\S+)\.ts(?=\s|$)/g)].map(([, entry]) => path.join(PROJECT_DIR, "bin", `${entry}.js`));
}

function packageScripts(): Record<string, string> {
    return (JSON.parse(fs.readFileSync(path.join(PROJECT_DIR, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
}

/** What the bundles are made of: the project's TypeScript outside test/, and the package files that pin what they bundle. */
function buildSources(dir = PROJECT_DIR): string[] {
    const skipped = new Set(["node_modules", "bin", "test", "out", ".git"]);
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) {
            return skipped.has(entry.name) ? [] : buildSources(file);
        }
        return entry.name.endsWith(".ts") || (dir === PROJECT_DIR && ["package.json", "package-lock.json"].includes(entry.name)) ? [file] : [];
    });
}

/** Whether every output exists and is newer than every source, as make decides. */
export function builtToolsAreFresh(outputs: readonly string[], sources: readonly string[]): boolean {
    if (outputs.length === 0 || !outputs.every((file) => fs.existsSync(file))) {
        return false;
    }
    const modified = (file: string) => fs.statSync(file).mtimeMs;
    const oldestOutput = Math.min(...outputs.map(modified));
    return sources.every((file) => modified(file) < oldestOutput);
}

/** The stack files in the repository. */
export const STACKS = ["dev", "prod", "local"] as const;

/** Plain config (keys without namespace, any YAML value) as the engine passes it. */
export function engineConfig(config: Record<string, unknown>): Record<string, string> {
    return Object.fromEntries(Object.entries(config).map(([key, value]) => [
        key.includes(":") ? key : `${PROJECT}:${key}`,
        typeof value === "string" ? value : JSON.stringify(value),
    ]));
}

const stackFileRuns = new Map<string, Promise<ProgramRun>>();

/**
 * index.ts with one of the repository's stack files. A stack file is the same for the whole test
 * run, so each is run once and its record shared, frozen: a suite that changed it would throw
 * rather than leak into another.
 */
export function runStackFile(stack: string): Promise<ProgramRun> {
    let run = stackFileRuns.get(stack);
    if (!run) {
        run = runProgram({ stack, ...readStackFile(stackFilePath(PROJECT_DIR, stack)) }).then(deepFreeze);
        stackFileRuns.set(stack, run);
    }
    return run;
}

function deepFreeze<T>(value: T): T {
    if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
        Object.freeze(value);
        for (const child of Object.values(value)) {
            deepFreeze(child);
        }
    }
    return value;
}

/** A stack file's config as plain keys and values (what runStack and loadConfigWith take), to change one setting of it in a test. */
export function stackFileConfig(stack: string): Record<string, unknown> {
    const { config } = readStackFile(stackFilePath(PROJECT_DIR, stack));
    return Object.fromEntries(Object.entries(config).map(([key, value]) => {
        const plain = key.startsWith(`${PROJECT}:`) ? key.slice(PROJECT.length + 1) : key;
        try {
            return [plain, JSON.parse(value)];
        } catch {
            return [plain, value];
        }
    }));
}

/** index.ts with the given config. */
export function runStack(config: Record<string, unknown>, stack = "test", secretKeys: string[] = []): Promise<ProgramRun> {
    return runProgram({ stack, config: engineConfig(config), secretKeys: secretKeys.map((key) => `${PROJECT}:${key}`) });
}

/** Whatever `build` declares (a component, usually), under mocks. */
export function runComponent(build: () => void, stack = "test"): Promise<ProgramRun> {
    return runUnderMocks({ stack, config: {} }, build);
}

/** loadConfig() under mocks with the given config: the config, or the error it threw. */
export async function loadConfigWith(config: Record<string, unknown>, secretKeys: string[] = []): Promise<PlatformConfig | Error> {
    let result: PlatformConfig | Error | undefined;
    await runUnderMocks({ stack: "test", config: engineConfig(config), secretKeys: secretKeys.map((key) => `${PROJECT}:${key}`) }, () => {
        try {
            result = loadConfig();
        } catch (error) {
            result = error as Error;
        }
    });
    return result!;
}

/** loadConfig()'s problems for a config it must refuse (a ConfigError), one line each. */
export async function configProblems(config: Record<string, unknown>): Promise<readonly string[]> {
    const result = await loadConfigWith(config);
    assert.ok(result instanceof Error && result.name === "ConfigError", `expected a ConfigError, got ${result instanceof Error ? result.stack : "a valid config"}`);
    return (result as ConfigError).problems;
}

/** loadConfig()'s result for a config it must accept. */
export async function acceptedConfig(config: Record<string, unknown>): Promise<PlatformConfig> {
    const result = await loadConfigWith(config);
    assert.ok(!(result instanceof Error), result instanceof Error ? result.message : "");
    return result;
}

/** A recorded resource's inputs, read freely as the program wrote them. */
export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export function inputs(found: RecordedResource): Json {
    return found.inputs as Json;
}

export function resourcesOfType(run: ProgramRun, type: string): RecordedResource[] {
    return run.resources.filter((resource) => resource.type === type);
}

/** The one resource of that type and name; throws if there is none. */
export function resource(run: ProgramRun, type: string, name: string): RecordedResource {
    const found = run.resources.find((candidate) => candidate.type === type && candidate.name === name);
    if (!found) {
        const names = resourcesOfType(run, type).map((candidate) => candidate.name);
        throw new Error(`no ${type} named ${name}; there are: ${names.join(", ") || "none"}`);
    }
    return found;
}

export function objects(run: ProgramRun): KubernetesObject[] {
    return kubernetesObjects(run.resources);
}

/** The Kubernetes object of that kind and metadata.name; throws if there is none. */
export function object(run: ProgramRun, kind: string, name: string): KubernetesObject {
    const found = objects(run).find((candidate) => candidate.kind === kind && candidate.metadata.name === name);
    if (!found) {
        throw new Error(`no ${kind} named ${name}`);
    }
    return found;
}

/**
 * The AWS cluster layer (clusters.ts) of the given aws config under the offline mocks, and the
 * errors it ends with: a refused config rejects the registrations, as `pulumi up` reports it.
 */
export async function runAwsLayer(config: Record<string, unknown>): Promise<{ run: ProgramRun; failures: Error[] }> {
    const loaded = await loadConfigWith({ target: "aws", ...config });
    assert.ok(!(loaded instanceof Error) && loaded.aws, String(loaded));
    const run = await runComponent(() => {
        awsCluster(loaded.aws!, loaded.observability.loki, longestServingGraceSeconds(loaded.models));
    });
    return { run, failures: [...run.failures] };
}

/** runAwsLayer of a config the layer must accept: its run, which fails nowhere. */
export async function acceptedAwsLayer(config: Record<string, unknown>): Promise<ProgramRun> {
    const { run, failures } = await runAwsLayer(config);
    assert.deepStrictEqual(failures.map(String), [], "the run fails nowhere");
    return run;
}
