/**
 * The offline evaluator (tools/offline/policies.ts) is a model of the CLI's analyzer. Here the
 * pack runs the way `pulumi preview --policy-pack policies` runs it (test/analyzer-server.ts), and
 * both must report the same violations on what every stack, and every deliberately broken program
 * of the plan tests, sends to the engine.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse, stringify } from "yaml";
import type { PolicyPackConfig, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { PACK_NAME, packArgs } from "../policies/pack";
import { packConfigProblems } from "../tools/offline/pack-config";
import { PolicySubject, evaluatePolicies } from "../tools/offline/policies";
import { Plan, packConfigPath, plan } from "../tools/plan";
import { rpc } from "../tools/offline/internals";
import { renderedSubjects } from "../tools/offline/stack-charts";
import { AnalyzerSubject, PolicyPackServer, compareWithAnalyzer, engineProperties, subjectOf, violationKey } from "./analyzer-server";
import { writeDemoCharts } from "./charts";
import { PROJECT_DIR, STACKS } from "./mocks";

const stackFile = (stack: string) => path.join(PROJECT_DIR, `Pulumi.${stack}.yaml`);

function shippedPackConfig(stack: string): PolicyPackConfig | undefined {
    const file = packConfigPath(stack);
    return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) as PolicyPackConfig : undefined;
}

/** Settings tightened so that many rules fire on the real stacks, at levels other than their own. */
const STRICT: PolicyPackConfig = {
    "all": "advisory",
    "resources-required": { requireCpuLimit: true },
    "image-pinned": { enforcementLevel: "mandatory", requireDigestForModelServers: true },
    "llm-probes": { minStartupSeconds: 86_400 },
    "graceful-drain": { enforcementLevel: "mandatory", minGracePeriodSeconds: 86_400 },
    "spread-replicas": { topologyKeys: ["example.com/rack"] },
    "model-pvc-access-mode": { enforcementLevel: "remediate", requireClaimInStack: true },
    "eks-endpoint-restricted": { allowPublicEndpoint: false },
    "keda-fallback": { minFallbackReplicas: 5 },
    "no-helm-release": "disabled",
};

/** Levels and an exemption on the broken program: what stays, at which level. */
const LEVELS_AND_EXEMPTION: PolicyPackConfig = {
    "all": { enforcementLevel: "advisory" },
    "image-pinned": "mandatory",
    "gpu-pod-placement": "disabled",
    "eks-endpoint-restricted": { enforcementLevel: "remediate" },
    "resources-required": { exemptions: [{ name: "broken-model", namespace: "llm", reason: "A test: the exemption reaches both evaluators." }] },
};

/** Temporary directories of this file, removed after it. */
const temporary: string[] = [];

function writeStackFile(stack: string, config: Record<string, unknown>): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stack-"));
    temporary.push(dir);
    const file = path.join(dir, `Pulumi.${stack}.yaml`);
    fs.writeFileSync(file, stringify({ config }));
    return file;
}

/** The stack file of the plan test that opens dev's API endpoint to the internet. */
function openEndpointStackFile(): string {
    const dev = parse(fs.readFileSync(stackFile("dev"), "utf8")) as { config: Record<string, unknown> };
    const cluster = { ...(dev.config["llm-platform:cluster"] as object), endpointPublicAccess: true, publicAccessCidrs: ["0.0.0.0/0"], allowPublicEndpointFromAnywhere: true };
    return writeStackFile("open-endpoint", { ...dev.config, "llm-platform:cluster": cluster });
}

const BROKEN_PROGRAM = path.join(__dirname, "fixtures", "broken-program");
const CHART_PROGRAM = path.join(__dirname, "fixtures", "chart-program");

/** The one-chart program of the rendering tests, its chart rendered with TLS on (a pod that needs a hook's Secret). */
function planChart(): Promise<Plan> {
    const charts = writeDemoCharts();
    temporary.push(charts);
    return plan("chart", writeStackFile("chart", { "llm-platform:demoValues": { tls: { enabled: true } } }), { program: CHART_PROGRAM, charts: { dir: charts } });
}

/** The real upstream charts, where a directory of them is given (test/upstream-charts.test.ts). */
const UPSTREAM_CHARTS = process.env.LLM_PLATFORM_CHARTS;

/** The programs, each run once: the stacks as shipped (and with their charts rendered, where given), then those of the plan tests. */
const RUNS: Record<string, () => Promise<Plan>> = {
    ...Object.fromEntries(STACKS.map((stack) => [stack, () => plan(stack, stackFile(stack))])),
    ...Object.fromEntries((UPSTREAM_CHARTS ? STACKS : []).map((stack) => [`${stack}+charts`, () => plan(stack, stackFile(stack), { charts: { dir: UPSTREAM_CHARTS } })])),
    "broken": () => plan("broken", stackFile("local"), { program: BROKEN_PROGRAM }),
    "open-endpoint": () => plan("open-endpoint", openEndpointStackFile()),
    "chart": planChart,
};

/** A violation line's policy and level: `image-pinned mandatory`. */
const policyAndLevel = (line: string) => (JSON.parse(line) as string[]).slice(0, 2).join(" ");

interface Case {
    readonly title: string;
    readonly run: keyof typeof RUNS;
    readonly config?: PolicyPackConfig;
    /** The config is the one `npm run plan` reads for the run (policies/config/<stack>.json, if any): the plan reports the same. */
    readonly shipped?: boolean;
    /** Changes the run's subjects before both evaluate them. */
    readonly edit?: (subjects: AnalyzerSubject[]) => AnalyzerSubject[];
    /** The case is there to make rules fire: an empty result would prove nothing. */
    readonly fires?: boolean;
    /** What the pack config must have done to the analyzer's violations (`policy level` of each). */
    readonly expect?: { readonly present?: readonly string[]; readonly absent?: readonly string[] };
}

const CASES: readonly Case[] = [
    ...STACKS.map((stack): Case => ({
        title: `stack ${stack} with its pack config`, run: stack, config: shippedPackConfig(stack), shipped: true,
        expect: { absent: ["model-pvc-access-mode mandatory"] },
    })),
    ...STACKS.map((stack): Case => ({
        title: `stack ${stack} with strict settings and levels`, run: stack, config: STRICT, fires: true,
        expect: { present: ["llm-probes advisory", "graceful-drain mandatory"], absent: ["llm-probes mandatory"] },
    })),
    { title: "stack local without its exemption", run: "local", fires: true, expect: { present: ["model-pvc-access-mode mandatory"] } },
    ...(UPSTREAM_CHARTS ? STACKS : []).flatMap((stack): Case[] => [
        { title: `stack ${stack} with its upstream charts rendered, and its pack config`, run: `${stack}+charts`, config: shippedPackConfig(stack) },
        { title: `stack ${stack} with its upstream charts rendered, and strict settings`, run: `${stack}+charts`, config: STRICT, fires: true },
    ]),
    { title: "the broken program", run: "broken", shipped: true, fires: true, expect: { present: ["image-pinned mandatory", "gpu-pod-placement mandatory", "resources-required mandatory"] } },
    {
        title: "the broken program with levels and an exemption", run: "broken", config: LEVELS_AND_EXEMPTION, fires: true,
        expect: {
            present: ["image-pinned mandatory", "eks-endpoint-restricted mandatory", "model-weights-on-pvc advisory"],
            absent: ["gpu-pod-placement mandatory", "gpu-pod-placement advisory", "resources-required mandatory", "resources-required advisory"],
        },
    },
    { title: "dev with its API endpoint open to the internet", run: "open-endpoint", shipped: true, fires: true, expect: { present: ["eks-endpoint-restricted mandatory"] } },
    {
        // Rendered objects go to both as children of their chart resource, hooks included (the plan sees them;
        // a real preview never would, since helm.v4.Chart registers none): the rule finds a hook's chart by parent.
        title: "a chart rendered by the plan, whose pod needs a Secret only its hook creates", run: "chart", shipped: true, fires: true,
        expect: { present: ["chart-no-hook-dependency mandatory"] },
    },
    {
        // Which of two is "first" must not depend on the order the engine lists the stack in.
        title: "prod with a second ScaledObject and a second PodDisruptionBudget on its model", run: "prod", fires: true,
        edit: (subjects) => [...subjects, ...["kubernetes:keda.sh/v1alpha1:ScaledObject", "kubernetes:policy/v1:PodDisruptionBudget"].map((type) => copyOf(subjects, type))],
        expect: { present: ["autoscaler-target mandatory", "pdb-sane mandatory"] },
    },
];

/** A second object like the first subject of that type, under another name. */
function copyOf(subjects: readonly AnalyzerSubject[], type: string): AnalyzerSubject {
    const original = subjects.find((subject) => subject.type === type);
    if (!original) {
        throw new Error(`no ${type} to copy`);
    }
    const name = `${original.name}-copy`;
    const metadata = { ...(original.props.metadata as object), name };
    return { ...original, name, urn: `${original.urn.slice(0, original.urn.lastIndexOf("::"))}::${name}`, props: { ...original.props, metadata } };
}

describe("the policy pack served over gRPC, as the Pulumi CLI runs it, agrees with the offline evaluator", function () {
    this.timeout(120_000);

    let starting: Promise<PolicyPackServer> | undefined;
    let server: PolicyPackServer;
    const plans = new Map<string, Plan>();

    before(async () => {
        starting = PolicyPackServer.start();
        starting.catch(() => undefined); // awaited below; a failed start must not be an unhandled rejection meanwhile
        for (const [name, run] of Object.entries(RUNS)) {
            plans.set(name, await run());
        }
        server = await starting;
    });

    after(async () => {
        await (await starting?.catch(() => undefined))?.stop();
        temporary.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true }));
    });

    /** What the plan evaluates: the program's resources, then the objects its charts render. */
    const subjects = (run: string): AnalyzerSubject[] => [...plans.get(run)!.run.resources.map(subjectOf), ...renderedSubjects(plans.get(run)!.charts)];

    it("serves the pack: its name, every rule at the level it declares, and no initial config", async () => {
        const info = await server.analyzerInfo();
        assert.strictEqual(info.getName(), PACK_NAME);
        assert.ok(info.getSupportsconfig());
        assert.strictEqual(info.getInitialconfigMap().getLength(), 0, "the test's Configure assumes no initial config");
        const levels = ["advisory", "mandatory", "disabled", "remediate"];
        assert.deepStrictEqual(info.getPoliciesList().map((policy) => `${policy.getName()} ${levels[policy.getEnforcementlevel()]}`),
            packArgs.policies.map((policy) => `${policy.name} ${policy.enforcementLevel ?? packArgs.enforcementLevel}`));
    });

    for (const { title, run, config, shipped, edit, fires, expect } of CASES) {
        it(`on ${title}`, async () => {
            assert.deepStrictEqual(packConfigProblems(packArgs.policies, config ?? {}), [], "the case's pack config is valid");
            const { offline, analyzer } = await compareWithAnalyzer(server, (edit ?? ((same) => same))(subjects(run)), { stack: run, config });
            assert.deepStrictEqual(offline, analyzer, "offline evaluator (actual) vs the pack over gRPC (expected)");
            assert.ok(!fires || analyzer.length > 0, "the case makes rules fire");
            const levels = new Set(analyzer.map(policyAndLevel));
            for (const entry of expect?.present ?? []) {
                assert.ok(levels.has(entry), `${entry} is reported; got ${[...levels].join(", ")}`);
            }
            for (const entry of expect?.absent ?? []) {
                assert.ok(!levels.has(entry), `${entry} is not reported`);
            }
            if (shipped) {
                assert.deepStrictEqual(plans.get(run)!.report.violations.map(violationKey).sort(), offline, "npm run plan reports what the offline evaluator does");
            }
        });
    }

    it("sends secrets as secrets: the pack sees the value, as it does under the engine", async () => {
        const secretPaths = (run: string) => subjects(run).flatMap((subject) => (subject.secretPaths ?? []).map((at) => `${subject.type} ${subject.name} ${at.join(".")}`));
        assert.ok(secretPaths("dev").includes("pulumi:providers:kubernetes llm-k8s kubeconfig"), secretPaths("dev").join("\n"));
        const pod: AnalyzerSubject = {
            type: "kubernetes:core/v1:Pod",
            name: "leaky",
            urn: "urn:pulumi:secrets::llm-platform::kubernetes:core/v1:Pod::leaky",
            props: {
                apiVersion: "v1", kind: "Pod", metadata: { name: "leaky", namespace: "llm" },
                spec: { containers: [{ name: "app", image: "busybox:1.37", env: [{ name: "API_TOKEN", value: "[secret]" }] }] },
            },
            secretPaths: [["spec", "containers", 0, "env", 0, "value"]],
        };
        const sent = engineProperties(pod).toJavaScript() as { spec: { containers: { env: { value: unknown }[] }[] } };
        assert.deepStrictEqual(sent.spec.containers[0].env[0].value, { [rpc.specialSigKey]: rpc.specialSecretSig, value: "[secret]" });
        const { offline, analyzer } = await compareWithAnalyzer(server, [pod], { stack: "secrets" });
        assert.deepStrictEqual(offline, analyzer);
        assert.ok(analyzer.map(policyAndLevel).includes("no-literal-secrets mandatory"), analyzer.join("\n"));
    });
});

/**
 * What no rule of the pack does yet, so the comparison above cannot show it: the offline evaluator
 * attributes violations where the engine does (pkg/resource/deploy/analyze_snapshot.go).
 */
describe("the offline evaluator attributes violations as the engine does", () => {
    const subjects: PolicySubject[] = ["a", "b"].map((name) => ({
        type: "kubernetes:core/v1:ConfigMap", name, urn: `urn:pulumi:dev::llm-platform::kubernetes:core/v1:ConfigMap::${name}`, props: {},
    }));
    const where = async (policy: ResourceValidationPolicy | StackValidationPolicy) => (await evaluatePolicies([policy], subjects, { stack: "dev" }))
        .violations.map((violation) => `${violation.resourceType} ${violation.resourceName}`);

    it("a resource policy's violation to the resource analyzed, whatever URN it names", async () => {
        const namesAnother: ResourceValidationPolicy = {
            name: "names-another", description: "A test rule.", enforcementLevel: "mandatory",
            validateResource: (args, reportViolation) => reportViolation("about b", subjects.find((subject) => subject.urn !== args.urn)!.urn),
        };
        assert.deepStrictEqual(await where(namesAnother), ["kubernetes:core/v1:ConfigMap a", "kubernetes:core/v1:ConfigMap b"]);
    });

    it("a stack policy's violation without a URN of the stack to the root stack, <project>-<stack>", async () => {
        const stackWide: StackValidationPolicy = {
            name: "stack-wide", description: "A test rule.", enforcementLevel: "mandatory",
            validateStack: (_args, reportViolation) => {
                reportViolation("about the stack");
                reportViolation("about no resource of it", "urn:pulumi:dev::llm-platform::kubernetes:core/v1:ConfigMap::gone");
                reportViolation("about b", subjects[1].urn);
            },
        };
        assert.deepStrictEqual(await where(stackWide), ["pulumi:pulumi:Stack llm-platform-dev", "pulumi:pulumi:Stack llm-platform-dev", "kubernetes:core/v1:ConfigMap b"]);
    });
});
