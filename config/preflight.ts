/**
 * The config checks of an aws stack that need the network or the account, made while the
 * program runs (config.ts checks the rest before, with no credentials): who runs pulumi up, for
 * `cluster.deployerCidrs: [detect]`, and who created the cluster, for `cluster.adminRoleArns`.
 */
import * as pulumi from "@pulumi/pulumi";
import type { ClusterConfig } from "../config";
import { CHECKIP_URL, DETECT_DEPLOYER, OFFLINE_DEPLOYER_ADDRESS, checkipCidr } from "../lib/eks";
import { ClusterCreator, adminRoleProblems } from "./aws";
import { ConfigError, problemAt } from "./errors";
import { isRecord } from "./project";

/**
 * A ConfigError whose message and stack stay its problems. A refusal made while the program
 * runs (the preflight's, or the admin roles') reaches every resource that waits for it, and
 * Pulumi prefixes the message of an error at each property it passes through (`error
 * serializing property "clusterName": ...`, @pulumi/pulumi runtime/rpc.ts serializeProperties,
 * checked in 3.270.0, which keeps the error object so that the uncaught handler reports it
 * once): without this, `pulumi up` would print the lines under dozens of prefixes.
 */
class PreflightError extends ConfigError {
    constructor(problems: readonly string[]) {
        super(problems);
        const message = problems.join("\n");
        Object.defineProperty(this, "message", { get: () => message, set: () => undefined });
        Object.defineProperty(this, "stack", { get: () => `${this.name}: ${message}`, set: () => undefined });
    }
}

/** What the preflight learns: this machine's public address as a /32, when the stack says `detect`. */
export interface Preflight {
    readonly deployerCidr?: string;
}

/**
 * The config check that needs the network before any AWS resource (config.ts checks the rest,
 * with no credentials): `detect` in `cluster.deployerCidrs` must learn this machine's address.
 * Rejects with a ConfigError, a RunError, which `pulumi up` prints as its lines, with no stack
 * trace (@pulumi/pulumi cmd/run/run.ts, uncaughtHandler).
 */
export async function awsPreflight(cluster: ClusterConfig): Promise<Preflight> {
    const deployer = await detectDeployer(cluster);
    if (deployer.problems.length > 0) {
        throw new PreflightError(deployer.problems);
    }
    return { deployerCidr: deployer.cidr };
}

/**
 * No `cluster.adminRoleArns` entry may be the cluster's creator, which EKS made admin itself
 * (config/aws.ts, adminRoleProblems). Only the creator counts: comparing with whoever runs
 * pulumi up would refuse an admin who runs it after CI created the cluster (removing their
 * role would delete their own access entry), and miss the creator listed on someone else's
 * run. The creator is the caller when the run creates the cluster (a first deploy, its preview,
 * a replacement), else the one the cluster's tag recorded at creation (components/cluster/eks-cluster.ts,
 * clusterCreator); for a cluster created before that tag nobody is known, and nothing refused.
 * So the check waits for the cluster's name, and gates the access entries only.
 */
export function adminRoleCheck(cluster: ClusterConfig): (creator: ClusterCreator | undefined) => void {
    return (creator) => {
        const problems = creator ? adminRoleProblems(cluster.adminRoleArns, creator) : [];
        if (problems.length > 0) {
            throw new PreflightError(problems.map(({ path, input, message }) => problemAt(path, input, message)));
        }
    };
}

/**
 * The cluster must be named as its control-plane log group is (components/cluster/eks-cluster.ts,
 * ControlPlaneLogs: `/aws/eks/<cluster.name, or project-stack>/cluster`). The stack ignores a
 * change of the cluster's name, since a new name would replace the cluster: a cluster Pulumi
 * auto-named before `cluster.name` existed (`llm-eks-1a2b3c4`), or one whose `cluster.name` was
 * changed since, keeps its old name (Pulumi puts the old input back: pulumi/pulumi
 * pkg/resource/deploy/step_generator.go, processIgnoreChanges, with the auto-name among the
 * checked inputs in the state). EKS then goes on writing into `/aws/eks/<old name>/cluster`, which
 * never expires, while the group the stack made stays empty: refused, one line naming the key and
 * the name to set. Waits for the cluster's name, known in a preview too, and gates what names it
 * (add-ons, node groups, access entries).
 */
export function clusterNameCheck(cluster: ClusterConfig): (named: string, expected: string) => void {
    return (named, expected) => {
        if (named !== expected) {
            throw new PreflightError([problemAt(["cluster", "name"], cluster.name,
                `does not name the cluster, which is ${named} (a change of name would replace it, so the stack keeps it), and EKS writes its `
                + `control-plane logs into /aws/eks/${named}/cluster, not into the group the stack manages (/aws/eks/${expected}/cluster); `
                + `set cluster.name: ${named} (README, "The AWS cluster")`)]);
        }
    };
}

/**
 * `detect`: this machine's public address, said aloud when pulumi up (or preview) runs, since
 * the public endpoint now admits it and the next deployer's run will replace it. Offline (the
 * tests, the offline plan) nothing is said: the address is always the same stand-in, which
 * the README names and the plan's resources.json shows, and the line would only repeat it in
 * every run.
 */
async function detectDeployer(cluster: ClusterConfig): Promise<{ cidr?: string; problems: string[] }> {
    const index = cluster.deployerCidrs.indexOf(DETECT_DEPLOYER);
    if (index < 0) {
        return { problems: [] };
    }
    try {
        const { cidr, source } = await thisMachine();
        if (source !== undefined) {
            void pulumi.log.info(`llm-platform:cluster.deployerCidrs: ${DETECT_DEPLOYER}: the API server's public endpoint admits ${cidr}, ${source}; `
                + "a stack that CI or several people deploy should list fixed CIDRs instead");
        }
        return { cidr, problems: [] };
    } catch (error) {
        return { problems: [problemAt(["cluster", "deployerCidrs", index], DETECT_DEPLOYER,
            `could not learn this machine's public address from ${CHECKIP_URL} (${reason(error)}); list it yourself as a /32`)] };
    }
}

/** Why a request failed, in a few words: fetch says "fetch failed" and keeps the cause (ENOTFOUND, a timeout...) apart. */
function reason(error: unknown): string {
    const { message, cause } = error instanceof Error ? error : { message: String(error), cause: undefined };
    const detail = cause instanceof Error ? (cause as NodeJS.ErrnoException).code ?? cause.message : undefined;
    return [message, detail].filter((part) => part).join(": ") || "no reason given";
}

/**
 * This machine's public address as a /32, and where it comes from. Run by the Pulumi engine
 * (`pulumi up`, `preview`), it asks checkip.amazonaws.com, which answers with the address AWS
 * sees. With no engine, the program runs under the offline run's mocks, with no network: the
 * mocks answer it like every other cloud fact, with a stand-in and no source (an engine is
 * what @pulumi/pulumi log/index.ts checks too, to choose between the engine and the console).
 */
async function thisMachine(): Promise<{ cidr: string; source?: string }> {
    if (pulumi.runtime.getEngine() === undefined) {
        const answer: unknown = await pulumi.runtime.invoke(OFFLINE_DEPLOYER_ADDRESS, {});
        if (!isRecord(answer) || typeof answer.cidr !== "string") {
            throw new Error("the offline run gave no address");
        }
        return { cidr: answer.cidr };
    }
    const response = await fetch(CHECKIP_URL, { signal: AbortSignal.timeout(15_000) });
    if (!response.ok) {
        throw new Error(`HTTP ${response.status}`);
    }
    return { cidr: checkipCidr(await response.text()), source: `this machine's public address as ${CHECKIP_URL} sees it` };
}
