import * as assert from "assert";
import { ClusterCreator, adminRoleProblems, creatorTagValue } from "../config/aws";
import { configProblems, loadConfigWith } from "./mocks";

/** The one key an aws stack must set: who runs pulumi up (here, this machine). */
const DEPLOYER = { deployerCidrs: ["detect"] };

/** An aws config with `config` merged over it; `cluster` keeps DEPLOYER unless it sets its own. */
function aws(config: Record<string, unknown>): Record<string, unknown> {
    return { target: "aws", ...config, cluster: { ...DEPLOYER, ...(config.cluster as object | undefined) } };
}

/** The problems loadConfig reports for this config; fails if it accepts it. */

/** The problems loadConfig reports for this aws config (with a deployer); fails if it accepts it. */
const problems = (config: Record<string, unknown>) => configProblems(aws(config));

describe("aws config: mistakes of the cluster and GPU pool layers", () => {
    it("accepts the defaults, and fills the new fields from Pulumi.yaml", async () => {
        const config = await loadConfigWith(aws({}));
        assert.ok(!(config instanceof Error), String(config));
        assert.deepStrictEqual(config.aws?.cluster.systemPool, { instanceTypes: ["m6i.large"], minSize: 1, maxSize: 2, diskSizeGiB: 50 });
        assert.strictEqual(config.aws?.gpuPool.scaleDownUnneededTime, "10m");
        assert.deepStrictEqual([config.aws?.cluster.deployerCidrs, config.aws?.cluster.deployerSecurityGroupIds], [["detect"], []]);
    });

    it("defaults to Kubernetes 1.35, a minor in EKS standard support", async () => {
        const config = await loadConfigWith(aws({}));
        assert.ok(!(config instanceof Error), String(config));
        assert.strictEqual(config.aws?.cluster.kubernetesVersion, "1.35");
    });

    const cases: [string, Record<string, unknown>, string][] = [
        ["no GPU instance type", { gpuPool: { instanceTypes: ["m6i.large"] } },
            'llm-platform:gpuPool.instanceTypes[0] = "m6i.large": is not a GPU instance type (g4dn, g5, g6, g6e, p4d, p5 ...)'],
        ["an Arm GPU instance, which the x86_64 NVIDIA AMI cannot boot", { gpuPool: { instanceTypes: ["g5g.xlarge"] } },
            'llm-platform:gpuPool.instanceTypes[0] = "g5g.xlarge": is not a GPU instance type (g4dn, g5, g6, g6e, p4d, p5 ...)'],
        ["GPUs per node that the instance types do not have", { gpuPool: { instanceTypes: ["g5.12xlarge", "g6.xlarge"], gpusPerNode: 4 } },
            "llm-platform:gpuPool.gpusPerNode = 4: does not match gpuPool.instanceTypes: g6.xlarge has 1"],
        ["an empty list of GPU instance types", { gpuPool: { instanceTypes: [] } },
            "llm-platform:gpuPool.instanceTypes = a list of 0: must be at least 1"],
        ["a pool whose max is below its min", { gpuPool: { minSize: 3, maxSize: 2 } },
            "llm-platform:gpuPool.minSize = 3: is greater than maxSize (2)"],
        ["a system pool whose max is below its min", { cluster: { systemPool: { minSize: 4, maxSize: 3 } } },
            "llm-platform:cluster.systemPool.minSize = 4: is greater than maxSize (3)"],
        ["0.0.0.0/0 when the config does not allow it", { cluster: { endpointPublicAccess: true, publicAccessCidrs: ["52.10.0.0/24", "0.0.0.0/0"] } },
            'llm-platform:cluster.publicAccessCidrs[1] = "0.0.0.0/0": opens the API server to the whole internet; list narrower CIDRs, or set cluster.allowPublicEndpointFromAnywhere: true'],
        ["any other /0", { cluster: { endpointPublicAccess: true, publicAccessCidrs: ["10.0.0.0/0"] } },
            'llm-platform:cluster.publicAccessCidrs[0] = "10.0.0.0/0": opens the API server to the whole internet; list narrower CIDRs, or set cluster.allowPublicEndpointFromAnywhere: true'],
        ["a public endpoint with no CIDRs (and no public deployer)", { cluster: { endpointPublicAccess: true, deployerCidrs: [] } },
            "llm-platform:cluster.publicAccessCidrs: is empty while cluster.endpointPublicAccess is true (EKS would allow 0.0.0.0/0); list who may reach the API server"],
        ["an existing VPC without subnets", { cluster: { existingVpcId: "vpc-0123456789abcdef0" } },
            "llm-platform:cluster.existingSubnetIds: is empty while cluster.existingVpcId is set; list its private subnets, one per zone"],
        ["an existing VPC with one subnet", { cluster: { existingVpcId: "vpc-0123456789abcdef0", existingSubnetIds: ["subnet-0aaaaaaaaaaaaaaaa"] } },
            "llm-platform:cluster.existingSubnetIds = a list of 1: needs private subnets in at least two zones (EKS requires two)"],
        ["subnets without their VPC", { cluster: { existingSubnetIds: ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"] } },
            "llm-platform:cluster.existingVpcId: is empty while cluster.existingSubnetIds is set; name the VPC those subnets are in"],
        ["a VPC block too small to carve", { cluster: { vpcCidr: "10.0.0.0/24" } },
            'llm-platform:cluster.vpcCidr = "10.0.0.0/24": must be a /16 to /20 block: the subnets are carved from it'],
        ["a Kubernetes minor with no pinned autoscaler", { cluster: { kubernetesVersion: "1.29" } },
            'llm-platform:cluster.kubernetesVersion = "1.29": has no pinned Cluster Autoscaler release (supported: 1.34, 1.35, the minors in EKS standard support)'],
        ["a minor in EKS extended support, which the STANDARD upgrade policy cannot keep", { cluster: { kubernetesVersion: "1.33" } },
            'llm-platform:cluster.kubernetesVersion = "1.33": has no pinned Cluster Autoscaler release (supported: 1.34, 1.35, the minors in EKS standard support)'],
        ["a minor newer than the pinned autoscalers", { cluster: { kubernetesVersion: "1.36" } },
            'llm-platform:cluster.kubernetesVersion = "1.36": has no pinned Cluster Autoscaler release (supported: 1.34, 1.35, the minors in EKS standard support)'],
        ["a scale-down time that is not a duration", { gpuPool: { scaleDownUnneededTime: "ten minutes" } },
            'llm-platform:gpuPool.scaleDownUnneededTime = "ten minutes": is not a duration (like 10m or 1h30m)'],
        ["a hop limit of 0", { gpuPool: { metadataHopLimit: 0 } },
            "llm-platform:gpuPool.metadataHopLimit = 0: must be at least 1"],
    ];
    for (const [what, config, expected] of cases) {
        it(`rejects ${what}`, async () => {
            assert.deepStrictEqual(await problems(config), [expected]);
        });
    }

    it("accepts 0.0.0.0/0 when allowPublicEndpointFromAnywhere says so", async () => {
        const config = await loadConfigWith(aws({ cluster: { endpointPublicAccess: true, publicAccessCidrs: ["0.0.0.0/0"], allowPublicEndpointFromAnywhere: true } }));
        assert.ok(!(config instanceof Error), String(config));
        assert.deepStrictEqual(config.aws?.cluster.publicAccessCidrs, ["0.0.0.0/0"]);
    });
});

describe("aws config: the machine that runs pulumi up must reach the API server", () => {
    const DOCS = "(AWS EKS User Guide, cluster endpoint access)";
    const unreachable: [string, Record<string, unknown>, string[]][] = [
        ["nobody, on a VPC the stack creates", { cluster: { deployerCidrs: [] } }, [
            "llm-platform:cluster.deployerCidrs: is empty, the public endpoint is off and this stack creates the VPC (cluster.existingVpcId is empty), "
            + "so the machine that runs pulumi up could not reach the API server; list its public address as a /32 (curl -s https://checkip.amazonaws.com) or detect",
        ]],
        ["only a private address (a LAN address, say) on a VPC the stack creates", { cluster: { deployerCidrs: ["192.168.1.20/32"] } }, [
            'llm-platform:cluster.deployerCidrs[0] = "192.168.1.20/32": is a private address, which reaches the API server only from inside the VPC, '
            + "and this stack creates the VPC (cluster.existingVpcId is empty): nothing runs in it at the first pulumi up; "
            + "list the public address of the machine that runs it as a /32 (curl -s https://checkip.amazonaws.com) or detect",
        ]],
        ["security groups on a VPC the stack creates", { cluster: { deployerCidrs: ["detect"], deployerSecurityGroupIds: ["sg-0123456789abcdef0"] } }, [
            "llm-platform:cluster.deployerSecurityGroupIds = a list of 1: needs cluster.existingVpcId: this stack creates the VPC, "
            + "so no security group is in it before the first pulumi up; list the deployer's public address in cluster.deployerCidrs",
        ]],
        ["nobody, in an existing VPC", { cluster: { deployerCidrs: [], existingVpcId: "vpc-0123456789abcdef0", existingSubnetIds: ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"] } }, [
            "llm-platform:cluster.deployerCidrs: is empty, and so is cluster.deployerSecurityGroupIds, with the public endpoint off: "
            + "the cluster security group admits port 443 from the cluster only, so the machine that runs pulumi up could not reach the API server "
            + `${DOCS}; list its security group, its private CIDR in cluster.existingVpcId, or its public address`,
        ]],
        ["a documentation address", { cluster: { deployerCidrs: ["203.0.113.7/32"] } }, [
            'llm-platform:cluster.deployerCidrs[0] = "203.0.113.7/32": is a documentation range (RFC 5737) that no machine has, so nothing reaches the API server from it; '
            + "list real addresses (curl -s https://checkip.amazonaws.com shows yours)",
        ]],
        ["the whole internet", { cluster: { deployerCidrs: ["0.0.0.0/0"] } }, [
            'llm-platform:cluster.deployerCidrs[0] = "0.0.0.0/0": opens the API server to the whole internet; list narrower CIDRs, or set cluster.allowPublicEndpointFromAnywhere: true',
        ]],
        ["something that is not an address", { cluster: { deployerCidrs: ["my laptop"] } }, [
            'llm-platform:cluster.deployerCidrs[0] = "my laptop": is neither detect nor an IPv4 CIDR block (like 198.51.100.7/32)',
        ]],
        ["a security group id that is not one", { cluster: { deployerSecurityGroupIds: ["bastion"], existingVpcId: "vpc-0123456789abcdef0", existingSubnetIds: ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"] } }, [
            'llm-platform:cluster.deployerSecurityGroupIds[0] = "bastion": is not a security group id (sg-...)',
        ]],
        ["a documentation range in publicAccessCidrs", { cluster: { endpointPublicAccess: true, publicAccessCidrs: ["198.51.100.0/24"] } }, [
            'llm-platform:cluster.publicAccessCidrs[0] = "198.51.100.0/24": is a documentation range (RFC 5737) that no machine has, so nothing reaches the API server from it; '
            + "list real addresses (curl -s https://checkip.amazonaws.com shows yours)",
        ]],
        ["a private range in publicAccessCidrs, which EKS refuses", { cluster: { endpointPublicAccess: true, publicAccessCidrs: ["10.20.0.0/16"] } }, [
            'llm-platform:cluster.publicAccessCidrs[0] = "10.20.0.0/16": is a private range, which EKS refuses in publicAccessCidrs (no reserved addresses); '
            + "a private network reaches the API server through the private endpoint: list it in cluster.deployerCidrs",
        ]],
    ];
    for (const [what, config, expected] of unreachable) {
        it(`refuses ${what}`, async () => {
            assert.deepStrictEqual(await configProblems({ target: "aws", ...config }), expected);
        });
    }

    it("is required on aws only: a local stack has no API server of its own", async () => {
        assert.deepStrictEqual((await configProblems({ target: "aws" }))[0].split(":")[1], "cluster.deployerCidrs");
        const local = await loadConfigWith({ target: "local" });
        assert.ok(!(local instanceof Error), String(local));
    });

    const reachable: [string, Record<string, unknown>][] = [
        ["this machine, detected at each run", { deployerCidrs: ["detect"] }],
        ["a public CIDR", { deployerCidrs: ["52.10.0.0/28"] }],
        ["a bastion's security group in an existing VPC", { deployerCidrs: [], deployerSecurityGroupIds: ["sg-0123456789abcdef0"], existingVpcId: "vpc-0123456789abcdef0", existingSubnetIds: ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"] }],
        ["a VPN's private range into an existing VPC", { deployerCidrs: ["10.8.0.0/16"], existingVpcId: "vpc-0123456789abcdef0", existingSubnetIds: ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"] }],
        ["a public endpoint already open to some CIDRs", { deployerCidrs: [], endpointPublicAccess: true, publicAccessCidrs: ["52.10.0.0/24"] }],
        ["a private runner CIDR inside the new VPC next to a public one", { deployerCidrs: ["52.10.0.7/32", "10.0.0.0/19"] }],
    ];
    for (const [what, cluster] of reachable) {
        it(`accepts ${what}`, async () => {
            const config = await loadConfigWith({ target: "aws", cluster });
            assert.ok(!(config instanceof Error), String(config));
        });
    }
});

describe("aws config: an admin role that is the cluster's creator", () => {
    const CALLER = "arn:aws:sts::111122223333:assumed-role/platform-deployer/alice@example.com";
    const creating = (arn: string): ClusterCreator => ({ arn, thisRun: true });
    const refused = (adminRoleArns: string[], caller = CALLER) => adminRoleProblems(adminRoleArns, creating(caller)).map(({ path, input }) => [path.join("."), input]);

    it("is refused naming the entry, on the run that creates the cluster: EKS makes the creator admin itself", () => {
        const [problem, ...others] = adminRoleProblems(["arn:aws:iam::111122223333:role/admins", "arn:aws:iam::111122223333:role/platform-deployer"], creating(CALLER));
        assert.deepStrictEqual(others, []);
        assert.deepStrictEqual([problem.path, problem.input], [["cluster", "adminRoleArns", 1], "arn:aws:iam::111122223333:role/platform-deployer"]);
        assert.strictEqual(problem.message, `is the role running pulumi up (${CALLER}), which creates the cluster: EKS makes the cluster's creator admin itself `
            + "(bootstrapClusterCreatorAdminPermissions), so a second access entry for it fails with 409 ResourceInUseException; remove it from the list");
    });

    it("is refused on later runs as the creator the cluster recorded, whoever runs pulumi up", () => {
        const recorded = creatorTagValue(CALLER);
        assert.strictEqual(recorded, "arn:aws:iam::111122223333:role/platform-deployer");
        const [problem] = adminRoleProblems(["arn:aws:iam::111122223333:role/team/platform-deployer"], { arn: recorded, thisRun: false });
        assert.strictEqual(problem.message, "is the role that created the cluster (arn:aws:iam::111122223333:role/platform-deployer, its tag llm-platform.io/created-by): "
            + "EKS made it admin itself (bootstrapClusterCreatorAdminPermissions), so a second access entry for it fails with 409 ResourceInUseException; remove it from the list");
    });

    it("records a creator the way EKS tags take it: the role's ARN, an IAM user's as it is, a comma (which IAM names allow) as _", () => {
        assert.strictEqual(creatorTagValue("arn:aws:iam::111122223333:user/alice"), "arn:aws:iam::111122223333:user/alice");
        assert.strictEqual(creatorTagValue("arn:aws-cn:sts::111122223333:assumed-role/deploy,ci/run"), "arn:aws-cn:iam::111122223333:role/deploy_ci");
        assert.strictEqual(adminRoleProblems(["arn:aws-cn:iam::111122223333:role/deploy,ci"], { arn: "arn:aws-cn:iam::111122223333:role/deploy_ci", thisRun: false }).length, 1);
    });

    it("compares the assumed role's name with the role's, whatever the role's path (SSO roles have one)", () => {
        const sso = "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123456789abcdef";
        assert.deepStrictEqual(refused([sso], "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice"), [["cluster.adminRoleArns.0", sso]]);
        assert.deepStrictEqual(refused(["arn:aws:iam::111122223333:role/team/platform-deployer"]), [["cluster.adminRoleArns.0", "arn:aws:iam::111122223333:role/team/platform-deployer"]]);
    });

    it("treats role names as IAM does, without case", () => {
        assert.strictEqual(refused(["arn:aws:iam::111122223333:role/Platform-Deployer"]).length, 1);
    });

    it("accepts the same name in another account or partition, a role whose name only starts alike, and any role when an IAM user created the cluster", () => {
        assert.deepStrictEqual(refused(["arn:aws:iam::444455556666:role/platform-deployer"]), []);
        assert.deepStrictEqual(refused(["arn:aws-cn:iam::111122223333:role/platform-deployer"]), []);
        assert.deepStrictEqual(refused(["arn:aws:iam::111122223333:role/platform-deployer-2"]), []);
        assert.deepStrictEqual(refused(["arn:aws:iam::111122223333:role/platform-deployer"], "arn:aws:iam::111122223333:user/platform-deployer"), []);
    });
});
