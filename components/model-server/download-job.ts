import type { ModelConfig } from "../../config";
import { modelDirectory } from "./engines";
import { DOWNLOAD_COMPONENT, ModelServerNames, commonLabels, restrictedContainerSecurity, restrictedPodSecurity } from "./names";

/**
 * The Job that fills the weights claim with one pinned revision. Idempotent: it exits at
 * once when the revision's marker exists; otherwise it downloads the snapshot, checks every
 * file of the revision against the Hub's listing (size, and sha256 for LFS files), checks
 * that every shard named by a safetensors index is there, and only then writes the marker.
 */

// Docker Hub python 3.12.11-slim-bookworm (official image, multi-arch: the wheels below cover amd64 and arm64).
export const DOWNLOAD_IMAGE = "python:3.12.11-slim-bookworm";
const USER = 1000;
const MOUNT = "/models";

/** One pinned distribution: its version and the sha256 of every wheel pip may pick for it here. */
export interface PinnedWheel {
    readonly name: string;
    readonly version: string;
    /** PEP 508 environment marker, as the requiring package declares it. */
    readonly marker?: string;
    /** Each hash names its wheel file: pure-Python wheels serve both arches, platform wheels are listed per arch. */
    readonly sha256: readonly string[];
}

/**
 * huggingface_hub and everything it installs on CPython 3.12 / Linux, each wheel by sha256, so that
 * `pip install --require-hashes` refuses anything else (and refuses an unlisted dependency).
 * The set: huggingface_hub v1.28.0 `setup.py` install_requires (click, filelock, fsspec, hf-xet with its
 * platform_machine marker, httpx, packaging, pyyaml, tqdm, typing-extensions), closed over the wheels'
 * own requirements (httpx: anyio, certifi, httpcore, idna; httpcore: h11; anyio: idna, typing-extensions;
 * click's and tqdm's colorama is Windows-only). 1.x uses httpx: requests, urllib3 and charset-normalizer
 * are no longer dependencies.
 * Versions and hashes: huggingface/harbor-hf `uv.lock` at commit 5219a30d2ee8857b3c88a3ec172086f97d85ec51
 * (a universal lock: every wheel of every platform, with its sha256). The ten versions huggingface/lerobot
 * also locks (anyio, certifi, click, h11, httpcore, httpx, pyyaml x2, tqdm, typing-extensions) carry the
 * same hashes in its `uv.lock` at commit dc0cee9c75e3cc684e4756013e214888176f2c15; the other six appear,
 * with the same digests, in further independent public lock files and Homebrew formulae.
 * hf-xet 1.6.0 keeps no chunk cache on download (see XET_ENV).
 */
export const DOWNLOAD_WHEELS: readonly PinnedWheel[] = [
    { name: "anyio", version: "4.14.2", sha256: [
        "9f505dda5ac9f0c8309b5e8bd445a8c2bf7246f3ce950121e45ea15bc41d1494", // anyio-4.14.2-py3-none-any.whl
    ] },
    { name: "certifi", version: "2026.7.22", sha256: [
        "62f22742b58a1a33014a2b6b706588a8d7e2a88ae7bd1a6ebe8c992928483775", // certifi-2026.7.22-py3-none-any.whl
    ] },
    { name: "click", version: "8.4.2", sha256: [
        "e6f9f66136c816745b9d65817da91d61d957fb16e02e4dcd0552553c5a197b76", // click-8.4.2-py3-none-any.whl
    ] },
    { name: "filelock", version: "3.32.3", sha256: [
        "7f0ca4bcc0e181c60dbbd8aa9ab5b120ebb99e4e064e83636340056f833a1f09", // filelock-3.32.3-py3-none-any.whl
    ] },
    { name: "fsspec", version: "2026.7.0", sha256: [
        "b57ddbafedfaef7018c1ecab32aa200a9d7ca26b77965f64e48b70061249d279", // fsspec-2026.7.0-py3-none-any.whl
    ] },
    { name: "h11", version: "0.16.0", sha256: [
        "63cf8bbe7522de3bf65932fda1d9c2772064ffb3dae62d55932da54b31cb6c86", // h11-0.16.0-py3-none-any.whl
    ] },
    {
        name: "hf-xet", version: "1.6.0",
        marker: "platform_machine == 'x86_64' or platform_machine == 'amd64' or platform_machine == 'AMD64' or platform_machine == 'arm64' or platform_machine == 'aarch64'",
        sha256: [
            "d62671bb130879cef0ee4c9ebe47a14af6c66ec53e6d84dc15936e5ffdfac82f", // hf_xet-1.6.0-cp38-abi3-manylinux2014_x86_64.manylinux_2_17_x86_64.whl
            "0e6e21fa3cdfcdcd76748564bf593870a5e013f47d97cf10aed63aa222cff5b7", // hf_xet-1.6.0-cp38-abi3-manylinux_2_28_aarch64.whl
        ],
    },
    { name: "httpcore", version: "1.0.9", sha256: [
        "2d400746a40668fc9dec9810239072b40b4484b640a8c38fd654a024c7a1bf55", // httpcore-1.0.9-py3-none-any.whl
    ] },
    { name: "httpx", version: "0.28.1", sha256: [
        "d909fcccc110f8c7faf814ca82a9a4d816bc5a6dbfea25d6591d6985b8ba59ad", // httpx-0.28.1-py3-none-any.whl
    ] },
    { name: "huggingface-hub", version: "1.28.0", sha256: [
        "58a8bacb03072edfc38067065e9dc24bbb34805410fcd36a1632de0b329660bb", // huggingface_hub-1.28.0-py3-none-any.whl
    ] },
    { name: "idna", version: "3.19", sha256: [
        "815e7be7a7806d54abb586dc943addc79e8b2ee16915059658cbeff4b1b43bf4", // idna-3.19-py3-none-any.whl
    ] },
    { name: "packaging", version: "26.3", sha256: [
        "d7193f7c8e4e93f444fde0262bf90af30e16fa0ad0ad44cb553c87339b23cd1c", // packaging-26.3-py3-none-any.whl
    ] },
    { name: "pyyaml", version: "6.0.3", sha256: [
        "ba1cc08a7ccde2d2ec775841541641e4548226580ab850948cbfda66a1befcdc", // pyyaml-6.0.3-cp312-cp312-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl
        "9149cad251584d5fb4981be1ecde53a1ca46c891a79788c0df828d2f166bda28", // pyyaml-6.0.3-cp312-cp312-manylinux2014_aarch64.manylinux_2_17_aarch64.manylinux_2_28_aarch64.whl
    ] },
    { name: "tqdm", version: "4.70.0", sha256: [
        "7f585706bfddbdebf89daac705b2dfcc16890130727d3197ca62c732b4310953", // tqdm-4.70.0-py3-none-any.whl
    ] },
    { name: "typing-extensions", version: "4.16.0", sha256: [
        "481caa481374e813c1b176ada14e97f1f67a4539ce9cfeb3f350d78d6370c2e8", // typing_extensions-4.16.0-py3-none-any.whl
    ] },
];

/** The requirements file pip installs from: one `name==version ; marker --hash=...` line per distribution. */
export function downloadRequirements(wheels: readonly PinnedWheel[] = DOWNLOAD_WHEELS): string {
    return wheels.map(({ name, version, marker, sha256 }) =>
        [`${name}==${version}${marker ? ` ; ${marker}` : ""}`, ...sha256.map((h) => `--hash=sha256:${h}`)].join(" ")).join("\n") + "\n";
}

/** Scratch (the 2 GiB emptyDir): HOME, pip's target, the Hub's and Xet's small state. */
const SCRATCH = "/tmp";
const SCRATCH_LIMIT = "2Gi";

/**
 * Where hf-xet keeps state, and that it keeps no chunk cache. hf-xet up to 1.2.0 cached downloaded chunks in
 * `<HF_XET_CACHE, else $HF_HOME/xet>/<endpoint>/chunk-cache`, 10 GB by default (xet-core v1.2.0
 * `chunk_cache/src/disk.rs` DEFAULT_CHUNK_CACHE_CAPACITY, `data/src/data_client.rs`; the cache root is
 * HF_XET_CACHE, else $HF_HOME/xet, else ~/.cache/huggingface/xet, v1.6.0 `xet_runtime/src/core/cache_dir.rs`):
 * with HF_HOME under /tmp that is the 2 GiB emptyDir. From 1.3.0 the wheels build with the `no-default-cache` feature (xet-core v1.6.0
 * `hf_xet/Cargo.toml` default features; `xet_runtime/src/config/groups/chunk_cache.rs`: capacity 0), and
 * 1.6.0's download path passes no chunk cache at all (`xet_pkg/src/legacy/data_client.rs`
 * `FileDownloadSession::new(config, None)`). HF_XET_CHUNK_CACHE_SIZE_BYTES=0 (the env name of
 * `chunk_cache.size_bytes`, `xet_runtime/src/config/macros.rs`; `CHUNK_CACHE_SIZE_BYTES` in v1.2.0
 * `utils/src/constant_declarations.rs`) says so for any hf-xet. What stays under HF_XET_CACHE is small: an
 * empty staging directory per endpoint and hf-xet's log files (one run's; older ones are pruned above
 * 250 MB, `groups/log.rs`).
 * Partial downloads go to `<local_dir>/.cache/huggingface/download` (huggingface_hub v1.28.0
 * `_local_folder.py`), on the claim, not here.
 */
export const XET_ENV = [
    { name: "HF_XET_CACHE", value: `${SCRATCH}/huggingface/xet` },
    { name: "HF_XET_CHUNK_CACHE_SIZE_BYTES", value: "0" },
] as const;

/** Large weights take a while; a stuck download must still end (and `pulumi up` waits this long). */
export const DOWNLOAD_DEADLINE_SECONDS = 4 * 3600;

/** The Python program the Job runs: argv = repo, revision, directory. */
export const DOWNLOAD_SCRIPT = String.raw`
import hashlib, json, os, pathlib, sys
from huggingface_hub import HfApi, snapshot_download

repo, revision, target = sys.argv[1:4]
root = pathlib.Path(target)
marker = root / ".complete"
if marker.exists():
    print(f"{repo}@{revision} is already complete in {root}")
    sys.exit(0)

info = HfApi().model_info(repo, revision=revision, files_metadata=True)
if info.sha != revision:
    sys.exit(f"{repo}: the Hub resolved {revision} to {info.sha}; pin a full commit hash")
root.mkdir(parents=True, exist_ok=True)
snapshot_download(repo_id=repo, revision=revision, local_dir=str(root), max_workers=4)

def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

problems = []
for sibling in info.siblings:
    path = root / sibling.rfilename
    if not path.is_file():
        problems.append(f"missing {sibling.rfilename}")
    elif sibling.size is not None and path.stat().st_size != sibling.size:
        problems.append(f"{sibling.rfilename}: {path.stat().st_size} bytes, expected {sibling.size}")
    elif sibling.lfs is not None and sha256(path) != sibling.lfs.sha256:
        problems.append(f"{sibling.rfilename}: sha256 mismatch")
index = root / "model.safetensors.index.json"
if index.is_file():
    for shard in sorted(set(json.loads(index.read_text())["weight_map"].values())):
        if not (root / shard).is_file():
            problems.append(f"missing shard {shard}")
if problems:
    sys.exit("incomplete download: " + "; ".join(problems))

partial = root / ".complete.partial"
partial.write_text(json.dumps({"repo": repo, "revision": revision, "files": len(info.siblings)}))
os.replace(partial, marker)
print(f"{repo}@{revision}: {len(info.siblings)} files verified")
`;

export interface DownloadJobOptions {
    readonly names: ModelServerNames;
    /** Whether a token Secret exists (names.tokenSecret, key "token"). */
    readonly withToken: boolean;
}

/**
 * The container's shell: argv is `$0` repo, `$1` revision, `$2` directory. A re-run skips before installing
 * anything; pip installs exactly DOWNLOAD_WHEELS (hash-checking mode also rejects any requirement that is not
 * pinned and hashed, so a dependency missing from the list fails the install instead of floating), wheels
 * only, into scratch; the script runs with the same arguments.
 */
export const DOWNLOAD_SHELL = [
    `if [ -f "$2/.complete" ]; then echo "already complete: $2/.complete"; exit 0; fi`,
    `printf '%s' "$DOWNLOAD_REQUIREMENTS" > "$HOME/requirements.txt"`,
    `pip install --quiet --no-cache-dir --disable-pip-version-check --require-hashes --only-binary :all: --upgrade --target "$HOME/pylib" -r "$HOME/requirements.txt"`,
    `PYTHONPATH="$HOME/pylib" exec python3 -c "$DOWNLOAD_SCRIPT" "$0" "$1" "$2"`,
].join("\n");

/** The download Job's object body (metadata and spec). */
export function downloadJob(model: Pick<ModelConfig, "name" | "engine" | "repo" | "revision">, { names, withToken }: DownloadJobOptions) {
    const labels = { ...commonLabels(model), ...DOWNLOAD_COMPONENT };
    return {
        metadata: { name: names.downloadJob, namespace: names.namespace, labels },
        spec: {
            backoffLimit: 4,
            activeDeadlineSeconds: DOWNLOAD_DEADLINE_SECONDS,
            template: {
                metadata: { labels },
                spec: {
                    restartPolicy: "OnFailure",
                    automountServiceAccountToken: false,
                    enableServiceLinks: false,
                    securityContext: restrictedPodSecurity(USER),
                    containers: [{
                        name: "download",
                        image: DOWNLOAD_IMAGE,
                        command: ["/bin/sh", "-ec", DOWNLOAD_SHELL],
                        args: [model.repo, model.revision, modelDirectory(model, MOUNT)],
                        env: [
                            { name: "HOME", value: SCRATCH },
                            { name: "HF_HOME", value: `${SCRATCH}/huggingface` },
                            ...XET_ENV,
                            { name: "HF_HUB_DISABLE_TELEMETRY", value: "1" },
                            { name: "DOWNLOAD_REQUIREMENTS", value: downloadRequirements() },
                            { name: "DOWNLOAD_SCRIPT", value: DOWNLOAD_SCRIPT },
                            ...(withToken ? [{ name: "HF_TOKEN", valueFrom: { secretKeyRef: { name: names.tokenSecret, key: "token" } } }] : []),
                        ],
                        resources: {
                            requests: { cpu: "500m", memory: "1Gi" },
                            limits: { cpu: "2", memory: "4Gi" },
                        },
                        securityContext: restrictedContainerSecurity(),
                        volumeMounts: [
                            { name: "weights", mountPath: MOUNT },
                            { name: "tmp", mountPath: SCRATCH },
                        ],
                    }],
                    volumes: [
                        { name: "weights", persistentVolumeClaim: { claimName: names.claim } },
                        { name: "tmp", emptyDir: { sizeLimit: SCRATCH_LIMIT } },
                    ],
                },
            },
        },
    };
}
