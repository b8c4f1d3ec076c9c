/**
 * npm run check -- [--format json] [--stack <name>] <file.yaml>...
 *
 * Evaluates plain Kubernetes manifests with the llm-platform policy pack. All documents
 * of one call form one stack; `--stack` applies that stack's pack config
 * (policies/config/<stack>.json: levels and exemptions), as `npm run plan` does. A mapping key written twice is read as Kubernetes reads it,
 * the last value winning, with a warning on stderr naming the file and line. Exit status:
 * 0 no mandatory violation, 1 a mandatory violation, 2 unreadable input or bad usage,
 * 3 a rule itself failed (a bug).
 */
import type { PolicyPackConfig } from "@pulumi/policy";
import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "util";
import { packArgs } from "../policies/pack";
import { PROJECT_DIR, isRecord } from "../config/project";
import { exitWhenFlushed } from "./offline/exit";
import { parseManifestDocuments } from "./offline/manifest-documents";
import { typeToken } from "./offline/manifests";
import { packConfigPath, readPackConfig } from "./offline/pack-config";
import { PolicyReport, PolicySubject, evaluatePolicies, violationLine } from "./offline/policies";
import { InputError, stackFilePath, stackOption } from "./offline/stack-file";

const USAGE = "usage: npm run check -- [--format json] [--stack <name>] <file.yaml>...";

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

/** The stacks of the project: its `Pulumi.<stack>.yaml` files. */
function projectStacks(): string[] {
    return fs.readdirSync(PROJECT_DIR).flatMap((name) => /^Pulumi\.([\w.-]+)\.yaml$/.exec(name)?.[1] ?? []).sort();
}

/**
 * The pack config `--stack` names: policies/config/<stack>.json, or none for a stack without one
 * (the rules' own levels, as the plan runs it); an InputError naming the file for a stack the
 * project does not have.
 */
export function stackPackConfig(stack: string, policies = packArgs.policies): PolicyPackConfig | undefined {
    const file = packConfigPath(stack);
    if (!fs.existsSync(file) && !fs.existsSync(stackFilePath(PROJECT_DIR, stack))) {
        const relative = path.relative(PROJECT_DIR, file);
        throw new InputError(`${relative}: no such file, and no stack ${stack} (Pulumi.${stack}.yaml); the stacks are ${projectStacks().join(", ")}`);
    }
    return readPackConfig(file, policies);
}

/** Evaluates the pack on every document of `files` as one stack; `warn` hears each parse warning. */
export async function checkManifests(
    files: readonly { file: string; text: string }[], policies = packArgs.policies, config?: PolicyPackConfig,
    warn: (warning: string) => void = () => undefined, stack = "manifests",
): Promise<PolicyReport> {
    const subjects = files.flatMap(({ file, text }) => {
        const parsed = manifestSubjects(file, text);
        parsed.warnings.forEach(warn);
        return parsed.subjects;
    });
    return evaluatePolicies(policies, subjects, { stack, packEnforcementLevel: packArgs.enforcementLevel, config });
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
            parsed = parseArgs({ args: argv, options: { format: { type: "string", default: "text" }, stack: { type: "string" } }, allowPositionals: true, strict: true });
        } catch (error) {
            throw new InputError(`${(error as Error).message.split("\n")[0]}; ${USAGE}`);
        }
        const { values, positionals } = parsed;
        // `npm run check --stack=local x.yaml` (no `--`): npm keeps the option as its own config,
        // npm_config_stack, and the check would run without the stack's pack config.
        if (values.stack === undefined && process.env.npm_config_stack !== undefined) {
            throw new InputError("--stack went to npm, not to the check: npm run check -- --stack <name> <file.yaml>...");
        }
        if (positionals.length === 0 || (values.format !== "text" && values.format !== "json")) {
            throw new InputError(USAGE);
        }
        const stack = values.stack === undefined ? undefined : stackOption(values.stack, USAGE);
        const config = stack === undefined ? undefined : stackPackConfig(stack);
        // Warnings on stderr: they change neither the report nor the exit status.
        const report = await checkManifests(readInputs(positionals), undefined, config, (warning) => console.error(`warning: ${warning}`), stack);
        if (values.format === "json") {
            console.log(JSON.stringify(report, null, 2));
        } else {
            report.violations.forEach((v) => console.log(violationLine(v)));
            const packConfig = stack === undefined ? "" : config
                ? ` (stack ${stack}: ${path.relative(PROJECT_DIR, packConfigPath(stack))})` : ` (stack ${stack}: no pack config, the rules' own levels)`;
            console.log(`${report.violations.length} violations in ${positionals.length} files${packConfig}`);
        }
        return report.violations.some((v) => v.enforcementLevel === "mandatory") ? 1 : 0;
    } catch (error) {
        if (error instanceof InputError) {
            error.message.split("\n").forEach((line) => console.error(`error: ${line}`));
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
