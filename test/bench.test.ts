import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { caseFailure, copiedExemptions, generatedStack, perModelLines } from "../tools/bench";
import { EXIT, exitStatus, plan } from "../tools/plan";
import { OfflineMocks, nameOfUrn, runUnderMocks } from "../tools/offline/run";
import { PlannedResource, registerPlanned, replayPlanned } from "../tools/sdk-floor";

describe("bench", function () {
    this.timeout(120_000);

    it("counts only a case that exits 0: a plan refused (1) or killed ends the bench, naming why", () => {
        assert.strictEqual(caseFailure(["plan.js"], { status: 0, signal: null, stdout: "", stderr: "" }), undefined);
        const refused = caseFailure(["plan.js", "--stack", "bench-2"], {
            status: 1, signal: null, stderr: "", stdout: "policy pack llm-platform: 1 violations\n  [mandatory] model-pvc-access-mode: x\n",
        });
        assert.strictEqual(refused, "plan.js --stack bench-2 exited 1: [mandatory] model-pvc-access-mode: x");
        assert.match(caseFailure(["plan.js"], { status: null, signal: "SIGINT", stdout: "", stderr: "" }) ?? "", /killed by SIGINT/);
    });

    it("gives each copy of local's model the exemptions local's pack config gives that model, and keeps the others", () => {
        const config = {
            "model-pvc-access-mode": { exemptions: [{ name: "qwen-0-5b", namespace: "llm", reason: "r" }, { name: "other", reason: "o" }] },
            "pdb-sane": { exemptions: [{ name: "qwen-0-5b-weights", reason: "w" }] },
            "spread-replicas": "advisory",
        };
        assert.deepStrictEqual(copiedExemptions(config, "qwen-0-5b", ["bench-0", "bench-1"]), {
            "model-pvc-access-mode": {
                exemptions: [
                    { name: "bench-0", namespace: "llm", reason: "r" }, { name: "bench-1", namespace: "llm", reason: "r" }, { name: "other", reason: "o" },
                ],
            },
            "pdb-sane": { exemptions: [{ name: "bench-0-weights", reason: "w" }, { name: "bench-1-weights", reason: "w" }] },
            "spread-replicas": "advisory",
        });
    });

    it("times a generated stack whose plan passes, as local's does", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-test-"));
        const generated = generatedStack(2, dir);
        try {
            const result = await plan(generated.stack, generated.configFile);
            assert.deepStrictEqual(result.report.violations.filter((v) => v.enforcementLevel === "mandatory"), []);
            assert.strictEqual(exitStatus(result), EXIT.ok);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
            if (generated.packConfigFile) {
                fs.rmSync(generated.packConfigFile, { force: true });
            }
        }
    });
});

describe("bench: each extra model's verdict", () => {
    it("splits the time into the SDK's share and the platform's, and says when the SDK's share alone misses the target", () => {
        assert.deepStrictEqual(perModelLines(43.1, 26.5), [
            "each extra model: 43.1 ms (target < 20 ms) MISSED",
            "  of which the SDK registering its resources: 26.5 ms, the platform: 16.6 ms",
            "  the SDK's share alone is not under 20 ms here: no change to the platform can meet the target on this machine",
        ]);
        assert.deepStrictEqual(perModelLines(24, 12), [
            "each extra model: 24.0 ms (target < 20 ms) MISSED",
            "  of which the SDK registering its resources: 12.0 ms, the platform: 12.0 ms",
        ]);
        assert.deepStrictEqual(perModelLines(15, 10)[0], "each extra model: 15.0 ms (target < 20 ms) ok");
        assert.strictEqual(perModelLines(19, 21).length, 2, "medians of separate cases: the SDK's may come out above a plan that meets the target");
    });
});

describe("sdk-floor", function () {
    this.timeout(60_000);

    it("registers a plan's recorded resources, each under its parent and with its inputs, as the plan did", async () => {
        const planned: PlannedResource[] = [
            { type: "kubernetes:core/v1:Service", name: "m-svc", parent: "m", inputs: { metadata: { name: "m" }, spec: { ports: [{ port: 80 }] } } },
            { type: "llm-platform:models:ModelServer", name: "m", parent: null, inputs: {} },
            { type: "kubernetes:core/v1:Namespace", name: "ns", parent: null, inputs: { metadata: { name: "llm" } } },
        ];
        const run = await runUnderMocks({ stack: "sdk-floor", config: {} }, () => registerPlanned(planned));
        const recorded = run.resources.map(({ type, name, parentUrn, inputs }) => ({ type, name, parent: parentUrn ? nameOfUrn(parentUrn) : null, inputs }));
        assert.deepStrictEqual(
            [...recorded].sort((a, b) => a.name.localeCompare(b.name)),
            [...planned].sort((a, b) => a.name.localeCompare(b.name)),
        );
    });

    it("registers two resources of one name, and parents a child to the component of its parent's name", async () => {
        const planned: PlannedResource[] = [
            { type: "aws:ec2/eip:Eip", name: "nat-0", parent: null, inputs: {} },
            { type: "aws:ec2/natGateway:NatGateway", name: "nat-0", parent: null, inputs: { subnetId: "s" } },
            { type: "kubernetes:core/v1:ConfigMap", name: "m", parent: null, inputs: { metadata: { name: "m" } } },
            { type: "kubernetes:core/v1:Service", name: "m-svc", parent: "m", inputs: { metadata: { name: "m" } } },
            { type: "llm-platform:models:ModelServer", name: "m", parent: null, inputs: {} },
        ];
        const run = await runUnderMocks({ stack: "sdk-floor", config: {} }, () => registerPlanned(planned));
        assert.deepStrictEqual(run.resources.map(({ type, name }) => `${type} ${name}`).sort(), planned.map(({ type, name }) => `${type} ${name}`).sort());
        const service = run.resources.find((resource) => resource.name === "m-svc");
        assert.match(service?.parentUrn ?? "", /::llm-platform:models:ModelServer::m$/);
    });

    it("registers them without stack traces, as the plan runs (tools/offline/stack-traces.ts), so that the bench compares like with like", async () => {
        const limits: number[] = [];
        const mocks = new OfflineMocks();
        const newResource = mocks.newResource.bind(mocks);
        mocks.newResource = (args) => {
            limits.push(Error.stackTraceLimit);
            return newResource(args);
        };
        const before = Error.stackTraceLimit;
        await replayPlanned([{ type: "kubernetes:core/v1:Namespace", name: "ns", parent: null, inputs: { metadata: { name: "llm" } } }], mocks);
        assert.deepStrictEqual(limits, [0]);
        assert.strictEqual(Error.stackTraceLimit, before, "the limit is restored");
    });
});
