import type { PolicyConfigJSONSchema } from "@pulumi/policy/schema";
import { parseImage } from "../lib/images";
import { isEngineImage, modelServerImagesSchema } from "../lib/model-servers";
import { ContainerRef, Workload, describeContainer } from "../lib/pods";
import { RuleConfig, podRule, show } from "../lib/rule";
import { Props, asArray, asRecord, asString, at } from "../lib/values";
import { DEFAULT_NODE_AGENTS, isNodeAgent } from "./pods-gpu";

const nodeAgentsSchema = (description: string): PolicyConfigJSONSchema => ({
    type: "array", items: { type: "string" }, default: DEFAULT_NODE_AGENTS, description,
});

const where = (workload: Workload, ref: ContainerRef) => `${workload.kind} ${workload.name}: ${describeContainer(ref)}`;

interface ImageConfig extends RuleConfig {
    readonly requireDigestForModelServers: boolean;
    readonly modelServerImages: readonly string[];
}

/** Kyverno disallow-latest-tag, Gatekeeper K8sDisallowedTags, kube-linter latest-tag. */
export const imagePinned = podRule<ImageConfig>({
    name: "image-pinned",
    description: "Every image has a digest or a tag other than latest; serving-engine images by digest where configured.",
    enforcementLevel: "mandatory",
    properties: {
        requireDigestForModelServers: { type: "boolean", default: false, description: "Require serving-engine images to be pinned by digest." },
        modelServerImages: modelServerImagesSchema,
    },
}, (workload, config, reportViolation) => {
    for (const ref of workload.containers) {
        const image = asString(ref.container.image);
        if (image === undefined) {
            reportViolation(`${where(workload, ref)} has no image.`);
            continue;
        }
        const { tag, digest } = parseImage(image);
        if (!digest && (!tag || tag === "latest")) {
            reportViolation(`${where(workload, ref)} image ${show(image)} is not pinned: use a version tag or a digest (@sha256:...), not ${tag ? "latest" : "an implicit latest"}.`);
        } else if (!digest && config.requireDigestForModelServers && isEngineImage(image, config.modelServerImages)) {
            reportViolation(`${where(workload, ref)} serving-engine image ${show(image)} must be pinned by digest (@sha256:...).`);
        }
    }
});

interface RestrictedConfig extends RuleConfig {
    readonly nodeAgents: readonly string[];
}

/** A container setting wins over the pod's (Kubernetes securityContext precedence). */
function effective(spec: Props, container: Props, ...path: string[]): unknown {
    const own = at(container, "securityContext", ...path);
    return own !== undefined ? own : at(spec, "securityContext", ...path);
}

/** Kyverno pod-security/restricted, Gatekeeper K8sPSP*: the Pod Security Standard "restricted". */
export const podSecurityRestricted = podRule<RestrictedConfig>({
    name: "pod-security-restricted",
    description: "Containers run as non-root, without privilege escalation, dropping ALL capabilities, with the RuntimeDefault seccomp profile, never privileged.",
    enforcementLevel: "mandatory",
    properties: { nodeAgents: nodeAgentsSchema("Node-agent DaemonSets (by name; * matches any text) that need host privileges and are exempt.") },
}, (workload, config, reportViolation) => {
    if (isNodeAgent(workload, config.nodeAgents)) {
        return;
    }
    for (const ref of workload.containers) {
        const problems: string[] = [];
        if (effective(workload.spec, ref.container, "runAsNonRoot") !== true) {
            problems.push("runAsNonRoot is not true");
        }
        if (effective(workload.spec, ref.container, "runAsUser") === 0) {
            problems.push("runAsUser is 0 (root)");
        }
        if (at(ref.container, "securityContext", "allowPrivilegeEscalation") !== false) {
            problems.push("allowPrivilegeEscalation is not false");
        }
        // The API server matches capability names exactly: "all" drops nothing.
        if (!asArray(at(ref.container, "securityContext", "capabilities", "drop")).includes("ALL")) {
            problems.push('capabilities.drop does not include "ALL"');
        }
        const seccomp = asString(effective(workload.spec, ref.container, "seccompProfile", "type"));
        if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost") {
            problems.push(`seccompProfile.type is ${seccomp ? show(seccomp) : "unset"}, not RuntimeDefault`);
        }
        if (at(ref.container, "securityContext", "privileged") === true) {
            problems.push("privileged is true");
        }
        if (problems.length > 0) {
            reportViolation(`${where(workload, ref)} is not restricted: ${problems.join("; ")}.`);
        }
    }
});

interface HostConfig extends RuleConfig {
    readonly allowedHostPaths: readonly string[];
    readonly nodeAgents: readonly string[];
}

/** True when `path` is `prefix` or below it, segment by segment: /a/b allows /a/b/c, not /a/bc. */
export function underPrefix(path: string, prefix: string): boolean {
    const segments = (value: string) => value.split("/").filter((segment) => segment !== "" && segment !== ".");
    const [pathSegments, prefixSegments] = [segments(path), segments(prefix)];
    if (pathSegments.includes("..")) {
        return false;
    }
    return prefixSegments.length <= pathSegments.length && prefixSegments.every((segment, index) => pathSegments[index] === segment);
}

/** Kyverno disallow-host-namespaces/disallow-host-path, Gatekeeper K8sPSPHostNamespace/HostFilesystem. */
export const hostIsolation = podRule<HostConfig>({
    name: "host-isolation",
    description: "Pods do not share the host's network, PID or IPC namespaces, and mount only allowlisted host paths.",
    enforcementLevel: "mandatory",
    properties: {
        allowedHostPaths: {
            type: "array", items: { type: "string" }, default: [],
            description: "Host path prefixes any pod may mount, matched by whole path segment.",
        },
        nodeAgents: nodeAgentsSchema("Node-agent DaemonSets (by name; * matches any text) that need host namespaces or paths and are exempt."),
    },
}, (workload, config, reportViolation) => {
    if (isNodeAgent(workload, config.nodeAgents)) {
        return;
    }
    for (const field of ["hostNetwork", "hostPID", "hostIPC"]) {
        if (workload.spec[field] === true) {
            reportViolation(`${workload.kind} ${workload.name} sets ${field}: true; pods must not share the host's namespaces.`);
        }
    }
    for (const value of asArray(workload.spec.volumes)) {
        const volume = asRecord(value);
        const path = asString(at(volume, "hostPath", "path"));
        if (volume.hostPath !== undefined && !(path && config.allowedHostPaths.some((prefix) => underPrefix(path, prefix)))) {
            reportViolation(`${workload.kind} ${workload.name} mounts host path ${show(path ?? "(none)")} (volume ${show(volume.name)}), which is not allowlisted.`);
        }
    }
});

interface SecretsConfig extends RuleConfig {
    readonly secretNamePattern: string;
}

/** Credential shapes that are secret whatever the variable is called. */
const SECRET_VALUES = [/\bhf_[A-Za-z0-9]{20,}/, /\bAKIA[0-9A-Z]{16}\b/, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, /^\[secret\]$/];

/** Polaris sensitiveContainerEnvVar, kube-linter env-var-secret. */
export const noLiteralSecrets = podRule<SecretsConfig>({
    name: "no-literal-secrets",
    description: "No secret (a token, password or key) is written in clear as an environment value; it comes from a Secret via secretKeyRef.",
    enforcementLevel: "mandatory",
    properties: {
        secretNamePattern: {
            type: "string", default: "(TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?)",
            description: "Case-insensitive regular expression for environment variable names that hold secrets.",
        },
    },
}, (workload, config, reportViolation) => {
    const secretName = new RegExp(config.secretNamePattern, "i");
    for (const ref of workload.containers) {
        for (const value of asArray(ref.container.env)) {
            const variable = asRecord(value);
            const name = asString(variable.name) ?? "(unnamed)";
            const literal = variable.value;
            if (typeof literal !== "string" || literal === "") {
                continue;
            }
            if (secretName.test(name) || SECRET_VALUES.some((pattern) => pattern.test(literal))) {
                // The value itself is never repeated: this message ends up in CI logs.
                reportViolation(`${where(workload, ref)} sets env ${name} to a literal value that looks secret; take it from a Secret with valueFrom.secretKeyRef.`);
            }
        }
    }
});

export const securityRules = [imagePinned, podSecurityRestricted, hostIsolation, noLiteralSecrets];
