import * as assert from "assert";
import { LIFECYCLE_MARGIN_DAYS, MAX_BUCKET_PREFIX, lifecycleExpirationDays, lifecycleRules, lokiBucketPrefix } from "../components/cluster/loki-object-store";
import { lokiValues } from "../components/observability/logging-values";
import { LOKI_SERVICE_ACCOUNT, MONITORING_NAMESPACE } from "../components/observability/names";
import { ObservabilityConfig } from "../config";
import { lokiBucketPolicy, tlsOnlyBucketPolicy } from "../lib/aws-iam";
import { ProgramRun, nameOfUrn } from "../tools/offline/run";
import { inputs, Json, loadConfigWith, resource, resourcesOfType, runStackFile } from "./mocks";

const lokiChart = (run: ProgramRun): Json => inputs(resource(run, "kubernetes:helm.sh/v4:Chart", "observability-loki")).values;
const S3_TYPES = [
    "aws:s3/bucket:Bucket", "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "aws:s3/bucketPolicy:BucketPolicy",
];
/** The offline bucket name: the prefix and S3's 26-character suffix (zeros offline, tools/offline/fakes.ts). */
const PROD_BUCKET = `llm-platform-prod-loki-${"0".repeat(26)}`;
const PROD_ARN = `arn:aws:s3:::${PROD_BUCKET}`;

describe("Loki on S3 (LokiObjectStore)", () => {
    describe("config", () => {
        it("keeps filesystem by default, on every target", async () => {
            for (const target of ["aws", "local"]) {
                const config = await loadConfigWith({ target, cluster: { deployerCidrs: ["detect"] } });
                assert.ok(!(config instanceof Error), String(config));
                assert.strictEqual(config.observability.loki.storage, "filesystem", target);
            }
        });

        it("accepts s3 on target aws", async () => {
            const config = await loadConfigWith({ target: "aws", cluster: { deployerCidrs: ["detect"] }, observability: { loki: { storage: "s3" } } });
            assert.ok(!(config instanceof Error), String(config));
            assert.strictEqual(config.observability.loki.storage, "s3");
            assert.strictEqual(config.observability.loki.retention, "168h", "the rest of the block keeps its defaults");
        });

        it("refuses s3 on target local, in one line naming the key", async () => {
            const result = await loadConfigWith({ target: "local", observability: { loki: { storage: "s3" } } });
            assert.ok(result instanceof Error && result.name === "ConfigError", String(result));
            assert.strictEqual(result.message,
                'llm-platform:observability.loki.storage = "s3": needs target aws (an S3 bucket and a Pod Identity role); use filesystem on target local');
        });

        it("refuses an unknown storage", async () => {
            const result = await loadConfigWith({ target: "aws", cluster: { deployerCidrs: ["detect"] }, observability: { loki: { storage: "gcs" } } });
            assert.ok(result instanceof Error);
            assert.strictEqual(result.message, 'llm-platform:observability.loki.storage = "gcs": expected one of "filesystem", "s3"');
        });
    });

    describe("pure builders", () => {
        it("derives a valid bucket prefix from project and stack, within S3's 37 characters", () => {
            assert.strictEqual(lokiBucketPrefix("llm-platform", "prod"), "llm-platform-prod-loki-");
            const long = lokiBucketPrefix("llm-platform", "Team_A.Staging-Environment-2026");
            assert.ok(long.length <= MAX_BUCKET_PREFIX, long);
            assert.match(long, /^llm-platform-team-a-staging-[a-z0-9-]*loki-$/);
            assert.doesNotMatch(long, /--/);
        });

        it("expires objects the retention, in whole days, plus the margin; never with a retention of 0", () => {
            assert.strictEqual(lifecycleExpirationDays("168h"), 7 + LIFECYCLE_MARGIN_DAYS);
            assert.strictEqual(lifecycleExpirationDays("30d"), 30 + LIFECYCLE_MARGIN_DAYS);
            assert.strictEqual(lifecycleExpirationDays("36h"), 2 + LIFECYCLE_MARGIN_DAYS, "rounded up");
            assert.strictEqual(lifecycleExpirationDays("0s"), undefined);
            const [forever] = lifecycleRules("0s");
            assert.strictEqual("expiration" in forever, false);
            assert.deepStrictEqual(forever.abortIncompleteMultipartUpload, { daysAfterInitiation: 1 });
        });

        it("lets Loki list its bucket and read, write and delete its objects, nothing more", () => {
            const policy = lokiBucketPolicy("arn:aws:s3:::b");
            assert.deepStrictEqual(policy.Statement.map((s) => [s.Effect, s.Action, s.Resource]), [
                ["Allow", ["s3:ListBucket"], "arn:aws:s3:::b"],
                ["Allow", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], "arn:aws:s3:::b/*"],
            ]);
        });

        it("builds Loki's values for S3 without credentials, and refuses a mismatched bucket", async () => {
            const loaded = await loadConfigWith({ target: "aws", cluster: { deployerCidrs: ["detect"] }, observability: { loki: { storage: "s3" } } });
            assert.ok(!(loaded instanceof Error), String(loaded));
            const config: ObservabilityConfig = loaded.observability;
            const values = lokiValues(config, { bucketName: "b", region: "eu-west-1" }) as Json;
            assert.deepStrictEqual(values.loki.storage, { type: "s3", bucketNames: { chunks: "b" }, s3: { region: "eu-west-1" } });
            assert.doesNotMatch(JSON.stringify(values), /accessKey|secretAccessKey|access_key|secret_access_key/i);
            assert.throws(() => lokiValues(config), /needs its bucket/);
            const filesystem: ObservabilityConfig = { ...config, loki: { ...config.loki, storage: "filesystem" } };
            assert.throws(() => lokiValues(filesystem, { bucketName: "b", region: "eu-west-1" }), /filesystem/);
        });
    });

    describe("the prod stack under mocks", () => {
        let prod: ProgramRun;
        before(async () => {
            prod = await runStackFile("prod");
        });

        it("creates the bucket with a prefix derived from the stack, inside the LokiObjectStore component", () => {
            const bucket = resource(prod, "aws:s3/bucket:Bucket", "loki-bucket");
            assert.strictEqual(inputs(bucket).bucketPrefix, "llm-platform-prod-loki-");
            assert.strictEqual(inputs(bucket).bucket, undefined, "S3 completes the name; no fixed global name");
            for (const type of S3_TYPES) {
                const [found, ...others] = resourcesOfType(prod, type);
                assert.deepStrictEqual(others, [], type);
                assert.strictEqual(found.parentUrn && nameOfUrn(found.parentUrn), "loki", `${type} is a child of the component`);
                if (type !== "aws:s3/bucket:Bucket") {
                    assert.strictEqual(inputs(found).bucket, PROD_BUCKET, `${type} configures that bucket`);
                }
            }
            assert.strictEqual(resource(prod, "llm-platform:observability:LokiObjectStore", "loki").custom, false);
            assert.strictEqual(prod.outputs.lokiBucket, PROD_BUCKET);
        });

        it("encrypts with SSE-S3, blocks all public access and turns ACLs off", () => {
            const encryption = inputs(resource(prod, S3_TYPES[1], "loki-encryption"));
            assert.deepStrictEqual(encryption.rules, [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }]);
            const block = inputs(resource(prod, S3_TYPES[2], "loki-public-access"));
            for (const key of ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"]) {
                assert.strictEqual(block[key], true, key);
            }
            assert.deepStrictEqual(inputs(resource(prod, S3_TYPES[3], "loki-ownership")).rule, { objectOwnership: "BucketOwnerEnforced" });
        });

        it("expires every object a day after the 168h retention, and cleans up multipart uploads", () => {
            const [rule, ...others] = inputs(resource(prod, S3_TYPES[4], "loki-lifecycle")).rules;
            assert.deepStrictEqual(others, []);
            assert.deepStrictEqual(rule, {
                id: "loki-retention", status: "Enabled", filter: {}, expiration: { days: 8 }, abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
            });
        });

        it("refuses every request that is not over TLS, after the public access block exists", () => {
            const policy = resource(prod, S3_TYPES[5], "loki-tls-only");
            assert.deepStrictEqual(JSON.parse(inputs(policy).policy), tlsOnlyBucketPolicy(PROD_ARN));
            const [statement] = tlsOnlyBucketPolicy(PROD_ARN).Statement;
            assert.deepStrictEqual([statement.Effect, statement.Principal, statement.Action, statement.Resource, statement.Condition],
                ["Deny", "*", ["s3:*"], [PROD_ARN, `${PROD_ARN}/*`], { Bool: { "aws:SecureTransport": "false" } }]);
            assert.ok(policy.dependencies.includes(resource(prod, S3_TYPES[2], "loki-public-access").urn));
        });

        it("trusts the role to monitoring/loki of this cluster only, and limits its policy to the bucket", () => {
            const role = inputs(resource(prod, "aws:iam/role:Role", "loki-identity-role"));
            const [statement, ...others] = JSON.parse(role.assumeRolePolicy).Statement;
            assert.deepStrictEqual(others, []);
            assert.deepStrictEqual(statement.Principal, { Service: "pods.eks.amazonaws.com" });
            assert.deepStrictEqual(statement.Condition.StringEquals, {
                "aws:SourceAccount": "123456789012",
                "aws:RequestTag/eks-cluster-name": "llm-platform-prod", // the cluster's name: <project>-<stack>
                "aws:RequestTag/kubernetes-namespace": MONITORING_NAMESPACE,
                "aws:RequestTag/kubernetes-service-account": LOKI_SERVICE_ACCOUNT,
            });
            const policy: Json = JSON.parse(inputs(resource(prod, "aws:iam/rolePolicy:RolePolicy", "loki-identity-inline")).policy);
            const resources = (policy.Statement as Json[]).flatMap((s) => [s.Resource].flat());
            assert.deepStrictEqual(policy, lokiBucketPolicy(PROD_ARN));
            assert.ok(resources.every((r: string) => r === PROD_ARN || r === `${PROD_ARN}/*`), resources.join(", "));
            assert.deepStrictEqual(resourcesOfType(prod, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                .filter((a) => a.parentUrn && nameOfUrn(a.parentUrn) === "loki-identity"), [], "no managed policy on top");
        });

        it("associates the role with the ServiceAccount the chart is told to use, before Loki starts", () => {
            const association = resource(prod, "aws:eks/podIdentityAssociation:PodIdentityAssociation", "loki-identity-association");
            const values = lokiChart(prod);
            assert.deepStrictEqual(values.serviceAccount, { create: true, name: LOKI_SERVICE_ACCOUNT });
            assert.deepStrictEqual([inputs(association).namespace, inputs(association).serviceAccount], [MONITORING_NAMESPACE, values.serviceAccount.name]);
            assert.strictEqual(inputs(association).roleArn, "arn:aws:iam::123456789012:role/loki-identity-role-0000000");
            assert.strictEqual(inputs(association).clusterName, "llm-platform-prod");
            const chart = resource(prod, "kubernetes:helm.sh/v4:Chart", "observability-loki");
            assert.ok(chart.dependencies.includes(association.urn), "the agent injects credentials only into pods created after the association");
        });

        it("points the pinned Loki chart at the bucket: type s3, bucket, region, schema and delete requests on s3", () => {
            const loki = lokiChart(prod).loki;
            assert.deepStrictEqual(loki.storage, { type: "s3", bucketNames: { chunks: PROD_BUCKET }, s3: { region: "us-west-2" } });
            assert.deepStrictEqual(loki.schemaConfig.configs.map((c: Json) => [c.store, c.object_store, c.schema]), [["tsdb", "s3", "v13"]]);
            assert.strictEqual(loki.compactor.delete_request_store, "s3");
            assert.deepStrictEqual(loki.rulerConfig.storage.type, "local", "the ruler stays off the bucket, as with filesystem");
            assert.strictEqual(lokiChart(prod).singleBinary.persistence.enabled, true, "the PVC keeps the WAL");
        });
    });

    describe("dev and local keep filesystem on a PVC", () => {
        for (const stack of ["dev", "local"]) {
            it(stack, async () => {
                const run = await runStackFile(stack);
                const values = lokiChart(run);
                assert.deepStrictEqual(values.loki.storage, { type: "filesystem" });
                assert.strictEqual(values.loki.schemaConfig.configs[0].object_store, "filesystem");
                assert.strictEqual(values.loki.compactor.delete_request_store, "filesystem");
                assert.strictEqual(values.singleBinary.persistence.enabled, true);
                assert.strictEqual(values.loki.rulerConfig, undefined);
                for (const type of [...S3_TYPES, "llm-platform:observability:LokiObjectStore"]) {
                    assert.deepStrictEqual(resourcesOfType(run, type), [], type);
                }
                assert.strictEqual(run.outputs.lokiBucket, undefined);
            });
        }
    });
});
