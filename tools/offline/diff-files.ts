/**
 * The files of a plan's out directory that the diff compares (./diff.ts), read back, and the
 * diff's own files. A file the diff needs and cannot read is an InputError naming it.
 */
import * as fs from "fs";
import * as path from "path";
import { isRecord } from "../../config/project";
import { PlanDiff, PlanFiles, PlannedResource } from "./diff";
import { diffMarkdown } from "./diff-markdown";
import type { Violation } from "./policies";
import { InputError } from "./stack-file";
import type { StackSummary } from "./summary";

/** resources.json and policy-report.json (required), summary.json and secrets.json (when there). */
export function readPlanFiles(dir: string): PlanFiles {
    const resources = readJson(dir, "resources.json", true);
    const report = readJson(dir, "policy-report.json", true);
    if (!Array.isArray(resources)) {
        throw new InputError(`${path.join(dir, "resources.json")}: expected a list of resources`);
    }
    if (!isRecord(report) || !Array.isArray(report.violations)) {
        throw new InputError(`${path.join(dir, "policy-report.json")}: expected { "violations": [...] }`);
    }
    const secrets = readJson(dir, "secrets.json", false);
    return {
        resources: resources as PlannedResource[],
        violations: report.violations as Violation[],
        summary: (readJson(dir, "summary.json", false) ?? null) as StackSummary | null,
        secrets: isRecord(secrets) ? (secrets as Record<string, string>) : null,
    };
}

function readJson(dir: string, name: string, required: boolean): unknown {
    const file = path.join(dir, name);
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch {
        if (required) {
            throw new InputError(`${file}: cannot read it (--diff takes the --out directory of an earlier plan)`);
        }
        return undefined;
    }
    try {
        return JSON.parse(text);
    } catch (error) {
        throw new InputError(`${file}: not valid JSON: ${(error as Error).message.split("\n")[0]}`);
    }
}

/** diff.json and diff.md into `dir`. */
export function writeDiff(dir: string, diff: PlanDiff): void {
    fs.writeFileSync(path.join(dir, "diff.json"), `${JSON.stringify(diff, null, 2)}\n`);
    fs.writeFileSync(path.join(dir, "diff.md"), diffMarkdown(diff));
}
