import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { PROJECT } from "../../config/project";
import { computedOutputs, invokeResults } from "./fakes";
import { RegisterResourceRequest, rpc, settings } from "./internals";
import type { TransformCallback } from "./transforms";

/** What a resource sent to the engine. Secret values are already replaced by SECRET. */
export interface RecordedResource {
    readonly type: string;
    readonly name: string;
    readonly urn: string;
    /** The parent's URN, or undefined for a top-level resource. */
    readonly parentUrn?: string;
    /** Component resources are not custom. */
    readonly custom: boolean;
    /** The URN of the provider it was registered with; undefined for the default provider. */
    readonly providerUrn?: string;
    /** URNs of the resources it waits for. */
    readonly dependencies: readonly string[];
    /** How long Pulumi waits for it to be created (customTimeouts.create), if set. */
    readonly createTimeout?: string;
    /** Pulumi's `protect`: true when set, so that `pulumi destroy` refuses to delete it. */
    readonly protect?: boolean;
    /** Its `transforms`, as the callbacks the engine would invoke for it and its children. */
    readonly transforms: readonly TransformCallback[];
    readonly inputs: Record<string, unknown>;
    /** Where the program sent a secret: paths into `inputs` whose whole value is secret (now SECRET leaves). */
    readonly secretPaths: readonly PropertyPath[];
}

/** A path into a resource's inputs: keys of mappings and indexes of lists. */
export type PropertyPath = readonly (string | number)[];

export const SECRET = "[secret]";

export interface ProgramRun {
    readonly resources: readonly RecordedResource[];
    /** The program's exports, resolved; secret ones replaced by SECRET. Empty when the run failed. */
    readonly outputs: Record<string, unknown>;
    /**
     * What failed while the program ran (a rejected registration, an apply that threw), each
     * error once: what the language host's uncaught handler reports and fails `pulumi up` with
     * (@pulumi/pulumi 3.270.0 cmd/run/run.ts, uncaughtHandler). Empty for a run that succeeded.
     */
    readonly failures: readonly Error[];
}

export interface RunOptions {
    readonly stack: string;
    /** Full config keys (`llm-platform:models`) to raw string values, as the engine passes them. */
    readonly config: Readonly<Record<string, string>>;
    /** Keys whose values are secret. */
    readonly secretKeys?: readonly string[];
    /** The program's entry point. Defaults to the project's index (index.ts, or index.js when compiled). */
    readonly program?: string;
}

/** index.ts beside tools/, when this file runs from source. The compiled plan passes its own. */
const SOURCE_PROGRAM = path.resolve(__dirname, "..", "..", "index");

export class OfflineMocks implements pulumi.runtime.Mocks {
    /** The inputs of the last resource registered, as the mock monitor deserialized them for newResource. */
    lastInputs?: Record<string, unknown>;

    newResource(args: pulumi.runtime.MockResourceArgs): { id: string | undefined; state: Record<string, unknown> } {
        this.lastInputs = args.inputs;
        const computed = computedOutputs[args.type]?.(args) ?? {};
        return { id: args.custom ? `${args.name}-id` : undefined, state: { ...args.inputs, ...computed } };
    }

    call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
        const answer = invokeResults[args.token];
        if (!answer) {
            throw new Error(`the offline run has no answer for the provider function ${args.token}`);
        }
        return answer(args.inputs);
    }
}

/**
 * Runs the Pulumi program under mocks with the given config and records every resource
 * registration. A fresh copy of the program's own modules is loaded for every run.
 */
export async function runProgram(options: RunOptions): Promise<ProgramRun> {
    const run = await runUnderMocks(options, () => loadProgram(options.program));
    if (run.failures.length > 0) {
        throw runFailure(run.failures);
    }
    return run;
}

/**
 * The error a failed run ends with: a config error if there is one (a refusal only the run
 * can make, like clusters.ts's, which the plan reports as bad input), else the first failure.
 */
function runFailure(failures: readonly Error[]): Error {
    return failures.find((error) => error.name === "ConfigError") ?? failures[0];
}

/** Loads (and so runs) a fresh copy of the program; returns its exports. */
export function loadProgram(program = SOURCE_PROGRAM): Record<string, unknown> {
    forgetProjectModules(path.dirname(require.resolve(program)));
    delete require.cache[require.resolve(program)];
    return require(program) as Record<string, unknown>;
}

/**
 * Runs `build` (which declares resources and returns what it exports) under mocks with
 * the given config, and waits until every registration has reached the mock engine.
 */
export async function runUnderMocks(
    options: Omit<RunOptions, "program">, build: () => Record<string, unknown> | void,
): Promise<ProgramRun> {
    const mocks = new OfflineMocks();
    await pulumi.runtime.setMocks(mocks, PROJECT, options.stack, false);
    pulumi.runtime.setAllConfig({ ...options.config }, [...(options.secretKeys ?? [])]);
    const resources = recordRegistrations(mocks);
    // A rejection nothing handles would end the process with a stack trace (node's default),
    // where the engine's language host reports it: collect them, as that host does.
    const failures = new Set<Error>();
    const collect = (reason: unknown) => failures.add(reason instanceof Error ? reason : new Error(String(reason)));
    process.on("unhandledRejection", collect);
    try {
        const exported = build() ?? {};
        await settings.waitForRPCs();
        await new Promise((resolve) => setImmediate(resolve));
        // The exports of a failed run may never resolve.
        return failures.size > 0 ? { resources, outputs: {}, failures: [...failures] } : { resources, outputs: await resolveOutputs(exported), failures: [] };
    } finally {
        process.off("unhandledRejection", collect);
    }
}

function recordRegistrations(mocks: OfflineMocks): RecordedResource[] {
    const monitor = settings.getMonitor();
    if (!monitor) {
        throw new Error("the Pulumi mocks did not install a resource monitor");
    }
    const records: RecordedResource[] = [];
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (request: RegisterResourceRequest, callback) => {
        // The mock monitor hands newResource the request's inputs, deserialized, before its first
        // await (@pulumi/pulumi 3.270.0 runtime/mocks.js MockMonitor.registerResource): taking them
        // from there spares deserializing every resource's inputs a second time. Should it ever
        // call newResource later, the inputs are deserialized here as before.
        mocks.lastInputs = undefined;
        const registered = register(request, callback);
        records.push({
            type: request.getType(),
            name: request.getName(),
            urn: monitor.newUrn(request.getParent(), request.getType(), request.getName()),
            parentUrn: request.getParent() || undefined,
            custom: request.getCustom(),
            dependencies: request.getDependenciesList(),
            createTimeout: request.getCustomtimeouts()?.getCreate() || undefined,
            protect: request.getProtect() || undefined,
            transforms: request.getTransformsList().map((callback) => ({ target: callback.getTarget(), token: callback.getToken() })),
            providerUrn: request.getProvider() ? request.getProvider().split("::").slice(0, -1).join("::") : undefined,
            ...redactedInputs(mocks.lastInputs ?? rpc.deserializeProperties(request.getObject())),
        });
        return registered;
    };
    return records;
}

/**
 * A secret keeps its shape (so `stringData` stays a mapping with its keys, and a manifest
 * stays a valid object) but every value in it becomes SECRET.
 */
export function maskLeaves(value: unknown): unknown {
    if (Array.isArray(value)) {
        return value.map(maskLeaves);
    }
    if (typeof value === "object" && value !== null) {
        return Object.fromEntries(Object.entries(value).map(([key, child]) => [key, maskLeaves(child)]));
    }
    return SECRET;
}

function redactedInputs(deserialized: Record<string, unknown>): Pick<RecordedResource, "inputs" | "secretPaths"> {
    const secretPaths: PropertyPath[] = [];
    const inputs = redactSecrets(deserialized, [], secretPaths) as Record<string, unknown>;
    return { inputs, secretPaths };
}

/**
 * Masks every secret in `value` (at `where`), and notes where each one was in `found`. `where`
 * is one path, grown and shrunk on the way down and back, and copied only for a secret: every
 * input of every resource passes through here.
 */
function redactSecrets(value: unknown, where: (string | number)[], found: PropertyPath[]): unknown {
    if (typeof value !== "object" || value === null) {
        return value;
    }
    if (Array.isArray(value)) {
        return value.map((child, index) => redactedChild(child, index, where, found));
    }
    const record = value as Record<string, unknown>;
    if (record[rpc.specialSigKey] === rpc.specialSecretSig) {
        found.push([...where]);
        return maskLeaves(record.value);
    }
    return Object.fromEntries(Object.entries(record).map(([key, child]) => [key, redactedChild(child, key, where, found)]));
}

function redactedChild(child: unknown, key: string | number, where: (string | number)[], found: PropertyPath[]): unknown {
    where.push(key);
    const redacted = redactSecrets(child, where, found);
    where.pop();
    return redacted;
}

/** The program's own modules (not its dependencies, tools or tests) are loaded anew for each run. */
function forgetProjectModules(root: string): void {
    const kept = ["node_modules", "tools", "test"].map((dir) => path.join(root, dir) + path.sep);
    for (const file of Object.keys(require.cache)) {
        if (file.startsWith(root + path.sep) && !kept.some((dir) => file.startsWith(dir))) {
            delete require.cache[file];
        }
    }
}

async function resolveOutputs(program: Record<string, unknown>): Promise<Record<string, unknown>> {
    const exported = Object.entries(program).filter(([key]) => key !== "__esModule");
    const entries = await Promise.all(exported.map(async ([key, value]) => {
        const output: pulumi.Output<unknown> = pulumi.output(value as pulumi.Input<unknown>);
        const resolved = await new Promise<unknown>((resolve) => output.apply(resolve));
        return [key, (await pulumi.isSecret(output)) ? SECRET : resolved] as const;
    }));
    return Object.fromEntries(entries);
}

/** The name at the end of a URN: `urn:pulumi:dev::llm-platform::a$b::name` -> `name`. */
export function nameOfUrn(urn: string): string {
    return urn.slice(urn.lastIndexOf("::") + 2);
}
