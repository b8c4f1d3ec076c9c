import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { durationSeconds } from "../../config/observability";
import { lokiBucketPolicy, tlsOnlyBucketPolicy } from "../../lib/aws-iam";
import { PodIdentityRole } from "./pod-identity-role";

export interface LokiObjectStoreArgs {
    readonly clusterName: pulumi.Input<string>;
    /** The cluster's region; Loki's S3 client needs it (it sets no default region). */
    readonly region: pulumi.Input<string>;
    /** Namespace and ServiceAccount of Loki's pod: the only identity the role trusts. */
    readonly namespace: string;
    readonly serviceAccount: string;
    /** Loki's retention (a Prometheus duration like 168h or 30d); the bucket expires objects a margin after it. */
    readonly retention: string;
    /** Start of the bucket's name (at most 37 characters); S3 appends a unique suffix. See `lokiBucketPrefix`. */
    readonly bucketPrefix: string;
    /**
     * The stack's `cluster.deletionProtection`. On: Pulumi's `protect` on the bucket, so that
     * `pulumi destroy` refuses to start, and S3 keeps refusing to delete it while it holds logs.
     * Off: `forceDestroy`, so that destroy empties and deletes it with the rest. Defaults to off.
     */
    readonly deletionProtection?: boolean;
}

/** Days S3 keeps an object beyond Loki's retention before its lifecycle rule removes it. */
export const LIFECYCLE_MARGIN_DAYS = 1;

/** S3 limits `bucketPrefix` to 37 characters; the provider adds a 26-character unique suffix (63 in all). */
export const MAX_BUCKET_PREFIX = 37;

/**
 * The bucket's name prefix, from the project and stack: `llm-platform-prod-loki-`. Lowercase
 * letters, digits and hyphens only (S3 naming rules), the stack part shortened to fit.
 * The AWS provider completes it with a unique, time-based suffix at creation, so two stacks,
 * accounts or re-creations never collide, and the name still says which stack owns it.
 */
export function lokiBucketPrefix(project: string, stack: string): string {
    const slug = (text: string) => text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
    const head = slug(project) || "llm-platform";
    const tail = "-loki-";
    const room = MAX_BUCKET_PREFIX - head.length - tail.length - 1;
    const stackPart = slug(stack).slice(0, Math.max(room, 0)).replace(/-+$/, "");
    return stackPart ? `${head}-${stackPart}${tail}` : `${head}${tail}`;
}

/**
 * Days after which S3 expires an object: Loki's retention rounded up to whole days, plus
 * LIFECYCLE_MARGIN_DAYS. Undefined for a retention of 0 (Loki keeps logs forever).
 *
 * The compactor deletes expired chunks and index itself (retention_enabled); the rule is the
 * backstop for what it misses (orphaned chunks, a compactor that was down). An object holds
 * only log lines older than its own creation, so expiring it a margin after the retention
 * never removes a line Loki should still return.
 */
export function lifecycleExpirationDays(retention: string): number | undefined {
    const seconds = durationSeconds(retention);
    if (seconds === undefined) {
        throw new Error(`Loki retention ${JSON.stringify(retention)} is not a duration`);
    }
    return seconds === 0 ? undefined : Math.ceil(seconds / 86400) + LIFECYCLE_MARGIN_DAYS;
}

/** The bucket's lifecycle rules: expiry after the retention, and no multipart upload left behind. */
export function lifecycleRules(retention: string) {
    const days = lifecycleExpirationDays(retention);
    return [{
        id: "loki-retention",
        status: "Enabled",
        filter: {}, // the whole bucket: chunks, index, compactor files
        ...(days === undefined ? {} : { expiration: { days } }),
        abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
    }];
}

/**
 * Loki's object storage on AWS: a private S3 bucket for chunks and index (SSE-S3, all public
 * access blocked, ACLs off, TLS only, objects expired after the retention) and a Pod Identity
 * role, trusted only by Loki's ServiceAccount, that may read and write that bucket alone.
 *
 * SSE-S3 rather than SSE-KMS: a customer managed key would also need kms:GenerateDataKey and
 * kms:Decrypt for Loki and a key policy to keep in step, and a KMS request on every chunk
 * read; what it adds (a second permission gate and per-decrypt audit) is not needed for logs
 * that IAM already confines to one role. No versioning: deleted chunks must really go, or
 * retention and delete requests would only hide them.
 */
export class LokiObjectStore extends pulumi.ComponentResource {
    public readonly bucket: aws.s3.Bucket;
    public readonly bucketName: pulumi.Output<string>;
    public readonly region: pulumi.Output<string>;
    public readonly identity: PodIdentityRole;
    /** What Loki's pod must not start before: the Pod Identity agent only serves pods created after their association. */
    public readonly ready: pulumi.Resource[];

    constructor(name: string, args: LokiObjectStoreArgs, opts?: pulumi.ComponentResourceOptions) {
        super("llm-platform:observability:LokiObjectStore", name, {}, opts);
        const parent = { parent: this };

        // Without forceDestroy, S3 refuses to delete a bucket that holds objects (BucketNotEmpty), and
        // `pulumi destroy` would stop there after deleting the cluster and everything else.
        const protect = args.deletionProtection ?? false;
        this.bucket = new aws.s3.Bucket(`${name}-bucket`, {
            bucketPrefix: args.bucketPrefix,
            forceDestroy: !protect,
            tags: { "llm-platform/purpose": "loki-chunks-and-index" },
        }, { parent: this, protect });
        this.bucketName = this.bucket.bucket;
        this.region = pulumi.output(args.region);
        const bucket = this.bucket.bucket;

        const encryption = new aws.s3.BucketServerSideEncryptionConfiguration(`${name}-encryption`, {
            bucket,
            rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }],
        }, parent);
        const publicAccess = new aws.s3.BucketPublicAccessBlock(`${name}-public-access`, {
            bucket,
            blockPublicAcls: true,
            blockPublicPolicy: true,
            ignorePublicAcls: true,
            restrictPublicBuckets: true,
        }, parent);
        const ownership = new aws.s3.BucketOwnershipControls(`${name}-ownership`, {
            bucket,
            rule: { objectOwnership: "BucketOwnerEnforced" }, // ACLs off: the bucket's account owns every object
        }, parent);
        const lifecycle = new aws.s3.BucketLifecycleConfiguration(`${name}-lifecycle`, {
            bucket,
            rules: lifecycleRules(args.retention),
        }, parent);
        // After the public access block, which S3 checks every bucket policy against.
        const policy = new aws.s3.BucketPolicy(`${name}-tls-only`, {
            bucket,
            policy: this.bucket.arn.apply((arn) => JSON.stringify(tlsOnlyBucketPolicy(arn))),
        }, { parent: this, dependsOn: [publicAccess] });

        const bucketArn = this.bucket.arn;
        this.identity = new PodIdentityRole(`${name}-identity`, {
            clusterName: args.clusterName,
            namespace: args.namespace,
            serviceAccount: args.serviceAccount,
            inlinePolicy: () => bucketArn.apply(lokiBucketPolicy),
            associate: true,
        }, parent);
        this.ready = [this.identity, encryption, publicAccess, ownership, lifecycle, policy];

        this.registerOutputs({ bucket: this.bucket, bucketName: this.bucketName, region: this.region, identity: this.identity });
    }
}
