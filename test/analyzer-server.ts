/**
 * The policy pack as the Pulumi CLI runs it, for tests: `policies/` served by the SDK's
 * `@pulumi/pulumi/cmd/run-policy-pack`, and driven over its `Analyzer` gRPC service with the
 * SDK's own generated clients, sending what the engine sends. `compareWithAnalyzer` puts the
 * real analyzer next to the offline evaluator (tools/offline/policies.ts) on the same subjects.
 *
 * Upstream sources (pulumi/pulumi unless named):
 * - sdk/nodejs/cmd/pulumi-language-nodejs/main.go `RunPlugin`: a policy pack (kind analyzer) runs as
 *   `node <@pulumi/pulumi/cmd/run-policy-pack> <engine address> <pack directory>` in the pack's
 *   directory, with the `node` on PATH.
 * - sdk/go/common/resource/plugin/analyzer_plugin.go: `NewPolicyAnalyzer` (ConfigureStack), `Configure`,
 *   `Analyze` and `AnalyzeStack` (properties marshalled with KeepSecrets: a secret stays a secret).
 * - pkg/engine/update.go `loadPolicyPlugins` and pkg/resource/analyzer/config.go: the config sent to
 *   `Configure` is `ReconcilePolicyPackConfig` of GetAnalyzerInfo's policies and the config file.
 * - pkg/resource/deploy/step_generator.go, analyze_snapshot.go: a resource's violations are its own
 *   (`OnPolicyViolation(r.URN, d)`); a stack violation goes to the resource its URN names, else to the
 *   root stack `<project>-<stack>`; remediate is reported as mandatory.
 * - sdk/nodejs/cmd/run-policy-pack/run.ts: the pack's TypeScript is loaded with ts-node (the SDK's
 *   vendored 7.0.1, with the project's typescript), type checked.
 * - pulumi/pulumi-policy sdk/nodejs/policy/server.ts (installed: @pulumi/policy 1.21.0 server.js): the
 *   port on the first line of stdout; getConfig is exactly what Configure sent; the message of a
 *   violation is the rule's description, a newline, then what the rule reported.
 */
import * as grpc from "@grpc/grpc-js";
import { ChildProcess, spawn } from "child_process";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { JavaScriptValue, Struct } from "google-protobuf/google/protobuf/struct_pb";
import * as path from "path";
import type { EnforcementLevel, PolicyPackConfig } from "@pulumi/policy";
import { AnalyzerClient } from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import * as proto from "@pulumi/pulumi/proto/analyzer_pb";
import { PROJECT } from "../config/project";
import { packArgs } from "../policies/pack";
import { PolicySubject, Violation, evaluatePolicies } from "../tools/offline/policies";
import { PropertyPath, RecordedResource, nameOfUrn } from "../tools/offline/run";
import { rpc } from "../tools/offline/internals";
import { PROJECT_DIR } from "./mocks";

const POLICY_PACK_DIR = path.join(PROJECT_DIR, "policies");
/** Node 22 from the `node` package: `pulumi up` runs the `node` on PATH, which must be 22 or later. */
const NODE = path.join(PROJECT_DIR, "node_modules", ".bin", "node");
const RUN_POLICY_PACK = require.resolve("@pulumi/pulumi/cmd/run-policy-pack", { paths: [POLICY_PACK_DIR] });
/**
 * run-policy-pack drops its first argument, the engine address, and nothing in the pack dials it: the
 * SDK reaches an engine only through PULUMI_NODEJS_ENGINE, which RunPlugin does not set. Logs go to
 * stderr. So no engine is served here, and this address names none.
 */
const NO_ENGINE = "127.0.0.1:0";
/** Type checking the pack takes seconds where ts-node's cache (in the temp directory) is cold, as in CI. */
const START_TIMEOUT_MS = 90_000;

/** A subject with what the engine also sends: provider, dependencies, where its secrets are. */
export interface AnalyzerSubject extends PolicySubject {
    readonly providerUrn?: string;
    readonly dependencies?: readonly string[];
    readonly secretPaths?: readonly PropertyPath[];
}

/** A recorded registration as the analyzers see it. */
export function subjectOf(resource: RecordedResource): AnalyzerSubject {
    const { type, name, urn, parentUrn, inputs: props, providerUrn, dependencies, secretPaths } = resource;
    return { type, name, urn, parentUrn, props, providerUrn, dependencies, secretPaths };
}

type Unary<Req, Res> = (request: Req, callback: (error: grpc.ServiceError | null, response: Res) => void) => unknown;

function call<Req, Res>(method: Unary<Req, Res>, request: Req): Promise<Res> {
    return new Promise((resolve, reject) => method(request, (error, response) => (error ? reject(error) : resolve(response))));
}

/** The policy pack process and a client of its Analyzer service. */
export class PolicyPackServer {
    private info: Promise<proto.AnalyzerInfo> | undefined;

    private constructor(private readonly child: ChildProcess, readonly client: AnalyzerClient) {}

    /** Starts `policies/` the way the Node language host does; resolves once it listens. */
    static async start(): Promise<PolicyPackServer> {
        const env = { ...process.env };
        delete env.NODE_OPTIONS; // the test runner's own loader (tsx) is no part of how the CLI runs the pack
        const child = spawn(NODE, [RUN_POLICY_PACK, NO_ENGINE, POLICY_PACK_DIR], { cwd: POLICY_PACK_DIR, env, stdio: ["ignore", "pipe", "pipe"] });
        tieToThisProcess(child);
        try {
            const port = await portOf(child);
            return new PolicyPackServer(child, new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
                "grpc.max_receive_message_length": 400 * 1024 * 1024,
            }));
        } catch (error) {
            await stopProcess(child);
            throw error;
        }
    }

    async stop(): Promise<void> {
        this.client.close();
        await stopProcess(this.child);
    }

    /** GetAnalyzerInfo, asked once (the engine caches it too). */
    analyzerInfo(): Promise<proto.AnalyzerInfo> {
        this.info ??= call<Empty, proto.AnalyzerInfo>((request, callback) => this.client.getAnalyzerInfo(request, callback), new Empty());
        return this.info;
    }

    /** What NewPolicyAnalyzer sends first: the stack the pack runs for (a preview). */
    async configureStack(stack: string): Promise<void> {
        const request = new proto.AnalyzerStackConfigureRequest().setStack(stack).setProject(PROJECT).setDryRun(true);
        await call<proto.AnalyzerStackConfigureRequest, proto.AnalyzerStackConfigureResponse>((r, callback) => this.client.configureStack(r, callback), request);
    }

    /** Configure with the pack config reconciled as the CLI reconciles it. */
    async configure(config: PolicyPackConfig | undefined): Promise<void> {
        const request = new proto.ConfigureAnalyzerRequest();
        const reconciled = reconcilePackConfig((await this.analyzerInfo()).getPoliciesList(), config ?? {});
        for (const [name, { level, properties }] of reconciled) {
            const entry = new proto.PolicyConfig().setEnforcementlevel(LEVELS.indexOf(level)).setProperties(Struct.fromJavaScript(properties as Record<string, JavaScriptValue>));
            request.getPolicyconfigMap().set(name, entry);
        }
        await call<proto.ConfigureAnalyzerRequest, Empty>((r, callback) => this.client.configure(r, callback), request);
    }

    /** `Analyze` on each subject, then `AnalyzeStack` on all: the violations, as the CLI attributes them. */
    async violations(subjects: readonly AnalyzerSubject[], stack: string): Promise<Violation[]> {
        const byUrn = new Map(subjects.map((subject) => [subject.urn, subject]));
        const resources = subjects.map((subject) => analyzerResource(subject, byUrn));
        const perResource = await Promise.all(resources.map(async (resource, index) => {
            const request = new proto.AnalyzeRequest().setUrn(resource.getUrn()).setType(resource.getType()).setName(resource.getName())
                .setProperties(resource.getProperties()).setOptions(resource.getOptions()).setProvider(resource.getProvider());
            const response = await call<proto.AnalyzeRequest, proto.AnalyzeResponse>((r, callback) => this.client.analyze(r, callback), request);
            return response.getDiagnosticsList().map((diagnostic) => violationOf(diagnostic, subjects[index]));
        }));
        // The engine lists the stack's resources in no set order (step_generator.go AnalyzeResources ranges
        // over a sync.Map); in reverse registration order, a rule whose result depends on it shows here.
        const stackResponse = await call<proto.AnalyzeStackRequest, proto.AnalyzeResponse>(
            (r, callback) => this.client.analyzeStack(r, callback), new proto.AnalyzeStackRequest().setResourcesList([...resources].reverse()));
        const rootStack = { type: "pulumi:pulumi:Stack", name: `${PROJECT}-${stack}` };
        const stackViolations = stackResponse.getDiagnosticsList().map((diagnostic) => violationOf(diagnostic, byUrn.get(diagnostic.getUrn()) ?? rootStack));
        return [...perResource.flat(), ...stackViolations];
    }
}

/** The pack dies with the test run, even one that is interrupted before its `after` hooks. */
function tieToThisProcess(child: ChildProcess): void {
    const kill = () => child.kill("SIGKILL");
    const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
    const onSignal = (signal: NodeJS.Signals) => {
        kill();
        if (process.listenerCount(signal) === 0) {
            process.kill(process.pid, signal); // nobody else handles it: its default action, exit
        }
    };
    process.once("exit", kill);
    signals.forEach((signal) => process.once(signal, onSignal));
    child.once("exit", () => {
        process.removeListener("exit", kill);
        signals.forEach((signal) => process.removeListener(signal, onSignal));
    });
}

function portOf(child: ChildProcess): Promise<number> {
    return new Promise((resolve, reject) => {
        let stdout = "";
        let stderr = "";
        const timer = setTimeout(() => reject(new Error(`the policy pack printed no port in ${START_TIMEOUT_MS / 1000} s: ${stderr}`)), START_TIMEOUT_MS);
        child.stderr?.on("data", (chunk: Buffer) => { stderr += chunk.toString(); });
        child.stdout?.on("data", (chunk: Buffer) => {
            stdout += chunk.toString();
            const port = /^(\d+)\r?\n/.exec(stdout);
            if (port) {
                clearTimeout(timer);
                resolve(Number(port[1]));
            }
        });
        child.once("exit", (code, signal) => {
            clearTimeout(timer);
            reject(new Error(`the policy pack exited (${signal ?? code}) before it listened: ${stderr.trim() || stdout.trim()}`));
        });
        child.once("error", (error) => {
            clearTimeout(timer);
            reject(new Error(`cannot start the policy pack with ${NODE} (run npm ci): ${error.message}`));
        });
    });
}

async function stopProcess(child: ChildProcess): Promise<void> {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) {
        return;
    }
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
}

/** Indexed by the protocol's EnforcementLevel values (sdk/proto/pulumi/analyzer.proto). */
const LEVELS: readonly EnforcementLevel[] = ["advisory", "mandatory", "disabled", "remediate"];

interface PolicyConfigEntry {
    readonly level?: EnforcementLevel;
    readonly properties?: Record<string, unknown>;
}

/** As the CLI reads `--policy-pack-config` (config.go `parsePolicyPackConfig`); empty entries are dropped. */
function parsePackConfig(config: PolicyPackConfig): Map<string, PolicyConfigEntry> {
    const entries = Object.entries(config).filter(([key]) => key !== "environments").map(([name, value]): [string, PolicyConfigEntry] => {
        if (typeof value === "string") {
            return [name, { level: value }];
        }
        const { enforcementLevel, ...properties } = value as Record<string, unknown> & { enforcementLevel?: EnforcementLevel };
        return [name, { level: enforcementLevel, properties: Object.keys(properties).length > 0 ? properties : undefined }];
    });
    return new Map(entries.filter(([, entry]) => entry.level !== undefined || entry.properties !== undefined));
}

/**
 * config.go `ReconcilePolicyPackConfig` (with no initial config: the pack declares none): every rule
 * at the level GetAnalyzerInfo gives with its schema's defaults, then an `all` level, then each
 * rule's own entry (its level, and its properties copied over the defaults, shallowly).
 */
function reconcilePackConfig(policies: readonly proto.PolicyInfo[], config: PolicyPackConfig): Map<string, Required<PolicyConfigEntry>> {
    const result = new Map(policies.map((policy): [string, Required<PolicyConfigEntry>] => {
        const schema = (policy.getConfigschema()?.getProperties()?.toJavaScript() ?? {}) as Record<string, { default?: unknown }>;
        const defaults = Object.entries(schema).filter(([, property]) => property.default !== undefined).map(([key, property]) => [key, property.default]);
        return [policy.getName(), { level: LEVELS[policy.getEnforcementlevel()], properties: Object.fromEntries(defaults) }];
    }));
    const given = parsePackConfig(config);
    const all = given.get("all")?.level;
    if (all) {
        result.forEach((entry, name) => result.set(name, { ...entry, level: all }));
    }
    for (const [name, entry] of given) {
        const current = result.get(name);
        const level = entry.level ?? current?.level;
        if (!level) {
            throw new Error(`pack config ${name}: no enforcement level; the CLI refuses it`);
        }
        result.set(name, { level, properties: { ...current?.properties, ...entry.properties } });
    }
    return result;
}

/** The resource as the engine marshals it: inputs with its secrets as secrets, options, provider, parent, dependencies. */
function analyzerResource(subject: AnalyzerSubject, byUrn: ReadonlyMap<string, AnalyzerSubject>): proto.AnalyzerResource {
    const options = new proto.AnalyzerResourceOptions().setParent(subject.parentUrn ?? "")
        .setCustomtimeouts(new proto.AnalyzerResourceOptions.CustomTimeouts());
    const resource = new proto.AnalyzerResource().setUrn(subject.urn).setType(subject.type).setName(nameOfUrn(subject.urn))
        .setProperties(engineProperties(subject)).setOptions(options).setParent(subject.parentUrn ?? "")
        .setDependenciesList([...subject.dependencies ?? []]);
    const provider = subject.providerUrn ? byUrn.get(subject.providerUrn) : undefined;
    if (provider) {
        resource.setProvider(new proto.AnalyzerProviderResource().setUrn(provider.urn).setType(provider.type)
            .setName(nameOfUrn(provider.urn)).setProperties(engineProperties(provider)));
    }
    return resource;
}

/** Inputs as a Struct, each secret wrapped in the secret signature (`{ <sig key>: <secret sig>, value }`). */
export function engineProperties(subject: AnalyzerSubject): Struct {
    const props = JSON.parse(JSON.stringify(subject.props)) as Record<string, JavaScriptValue>;
    for (const secretPath of subject.secretPaths ?? []) {
        if (secretPath.length === 0) {
            throw new Error(`${subject.urn}: the whole of its inputs is secret, which the engine never sends`);
        }
        const parent = secretPath.slice(0, -1).reduce<Record<string | number, JavaScriptValue>>((node, key) => node[key] as Record<string | number, JavaScriptValue>, props);
        const key = secretPath[secretPath.length - 1];
        parent[key] = { [rpc.specialSigKey]: rpc.specialSecretSig, value: parent[key] };
    }
    return Struct.fromJavaScript(props);
}

/** A diagnostic in the shape of policy-report.json: the message without the rule's description. */
function violationOf(diagnostic: proto.AnalyzeDiagnostic, resource: { readonly type: string; readonly name: string }): Violation {
    const level = LEVELS[diagnostic.getEnforcementlevel()];
    const description = diagnostic.getDescription();
    const message = diagnostic.getMessage();
    return {
        policy: diagnostic.getPolicyname(),
        enforcementLevel: level === "remediate" ? "mandatory" : level,
        resourceType: resource.type,
        resourceName: resource.name,
        message: message === description ? "" : message.startsWith(`${description}\n`) ? message.slice(description.length + 1) : message,
    };
}

/** One violation as a comparable line: policy, level, resource type and name, message. */
export function violationKey(violation: Violation): string {
    return JSON.stringify([violation.policy, violation.enforcementLevel, violation.resourceType, violation.resourceName, violation.message]);
}

/** Sorted, duplicates kept: a violation reported twice on one side and once on the other is a difference. */
function keys(violations: readonly Violation[]): string[] {
    return violations.map(violationKey).sort();
}

export interface Comparison {
    /** What the offline evaluator reports, as sorted violationKey lines. */
    readonly offline: string[];
    /** What the pack served over gRPC reports, the same way. */
    readonly analyzer: string[];
}

/**
 * The pack's violations on these subjects with this pack config, both from the offline evaluator
 * (as `npm run plan` calls it) and from the pack served over gRPC (as `pulumi preview` calls it).
 */
export async function compareWithAnalyzer(
    server: PolicyPackServer, subjects: readonly AnalyzerSubject[], { stack, config }: { readonly stack: string; readonly config?: PolicyPackConfig },
): Promise<Comparison> {
    const offline = await evaluatePolicies(packArgs.policies, subjects, { stack, config, packEnforcementLevel: packArgs.enforcementLevel });
    await server.configureStack(stack);
    await server.configure(config);
    return { offline: keys(offline.violations), analyzer: keys(await server.violations(subjects, stack)) };
}
