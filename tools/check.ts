/**
 * npm run check -- [--format json] <file.yaml>...
 *
 * Evaluates plain Kubernetes manifests with the llm-platform policy pack. All documents
 * of one call form one stack. A mapping key written twice is read as Kubernetes reads it,
 * the last value winning, with a warning on stderr naming the file and line. Exit status:
 * 0 no mandatory violation, 1 a mandatory violation, 2 unreadable input or bad usage,
 * 3 a rule itself failed (a bug).
 */
import type { PolicyPackConfig } from "@pulumi/policy";
import * as fs from "fs";
import { parseArgs } from "util";
import { packArgs } from "../policies/pack";
import { isRecord } from "../config/project";
import { exitWhenFlushed } from "./offline/exit";
import { parseManifestDocuments } from "./offline/manifest-documents";
import { typeToken } from "./offline/manifests";
import { PolicyReport, PolicySubject, evaluatePolicies } from "./offline/policies";
import { InputError } from "./offline/stack-file";

const USAGE = "usage: npm run check -- [--format json] <file.yaml>...";

/**
 * The documents of a YAML text as policy subjects, and the warnings of its parse (a key
 * written twice); throws InputError naming the file.
 */
export function manifestSubjects(file: string, text: string): { subjects: PolicySubject[]; warnings: string[] } {
    const { documents, warnings } = parseManifestDocuments(file, text);
    const subjects: PolicySubject[] = [];
    documents.forEach((object, index) => {
        if (object === null || object === undefined) {
            return;
        }
        if (!isRecord(object) || typeof object.apiVersion !== "string" || typeof object.kind !== "string") {
            throw new InputError(`${file}: document ${index + 1}: not a Kubernetes object (apiVersion and kind are required)`);
        }
        const metadata = isRecord(object.metadata) ? object.metadata : {};
        const name = typeof metadata.name === "string" ? metadata.name : `${object.kind.toLowerCase()}-${index + 1}`;
        const namespace = typeof metadata.namespace === "string" ? metadata.namespace : "";
        const type = typeToken(object.apiVersion, object.kind);
        subjects.push({ type, name, urn: `urn:pulumi:check::manifests::${type}::${namespace}/${name}#${file}:${index}`, props: object });
    });
    return { subjects, warnings };
}

/** Evaluates the pack on every document of `files` as one stack; `warn` hears each parse warning. */
export async function checkManifests(
    files: readonly { file: string; text: string }[], policies = packArgs.policies, config?: PolicyPackConfig,
    warn: (warning: string) => void = () => undefined,
): Promise<PolicyReport> {
    const subjects = files.flatMap(({ file, text }) => {
        const parsed = manifestSubjects(file, text);
        parsed.warnings.forEach(warn);
        return parsed.subjects;
    });
    return evaluatePolicies(policies, subjects, { stack: "manifests", packEnforcementLevel: packArgs.enforcementLevel, config });
}

function readInputs(paths: readonly string[]): { file: string; text: string }[] {
    return paths.map((file) => {
        try {
            return { file, text: fs.readFileSync(file, "utf8") };
        } catch {
            throw new InputError(`${file}: cannot read the file`);
        }
    });
}

async function main(argv: string[]): Promise<number> {
    try {
        let parsed;
        try {
            parsed = parseArgs({ args: argv, options: { format: { type: "string", default: "text" } }, allowPositionals: true, strict: true });
        } catch (error) {
            throw new InputError(`${(error as Error).message.split("\n")[0]}; ${USAGE}`);
        }
        const { values, positionals } = parsed;
        if (positionals.length === 0 || (values.format !== "text" && values.format !== "json")) {
            throw new InputError(USAGE);
        }
        // Warnings on stderr: they change neither the report nor the exit status.
        const report = await checkManifests(readInputs(positionals), undefined, undefined, (warning) => console.error(`warning: ${warning}`));
        if (values.format === "json") {
            console.log(JSON.stringify(report, null, 2));
        } else {
            report.violations.forEach((v) => console.log(`[${v.enforcementLevel}] ${v.policy}: ${v.resourceType} ${v.resourceName}: ${v.message}`));
            console.log(`${report.violations.length} violations in ${positionals.length} files`);
        }
        return report.violations.some((v) => v.enforcementLevel === "mandatory") ? 1 : 0;
    } catch (error) {
        if (error instanceof InputError) {
            console.error(`error: ${error.message}`);
            return 2;
        }
        // Not 1: a crashing rule must not pass for a policy violation.
        console.error(`error: the policy evaluation failed: ${error instanceof Error ? error.stack : String(error)}`);
        return 3;
    }
}

if (require.main === module) {
    main(process.argv.slice(2)).then(exitWhenFlushed);
}
