import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";
import { PROJECT_DIR } from "./mocks";

interface Step {
    readonly name?: string;
    readonly uses?: string;
    readonly run?: string;
    readonly if?: string;
    readonly with?: Record<string, unknown>;
    readonly env?: Record<string, string>;
    readonly "working-directory"?: string;
}

interface Job {
    readonly needs?: string | string[];
    readonly if?: string;
    readonly permissions?: Record<string, string>;
    readonly steps: Step[];
}

interface Workflow {
    readonly on: Record<string, unknown>;
    readonly permissions: Record<string, string>;
    readonly jobs: Record<string, Job>;
}

const FILE = path.join(PROJECT_DIR, ".github", "workflows", "plan.yml");
const MARKER = "<!-- llm-platform-plan -->";

function workflow(): Workflow {
    return parse(fs.readFileSync(FILE, "utf8")) as Workflow;
}

function step(job: Job, name: string): Step {
    const found = job.steps.find((candidate) => candidate.name === name);
    assert.ok(found, `a step named "${name}"`);
    return found;
}

describe("the plan workflow (.github/workflows/plan.yml)", () => {
    it("runs on pull_request, never pull_request_target, with a read-only token by default", () => {
        const { on, permissions } = workflow();
        assert.deepStrictEqual(Object.keys(on), ["pull_request"]);
        const code = fs.readFileSync(FILE, "utf8").split("\n").filter((line) => !/^\s*#/.test(line));
        assert.ok(code.every((line) => !line.includes("pull_request_target")));
        assert.deepStrictEqual(permissions, { contents: "read" });
    });

    it("gives pull-requests: write to the comment job only, which runs none of the PR's code", () => {
        const { jobs } = workflow();
        const writes = Object.entries(jobs).flatMap(([name, job]) =>
            Object.entries(job.permissions ?? {}).filter(([, level]) => level === "write").map(([scope]) => `${name}: ${scope}`));
        // The preview's OIDC token for AWS, and the comment.
        assert.deepStrictEqual(writes.sort(), ["comment: pull-requests", "preview: id-token"]);
        const comment = jobs.comment;
        assert.deepStrictEqual(comment.permissions, { "pull-requests": "write" });
        assert.ok(comment.steps.every((candidate) => !candidate.uses?.startsWith("actions/checkout") && !/\bnpm\b/.test(candidate.run ?? "")));
    });

    it("runs once per PR at a time: a new push cancels the run before it, which would otherwise race it to the comment", () => {
        const { concurrency } = parse(fs.readFileSync(FILE, "utf8")) as { concurrency?: { group?: string; "cancel-in-progress"?: boolean } };
        assert.deepStrictEqual(concurrency, { group: "${{ github.workflow }}-${{ github.event.pull_request.number }}", "cancel-in-progress": true });
        // A cancelled run writes no comment.
        assert.match(workflow().jobs.comment.if ?? "", /^\$\{\{ !cancelled\(\) && /);
    });

    it("comments only on a PR from this repository (a fork gets the job summary)", () => {
        const comment = workflow().jobs.comment;
        assert.strictEqual(comment.needs, "offline-plan");
        assert.match(comment.if ?? "", /github\.event\.pull_request\.head\.repo\.full_name == github\.repository/);
    });

    it("plans the base's commit and the head, compares them, and appends diff.md to the job summary", () => {
        const job = workflow().jobs["offline-plan"];
        const checkouts = job.steps.filter((candidate) => candidate.uses?.startsWith("actions/checkout@"));
        assert.deepStrictEqual(checkouts.map((candidate) => [candidate.with?.path, candidate.with?.ref, candidate.with?.["fetch-depth"]]), [
            ["head", undefined, 2], ["base", "${{ steps.base.outputs.sha }}", undefined],
        ]);
        assert.strictEqual(step(job, "plan of the base")["working-directory"], "base");
        assert.match(step(job, "plan of the base").run ?? "", /npm run plan -- --stack "\$STACK" .*--out \.\.\/out\/base/);
        const head = step(job, "plan of the head, compared with the base");
        assert.match(head.run ?? "", /diff=\(--diff \.\.\/out\/base\)/);
        assert.match(head.run ?? "", /--out \.\.\/out\/head "\$\{diff\[@\]\}"/);
        assert.match(step(job, "diff in the job summary").run ?? "", /cat out\/head\/diff\.md >> "\$GITHUB_STEP_SUMMARY"/);
        // The check still fails on a mandatory violation, after the diff is published.
        assert.match(job.steps[job.steps.length - 1].run ?? "", /exit "\$\{STATUS:-1\}"/);
    });

    it("takes as the base the merge commit's first parent, not the event's base.sha (hours old once the base branch moved)", () => {
        // A merge commit as GitHub builds refs/pull/N/merge: the base branch moved on after the PR's event.
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "plan-base-"));
        const git = (...args: string[]) => {
            const result = spawnSync("git", ["-C", path.join(dir, "head"), "-c", "user.name=t", "-c", "user.email=t@t", ...args], { encoding: "utf8" });
            assert.strictEqual(result.status, 0, result.stderr);
            return result.stdout.trim();
        };
        fs.mkdirSync(path.join(dir, "head"));
        git("init", "-q", "-b", "main");
        git("commit", "-q", "--allow-empty", "-m", "base at the event");
        git("checkout", "-q", "-b", "pr");
        git("commit", "-q", "--allow-empty", "-m", "the change");
        git("checkout", "-q", "main");
        git("commit", "-q", "--allow-empty", "-m", "another PR merged since");
        const tip = git("rev-parse", "HEAD");
        git("merge", "-q", "--no-ff", "-m", "merge", "pr");
        const output = path.join(dir, "output");
        const result = spawnSync("bash", ["-e", "-c", step(workflow().jobs["offline-plan"], "the base the PR was merged onto").run ?? ""],
            { cwd: dir, encoding: "utf8", env: { ...process.env, GITHUB_OUTPUT: output } });
        assert.strictEqual(result.status, 0, result.stderr);
        assert.strictEqual(fs.readFileSync(output, "utf8"), `sha=${tip}\n`);
    });

    it("finds its one comment by the hidden marker, and updates it rather than adding one", () => {
        const comment = workflow().jobs.comment;
        const post = step(comment, "post or update the comment").run ?? "";
        assert.ok(post.includes(`startswith("${MARKER}")`), post);
        assert.match(post, /--method PATCH "repos\/\$REPO\/issues\/comments\/\$id"/);
        assert.match(post, /--method POST "repos\/\$REPO\/issues\/\$PR\/comments"/);
        assert.ok((step(comment, "write the comment").run ?? "").includes(`marker='${MARKER}'`));
    });

    it("uploads each stack's plan under its own name, replaced on a re-run (upload-artifact v4 refuses a name the run has, unless overwrite)", () => {
        const upload = workflow().jobs["offline-plan"].steps.find((candidate) => candidate.uses?.startsWith("actions/upload-artifact@"));
        assert.deepStrictEqual(upload?.with, { name: "plan-${{ matrix.stack }}", path: "out/head", overwrite: true });
    });

    it("pins every action", () => {
        const uses = Object.values(workflow().jobs).flatMap((job) => job.steps.flatMap((candidate) => candidate.uses ?? []));
        assert.ok(uses.length > 0 && uses.every((action) => /^[\w.-]+\/[\w.-]+@v?\d/.test(action)), uses.join(", "));
    });

    describe("the comment it writes", () => {
        /** Runs the "write the comment" step in a directory with these plans/plan-<stack>/ files; its comment.md. */
        function writeComment(plans: Record<string, Record<string, string>>): string {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "plan-comment-"));
            for (const [stack, files] of Object.entries(plans)) {
                fs.mkdirSync(path.join(dir, "plans", `plan-${stack}`), { recursive: true });
                for (const [name, text] of Object.entries(files)) {
                    fs.writeFileSync(path.join(dir, "plans", `plan-${stack}`, name), text);
                }
            }
            const script = step(workflow().jobs.comment, "write the comment").run ?? "";
            const result = spawnSync("bash", ["-e", "-o", "pipefail", "-c", script], { cwd: dir, encoding: "utf8", env: { ...process.env, RUN_URL: "https://run" } });
            assert.strictEqual(result.status, 0, result.stderr);
            return fs.readFileSync(path.join(dir, "comment.md"), "utf8");
        }

        before(function () {
            if (spawnSync("jq", ["--version"]).status !== 0) {
                this.skip(); // the runner has jq; this machine does not
            }
        });

        it("is one line after the marker when no stack changes", () => {
            const same = (stack: string) => ({ "diff.json": '{ "stack": "x", "changed": false }', "diff.md": `**\`${stack}\`**: no change\n` });
            assert.strictEqual(writeComment({ dev: same("dev"), prod: same("prod") }),
                `${MARKER}\n**Offline plan**: this change touches no stack (same resources, violations, secrets and summary as the base).\n`);
        });

        it("holds every stack's diff.md when one changes, and names a stack without one", () => {
            const text = writeComment({
                dev: { "diff.json": '{ "changed": false }', "diff.md": "**`dev`**: no change\n" },
                prod: { "diff.json": '{ "changed": true }', "diff.md": "#### `prod`: resources +0 ~1 -0\n" },
                local: {},
            });
            assert.strictEqual(text, [
                MARKER, "### Offline plan: what this change does ([run](https://run))",
                "", "**`dev`**: no change", "", "**`local`**: no plan (see the run).", "", "#### `prod`: resources +0 ~1 -0", "",
            ].join("\n"));
        });

        it("keeps to the headlines when the comment would be too long for GitHub", () => {
            const long = `#### \`prod\`: resources +0 ~900 -0\n\n${"x".repeat(70_000)}\n`;
            const text = writeComment({ prod: { "diff.json": '{ "changed": true }', "diff.md": long } });
            assert.ok(text.length < 1000 && text.startsWith(`${MARKER}\n`) && text.endsWith("#### `prod`: resources +0 ~900 -0\n"), text);
        });

        it("keeps to the headlines, and names a stack without a plan, when the comment would be too long", () => {
            const long = `#### \`prod\`: resources +0 ~900 -0\n\n${"x".repeat(70_000)}\n`;
            const text = writeComment({ local: {}, prod: { "diff.json": '{ "changed": true }', "diff.md": long } });
            assert.ok(text.endsWith("\n**`local`**: no plan (see the run).\n\n#### `prod`: resources +0 ~900 -0\n"), text);
        });
    });
});
