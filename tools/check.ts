/**
 * npm run check -- [--format json] <file.yaml>...
 *
 * Evaluates plain Kubernetes manifests with the llm-platform policy pack. All documents
 * of one call form one stack. Exit status: 0 no mandatory violation, 1 a mandatory
 * violation, 2 unreadable input or bad usage, 3 a rule itself failed (a bug).
 */
import type { PolicyPackConfig } from "@pulumi/policy";
import * as fs from "fs";
import { parseArgs } from "util";
import { CORE_SCHEMA, loadAll } from "js-yaml";
import { packArgs } from "../policies/pack";
import { isRecord } from "../config/project";
import { PolicyReport, PolicySubject, evaluatePolicies } from "./offline/policies";
import { InputError } from "./offline/stack-file";

const USAGE = "usage: npm run check -- [--format json] <file.yaml>...";

/** `apps/v1` + `Deployment` -> `kubernetes:apps/v1:Deployment`, as @pulumi/kubernetes names it. */
export function typeToken(apiVersion: string, kind: string): string {
    return `kubernetes:${apiVersion.includes("/") ? apiVersion : `core/${apiVersion}`}:${kind}`;
}

/** The documents of a YAML text as policy subjects; throws InputError naming the file. */
export function manifestSubjects(file: string, text: string): PolicySubject[] {
    let documents: unknown[];
    try {
        documents = loadAll(text, undefined, { schema: CORE_SCHEMA }).flatMap(listItems);
    } catch (error) {
        throw new InputError(`${file}: not valid YAML: ${(error as Error).message.split("\n")[0]}`);
    }
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
    return subjects;
}

/** A `kind: List` (what `kubectl get -o yaml` prints) stands for its items. */
function listItems(document: unknown): unknown[] {
    return isRecord(document) && typeof document.kind === "string" && /List$/.test(document.kind) && Array.isArray(document.items)
        ? document.items : [document];
}

export async function checkManifests(
    files: readonly { file: string; text: string }[], policies = packArgs.policies, config?: PolicyPackConfig,
): Promise<PolicyReport> {
    const subjects = files.flatMap(({ file, text }) => manifestSubjects(file, text));
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
        const report = await checkManifests(readInputs(positionals));
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
    main(process.argv.slice(2)).then((code) => process.exit(code));
}
