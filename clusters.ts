import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { EksCluster, SYSTEM_POOL_LABEL } from "./components/cluster/eks-cluster";
import { GpuNodePool } from "./components/gpu/gpu-node-pool";
import { LocalCluster, LocalClusterArgs } from "./components/cluster/local-cluster";
import { LokiObjectStore, lokiBucketPrefix } from "./components/cluster/loki-object-store";
import type { LokiObjectStoreRef } from "./components/observability";
import { LOKI_SERVICE_ACCOUNT, MONITORING_NAMESPACE } from "./components/observability/names";
import type { ObservabilityConfig, PlatformConfig } from "./config";
import { adminRoleCheck, awsPreflight, clusterNameCheck } from "./config/preflight";
import { DETECT_DEPLOYER } from "./lib/eks";

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
 * `aws`: EKS cluster -> GPU node pool (with its autoscaler), and Loki's S3 bucket with its Pod
 * Identity role when `loki.storage` is s3. The GPU runtime comes after observability (index.ts).
 * `podGraceSeconds`: the longest terminationGracePeriodSeconds of the serving pods the autoscaler
 * may evict when it removes a node, system or GPU (components/autoscaling/keda-http-add-on.ts
 * longestServingGraceSeconds); it lets them keep it.
 *
 * Every AWS resource is a child of these three components, and a child is registered only
 * after its parent (@pulumi/pulumi runtime/resource.ts, prepareResource awaits the parent's
 * URN), which waits for its dependsOn: so the preflight's refusal comes before any AWS
 * resource exists, and fails the components' children and everything using the cluster.
 */
export function awsCluster({ cluster, gpuPool }: NonNullable<PlatformConfig["aws"]>, loki: ObservabilityConfig["loki"], podGraceSeconds: number): PlatformCluster {
    const checked = awsPreflight(cluster);
    const preflight = { dependsOn: checked.then((): pulumi.Resource[] => []) };
    const eks = new EksCluster("llm", {
        ...cluster,
        callerArn: aws.getCallerIdentity({}).then(({ arn }) => arn),
        checkAdminRoles: adminRoleCheck(cluster),
        checkName: clusterNameCheck(cluster),
        deployerCidrs: cluster.deployerCidrs.filter((cidr) => cidr !== DETECT_DEPLOYER),
        detectedDeployerCidr: cluster.deployerCidrs.includes(DETECT_DEPLOYER) ? checked.then(({ deployerCidr }) => deployerCidr ?? "") : undefined,
    }, preflight);
    const pool = new GpuNodePool("gpu", {
        ...gpuPool,
        clusterName: eks.clusterName,
        clusterExisted: eks.existedBefore,
        region: eks.region,
        kubernetesVersion: cluster.kubernetesVersion,
        subnetIds: eks.privateSubnetIds,
        provider: eks.provider,
        autoscalerNodeSelector: SYSTEM_POOL_LABEL,
        podGraceSeconds,
        nodeDependsOn: eks.nodePrerequisites,
    }, preflight);
    const lokiStore = loki.storage === "s3" ? new LokiObjectStore("loki", {
        clusterName: eks.clusterName,
        region: eks.region,
        namespace: MONITORING_NAMESPACE,
        serviceAccount: LOKI_SERVICE_ACCOUNT,
        retention: loki.retention,
        bucketPrefix: lokiBucketPrefix(pulumi.getProject(), pulumi.getStack()),
        deletionProtection: cluster.deletionProtection,
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
