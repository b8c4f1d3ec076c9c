import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { EksCluster, SYSTEM_POOL_LABEL } from "./components/eks-cluster";
import { GpuNodePool } from "./components/gpu-node-pool";
import { LocalCluster, LocalClusterArgs } from "./components/local-cluster";
import type { PlatformConfig } from "./config";

/** The cluster layers of one target: the provider every other layer deploys through, and the stack outputs. */
export interface PlatformCluster {
    readonly provider: k8s.Provider;
    readonly clusterName?: pulumi.Output<string>;
    readonly kubeconfig?: pulumi.Output<string>;
    readonly gpuPoolName?: pulumi.Output<string>;
    readonly gpuCapacityAtMax?: number;
    /** StorageClass for weights shared by replicas (ReadWriteMany). */
    readonly sharedStorageClass?: pulumi.Output<string>;
}

/** `aws`: EKS cluster -> GPU node pool (with its autoscaler). The GPU runtime comes after observability (index.ts). */
export function awsCluster({ cluster, gpuPool }: NonNullable<PlatformConfig["aws"]>): PlatformCluster {
    const eks = new EksCluster("llm", cluster);
    const pool = new GpuNodePool("gpu", {
        ...gpuPool,
        clusterName: eks.clusterName,
        region: eks.region,
        kubernetesVersion: cluster.kubernetesVersion,
        subnetIds: eks.privateSubnetIds,
        provider: eks.provider,
        autoscalerNodeSelector: SYSTEM_POOL_LABEL,
        nodeDependsOn: eks.nodePrerequisites,
    });
    return {
        provider: eks.provider,
        clusterName: eks.clusterName,
        kubeconfig: eks.kubeconfig,
        gpuPoolName: pool.poolName,
        gpuCapacityAtMax: pool.gpuCapacityAtMax,
        sharedStorageClass: eks.efsStorageClassName,
    };
}

/** `local`: only a provider for an existing cluster. */
export function localCluster(kubernetes: LocalClusterArgs): PlatformCluster {
    return { provider: new LocalCluster("local", kubernetes).provider };
}
