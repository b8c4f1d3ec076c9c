import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface ControlPlaneLogsArgs {
    /** The EKS cluster's name, known before the cluster: the group's name is made of it. */
    readonly clusterName: string;
    /** How long CloudWatch Logs keeps events (one of config/aws.ts LOG_RETENTION_DAYS). */
    readonly retentionDays: number;
    /** Encrypt the group with a KMS key of ours rather than CloudWatch Logs' own encryption. */
    readonly kmsKey: boolean;
    /** Pulumi's `protect` on the group (and its key): `pulumi destroy` refuses to start. */
    readonly protect: boolean;
}

/**
 * The group EKS sends the control-plane logs to: `/aws/eks/<cluster>/cluster` (EKS User Guide,
 * "Send control plane logs to CloudWatch Logs": "The log group name format is
 * /aws/eks/my-cluster/cluster").
 */
export function controlPlaneLogGroupName(clusterName: string): string {
    return `/aws/eks/${clusterName}/cluster`;
}

/** Where a log group is: the ARN CloudWatch Logs puts in the encryption context of every KMS call for it. */
export interface LogGroupLocation {
    readonly partition: string;
    readonly region: string;
    readonly accountId: string;
    readonly logGroupName: string;
}

export function logGroupArn({ partition, region, accountId, logGroupName }: LogGroupLocation): string {
    return `arn:${partition}:logs:${region}:${accountId}:log-group:${logGroupName}`;
}

/** A key policy statement; `AWS` principals are account roots here, `Service` the CloudWatch Logs principal. */
interface KeyPolicyStatement {
    readonly Sid: string;
    readonly Effect: "Allow";
    readonly Principal: { readonly AWS: string } | { readonly Service: string };
    readonly Action: string | readonly string[];
    readonly Resource: "*";
    readonly Condition?: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

/**
 * The key policy of the log group's key (CloudWatch Logs User Guide, "Encrypt log data in
 * CloudWatch Logs using AWS KMS", step 2): the account administers the key through IAM, as a
 * key with no policy would let it (KMS refuses a policy that locks the account out); CloudWatch
 * Logs of this region (`logs.<region>.amazonaws.com`, a regional service principal) may use it,
 * for this log group only: it names the group's ARN as `kms:EncryptionContext:aws:logs:arn` in
 * every call, and the condition accepts no other.
 */
export function logsKeyPolicy(location: LogGroupLocation) {
    const statements: KeyPolicyStatement[] = [
        {
            Sid: "AccountAdministersTheKey",
            Effect: "Allow",
            Principal: { AWS: `arn:${location.partition}:iam::${location.accountId}:root` },
            Action: "kms:*",
            Resource: "*",
        },
        {
            Sid: "CloudWatchLogsUsesItForTheControlPlaneLogGroup",
            Effect: "Allow",
            Principal: { Service: `logs.${location.region}.amazonaws.com` },
            Action: ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            Resource: "*",
            Condition: { ArnEquals: { "kms:EncryptionContext:aws:logs:arn": logGroupArn(location) } },
        },
    ];
    return { Version: "2012-10-17", Statement: statements };
}

/**
 * The control-plane log group, created before the cluster so that EKS writes into it. Left to
 * EKS, the group is created with no retention, and CloudWatch Logs keeps a group's events forever
 * until one is set (@pulumi/aws 7.48.0 cloudwatch/logGroup.d.ts `retentionInDays`: "0 ... never
 * expire"), each month billed, audit logs the largest. EKS writes into the group of that name when
 * it exists, so the retention set here applies from the first event; the name must be the
 * cluster's, known before it (pulumi/pulumi#9296: a group made beside an auto-named cluster stays
 * empty while EKS fills a group of its own, with no expiry).
 *
 * Optionally encrypted with a KMS key of ours (a rotating key, about $1 a month), usable by
 * CloudWatch Logs for this group only (logsKeyPolicy). Otherwise CloudWatch Logs encrypts the
 * events with its own keys.
 */
export class ControlPlaneLogs extends pulumi.ComponentResource {
    public readonly logGroup: aws.cloudwatch.LogGroup;
    public readonly logGroupName: string;
    public readonly key?: aws.kms.Key;

    constructor(name: string, args: ControlPlaneLogsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("llm-platform:cluster:ControlPlaneLogs", name, {}, opts);
        const options = { parent: this, protect: args.protect };
        this.logGroupName = controlPlaneLogGroupName(args.clusterName);

        if (args.kmsKey) {
            const policy = pulumi.all([
                aws.getPartitionOutput({}, { parent: this }).partition,
                aws.getRegionOutput({}, { parent: this }).region,
                aws.getCallerIdentityOutput({}, { parent: this }).accountId,
            ]).apply(([partition, region, accountId]) => JSON.stringify(logsKeyPolicy({ partition, region, accountId, logGroupName: this.logGroupName })));
            this.key = new aws.kms.Key(`${name}-key`, {
                description: `Encryption of the EKS control-plane log group ${this.logGroupName}`,
                enableKeyRotation: true,
                deletionWindowInDays: 30,
                policy,
            }, options);
        }
        this.logGroup = new aws.cloudwatch.LogGroup(`${name}-group`, {
            name: this.logGroupName,
            retentionInDays: args.retentionDays,
            kmsKeyId: this.key?.arn,
        }, options);

        this.registerOutputs({ logGroup: this.logGroup, key: this.key });
    }
}
