import type { ModelConfig } from "../../config";
import { completeMarker, modelDirectory } from "../engines";
import { ModelServerNames, commonLabels, restrictedContainerSecurity, restrictedPodSecurity } from "./names";

/**
 * The Job that fills the weights claim with one pinned revision. Idempotent: it exits at
 * once when the revision's marker exists; otherwise it downloads the snapshot, checks every
 * file of the revision against the Hub's listing (size, and sha256 for LFS files), checks
 * that every shard named by a safetensors index is there, and only then writes the marker.
 */

// Docker Hub python 3.12.11-slim-bookworm (official image); huggingface_hub 0.35.3 from PyPI.
export const DOWNLOAD_IMAGE = "python:3.12.11-slim-bookworm";
export const HUGGINGFACE_HUB = "huggingface_hub==0.35.3";
const USER = 1000;
const MOUNT = "/models";

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

/** The download Job's object body (metadata and spec). */
export function downloadJob(model: ModelConfig, { names, withToken }: DownloadJobOptions) {
    const labels = { ...commonLabels(model), "app.kubernetes.io/component": "model-download" };
    const marker = completeMarker(model, MOUNT);
    const shell = [
        // Re-runs skip before installing anything.
        `if [ -f "${marker}" ]; then echo "already complete: ${marker}"; exit 0; fi`,
        `pip install --quiet --no-cache-dir --disable-pip-version-check --target /tmp/pylib '${HUGGINGFACE_HUB}'`,
        `PYTHONPATH=/tmp/pylib exec python3 -c "$DOWNLOAD_SCRIPT" "$0" "$1" "$2"`,
    ].join("\n");
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
                        command: ["/bin/sh", "-ec", shell],
                        args: [model.repo, model.revision, modelDirectory(model, MOUNT)],
                        env: [
                            { name: "HOME", value: "/tmp" },
                            { name: "HF_HOME", value: "/tmp/huggingface" },
                            { name: "HF_HUB_DISABLE_TELEMETRY", value: "1" },
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
                            { name: "tmp", mountPath: "/tmp" },
                        ],
                    }],
                    volumes: [
                        { name: "weights", persistentVolumeClaim: { claimName: names.claim } },
                        { name: "tmp", emptyDir: { sizeLimit: "2Gi" } },
                    ],
                },
            },
        },
    };
}
