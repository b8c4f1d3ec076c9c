/**
 * A chart's own files, read without Helm: its values.yaml, its templates' text and its
 * subcharts (unpacked under charts/ or packed as .tgz), for the values-key check.
 */
import * as fs from "fs";
import * as path from "path";
import { gunzipSync } from "zlib";
import { CORE_SCHEMA, load } from "js-yaml";
import { isRecord } from "../../config/project";

export interface ChartFiles {
    readonly name: string;
    /** values.yaml, parsed ({} when absent). */
    readonly values: Record<string, unknown>;
    /** Every file under templates/, concatenated. */
    readonly templates: string;
    /** Subcharts by the key their values live under in the parent: the dependency's alias, else its name. */
    readonly subcharts: ReadonlyMap<string, ChartFiles>;
    /** Values paths Helm itself reads: the dependencies' `condition`s (`nfd.enabled`). */
    readonly conditions: ReadonlySet<string>;
}

/** The chart in `dir` (a directory with Chart.yaml) and its subcharts. */
export function readChartDirectory(dir: string): ChartFiles {
    const files = new Map<string, Buffer>();
    const walk = (relative: string) => {
        for (const entry of fs.readdirSync(path.join(dir, relative), { withFileTypes: true })) {
            const file = path.posix.join(relative, entry.name);
            if (entry.isDirectory()) {
                walk(file);
            } else if (entry.isFile()) {
                files.set(file, fs.readFileSync(path.join(dir, file)));
            }
        }
    };
    walk("");
    return chartFromFiles(files);
}

/** Files of one chart, paths relative to its root (`Chart.yaml`, `templates/x.yaml`, `charts/sub/...`, `charts/sub.tgz`). */
function chartFromFiles(files: ReadonlyMap<string, Buffer>): ChartFiles {
    const text = (file: string) => files.get(file)?.toString("utf8");
    const metadata = parseYaml(text("Chart.yaml")) ?? {};
    const name = typeof metadata.name === "string" ? metadata.name : "";
    const subcharts = new Map<string, ChartFiles>();
    for (const subchart of subchartsOf(files)) {
        subcharts.set(subchart.name, subchart);
    }
    const conditions = new Set<string>();
    // A dependency's values live under its alias, when it has one (Chart.yaml dependencies[].alias).
    for (const dependency of Array.isArray(metadata.dependencies) ? metadata.dependencies.filter(isRecord) : []) {
        const subchart = typeof dependency.name === "string" ? subcharts.get(dependency.name) : undefined;
        if (subchart && typeof dependency.alias === "string") {
            subcharts.set(dependency.alias, subchart);
        }
        if (typeof dependency.condition === "string") {
            dependency.condition.split(",").forEach((condition) => conditions.add(condition.trim()));
        }
    }
    const templates = [...files].filter(([file]) => file.startsWith("templates/")).map(([, content]) => content.toString("utf8")).join("\n");
    return { name, values: parseYaml(text("values.yaml")) ?? {}, templates, subcharts, conditions };
}

function subchartsOf(files: ReadonlyMap<string, Buffer>): ChartFiles[] {
    const unpacked = new Map<string, Map<string, Buffer>>();
    const packed: ChartFiles[] = [];
    for (const [file, content] of files) {
        const match = /^charts\/([^/]+)\/(.+)$/.exec(file);
        if (match) {
            const chartFiles = unpacked.get(match[1]) ?? new Map<string, Buffer>();
            chartFiles.set(match[2], content);
            unpacked.set(match[1], chartFiles);
        } else if (/^charts\/[^/]+\.tgz$/.test(file)) {
            packed.push(chartFromFiles(stripTopDirectory(untar(gunzipSync(content)))));
        }
    }
    return [...[...unpacked.values()].filter((chartFiles) => chartFiles.has("Chart.yaml")).map(chartFromFiles), ...packed];
}

function parseYaml(text: string | undefined): Record<string, unknown> | undefined {
    const value = text === undefined ? undefined : load(text, { schema: CORE_SCHEMA, json: true });
    return isRecord(value) ? value : undefined;
}

/** A packed chart holds `<name>/...`: its files relative to that directory. */
function stripTopDirectory(files: ReadonlyMap<string, Buffer>): Map<string, Buffer> {
    return new Map([...files].map(([file, content]) => [file.slice(file.indexOf("/") + 1), content]));
}

/** The regular files of a tar archive (ustar, with PAX and GNU long names: Go's archive/tar writes them). */
export function untar(archive: Buffer): Map<string, Buffer> {
    const files = new Map<string, Buffer>();
    let longName: string | undefined;
    for (let offset = 0; offset + 512 <= archive.length;) {
        const header = archive.subarray(offset, offset + 512);
        if (header.every((byte) => byte === 0)) {
            break;
        }
        const field = (start: number, length: number) => header.toString("utf8", start, start + length).replace(/\0.*$/s, "");
        const size = parseInt(field(124, 12).trim() || "0", 8);
        const type = field(156, 1);
        const prefix = field(345, 155);
        const content = archive.subarray(offset + 512, offset + 512 + size);
        const name = longName ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
        longName = undefined;
        if (type === "x") {
            longName = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(content.toString("utf8"))?.[1];
        } else if (type === "L") {
            longName = content.toString("utf8").replace(/\0.*$/s, "");
        } else if (type === "0" || type === "") {
            files.set(name, Buffer.from(content));
        }
        offset += 512 + Math.ceil(size / 512) * 512;
    }
    return files;
}
