import * as assert from "assert";
import { SpawnSyncReturns, spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { modelServerNames } from "../components/model-server/names";
import { DOWNLOAD_SCRIPT, DOWNLOAD_SHELL, DOWNLOAD_WHEELS, downloadJob, downloadRequirements } from "../components/model-server/download-job";

/**
 * The download Job, executed: its Python script runs with python3 against a stub `huggingface_hub` package
 * (written below, put first on PYTHONPATH) whose Hub listing and downloaded files each case controls, and the
 * Job's own shell runs with a stub `pip` first on PATH. The stub records, through a Python audit hook
 * (`open` and `os.rename`, which os.replace raises), which files the script opened and in what order, so
 * "the marker is written last" is observed, not inferred.
 */

const REPO = "Qwen/Qwen2.5-0.5B-Instruct";
const REVISION = "7ae557604adf67be50417f59c2c2f167def9a775";
const OTHER_SHA = "0000000000000000000000000000000000000000";

/** huggingface_hub as far as the script uses it: HfApi().model_info and snapshot_download. */
const STUB_HUB = String.raw`
import json, os, sys, types

_cfg = json.load(open(os.environ["STUB_HUB_CONFIG"]))
_log_path = _cfg["log"]
_root = os.path.realpath(_cfg["root"])
_busy = [False]

def _log(event, **fields):
    _busy[0] = True
    try:
        with open(_log_path, "a") as f:
            f.write(json.dumps(dict(event=event, **fields)) + "\n")
    finally:
        _busy[0] = False

def _rel(p):
    if not isinstance(p, (str, bytes, os.PathLike)):
        return None
    p = os.path.realpath(os.fsdecode(p))
    return os.path.relpath(p, _root) if p == _root or p.startswith(_root + os.sep) else None

def _audit(event, args):
    if _busy[0]:
        return
    if event == "open":
        rel = _rel(args[0])
        if rel is not None:
            mode = args[1] if isinstance(args[1], str) else "r"
            _log("open", path=rel, write=any(c in mode for c in "wax+"))
    elif event == "os.rename":
        src, dst = _rel(args[0]), _rel(args[1])
        if src is not None or dst is not None:
            _log("rename", src=src, dst=dst)

sys.addaudithook(_audit)

class HfApi:
    def model_info(self, repo_id, *, revision=None, files_metadata=False):
        _log("model_info", repo=repo_id, revision=revision, files_metadata=files_metadata)
        siblings = [
            types.SimpleNamespace(rfilename=s["rfilename"], size=s.get("size"),
                                  lfs=types.SimpleNamespace(sha256=s["lfs"]) if s.get("lfs") else None)
            for s in _cfg["siblings"]
        ]
        return types.SimpleNamespace(sha=_cfg["sha"], siblings=siblings)

def snapshot_download(repo_id, *, revision=None, local_dir=None, max_workers=8):
    env = {k: os.environ.get(k) for k in ("HOME", "HF_HOME", "HF_XET_CACHE", "HF_XET_CHUNK_CACHE_SIZE_BYTES", "HF_HUB_DISABLE_TELEMETRY")}
    _log("snapshot_download", repo=repo_id, revision=revision, local_dir=_rel(local_dir), max_workers=max_workers, env=env)
    _busy[0] = True
    try:
        for name, content in _cfg["files"].items():
            target = os.path.join(local_dir, name)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "w") as f:
                f.write(content)
    finally:
        _busy[0] = False
    return local_dir
`;

/** pip as far as the Job's shell uses it: records its arguments and requirements, "installs" the stub into --target. */
const STUB_PIP = String.raw`#!/usr/bin/env python3
import json, os, shutil, sys
args = sys.argv[1:]
target = args[args.index("--target") + 1]
requirements = open(args[args.index("-r") + 1]).read()
with open(os.environ["STUB_PIP_LOG"], "a") as f:
    f.write(json.dumps({"args": args, "requirements": requirements}) + "\n")
shutil.copytree(os.environ["STUB_HUB_SOURCE"], os.path.join(target, "huggingface_hub"), dirs_exist_ok=True)
`;

interface Sibling { rfilename: string; size?: number; lfs?: string }
interface HubCase { sha: string; siblings: Sibling[]; files: Record<string, string> }
type LogEntry = { event: string; path?: string; write?: boolean; src?: string | null; dst?: string | null; [key: string]: unknown };

/** The plain values of a container's env (HF_TOKEN comes from a Secret and has none). */
const envValues = (env: readonly { name: string; value?: string }[]): Record<string, string> =>
    Object.fromEntries(env.flatMap((e) => e.value === undefined ? [] : [[e.name, e.value]]));

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** A two-shard checkpoint as the Hub lists it: sizes for every file, sha256 for the LFS ones. */
function goodCase(): HubCase {
    const files: Record<string, string> = {
        "config.json": JSON.stringify({ model_type: "qwen2" }),
        "model.safetensors.index.json": JSON.stringify({ weight_map: { "a.weight": "model-00001-of-00002.safetensors", "b.weight": "model-00002-of-00002.safetensors" } }),
        "model-00001-of-00002.safetensors": "first shard ".repeat(100),
        "model-00002-of-00002.safetensors": "second shard ".repeat(100),
    };
    const siblings = Object.entries(files).map(([rfilename, content]) => ({
        rfilename, size: Buffer.byteLength(content), ...(rfilename.endsWith(".safetensors") ? { lfs: sha256(content) } : {}),
    }));
    // What the real snapshot_download leaves next to the files: not in the listing, not checked.
    return { sha: REVISION, siblings, files: { ...files, ".cache/huggingface/.gitignore": "*" } };
}

describe("download Job", function () {
    this.timeout(30_000);
    let work: string;
    let stubLib: string;
    let caseNo = 0;
    /** python3 itself, found once through PATH (a version manager's shim costs a fraction of a second per start). */
    let python: string;
    let searchPath: string;

    before(() => {
        const which = spawnSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" });
        assert.strictEqual(which.status, 0, `python3 is needed (.ci/run installs Debian's): ${which.error?.message ?? which.stderr}`);
        python = which.stdout.trim();
        searchPath = `${path.dirname(python)}:${process.env.PATH ?? "/usr/bin:/bin"}`;
        work = fs.mkdtempSync(path.join(os.tmpdir(), "download-job-"));
        stubLib = path.join(work, "stub-lib");
        fs.mkdirSync(path.join(stubLib, "huggingface_hub"), { recursive: true });
        fs.writeFileSync(path.join(stubLib, "huggingface_hub", "__init__.py"), STUB_HUB);
        fs.mkdirSync(path.join(work, "bin"));
        fs.writeFileSync(path.join(work, "bin", "pip"), STUB_PIP, { mode: 0o755 });
    });

    after(() => fs.rmSync(work, { recursive: true, force: true }));

    /** A fresh directory per run: `models` (the claim), `scratch` (the emptyDir), the stub's config and log. */
    function scene(hub: HubCase) {
        const dir = path.join(work, `case-${++caseNo}`);
        const models = path.join(dir, "models");
        const target = path.join(models, REPO, REVISION);
        fs.mkdirSync(models, { recursive: true });
        fs.mkdirSync(path.join(dir, "scratch"));
        const log = path.join(dir, "hub.log");
        const config = path.join(dir, "hub.json");
        fs.writeFileSync(config, JSON.stringify({ ...hub, log, root: dir }));
        const entries = (): LogEntry[] => fs.existsSync(log)
            ? fs.readFileSync(log, "utf8").trim().split("\n").map((line) => JSON.parse(line) as LogEntry) : [];
        const inTarget = (name: string) => path.join(path.relative(dir, target), name);
        return { dir, models, target, config, entries, inTarget, scratch: path.join(dir, "scratch") };
    }

    function runScript(hub: HubCase, prepare?: (target: string) => void) {
        const s = scene(hub);
        prepare?.(s.target);
        const result = spawnSync(python, ["-c", DOWNLOAD_SCRIPT, REPO, REVISION, s.target], {
            encoding: "utf8", timeout: 20_000,
            env: { PATH: searchPath, PYTHONPATH: stubLib, STUB_HUB_CONFIG: s.config, PYTHONDONTWRITEBYTECODE: "1" },
        });
        return { ...s, result };
    }

    const failed = (result: SpawnSyncReturns<string>, message: RegExp) => {
        assert.notStrictEqual(result.status, 0, `exit ${result.status}: ${result.stdout}`);
        assert.match(result.stderr, message);
    };
    const noMarker = (target: string) => {
        assert.ok(!fs.existsSync(path.join(target, ".complete")), "no marker");
        assert.ok(!fs.existsSync(path.join(target, ".complete.partial")), "no partial marker");
    };

    describe("the script (python3, stub huggingface_hub)", () => {
        it("a good download is verified file by file, then the marker is written, last, by rename", () => {
            const hub = goodCase();
            const { result, target, entries, inTarget } = runScript(hub);
            assert.strictEqual(result.status, 0, result.stderr);
            assert.deepStrictEqual(JSON.parse(fs.readFileSync(path.join(target, ".complete"), "utf8")), { repo: REPO, revision: REVISION, files: 4 });
            assert.ok(!fs.existsSync(path.join(target, ".complete.partial")));
            const log = entries();
            assert.deepStrictEqual(log[0], { event: "model_info", repo: REPO, revision: REVISION, files_metadata: true });
            assert.strictEqual(log[1].event, "snapshot_download");
            assert.strictEqual(log[1].local_dir, inTarget("").replace(/\/$/, ""));
            const writePartial = log.findIndex((e) => e.event === "open" && e.write === true && e.path === inTarget(".complete.partial"));
            assert.ok(writePartial > 0, "the marker is written to .complete.partial first");
            for (const name of ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json"]) {
                const read = log.findIndex((e) => e.event === "open" && e.write === false && e.path === inTarget(name));
                assert.ok(read > 1 && read < writePartial, `${name} is read (verified) before the marker is written`);
            }
            assert.deepStrictEqual(log.at(-1), { event: "rename", src: inTarget(".complete.partial"), dst: inTarget(".complete") }, "renaming the marker into place is the last thing done");
            assert.ok(!log.some((e) => e.event === "open" && e.write === true && e.path === inTarget(".complete")), "the marker is never written in place");
        });

        it("a Hub sha that differs from the pinned revision exits non-zero and downloads nothing", () => {
            const { result, target, entries } = runScript({ ...goodCase(), sha: OTHER_SHA });
            failed(result, new RegExp(`resolved ${REVISION} to ${OTHER_SHA}`));
            assert.deepStrictEqual(entries().map((e) => e.event), ["model_info"]);
            assert.ok(!fs.existsSync(target), "nothing downloaded");
        });

        it("a file of the wrong size exits non-zero and leaves no marker", () => {
            const hub = goodCase();
            hub.siblings = hub.siblings.map((s) => s.rfilename === "config.json" ? { ...s, size: (s.size ?? 0) + 1 } : s);
            const { result, target } = runScript(hub);
            failed(result, /config\.json: \d+ bytes, expected \d+/);
            noMarker(target);
        });

        it("an LFS file whose sha256 differs (same size) exits non-zero and leaves no marker", () => {
            const hub = goodCase();
            const shard = "model-00002-of-00002.safetensors";
            hub.files[shard] = hub.files[shard].replace("second", "SECOND");
            const { result, target } = runScript(hub);
            failed(result, new RegExp(`${shard}: sha256 mismatch`));
            noMarker(target);
        });

        it("a shard named by model.safetensors.index.json but missing (and absent from the listing) exits non-zero", () => {
            const hub = goodCase();
            const shard = "model-00002-of-00002.safetensors";
            delete hub.files[shard];
            hub.siblings = hub.siblings.filter((s) => s.rfilename !== shard);
            const { result, target } = runScript(hub);
            failed(result, new RegExp(`missing shard ${shard}`));
            noMarker(target);
        });

        it("a listed file the download did not bring exits non-zero", () => {
            const hub = goodCase();
            delete hub.files["config.json"];
            const { result, target } = runScript(hub);
            failed(result, /missing config\.json/);
            noMarker(target);
        });

        it("an existing marker exits 0 without calling the Hub", () => {
            const { result, entries } = runScript(goodCase(), (target) => {
                fs.mkdirSync(target, { recursive: true });
                fs.writeFileSync(path.join(target, ".complete"), "{}");
            });
            assert.strictEqual(result.status, 0, result.stderr);
            assert.match(result.stdout, /already complete/);
            assert.deepStrictEqual(entries().filter((e) => e.event !== "open"), []);
        });
    });

    describe("the Job's shell (stub pip on PATH)", () => {
        const model = { name: "qwen", engine: "vllm" as const, repo: REPO, revision: REVISION };
        const container = downloadJob(model, { names: modelServerNames(model, "llm"), withToken: false }).spec.template.spec.containers[0];

        /** The container as the kubelet would start it, with /tmp (the emptyDir) and /models (the claim) moved into the scene. */
        function runJob(prepare?: (target: string) => void) {
            const s = scene(goodCase());
            prepare?.(s.target);
            const env = Object.fromEntries(Object.entries(envValues(container.env))
                .map(([name, value]) => [name, value.startsWith("/tmp") ? s.scratch + value.slice("/tmp".length) : value]));
            const args = container.args.map((a) => a.startsWith("/models/") ? s.models + a.slice("/models".length) : a);
            const pipLog = path.join(s.dir, "pip.log");
            const [shell, flags, script] = container.command;
            const result = spawnSync(shell, [flags, script, ...args], {
                encoding: "utf8", timeout: 20_000,
                env: {
                    ...env, PATH: `${path.join(work, "bin")}:${searchPath}`, PYTHONDONTWRITEBYTECODE: "1",
                    STUB_HUB_CONFIG: s.config, STUB_PIP_LOG: pipLog, STUB_HUB_SOURCE: path.join(stubLib, "huggingface_hub"),
                },
            });
            const pipCalls = fs.existsSync(pipLog)
                ? fs.readFileSync(pipLog, "utf8").trim().split("\n").map((line) => JSON.parse(line) as { args: string[]; requirements: string }) : [];
            return { ...s, result, pipCalls };
        }

        it("is the shell the module exports, with repo, revision and directory as its arguments", () => {
            assert.deepStrictEqual(container.command, ["/bin/sh", "-ec", DOWNLOAD_SHELL]);
            assert.deepStrictEqual(container.args, [REPO, REVISION, `/models/${REPO}/${REVISION}`]);
        });

        it("installs exactly the hash-pinned wheels, then runs the script with the Job's arguments and scratch settings", () => {
            const { result, pipCalls, target, scratch, entries } = runJob();
            assert.strictEqual(result.status, 0, result.stderr);
            assert.strictEqual(pipCalls.length, 1);
            const [{ args, requirements }] = pipCalls;
            assert.strictEqual(args[0], "install");
            for (const flag of ["--require-hashes", "--no-cache-dir"]) assert.ok(args.includes(flag), flag);
            assert.strictEqual(args[args.indexOf("--only-binary") + 1], ":all:");
            assert.strictEqual(args[args.indexOf("--target") + 1], path.join(scratch, "pylib"));
            assert.strictEqual(args[args.indexOf("-r") + 1], path.join(scratch, "requirements.txt"));
            assert.deepStrictEqual(args.filter((a) => !a.startsWith("-") && a !== "install" && a !== ":all:" && !a.startsWith(scratch)), [], "nothing installed by name, unpinned");
            assert.strictEqual(requirements, downloadRequirements());
            const log = entries();
            assert.deepStrictEqual(log[0], { event: "model_info", repo: REPO, revision: REVISION, files_metadata: true });
            const download = log.find((e) => e.event === "snapshot_download");
            assert.deepStrictEqual(download?.env, {
                HOME: scratch, HF_HOME: path.join(scratch, "huggingface"), HF_XET_CACHE: path.join(scratch, "huggingface", "xet"),
                HF_XET_CHUNK_CACHE_SIZE_BYTES: "0", HF_HUB_DISABLE_TELEMETRY: "1",
            });
            assert.ok(fs.existsSync(path.join(target, ".complete")));
        });

        it("skips a complete revision before installing anything", () => {
            const { result, pipCalls, entries } = runJob((target) => {
                fs.mkdirSync(target, { recursive: true });
                fs.writeFileSync(path.join(target, ".complete"), "{}");
            });
            assert.strictEqual(result.status, 0, result.stderr);
            assert.match(result.stdout, /already complete/);
            assert.deepStrictEqual(pipCalls, []);
            assert.deepStrictEqual(entries(), []);
        });

        it("fails when pip fails, and never runs the script", () => {
            const s = scene(goodCase());
            const failing = path.join(s.dir, "bin");
            fs.mkdirSync(failing);
            // It leaves the stub hub in --target before failing (as a pip that fails late leaves what it had
            // installed): a script run after it would import the stub and log model_info, so "never runs the
            // script" is observed; with nothing installed, a script run would fail on its import and log nothing.
            fs.writeFileSync(path.join(failing, "pip"), [
                "#!/bin/sh",
                "while [ $# -gt 0 ]; do if [ \"$1\" = --target ]; then target=$2; fi; shift; done",
                "mkdir -p \"$target\" && cp -r \"$STUB_HUB_SOURCE\" \"$target/huggingface_hub\"",
                "echo 'ERROR: THESE PACKAGES DO NOT MATCH THE HASHES' >&2",
                "exit 1",
            ].join("\n") + "\n", { mode: 0o755 });
            const result = spawnSync(container.command[0], [container.command[1], container.command[2], REPO, REVISION, s.target], {
                encoding: "utf8", timeout: 20_000,
                env: {
                    HOME: s.scratch, DOWNLOAD_REQUIREMENTS: downloadRequirements(), DOWNLOAD_SCRIPT, PATH: `${failing}:${searchPath}`, STUB_HUB_CONFIG: s.config,
                    STUB_HUB_SOURCE: path.join(stubLib, "huggingface_hub"), PYTHONDONTWRITEBYTECODE: "1",
                },
            });
            assert.strictEqual(result.status, 1, result.stderr);
            assert.ok(fs.existsSync(path.join(s.scratch, "pylib", "huggingface_hub", "__init__.py")), "the failing pip left the stub importable");
            assert.deepStrictEqual(s.entries(), []);
            assert.ok(!fs.existsSync(s.target), "nothing downloaded");
        });
    });

    describe("what it installs, and where hf-xet keeps state", () => {
        const model = { name: "qwen", engine: "vllm" as const, repo: REPO, revision: REVISION };
        const pod = downloadJob(model, { names: modelServerNames(model, "llm"), withToken: false }).spec.template.spec;
        const env = envValues(pod.containers[0].env);

        it("pins huggingface_hub 1.28.0 and exactly its Linux dependency closure, each by sha256", () => {
            assert.deepStrictEqual(DOWNLOAD_WHEELS.map((w) => `${w.name}==${w.version}`), [
                "anyio==4.14.2", "certifi==2026.7.22", "click==8.4.2", "filelock==3.32.3", "fsspec==2026.7.0", "h11==0.16.0",
                "hf-xet==1.6.0", "httpcore==1.0.9", "httpx==0.28.1", "huggingface-hub==1.28.0", "idna==3.19", "packaging==26.3",
                "pyyaml==6.0.3", "tqdm==4.70.0", "typing-extensions==4.16.0",
            ]);
            for (const wheel of DOWNLOAD_WHEELS) {
                assert.ok(wheel.sha256.length > 0 && wheel.sha256.every((h) => /^[0-9a-f]{64}$/.test(h)), wheel.name);
                assert.strictEqual(new Set(wheel.sha256).size, wheel.sha256.length, `${wheel.name}: distinct hashes`);
            }
            // The two platform wheels: one for x86_64 and one for aarch64 (the image is multi-arch).
            assert.deepStrictEqual(DOWNLOAD_WHEELS.filter((w) => w.sha256.length > 1).map((w) => [w.name, w.sha256.length]), [["hf-xet", 2], ["pyyaml", 2]]);
            const lines = downloadRequirements().trimEnd().split("\n");
            assert.strictEqual(lines.length, DOWNLOAD_WHEELS.length);
            for (const line of lines) assert.match(line, /^[a-z0-9-]+==[0-9][0-9.]*( ; [^-]+)? (--hash=sha256:[0-9a-f]{64} ?)+$/);
        });

        it("keeps nothing big in the 2 GiB scratch: hf-xet's chunk cache is off and its state lives in scratch", () => {
            assert.deepStrictEqual(pod.volumes.find((v) => v.name === "tmp"), { name: "tmp", emptyDir: { sizeLimit: "2Gi" } });
            assert.strictEqual(env.HF_XET_CHUNK_CACHE_SIZE_BYTES, "0");
            assert.ok(env.HF_XET_CACHE?.startsWith("/tmp/") && env.HF_HOME?.startsWith("/tmp/"), `${env.HF_XET_CACHE}, ${env.HF_HOME}`);
            // hf-xet < 1.3.0 defaulted to a 10 GB chunk cache; from 1.3.0 the wheels build without one.
            const xet = DOWNLOAD_WHEELS.find((w) => w.name === "hf-xet");
            const [major, minor] = (xet?.version ?? "0.0").split(".").map(Number);
            assert.ok(major > 1 || (major === 1 && minor >= 3), `hf-xet ${xet?.version}`);
        });
    });
});
