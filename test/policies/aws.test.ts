import * as assert from "assert";
import { eksControlPlaneLogs, eksEndpointRestricted, eksSecretsKms, storageEncrypted } from "../../policies/rules/aws";
import { gpuPoolTainted, nodeImdsv2 } from "../../policies/rules/aws-nodes";
import { FailingCase, PassingCase, Rule, messagesBothWays, mutated, violations } from "./harness";

/**
 * AWS resources are not Kubernetes objects: they reach the rules only as Pulumi
 * validation args, typed by their token and named by their Pulumi name.
 */
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- fixtures are mutated freely

const CLUSTER = "aws:eks/cluster:Cluster";
const NODE_GROUP = "aws:eks/nodeGroup:NodeGroup";
const LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate";
const EFS = "aws:efs/fileSystem:FileSystem";
/** Looks like a Hugging Face token; no message may repeat it. */
// A token-shaped fake, assembled so that no credential scanner mistakes the source for a leak.
const SECRET = ["hf", "aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"].join("_");

function cluster(): Obj {
    return {
        version: "1.33",
        roleArn: "arn:aws:iam::123456789012:role/eks",
        vpcConfig: { subnetIds: ["subnet-a", "subnet-b"], endpointPrivateAccess: true, endpointPublicAccess: false },
        encryptionConfig: { provider: { keyArn: "arn:aws:kms:us-west-2:123456789012:key/secrets" }, resources: ["secrets"] },
        enabledClusterLogTypes: ["api", "audit", "authenticator", "controllerManager", "scheduler"],
    };
}

function gpuNodeGroup(): Obj {
    return {
        clusterName: "main",
        amiType: "AL2023_x86_64_NVIDIA",
        instanceTypes: ["g6.xlarge"],
        scalingConfig: { minSize: 0, maxSize: 2, desiredSize: 0 },
        launchTemplate: { id: "lt-0123", version: "1" },
        labels: { "nvidia.com/gpu.present": "true", "llm-platform.io/pool": "gpu" },
        taints: [{ key: "nvidia.com/gpu", value: "true", effect: "NO_SCHEDULE" }],
    };
}

function cpuNodeGroup(): Obj {
    return { ...gpuNodeGroup(), amiType: "AL2023_x86_64_STANDARD", instanceTypes: ["m6i.large"], labels: { "llm-platform.io/pool": "system" }, taints: [] };
}

function launchTemplate(): Obj {
    return {
        metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
        blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { volumeSize: 100, volumeType: "gp3", encrypted: "true", deleteOnTermination: "true" } }],
    };
}

function storageClass(): Obj {
    return {
        apiVersion: "storage.k8s.io/v1", kind: "StorageClass",
        metadata: { name: "gp3-encrypted" },
        provisioner: "ebs.csi.aws.com",
        parameters: { type: "gp3", encrypted: "true" },
    };
}

async function messages(rule: Rule, type: string, props: Obj, settings?: Record<string, unknown> | string, name = "main"): Promise<string[]> {
    return (await violations(rule, [{ type, name, props }], settings)).map((v) => v.message);
}

/** The standard suite for an AWS resource: compliant passes, each failing mutation reports exactly the expected messages. */
function awsCases(rule: Rule, type: string, factory: () => Obj, failing: FailingCase[], passing: PassingCase[] = []): void {
    it(`passes a compliant ${type}`, async () => {
        assert.deepStrictEqual(await messages(rule, type, factory()), []);
    });
    for (const [what, mutate] of passing) {
        it(`passes ${what}`, async () => {
            assert.deepStrictEqual(await messages(rule, type, mutated(factory(), mutate)), []);
        });
    }
    for (const [what, mutate, expected] of failing) {
        it(`fails ${what}`, async () => {
            const found = await messages(rule, type, mutated(factory(), mutate));
            assert.strictEqual(found.length, expected.length, found.join("\n"));
            expected.forEach((pattern, index) => assert.match(found[index], pattern));
            found.forEach((message) => assert.ok(!message.includes(SECRET), message));
        });
    }
}

describe("gpu-pool-tainted", () => {
    awsCases(gpuPoolTainted, NODE_GROUP, gpuNodeGroup, [
        ["a GPU pool with no taints", (o) => { delete o.taints; }, [/^GPU node group main: taints has no nvidia.com\/gpu taint; add \{ key: "nvidia.com\/gpu", value: "true", effect: "NO_SCHEDULE" \}/]],
        ["a GPU pool whose taints are unknown (undefined during preview)", (o) => { o.taints = undefined; }, [/taints has no nvidia.com\/gpu taint/]],
        ["a GPU pool with the Kubernetes spelling NoSchedule, not NO_SCHEDULE", (o) => { o.taints[0].effect = "NoSchedule"; },
            [/taint nvidia.com\/gpu has effect "NoSchedule", the Kubernetes spelling; the EKS API takes "NO_SCHEDULE"/]],
        ["a GPU pool tainted NO_EXECUTE", (o) => { o.taints[0].effect = "NO_EXECUTE"; }, [/has effect "NO_EXECUTE"; set effect "NO_SCHEDULE"/]],
        ["a GPU pool with only another taint", (o) => { o.taints = [{ key: "dedicated", value: "gpu", effect: "NO_SCHEDULE" }]; }, [/taints has no nvidia.com\/gpu taint/]],
        ["a pool that is GPU by instance family only (g5, standard AMI, no labels)", (o) => {
            Object.assign(o, { amiType: "AL2023_x86_64_STANDARD", instanceTypes: ["g5.xlarge"], labels: {}, taints: [] });
        }, [/GPU node group main: taints has no nvidia.com\/gpu taint/]],
        ["a pool that is GPU by label only", (o) => { Object.assign(o, { amiType: "CUSTOM", instanceTypes: ["m6i.large"], taints: [] }); }, [/taints has no/]],
        ["a pool that is GPU by the AL2 GPU AMI only", (o) => { Object.assign(o, { amiType: "AL2_x86_64_GPU", instanceTypes: [], labels: {}, taints: [] }); }, [/taints has no/]],
        ["a secret-looking effect, which is not echoed", (o) => { o.taints[0].effect = SECRET; }, [/has effect a string value that is not one of "NO_SCHEDULE"/]],
    ], [
        ["a CPU node group without taints", (o) => { Object.assign(o, cpuNodeGroup()); }],
        ["a node group with no fields at all", (o) => { Object.keys(o).forEach((key) => delete o[key]); }],
        ["a GPU pool with the GPU taint among others", (o) => { o.taints.unshift({ key: "dedicated", value: "llm", effect: "NO_SCHEDULE" }); }],
        ["a GPU pool whose labels and instance types are unknown but whose AMI is NVIDIA", (o) => { o.labels = undefined; o.instanceTypes = undefined; }],
    ]);

    it("takes the GPU instance families from config", async () => {
        const custom = { ...cpuNodeGroup(), instanceTypes: ["x9gpu.large"] };
        assert.deepStrictEqual(await messages(gpuPoolTainted, NODE_GROUP, custom), []);
        assert.match((await messages(gpuPoolTainted, NODE_GROUP, custom, { gpuInstanceFamilies: ["x9gpu"] }))[0], /GPU node group main: taints has no/);
    });

    it("skips a node group exempted by name, and is mandatory", async () => {
        const untainted = mutated(gpuNodeGroup(), (o) => { delete o.taints; });
        const [violation] = await violations(gpuPoolTainted, [{ type: NODE_GROUP, name: "main", props: untainted }]);
        assert.strictEqual(violation.enforcementLevel, "mandatory");
        assert.deepStrictEqual(await messages(gpuPoolTainted, NODE_GROUP, untainted, { exemptions: [{ name: "main", reason: "lab pool shared with CPU jobs" }] }), []);
    });
});

describe("eks-endpoint-restricted", () => {
    const publicWith = (cidrs?: unknown[]) => (o: Obj) => { o.vpcConfig.endpointPublicAccess = true; o.vpcConfig.publicAccessCidrs = cidrs; };
    awsCases(eksEndpointRestricted, CLUSTER, cluster, [
        ["a public endpoint with no CIDRs (EKS reads it as 0.0.0.0/0)", publicWith(undefined),
            [/^EKS cluster main: vpcConfig.endpointPublicAccess is true and publicAccessCidrs is empty, which EKS reads as 0.0.0.0\/0; set endpointPublicAccess false/]],
        ["an endpointPublicAccess left unset (EKS defaults it to true)", (o) => { delete o.vpcConfig.endpointPublicAccess; },
            [/endpointPublicAccess is unset \(EKS defaults it to true\) and publicAccessCidrs is empty/]],
        ["a missing vpcConfig", (o) => { delete o.vpcConfig; }, [/endpointPublicAccess is unset \(EKS defaults it to true\)/]],
        ["a public endpoint open to 0.0.0.0/0", publicWith(["0.0.0.0/0"]), [/publicAccessCidrs\[0\] 0.0.0.0\/0 is the whole internet/]],
        ["a public endpoint open to ::/0 next to a narrow block", publicWith(["203.0.113.7/32", "::/0"]), [/publicAccessCidrs\[1\] ::\/0 is the whole internet/]],
        ["any /0, such as 10.0.0.0/0", publicWith(["10.0.0.0/0"]), [/10.0.0.0\/0 is the whole internet/]],
        ["a CIDR entry that is not a CIDR (a secret-looking string is not echoed)", publicWith([SECRET, 42]),
            [/publicAccessCidrs\[0\] is not a CIDR block/, /publicAccessCidrs\[1\] is not a CIDR block/]],
    ], [
        ["a public endpoint limited to one address", publicWith(["203.0.113.7/32"])],
        ["a private endpoint with leftover CIDRs", (o) => { o.vpcConfig.publicAccessCidrs = ["0.0.0.0/0"]; }],
    ]);

    it("refuses any public endpoint when allowPublicEndpoint is false", async () => {
        const restricted = mutated(cluster(), publicWith(["203.0.113.7/32"]));
        assert.match((await messages(eksEndpointRestricted, CLUSTER, restricted, { allowPublicEndpoint: false }))[0], /this pack's config allows no public endpoint/);
    });

    it("refuses blocks wider than minPublicCidrPrefix", async () => {
        const wide = mutated(cluster(), publicWith(["10.0.0.0/8"]));
        assert.deepStrictEqual(await messages(eksEndpointRestricted, CLUSTER, wide), []);
        assert.match((await messages(eksEndpointRestricted, CLUSTER, wide, { minPublicCidrPrefix: 16 }))[0], /publicAccessCidrs\[0\] 10.0.0.0\/8 is wider than \/16/);
    });
});

describe("eks-secrets-kms", () => {
    awsCases(eksSecretsKms, CLUSTER, cluster, [
        ["a cluster with no encryptionConfig", (o) => { delete o.encryptionConfig; }, [/^EKS cluster main: encryptionConfig does not list "secrets" in resources/]],
        ["an encryptionConfig without secrets in resources", (o) => { o.encryptionConfig.resources = []; }, [/does not list "secrets"/]],
        ["an encryptionConfig without a key", (o) => { o.encryptionConfig.provider = {}; }, [/encryptionConfig.provider.keyArn is unset; point it at a KMS key/]],
        ["an encryptionConfig whose key is unknown (undefined)", (o) => { o.encryptionConfig.provider.keyArn = undefined; }, [/keyArn is unset/]],
        ["an encryptionConfig that is not an object", (o) => { o.encryptionConfig = "secrets"; }, [/does not list "secrets"/]],
    ], [
        ["the list form of encryptionConfig", (o) => { o.encryptionConfig = [o.encryptionConfig]; }],
    ]);

    it("skips a cluster exempted by its Pulumi name", async () => {
        const plain = mutated(cluster(), (o) => { delete o.encryptionConfig; });
        assert.strictEqual((await messages(eksSecretsKms, CLUSTER, plain, undefined, "sandbox")).length, 1);
        assert.deepStrictEqual(await messages(eksSecretsKms, CLUSTER, plain, { exemptions: [{ name: "sandbox", reason: "throwaway cluster, no secrets" }] }, "sandbox"), []);
    });
});

describe("eks-control-plane-logs", () => {
    awsCases(eksControlPlaneLogs, CLUSTER, cluster, [
        ["a cluster with no log types", (o) => { delete o.enabledClusterLogTypes; }, [/^EKS cluster main: enabledClusterLogTypes lacks api, audit, authenticator; add them/]],
        ["a cluster with api logs only", (o) => { o.enabledClusterLogTypes = ["api"]; }, [/lacks audit, authenticator;/]],
        ["a log type list that is not a list", (o) => { o.enabledClusterLogTypes = "api,audit,authenticator"; }, [/lacks api, audit, authenticator/]],
    ], [
        ["exactly api, audit and authenticator", (o) => { o.enabledClusterLogTypes = ["authenticator", "audit", "api"]; }],
    ]);

    it("takes the required log types from config", async () => {
        const three = mutated(cluster(), (o) => { o.enabledClusterLogTypes = ["api", "audit", "authenticator"]; });
        assert.match((await messages(eksControlPlaneLogs, CLUSTER, three, { requiredLogTypes: ["api", "audit", "authenticator", "scheduler"] }))[0], /lacks scheduler;/);
    });
});

describe("node-imdsv2", () => {
    awsCases(nodeImdsv2, LAUNCH_TEMPLATE, launchTemplate, [
        ["IMDSv1 allowed (httpTokens optional)", (o) => { o.metadataOptions.httpTokens = "optional"; },
            [/^launch template main: metadataOptions.httpTokens is "optional"; set it to "required"/]],
        ["a hop limit of 2 (above the default max 1)", (o) => { o.metadataOptions.httpPutResponseHopLimit = 2; }, [/httpPutResponseHopLimit is 2, more than 1; pods could reach the node role's credentials/]],
        ["no metadataOptions at all", (o) => { delete o.metadataOptions; }, [/httpTokens is unset/, /httpPutResponseHopLimit is unset \(the instance default depends on the AMI/]],
        ["a hop limit that is unknown (undefined)", (o) => { o.metadataOptions.httpPutResponseHopLimit = undefined; }, [/httpPutResponseHopLimit is unset/]],
        ["a hop limit written as a string", (o) => { o.metadataOptions.httpPutResponseHopLimit = "1"; }, [/httpPutResponseHopLimit is not a number; set it to 1/]],
        ["a secret-looking httpTokens, which is not echoed", (o) => { o.metadataOptions.httpTokens = SECRET; }, [/httpTokens is a string value that is not one of "optional", "required"/]],
    ], [
        ["the metadata service turned off", (o) => { o.metadataOptions = { httpEndpoint: "disabled" }; }],
    ]);

    it("takes the hop limit from config", async () => {
        const two = mutated(launchTemplate(), (o) => { o.metadataOptions.httpPutResponseHopLimit = 2; });
        assert.deepStrictEqual(await messages(nodeImdsv2, LAUNCH_TEMPLATE, two, { maxHopLimit: 2 }), []);
        assert.match((await messages(nodeImdsv2, LAUNCH_TEMPLATE, two))[0], /is 2, more than 1/);
    });

    it("fails a node group on the template EKS generates (no launchTemplate)", async () => {
        const bare = mutated(gpuNodeGroup(), (o) => { delete o.launchTemplate; });
        assert.match((await messages(nodeImdsv2, NODE_GROUP, bare))[0], /^node group main: launchTemplate is unset, so EKS generates one whose IMDS settings this pack cannot check/);
        assert.deepStrictEqual(await messages(nodeImdsv2, NODE_GROUP, bare, { allowDefaultLaunchTemplate: true }), []);
    });

    it("passes a node group whose launch template id is unknown during preview", async () => {
        const unknown = mutated(gpuNodeGroup(), (o) => { o.launchTemplate = { id: undefined, version: undefined }; });
        assert.deepStrictEqual(await messages(nodeImdsv2, NODE_GROUP, unknown), []);
    });
});

describe("storage-encrypted", () => {
    describe("launch templates (ebs.encrypted is a string in the AWS provider)", () => {
        awsCases(storageEncrypted, LAUNCH_TEMPLATE, launchTemplate, [
            ["the string \"false\"", (o) => { o.blockDeviceMappings[0].ebs.encrypted = "false"; }, [/^launch template main: \/dev\/xvda ebs.encrypted is "false"; set it to the string "true"/]],
            ["the boolean false", (o) => { o.blockDeviceMappings[0].ebs.encrypted = false; }, [/\/dev\/xvda ebs.encrypted is the boolean false;/]],
            ["encrypted unset", (o) => { delete o.blockDeviceMappings[0].ebs.encrypted; }, [/ebs.encrypted is unset;/]],
            ["encrypted unknown (undefined)", (o) => { o.blockDeviceMappings[0].ebs.encrypted = undefined; }, [/ebs.encrypted is unset;/]],
            ["a secret-looking value, which is not echoed", (o) => { o.blockDeviceMappings[0].ebs.encrypted = SECRET; }, [/ebs.encrypted is a string value that is not one of "true", "false"/]],
            ["no EBS mapping at all", (o) => { delete o.blockDeviceMappings; }, [/blockDeviceMappings maps no EBS volume/]],
            ["a second, unnamed volume left unencrypted", (o) => { o.blockDeviceMappings.push({ ebs: { volumeSize: 500 } }); }, [/blockDeviceMappings\[1\] ebs.encrypted is unset/]],
        ], [
            ["the boolean true (coerced to \"true\")", (o) => { o.blockDeviceMappings[0].ebs.encrypted = true; }],
            ["an instance-store mapping next to the encrypted root", (o) => { o.blockDeviceMappings.push({ deviceName: "/dev/sdb", virtualName: "ephemeral0" }); }],
        ]);

        it("accepts an unset encrypted, but not \"false\", with account encryption by default", async () => {
            const settings = { accountEncryptionByDefault: true };
            const unset = mutated(launchTemplate(), (o) => { delete o.blockDeviceMappings; });
            assert.deepStrictEqual(await messages(storageEncrypted, LAUNCH_TEMPLATE, unset, settings), []);
            const off = mutated(launchTemplate(), (o) => { o.blockDeviceMappings[0].ebs.encrypted = "false"; });
            assert.match((await messages(storageEncrypted, LAUNCH_TEMPLATE, off, settings))[0], /ebs.encrypted is "false"/);
        });
    });

    describe("EFS file systems", () => {
        awsCases(storageEncrypted, EFS, () => ({ encrypted: true, throughputMode: "elastic" }), [
            ["encrypted unset", (o) => { delete o.encrypted; }, [/^EFS file system main: encrypted is unset; set encrypted: true/]],
            ["encrypted false", (o) => { o.encrypted = false; }, [/encrypted is false;/]],
        ]);
    });

    describe("StorageClasses", () => {
        it("passes an encrypted gp3 class, and the EFS class (the file system is checked itself)", async () => {
            assert.deepStrictEqual(await messagesBothWays(storageEncrypted, [storageClass()]), []);
            const efs = { ...storageClass(), metadata: { name: "efs-models" }, provisioner: "efs.csi.aws.com", parameters: { provisioningMode: "efs-ap", fileSystemId: "fs-1" } };
            assert.deepStrictEqual(await messagesBothWays(storageEncrypted, [efs]), []);
        });

        const failing: FailingCase[] = [
            ["an EBS class without parameters.encrypted", (o) => { delete o.parameters.encrypted; }, [/^StorageClass gp3-encrypted: parameters.encrypted is unset; set it to the string "true"/]],
            ["an EBS class with no parameters", (o) => { delete o.parameters; }, [/parameters.encrypted is unset/]],
            ["an EBS class with the boolean true", (o) => { o.parameters.encrypted = true; }, [/parameters.encrypted is the boolean true \(StorageClass parameters are strings; quote it\)/]],
            ["an EBS class with \"false\"", (o) => { o.parameters.encrypted = "false"; }, [/parameters.encrypted is "false"/]],
            ["the in-tree kubernetes.io/aws-ebs provisioner unencrypted", (o) => { o.provisioner = "kubernetes.io/aws-ebs"; delete o.parameters.encrypted; }, [/so that kubernetes.io\/aws-ebs creates encrypted volumes/]],
            ["k3s local-path", (o) => { o.provisioner = "rancher.io/local-path"; }, [/provisioner rancher.io\/local-path is not known to encrypt at rest; .* or add it to allowedProvisioners/]],
            ["a class with no provisioner", (o) => { delete o.provisioner; }, [/StorageClass gp3-encrypted: provisioner is unset/]],
        ];
        for (const [what, mutate, expected] of failing) {
            it(`fails ${what}`, async () => {
                const found = await messagesBothWays(storageEncrypted, [mutated(storageClass(), mutate)]);
                assert.strictEqual(found.length, expected.length, found.join("\n"));
                expected.forEach((pattern, index) => assert.match(found[index], pattern));
            });
        }

        it("accepts an allowlisted provisioner, and skips an exempted class", async () => {
            const local = mutated(storageClass(), (o) => { o.provisioner = "rancher.io/local-path"; o.metadata.name = "local-path"; });
            assert.deepStrictEqual(await messagesBothWays(storageEncrypted, [local], { allowedProvisioners: [{ provisioner: "rancher.io/local-path", reason: "laptop disk" }] }), []);
            assert.deepStrictEqual(await messagesBothWays(storageEncrypted, [local], { exemptions: [{ name: "local-path", reason: "k3s default class" }] }), []);
        });
    });

    it("reports nothing when disabled in config", async () => {
        assert.deepStrictEqual(await messages(storageEncrypted, EFS, {}, "disabled"), []);
    });
});
