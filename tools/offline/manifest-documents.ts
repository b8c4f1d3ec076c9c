/**
 * Kubernetes manifests as the cluster reads them: every document of a multi-document YAML
 * text, `kind: *List` expanded into its items, and a mapping key written twice accepted
 * with the last value winning, as Kubernetes decodes it, with a warning naming the line.
 *
 * Why the last value wins: the API machinery decodes a manifest with sigs.k8s.io/yaml in
 * its non-strict mode (kubernetes/apimachinery `pkg/util/yaml/decoder.go` YAMLToJSONDecoder
 * calls `yaml.Unmarshal`; `pkg/runtime/serializer/json/json.go` converts with `YAMLToJSON`
 * and only its `Strict` option reports duplicates), which converts with go.yaml.in/yaml/v2
 * `yaml.Unmarshal` (kubernetes-sigs/yaml `yaml.go`); that decoder stores the pairs of a
 * mapping in order and only refuses a key "already set in map" when strict (yaml/go-yaml
 * v2.4.2 `decode.go` `setMapIndex`). pulumi-kubernetes parses rendered Helm charts with
 * the same decoder (`provider/pkg/provider/yaml/v2/yaml.go`, `NewYAMLOrJSONDecoder`).
 */
import { CORE_SCHEMA, State, loadAll } from "js-yaml";
import { isRecord } from "../../config/project";
import { InputError } from "./stack-file";

export interface ManifestDocuments {
    /** The documents in order, each `kind: *List` replaced by its items; an empty document is null. */
    readonly documents: unknown[];
    /** One line per duplicated key: `<file>:<line>: duplicate key "<key>" (...)`, in the order of the text. */
    readonly warnings: string[];
}

/** A key of a mapping: its text as js-yaml stores it, its 0-based line, and where it ends in the text. */
interface KeyAt {
    readonly key: string;
    readonly line: number;
    readonly position: number;
}

/**
 * The documents of `text` (YAML 1.2 core schema: `2025-01-01` stays a string, as the
 * Pulumi CLI reads YAML). Invalid YAML throws an InputError naming the file.
 */
export function parseManifestDocuments(file: string, text: string): ManifestDocuments {
    const duplicates = new DuplicateKeys();
    let documents: unknown[];
    try {
        // `json: true` makes js-yaml let a later key override an earlier one instead of throwing
        // "duplicated mapping key" (js-yaml 4.3.2 lib/loader.js `storeMappingPair`); the listener sees where.
        documents = loadAll(text, undefined, { schema: CORE_SCHEMA, json: true, listener: duplicates.listener })
            .flatMap(listItems);
    } catch (error) {
        throw new InputError(`${file}: not valid YAML: ${(error as Error).message.split("\n")[0]}`);
    }
    const warnings = [...duplicates.found].sort((a, b) => a.position - b.position).map(({ key, line }) =>
        `${file}:${line + 1}: duplicate key ${JSON.stringify(key)} (the last value wins, as Kubernetes decodes it)`);
    return { documents, warnings };
}

/** A `kind: List` (what `kubectl get -o yaml` prints) stands for its items. */
function listItems(document: unknown): unknown[] {
    return isRecord(document) && typeof document.kind === "string" && /List$/.test(document.kind) && Array.isArray(document.items)
        ? document.items : [document];
}

/**
 * Finds duplicated keys from js-yaml's parse events. js-yaml calls the listener with
 * "open" and "close" around every node it composes (lib/loader.js `composeNode`), and
 * composes the keys and values of a mapping as nodes nested directly in the mapping's
 * (`readBlockMapping`, `readFlowCollection`). A node is a key when the text right after
 * it on its line is the `:` separator (an implicit key, what `helm template`, kubectl and
 * YAML writers produce), or when it opens right after a `?` indicator (an explicit key).
 * When a mapping closes, a key text seen twice among its keys is a duplicate, reported
 * at the later one.
 */
class DuplicateKeys {
    readonly found: KeyAt[] = [];
    /** For each node being read, innermost last: its keys so far (none yet: undefined)... */
    private readonly keysOf: (KeyAt[] | undefined)[] = [];
    /** ...and whether it opened after a `?` indicator. */
    private readonly explicitKey: boolean[] = [];

    readonly listener = (event: "open" | "close", state: State): void => {
        if (event === "open") {
            this.keysOf.push(undefined);
            this.explicitKey.push(afterExplicitKeyIndicator(state));
            return;
        }
        const keys = this.keysOf.pop();
        const explicitKey = this.explicitKey.pop();
        if (state.kind === "mapping" && keys && keys.length > 1) {
            this.found.push(...repeated(keys));
        }
        const parent = this.keysOf.length - 1;
        if (parent >= 0 && state.kind === "scalar" && (explicitKey || followedBySeparator(state))) {
            (this.keysOf[parent] ??= []).push({ key: String(state.result), line: state.line, position: state.position });
        }
    };
}

/** The keys whose text an earlier key of the same mapping already had. */
function repeated(keys: readonly KeyAt[]): KeyAt[] {
    const seen = new Set<string>();
    return keys.filter(({ key }) => seen.has(key) || !seen.add(key));
}

/** Whether the next character after the node, past spaces and tabs, is `:`. */
function followedBySeparator(state: State): boolean {
    let position = state.position;
    while (state.input[position] === " " || state.input[position] === "\t") {
        position++;
    }
    return state.input[position] === ":";
}

/** Whether the last character before the node, past spaces and tabs, is a `?` indicator. */
function afterExplicitKeyIndicator(state: State): boolean {
    let position = state.position - 1;
    while (state.input[position] === " " || state.input[position] === "\t") {
        position--;
    }
    return state.input[position] === "?" && /^[\s{,[]?$/.test(state.input[position - 1] ?? "");
}
