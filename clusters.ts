import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { EksCluster, SYSTEM_POOL_LABEL } from "./components/eks-cluster";
import { GpuNodePool } from "./components/gpu-node-pool";
import { LocalCluster, LocalClusterArgs } from "./components/local-cluster";
import { LokiObjectStore, lokiBucketPrefix } from "./components/loki-object-store";
import type { LokiObjectStoreRef } from "./components/observability";
import { LOKI_SERVICE_ACCOUNT, MONITORING_NAMESPACE } from "./components/observability/names";
import type { ClusterConfig, ObservabilityConfig, PlatformConfig } from "./config";
import { adminRoleProblems } from "./config/aws";
import { ConfigError, problemAt } from "./config/errors";

/** The cluster layers of one target: the provider every other layer deploys through, and the stack outputs. */
export interface PlatformCluster {
    readonly provider: k8s.Provider;
    readonly clusterName?: pulumi.Output<string>;
    readonly kubeconfig?: pulumi.Output<string>;
    readonly gpuPoolName?: pulumi.Output<string>;
    readonly gpuCapacityAtMax?: number;
    /** StorageClass for weights shared by replicas (ReadWriteMany). */
    readonly sharedStorageClass?: pulumi.Output<string>;
    /** (aws, `observability.loki.storage` s3) Loki's S3 bucket and what Loki must wait for. */
    readonly lokiObjectStore?: LokiObjectStoreRef;
}

/**
 * A ConfigError whose message and stack stay its problems. The preflight's refusal reaches
 * every resource that uses the cluster, and Pulumi prefixes the message of an error at each
 * property it passes through (`error serializing property "clusterName": ...`, @pulumi/pulumi
 * runtime/rpc.ts serializeProperties, which keeps the error object so that the uncaught
 * handler reports it once): without this, `pulumi up` would print the lines under dozens of prefixes.
 */
class PreflightError extends ConfigError {
    constructor(problems: readonly string[]) {
        super(problems);
        const message = problems.join("\n");
        Object.defineProperty(this, "message", { get: () => message, set: () => undefined });
        Object.defineProperty(this, "stack", { get: () => `${this.name}: ${message}`, set: () => undefined });
    }
}

/**
 * The config checks that need AWS itself (config.ts checks the rest, with no credentials):
 * no `cluster.adminRoleArns` entry may be the role running pulumi up. Rejects with a
 * ConfigError, a RunError, which `pulumi up` prints as its lines, with no stack trace
 * (@pulumi/pulumi cmd/run/run.ts, uncaughtHandler).
 */
export async function awsPreflight(cluster: ClusterConfig): Promise<pulumi.Resource[]> {
    if (cluster.adminRoleArns.length > 0) {
        const caller = await aws.getCallerIdentity({});
        const problems = adminRoleProblems(cluster.adminRoleArns, caller.arn);
        if (problems.length > 0) {
            throw new PreflightError(problems.map(({ path, input, message }) => problemAt(path, input, message)));
        }
    }
    return [];
}

/**
 * `aws`: EKS cluster -> GPU node pool (with its autoscaler), and Loki's S3 bucket with its Pod
 * Identity role when `loki.storage` is s3. The GPU runtime comes after observability (index.ts).
 *
 * Every AWS resource is a child of these three components, and a child is registered only
 * after its parent (@pulumi/pulumi runtime/resource.ts, prepareResource awaits the parent's
 * URN), which waits for its dependsOn: so the preflight's refusal comes before any AWS
 * resource exists, and fails the components' children and everything using the cluster.
 */
export function awsCluster({ cluster, gpuPool }: NonNullable<PlatformConfig["aws"]>, loki: ObservabilityConfig["loki"]): PlatformCluster {
    const preflight = { dependsOn: awsPreflight(cluster) };
    const eks = new EksCluster("llm", cluster, preflight);
    const pool = new GpuNodePool("gpu", {
        ...gpuPool,
        clusterName: eks.clusterName,
        region: eks.region,
        kubernetesVersion: cluster.kubernetesVersion,
        subnetIds: eks.privateSubnetIds,
        provider: eks.provider,
        autoscalerNodeSelector: SYSTEM_POOL_LABEL,
        nodeDependsOn: eks.nodePrerequisites,
    }, preflight);
    const lokiStore = loki.storage === "s3" ? new LokiObjectStore("loki", {
        clusterName: eks.clusterName,
        region: eks.region,
        namespace: MONITORING_NAMESPACE,
        serviceAccount: LOKI_SERVICE_ACCOUNT,
        retention: loki.retention,
        bucketPrefix: lokiBucketPrefix(pulumi.getProject(), pulumi.getStack()),
    }, preflight) : undefined;
    return {
        provider: eks.provider,
        clusterName: eks.clusterName,
        kubeconfig: eks.kubeconfig,
        gpuPoolName: pool.poolName,
        gpuCapacityAtMax: pool.gpuCapacityAtMax,
        sharedStorageClass: eks.efsStorageClassName,
        lokiObjectStore: lokiStore && { bucketName: lokiStore.bucketName, region: lokiStore.region, dependsOn: lokiStore.ready },
    };
}

/** `local`: only a provider for an existing cluster. */
export function localCluster(kubernetes: LocalClusterArgs): PlatformCluster {
    return { provider: new LocalCluster("local", kubernetes).provider };
}
