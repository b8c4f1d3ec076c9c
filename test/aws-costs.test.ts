import * as assert from "assert";
import { controlPlaneLogGroupName, logsKeyPolicy } from "../components/cluster/control-plane-logs";
import { EksCluster, EksClusterArgs, eksClusterName } from "../components/cluster/eks-cluster";
import { tlsOnlyFileSystemPolicy } from "../components/cluster/model-file-system";
import { stackSummary } from "../tools/offline/summary";
import { ProgramRun } from "../tools/offline/run";
import { acceptedAwsLayer, acceptedConfig, configProblems, inputs, Json, object, resource, resourcesOfType, runComponent, runStackFile, stackFileConfig } from "./mocks";

const ARGS: EksClusterArgs = {
    kubernetesVersion: "1.35", vpcCidr: "10.0.0.0/16", availabilityZones: 2, natGateways: "single",
    existingVpcId: "", existingSubnetIds: [], endpointPublicAccess: false, publicAccessCidrs: [],
    deployerCidrs: [], deployerSecurityGroupIds: [], adminRoleArns: [],
    callerArn: "arn:aws:sts::123456789012:assumed-role/offline-deployer/offline",
    systemPool: { instanceTypes: ["m6i.large"], minSize: 1, maxSize: 2, diskSizeGiB: 50 },
};

const CLUSTER = "aws:eks/cluster:Cluster";
const LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup";
const ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint";
const BUCKET = "aws:s3/bucket:Bucket";

describe("aws costs and safety (issue 13)", () => {
    let dev: ProgramRun;
    let prod: ProgramRun;
    before(async () => {
        dev = await runStackFile("dev");
        prod = await runStackFile("prod");
    });

    describe("control-plane logs that expire", () => {
        it("names the cluster itself (<project>-<stack>), so that its log group's name is known before it", () => {
            assert.strictEqual(inputs(resource(dev, CLUSTER, "llm-eks")).name, "llm-platform-dev");
            assert.strictEqual(inputs(resource(prod, CLUSTER, "llm-eks")).name, "llm-platform-prod");
            assert.strictEqual(eksClusterName("llm-platform", "team.a"), "llm-platform-team-a", "EKS refuses a dot");
            assert.strictEqual(eksClusterName("p", "s".repeat(120)).length, 100);
        });

        it("creates /aws/eks/<cluster>/cluster with the configured retention before the cluster, which waits for it", () => {
            for (const [run, name] of [[dev, "llm-platform-dev"], [prod, "llm-platform-prod"]] as const) {
                const [group, ...others] = resourcesOfType(run, LOG_GROUP);
                assert.deepStrictEqual(others, []);
                assert.strictEqual(inputs(group).name, `/aws/eks/${name}/cluster`);
                assert.strictEqual(inputs(group).name, controlPlaneLogGroupName(inputs(resource(run, CLUSTER, "llm-eks")).name));
                assert.strictEqual(inputs(group).retentionInDays, 90);
                assert.ok(resource(run, CLUSTER, "llm-eks").dependencies.includes(group.urn), "EKS finds the group there, and creates none of its own");
            }
        });

        it("keeps a cluster's existing name when the config gives it (a cluster created when Pulumi named it)", async () => {
            const run = await acceptedAwsLayer({ cluster: { deployerCidrs: ["detect"], name: "llm-eks-1a2b3c4", controlPlaneLogRetentionDays: 365 } });
            assert.strictEqual(inputs(resource(run, CLUSTER, "llm-eks")).name, "llm-eks-1a2b3c4");
            assert.deepStrictEqual([inputs(resource(run, LOG_GROUP, "llm-logs-group")).name, inputs(resource(run, LOG_GROUP, "llm-logs-group")).retentionInDays],
                ["/aws/eks/llm-eks-1a2b3c4/cluster", 365]);
        });

        it("refuses a retention CloudWatch Logs does not offer, and 0 (never expire), one line naming the key", async () => {
            for (const days of [0, 42]) {
                const problems = await configProblems({ target: "aws", cluster: { deployerCidrs: ["detect"], controlPlaneLogRetentionDays: days } });
                assert.strictEqual(problems.length, 1, problems.join("\n"));
                assert.match(problems[0], new RegExp(`^llm-platform:cluster\\.controlPlaneLogRetentionDays = ${days}: is not a CloudWatch Logs retention \\(days: 1, 3, 5, 7, 14, 30, 60, 90, .*3653\\)$`));
            }
            const name = await configProblems({ target: "aws", cluster: { deployerCidrs: ["detect"], name: "my.cluster" } });
            assert.match(name.join("\n"), /^llm-platform:cluster\.name = "my\.cluster": is not an EKS cluster name/);
        });

        it("encrypts prod's group with a rotating key of its own, which CloudWatch Logs of the region may use for that group only", () => {
            const group = inputs(resource(prod, LOG_GROUP, "llm-logs-group"));
            const key = resource(prod, "aws:kms/key:Key", "llm-logs-key");
            assert.strictEqual(group.kmsKeyId, "arn:aws:kms:us-west-2:123456789012:key/llm-logs-key");
            assert.strictEqual(inputs(key).enableKeyRotation, true);
            const policy = JSON.parse(inputs(key).policy);
            assert.deepStrictEqual(policy, logsKeyPolicy({ partition: "aws", region: "us-west-2", accountId: "123456789012", logGroupName: "/aws/eks/llm-platform-prod/cluster" }));
            const [admin, logs] = policy.Statement;
            assert.deepStrictEqual([admin.Principal, admin.Action], [{ AWS: "arn:aws:iam::123456789012:root" }, "kms:*"], "the account keeps the key (no lockout)");
            assert.deepStrictEqual(logs.Principal, { Service: "logs.us-west-2.amazonaws.com" });
            assert.deepStrictEqual(logs.Condition, { ArnEquals: { "kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:us-west-2:123456789012:log-group:/aws/eks/llm-platform-prod/cluster" } });
            assert.strictEqual(inputs(resource(dev, LOG_GROUP, "llm-logs-group")).kmsKeyId, undefined, "dev: CloudWatch Logs' own encryption");
            assert.deepStrictEqual(resourcesOfType(dev, "aws:kms/key:Key").map((k) => k.name), ["llm-secrets"]);
        });
    });

    describe("deletion", () => {
        it("protects prod's cluster twice: EKS deletion protection, and Pulumi's protect so that destroy stops in its preview", () => {
            const cluster = resource(prod, CLUSTER, "llm-eks");
            assert.deepStrictEqual([inputs(cluster).deletionProtection, cluster.protect], [true, true]);
            assert.strictEqual(resource(prod, LOG_GROUP, "llm-logs-group").protect, true, "the audit log outlives a destroy attempt");
        });

        it("leaves dev deletable: no deletion protection, nothing protected", () => {
            assert.strictEqual(inputs(resource(dev, CLUSTER, "llm-eks")).deletionProtection, false);
            assert.deepStrictEqual(dev.resources.filter((r) => r.protect).map((r) => r.name), []);
        });

        it("protects prod's Loki bucket, which S3 will not delete while it holds logs; elsewhere destroy empties and deletes it", async () => {
            const bucket = resource(prod, BUCKET, "loki-bucket");
            assert.deepStrictEqual([bucket.protect, inputs(bucket).forceDestroy], [true, false]);
            const s3Dev = await acceptedAwsLayer({ cluster: { deployerCidrs: ["detect"] }, observability: { loki: { storage: "s3" } } });
            const devBucket = resource(s3Dev, BUCKET, "loki-bucket");
            assert.deepStrictEqual([devBucket.protect, inputs(devBucket).forceDestroy], [undefined, true]);
        });
    });

    describe("EFS: TLS only", () => {
        it("gives the model file system a policy that refuses any request not over TLS, and admits clients through its mount targets", () => {
            for (const run of [dev, prod]) {
                const policy = resource(run, "aws:efs/fileSystemPolicy:FileSystemPolicy", "llm-models-tls-only");
                assert.strictEqual(inputs(policy).fileSystemId, "llm-models-efs-id");
                const arn = "arn:aws:elasticfilesystem:us-west-2:123456789012:file-system/llm-models-efs-id";
                const document = JSON.parse(inputs(policy).policy);
                assert.deepStrictEqual(document, tlsOnlyFileSystemPolicy(arn));
                const [allow, deny] = document.Statement;
                assert.deepStrictEqual([deny.Effect, deny.Principal, deny.Action, deny.Condition], ["Deny", { AWS: "*" }, "*", { Bool: { "aws:SecureTransport": "false" } }]);
                assert.deepStrictEqual([allow.Effect, allow.Condition], ["Allow", { Bool: { "elasticfilesystem:AccessedViaMountTarget": "true" } }]);
                assert.deepStrictEqual(allow.Action, ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite", "elasticfilesystem:ClientRootAccess"],
                    "root access stays: the CSI controller deletes a released claim's directory as root");
            }
        });

        it("mounts the weights with TLS (the class's mount options; the driver adds tls to every access point mount anyway)", () => {
            assert.deepStrictEqual((object(dev, "StorageClass", "efs-models") as Json).mountOptions, ["tls"]);
        });

        it("deletes a deleted claim's weights with its access point: the EFS driver's controller flag, through the add-on's configuration", () => {
            const efsClass = object(dev, "StorageClass", "efs-models") as Json;
            assert.strictEqual(efsClass.reclaimPolicy, "Delete");
            const addon = inputs(resource(dev, "aws:eks/addon:Addon", "llm-aws-efs-csi-driver"));
            assert.deepStrictEqual(JSON.parse(addon.configurationValues), { controller: { deleteAccessPointRootDir: true } });
        });
    });

    describe("NAT bills: VPC endpoints", () => {
        const endpoints = (run: ProgramRun) => resourcesOfType(run, ENDPOINT).map(inputs);

        it("routes S3 (ECR's layers, Loki's chunks) from every private route table through a free gateway endpoint", () => {
            for (const [run, zones] of [[dev, 2], [prod, 3]] as const) {
                const [s3, ...others] = endpoints(run);
                assert.deepStrictEqual(others, [], "no interface endpoint by default");
                assert.deepStrictEqual([s3.serviceName, s3.vpcEndpointType, s3.vpcId], ["com.amazonaws.us-west-2.s3", "Gateway", "llm-net-vpc-id"]);
                assert.deepStrictEqual(s3.routeTableIds, Array.from({ length: zones }, (_, zone) => `llm-net-private-${zone}-id`));
            }
        });

        it("adds the ECR api and dkr interface endpoints with ecrEndpoints, private DNS on, HTTPS from the VPC only", async () => {
            const run = await runComponent(() => new EksCluster("e", { ...ARGS, ecrEndpoints: true }));
            const ecr = endpoints(run).filter((endpoint) => endpoint.vpcEndpointType === "Interface");
            assert.deepStrictEqual(ecr.map((endpoint) => endpoint.serviceName), ["com.amazonaws.us-west-2.ecr.api", "com.amazonaws.us-west-2.ecr.dkr"]);
            for (const endpoint of ecr) {
                assert.deepStrictEqual([endpoint.privateDnsEnabled, endpoint.subnetIds], [true, ["e-net-private-0-id", "e-net-private-1-id"]]);
                assert.deepStrictEqual(endpoint.securityGroupIds, ["e-net-endpoints-id"]);
            }
            const [rule, ...others] = inputs(resource(run, "aws:ec2/securityGroup:SecurityGroup", "e-net-endpoints")).ingress;
            assert.deepStrictEqual(others, []);
            assert.deepStrictEqual([rule.protocol, rule.fromPort, rule.toPort, rule.cidrBlocks], ["tcp", 443, 443, ["10.0.0.0/16"]]);
            assert.ok(endpoints(run).some((endpoint) => endpoint.vpcEndpointType === "Gateway"), "dkr needs the S3 gateway for the layers");
        });

        it("adds no endpoint to an existing VPC: its route tables are its owner's", async () => {
            const run = await runComponent(() => new EksCluster("x", {
                ...ARGS, ecrEndpoints: true, existingVpcId: "vpc-0123456789abcdef0", existingSubnetIds: ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"],
            }));
            assert.deepStrictEqual(resourcesOfType(run, ENDPOINT), []);
        });
    });

    describe("prod keeps a replica serving through a drain", () => {
        it("runs two warm replicas, and the PDB lets a drain or a scale-down take only one at a time", () => {
            const scaled = object(prod, "ScaledObject", "qwen-7b") as Json;
            const budget = object(prod, "PodDisruptionBudget", "qwen-7b") as Json;
            assert.ok(scaled.spec.minReplicaCount >= 2, `minReplicaCount ${scaled.spec.minReplicaCount}`);
            assert.ok(budget.spec.maxUnavailable < scaled.spec.minReplicaCount, "one replica keeps serving while its successor starts");
        });

        it("holds both warm replicas on the warm node (no node more than before: $5.672/h for g5.12xlarge in us-west-2)", async () => {
            const pool = inputs(resource(prod, "aws:eks/nodeGroup:NodeGroup", "gpu"));
            const scaled = object(prod, "ScaledObject", "qwen-7b") as Json;
            const config = await acceptedConfig(stackFileConfig("prod"));
            const [model] = config.models;
            assert.ok(pool.scalingConfig.minSize * config.aws!.gpuPool.gpusPerNode >= scaled.spec.minReplicaCount * model.gpusPerReplica);
            const summary = stackSummary({ stack: "prod", config, region: "us-west-2" });
            assert.deepStrictEqual(summary.pools?.gpu.pricePerHour?.min, 5.672, "one g5.12xlarge, as with one warm replica");
        });
    });
});
