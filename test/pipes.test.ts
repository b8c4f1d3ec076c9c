import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PROJECT_DIR, buildTools } from "./mocks";

/**
 * The commands print all of a large output through a pipe: spawnSync reads the child's
 * stdout and stderr through pipes, and the child used to exit with output still queued
 * (process.exit() before the pipe drained: 64 KiB or so arrived, tools/offline/exit.ts).
 */
describe("output through a pipe", function () {
    this.timeout(120_000);
    let dir: string;

    before(() => {
        buildTools();
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "pipes-"));
    });

    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    const run = (tool: string, args: string[]) => spawnSync(process.execPath, [path.join(PROJECT_DIR, "bin", "tools", `${tool}.js`), ...args], {
        cwd: PROJECT_DIR, encoding: "utf8", timeout: 60_000, maxBuffer: 64 * 1024 * 1024,
    });

    it("npm run check --format json prints the whole report of 1000 Deployments without resources", () => {
        const count = 1000;
        const file = path.join(dir, "big.yaml");
        fs.writeFileSync(file, Array.from({ length: count }, (_, index) => [
            "apiVersion: apps/v1", "kind: Deployment", `metadata: {name: app-${index}, namespace: big}`,
            "spec: {template: {spec: {containers: [{name: app, image: 'nginx:1.27.0'}]}}}",
        ].join("\n")).join("\n---\n"));
        const result = run("check", ["--format", "json", file]);
        assert.strictEqual(result.status, 1, result.stderr);
        assert.ok(result.stdout.length > 1024 * 1024, `${result.stdout.length} characters`);
        const report = JSON.parse(result.stdout) as { violations: { policy: string; resourceName: string }[] };
        const unresourced = new Set(report.violations.filter((v) => v.policy === "resources-required").map((v) => v.resourceName));
        assert.strictEqual(unresourced.size, count);
    });

    it("npm run plan prints every config problem of a stack with 1500 bad models", () => {
        const count = 1500;
        const models = Array.from({ length: count }, (_, index) => ({ name: `m-${index}`, [`unknownKey${"x".repeat(40)}`]: true }));
        const file = path.join(dir, "Pulumi.pipes.yaml");
        fs.writeFileSync(file, JSON.stringify({ config: { "llm-platform:target": "local", "llm-platform:models": models } }));
        const result = run("plan", ["--stack", "pipes", "--config", file, "--out", path.join(dir, "out")]);
        assert.strictEqual(result.status, 2, result.stderr.slice(-500));
        assert.ok(result.stderr.length > 128 * 1024, `${result.stderr.length} characters`);
        const problems = new Set(result.stderr.split("\n").filter((line) => /^error: llm-platform:models\[\d+\]\.unknownKeyx+: /.test(line)));
        assert.strictEqual(problems.size, count, result.stderr.slice(-500));
    });
});
