/**
 * IAM policy documents as plain objects: pure, so that tests read them without mocks.
 * The components serialise them with JSON.stringify.
 */

export interface PolicyStatement {
    readonly Sid?: string;
    readonly Effect: "Allow" | "Deny";
    /** A service (trust policies) or, in a bucket policy's Deny, everyone ("*"). */
    readonly Principal?: { readonly Service: string } | "*";
    readonly Action: readonly string[];
    readonly Resource?: string | readonly string[];
    readonly Condition?: Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>;
}

export interface PolicyDocument {
    readonly Version: "2012-10-17";
    readonly Statement: readonly PolicyStatement[];
}

/** Trust for an AWS service that assumes the role itself (EKS control plane, EC2 nodes). */
export function serviceTrustPolicy(service: string): PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: service }, Action: ["sts:AssumeRole"] }],
    };
}

/** Which pods may assume a Pod Identity role: one service account of one cluster and account. */
export interface PodIdentitySubject {
    readonly accountId: string;
    readonly clusterName: string;
    readonly namespace: string;
    readonly serviceAccount: string;
}

/**
 * Trust for EKS Pod Identity (AWS EKS User Guide, "Create IAM role with trust policy
 * required by EKS Pod Identity"): the principal is `pods.eks.amazonaws.com`, which needs
 * `sts:AssumeRole` and `sts:TagSession` (it passes session tags).
 *
 * The PodIdentityAssociation already binds the role to one service account, but any other
 * association in the account could name the same role. The conditions close that gap: the
 * agent tags every session with `eks-cluster-name`, `kubernetes-namespace` and
 * `kubernetes-service-account` (EKS User Guide, "Enable or disable session tags"), so the
 * role can only be assumed for this service account of this cluster, from this account.
 */
export function podIdentityTrustPolicy(subject: PodIdentitySubject): PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [{
            Sid: "EksPodIdentityForOneServiceAccount",
            Effect: "Allow",
            Principal: { Service: "pods.eks.amazonaws.com" },
            Action: ["sts:AssumeRole", "sts:TagSession"],
            Condition: {
                StringEquals: {
                    "aws:SourceAccount": subject.accountId,
                    "aws:RequestTag/eks-cluster-name": subject.clusterName,
                    "aws:RequestTag/kubernetes-namespace": subject.namespace,
                    "aws:RequestTag/kubernetes-service-account": subject.serviceAccount,
                },
            },
        }],
    };
}

/**
 * What the Cluster Autoscaler needs on AWS (kubernetes/autoscaler
 * cluster-autoscaler/cloudprovider/aws/README.md, "Full Cluster Autoscaler Features
 * Policy"), with the two mutating actions limited, as that README recommends, by a tag
 * condition: EKS tags the Auto Scaling groups of its managed node groups
 * `k8s.io/cluster-autoscaler/<cluster name>: owned`, so only this cluster's groups match.
 */
export function clusterAutoscalerPolicy(clusterName: string): PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "Discover",
                Effect: "Allow",
                Action: [
                    "autoscaling:DescribeAutoScalingGroups",
                    "autoscaling:DescribeAutoScalingInstances",
                    "autoscaling:DescribeLaunchConfigurations",
                    "autoscaling:DescribeScalingActivities",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplateVersions",
                    "ec2:GetInstanceTypesFromInstanceRequirements",
                    "eks:DescribeNodegroup",
                ],
                Resource: "*",
            },
            {
                Sid: "ScaleThisClustersGroups",
                Effect: "Allow",
                Action: ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
                Resource: "*",
                Condition: { StringEquals: { [`aws:ResourceTag/k8s.io/cluster-autoscaler/${clusterName}`]: "owned" } },
            },
        ],
    };
}

/**
 * What Loki needs on its bucket, and nothing else: list the bucket, and read, write and
 * delete its objects (chunks, TSDB index, compactor deletes and retention). Loki's S3
 * client (pkg/storage/chunk/client/aws/s3_storage_client.go, Loki v3.7.6) calls
 * ListObjectsV2, GetObject, HeadObject (allowed by s3:GetObject), PutObject and
 * DeleteObject. The bucket is encrypted with SSE-S3, so no KMS permission is needed.
 */
export function lokiBucketPolicy(bucketArn: string): PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [
            { Sid: "ListLokiBucket", Effect: "Allow", Action: ["s3:ListBucket"], Resource: bucketArn },
            { Sid: "ReadWriteLokiObjects", Effect: "Allow", Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], Resource: `${bucketArn}/*` },
        ],
    };
}

/**
 * A bucket policy that refuses every request not made over TLS (AWS Security Hub S3.5,
 * "S3 general purpose buckets should require requests to use SSL"): a Deny for everyone,
 * on the bucket and its objects, when `aws:SecureTransport` is false.
 */
export function tlsOnlyBucketPolicy(bucketArn: string): PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [{
            Sid: "DenyInsecureTransport",
            Effect: "Deny",
            Principal: "*",
            Action: ["s3:*"],
            Resource: [bucketArn, `${bucketArn}/*`],
            Condition: { Bool: { "aws:SecureTransport": "false" } },
        }],
    };
}

/** An AWS managed policy's ARN in the given partition (`aws`, `aws-cn`, `aws-us-gov`). */
export function managedPolicyArn(partition: string, name: string): string {
    return `arn:${partition}:iam::aws:policy/${name}`;
}
