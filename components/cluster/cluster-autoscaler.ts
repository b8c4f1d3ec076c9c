import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { clusterAutoscalerPolicy } from "../../lib/aws-iam";
import { PodIdentityRole } from "./pod-identity-role";

export interface ClusterAutoscalerArgs {
    readonly clusterName: pulumi.Input<string>;
    readonly region: pulumi.Input<string>;
    /** The cluster's Kubernetes minor; the autoscaler release must match it. */
    readonly kubernetesVersion: string;
    readonly provider: k8s.Provider;
    /** How long a node must be unneeded before it is removed (`--scale-down-unneeded-time`). Defaults to "10m". */
    readonly scaleDownUnneededTime?: string;
    /** Where the autoscaler itself runs. Defaults to anywhere. */
    readonly nodeSelector?: Readonly<Record<string, string>>;
    /**
     * The longest terminationGracePeriodSeconds of the pods it may evict
     * (keda-http-add-on.ts longestServingGraceSeconds). Defaults to none beyond the autoscaler's own 600.
     */
    readonly podGraceSeconds?: number;
}

export const AUTOSCALER_CHART = "cluster-autoscaler";
export const AUTOSCALER_REPO = "https://kubernetes.github.io/autoscaler";
export const AUTOSCALER_NAMESPACE = "kube-system";
export const AUTOSCALER_SERVICE_ACCOUNT = "cluster-autoscaler";

/**
 * Chart and image per Kubernetes minor: the autoscaler's minor must match the cluster's
 * (kubernetes/autoscaler README, "Releases"). Only the minors in EKS standard support: the
 * cluster's upgradePolicy is STANDARD (components/cluster/eks-cluster.ts), and "you cannot disable
 * extended support once your cluster has entered it" (EKS User Guide, "Disable extended
 * support"), so a minor leaves this table when its standard support ends.
 * config/aws.ts AUTOSCALER_MINORS lists the keys.
 *
 * Read from kubernetes/autoscaler at its release tags: the chart is the newest chart of
 * the minor (`cluster-autoscaler-chart-<version>`, its Chart.yaml under
 * cluster-autoscaler/charts/cluster-autoscaler/ since 9.52.0: 9.53.0 has appVersion 1.34.2,
 * 9.59.0 has appVersion 1.35.0), and the image is the newest patch release of the minor
 * (tags `cluster-autoscaler-1.34.5` and `cluster-autoscaler-1.35.2`, 2026-07-22, whose
 * cluster-autoscaler/version/version.go say 1.34.5 and 1.35.2), newer than the chart's
 * default tag; a patch release changes no flag the chart passes.
 */
export const AUTOSCALER_RELEASES: Readonly<Record<string, { readonly chart: string; readonly image: string }>> = {
    "1.34": { chart: "9.53.0", image: "v1.34.5" },
    "1.35": { chart: "9.59.0", image: "v1.35.2" },
};

export function autoscalerRelease(kubernetesVersion: string): { readonly chart: string; readonly image: string } {
    const release = AUTOSCALER_RELEASES[kubernetesVersion];
    if (!release) {
        throw new Error(`no pinned Cluster Autoscaler release for Kubernetes ${kubernetesVersion}`);
    }
    return release;
}

export interface AutoscalerValuesInput {
    readonly clusterName: pulumi.Input<string>;
    readonly region: pulumi.Input<string>;
    readonly image: string;
    readonly scaleDownUnneededTime: string;
    readonly nodeSelector: Readonly<Record<string, string>>;
    /** The longest terminationGracePeriodSeconds of the pods it may evict. */
    readonly podGraceSeconds: number;
}

/**
 * The autoscaler's default `--max-graceful-termination-sec` (cluster-autoscaler/config/flags/flags.go
 * at cluster-autoscaler-1.34.5 and -1.35.2: `flag.Int("max-graceful-termination-sec", 10*60, ...)`).
 */
export const DEFAULT_MAX_GRACEFUL_TERMINATION_SECONDS = 600;

/**
 * `--max-graceful-termination-sec`: the grace a pod keeps when the autoscaler evicts it to remove
 * its node. The autoscaler lowers every evicted pod's terminationGracePeriodSeconds to it
 * (core/scaledown/actuation/drain.go `evictPod`: the Eviction's DeleteOptions.GracePeriodSeconds),
 * and deletes the node once it has waited that long plus 30 s (`waitPodsToDisappear`,
 * DefaultPodEvictionHeadroom), so a shorter value would cut what an interceptor holds or a model
 * streams. Never below the default, which the platform's other pods may count on. The wait runs
 * per node in its own goroutine (core/scaledown/actuation/actuator.go `deleteAsyncDrain`): a long
 * grace delays that node's removal, not the autoscaler's other work. PodDisruptionBudgets still
 * decide whether a pod may go at all: it evicts through the Eviction API, retries a refusal for
 * `--max-pod-eviction-time` (2m) and otherwise keeps the node (FAQ.md "Does CA work with
 * PodDisruptionBudget in scale-down?"), so the interceptors' budget (maxUnavailable 1) lets one of
 * them drain at a time (a terminating pod counts as disrupted: kubernetes/kubernetes
 * pkg/controller/disruption/disruption.go `countHealthyPods` skips pods with a deletionTimestamp).
 */
export function maxGracefulTerminationSeconds(podGraceSeconds: number): number {
    return Math.max(DEFAULT_MAX_GRACEFUL_TERMINATION_SECONDS, Math.ceil(podGraceSeconds));
}

/**
 * Node labels that differ between node groups that are otherwise alike, which the autoscaler
 * must ignore to balance them. It compares every label of two groups' nodes except its basic
 * and AWS sets (cluster-autoscaler/processors/nodegroupset/compare_nodegroups.go
 * BasicIgnoredLabels: hostname and zone; aws_nodegroups.go CreateAwsNodeInfoComparator:
 * `eks.amazonaws.com/nodegroup`, `topology.ebs.csi.aws.com/zone`, `topology.k8s.aws/zone-id`,
 * among others, at cluster-autoscaler-1.34.5 and -1.35.2). EKS also labels each managed node
 * with its group's launch template and AMI (EKS User Guide, "Managed node update behavior":
 * `eks.amazonaws.com/sourceLaunchTemplateId`, `sourceLaunchTemplateVersion`, `nodegroup-image`),
 * and each ManagedNodeGroup has its own launch template, so without these the zonal system
 * groups would never count as similar.
 */
export const BALANCING_IGNORED_LABELS = [
    "eks.amazonaws.com/sourceLaunchTemplateId",
    "eks.amazonaws.com/sourceLaunchTemplateVersion",
    "eks.amazonaws.com/nodegroup-image",
] as const;

/**
 * `--balancing-ignore-label` once per label (a repeatable flag: config/flags/flags.go
 * multiStringFlag). The chart renders each extraArgs key up to its first `_` as the flag name
 * (charts/cluster-autoscaler/templates/deployment.yaml, `mustRegexFind "^[^_]+"`, at chart
 * 9.53.0 and 9.59.0; its values.yaml shows `balancing-ignore-label_1`), so the keys are numbered.
 */
export function balancingIgnoreLabelArgs(): Record<string, string> {
    return Object.fromEntries(BALANCING_IGNORED_LABELS.map((label, index) => [`balancing-ignore-label_${index + 1}`, label]));
}

/** Values of the cluster-autoscaler chart (keys from its values.yaml at the pinned version). */
export function clusterAutoscalerValues(input: AutoscalerValuesInput) {
    return {
        cloudProvider: "aws",
        awsRegion: input.region,
        // Finds the ASGs tagged k8s.io/cluster-autoscaler/enabled and .../<cluster name>,
        // which EKS puts on every managed node group's ASG.
        autoDiscovery: { clusterName: input.clusterName },
        rbac: { serviceAccount: { create: true, name: AUTOSCALER_SERVICE_ACCOUNT } },
        image: { repository: "registry.k8s.io/autoscaling/cluster-autoscaler", tag: input.image },
        extraArgs: {
            "scale-down-unneeded-time": input.scaleDownUnneededTime,
            expander: "least-waste",
            // The system node groups, one per zone (components/cluster/eks-cluster.ts), grow evenly.
            "balance-similar-node-groups": true,
            ...balancingIgnoreLabelArgs(),
            // Model servers mount /dev/shm as a memory emptyDir; by default that pins their node forever.
            "skip-nodes-with-local-storage": false,
            // A string: the chart renders `--<key>={{ $value }}`, and a large number reaching it as a float would print as 1e+06.
            "max-graceful-termination-sec": String(maxGracefulTerminationSeconds(input.podGraceSeconds)),
        },
        nodeSelector: { ...input.nodeSelector },
        resources: { requests: { cpu: "100m", memory: "300Mi" }, limits: { memory: "600Mi" } },
        securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, seccompProfile: { type: "RuntimeDefault" } },
        containerSecurityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
    };
}

/**
 * The Kubernetes Cluster Autoscaler: adds nodes when pods are Pending for lack of room
 * (GPU pods included, from zero nodes thanks to the node-template tags GpuNodePool puts on
 * its ASG) and removes idle ones. AWS access through a Pod Identity role scoped to its
 * service account, allowed to resize only this cluster's node groups.
 */
export class ClusterAutoscaler extends pulumi.ComponentResource {
    public readonly role: PodIdentityRole;
    public readonly chart: k8s.helm.v4.Chart;

    constructor(name: string, args: ClusterAutoscalerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("llm-platform:autoscaling:ClusterAutoscaler", name, {}, opts);
        const release = autoscalerRelease(args.kubernetesVersion);

        this.role = new PodIdentityRole(`${name}-identity`, {
            clusterName: args.clusterName,
            namespace: AUTOSCALER_NAMESPACE,
            serviceAccount: AUTOSCALER_SERVICE_ACCOUNT,
            inlinePolicy: clusterAutoscalerPolicy,
            associate: true,
        }, { parent: this });

        this.chart = new k8s.helm.v4.Chart(`${name}-chart`, {
            chart: AUTOSCALER_CHART,
            version: release.chart,
            repositoryOpts: { repo: AUTOSCALER_REPO },
            namespace: AUTOSCALER_NAMESPACE,
            values: clusterAutoscalerValues({
                clusterName: args.clusterName,
                region: args.region,
                image: release.image,
                scaleDownUnneededTime: args.scaleDownUnneededTime ?? "10m",
                nodeSelector: args.nodeSelector ?? {},
                podGraceSeconds: args.podGraceSeconds ?? 0,
            }),
        }, { parent: this, provider: args.provider, dependsOn: [this.role] });

        this.registerOutputs({ role: this.role, chart: this.chart });
    }
}
