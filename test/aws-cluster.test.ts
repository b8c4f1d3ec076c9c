import * as assert from "assert";
import { awsPreflight } from "../config/preflight";
import { EksCluster, EksClusterArgs } from "../components/cluster/eks-cluster";
import { cidrSubnet, subnetLayout } from "../components/cluster/cluster-network";
import { OFFLINE_DEPLOYER_ADDRESS, checkipCidr, kubeconfig } from "../lib/eks";
import * as pulumi from "@pulumi/pulumi";
import { computedOutputs, invokeResults } from "../tools/offline/fakes";
import { settings } from "../tools/offline/internals";
import { ProgramRun, SECRET, nameOfUrn } from "../tools/offline/run";
import { inputs, Json, loadConfigWith, object, resource, resourcesOfType, runAwsLayer, runComponent, runStackFile } from "./mocks";

const ARGS: EksClusterArgs = {
    kubernetesVersion: "1.35", vpcCidr: "10.0.0.0/16", availabilityZones: 3, natGateways: "perZone",
    existingVpcId: "", existingSubnetIds: [], endpointPublicAccess: false, publicAccessCidrs: [],
    deployerCidrs: [], deployerSecurityGroupIds: [],
    adminRoleArns: ["arn:aws:iam::111122223333:role/admins"],
    callerArn: "arn:aws:sts::123456789012:assumed-role/offline-deployer/offline",
    systemPool: { instanceTypes: ["m6i.large"], minSize: 2, maxSize: 3, diskSizeGiB: 50 },
};

type InvokeAnswer = (inputs: Json) => Json;

interface RegistrationRequest {
    getType(): string;
    getIgnorechangesList(): string[];
}

/** The inputs of every call of one provider function while `build` runs under the offline mocks. */
async function invokesOf(token: string, build: () => void): Promise<Json[]> {
    const answers = invokeResults as Record<string, InvokeAnswer>;
    const answer = answers[token];
    const seen: Json[] = [];
    answers[token] = (args) => {
        seen.push(args);
        return answer(args);
    };
    try {
        await runComponent(build);
    } finally {
        answers[token] = answer;
    }
    return seen;
}

/** The trust policy of the role a Pod Identity role component created. */
function trustOf(run: ProgramRun, component: string): Json {
    return JSON.parse(inputs(resource(run, "aws:iam/role:Role", `${component}-role`)).assumeRolePolicy as string);
}

describe("aws cluster (EksCluster)", () => {
    let dev: ProgramRun;
    let custom: ProgramRun;
    before(async () => {
        dev = await runStackFile("dev");
        custom = await runComponent(() => new EksCluster("c", { ...ARGS, endpointPublicAccess: true, publicAccessCidrs: ["203.0.113.0/24"] }));
    });

    describe("control plane", () => {
        it("keeps the private endpoint and, with no public deployer, no public one", async () => {
            const run = await runComponent(() => new EksCluster("p", ARGS));
            const vpc = inputs(resource(run, "aws:eks/cluster:Cluster", "p-eks")).vpcConfig;
            assert.strictEqual(vpc.endpointPrivateAccess, true);
            assert.strictEqual(vpc.endpointPublicAccess, false);
            assert.strictEqual(vpc.publicAccessCidrs, undefined);
        });

        it("limits a public endpoint to the configured CIDRs", () => {
            const vpc = inputs(resource(custom, "aws:eks/cluster:Cluster", "c-eks")).vpcConfig;
            assert.strictEqual(vpc.endpointPublicAccess, true);
            assert.deepStrictEqual(vpc.publicAccessCidrs, ["203.0.113.0/24"]);
        });

        it("runs Kubernetes 1.35 on standard support only: no extended-support billing, EKS upgrades it at the end", () => {
            const cluster = inputs(resource(dev, "aws:eks/cluster:Cluster", "llm-eks"));
            assert.strictEqual(cluster.version, "1.35");
            assert.deepStrictEqual(cluster.upgradePolicy, { supportType: "STANDARD" });
        });

        it("encrypts secrets with its own KMS key, with rotation on", () => {
            const cluster = inputs(resource(dev, "aws:eks/cluster:Cluster", "llm-eks"));
            const key = resource(dev, "aws:kms/key:Key", "llm-secrets");
            assert.strictEqual(inputs(key).enableKeyRotation, true);
            assert.deepStrictEqual(cluster.encryptionConfig.resources, ["secrets"]);
            assert.match(cluster.encryptionConfig.provider.keyArn, /^arn:aws:kms:.*:key\/llm-secrets$/);
        });

        it("sends every control-plane log type, api, audit and authenticator included", () => {
            const logs = inputs(resource(dev, "aws:eks/cluster:Cluster", "llm-eks")).enabledClusterLogTypes;
            assert.deepStrictEqual(logs, ["api", "audit", "authenticator", "controllerManager", "scheduler"]);
        });

        it("authenticates through access entries only, and makes each admin role cluster admin", () => {
            assert.strictEqual(inputs(resource(custom, "aws:eks/cluster:Cluster", "c-eks")).accessConfig.authenticationMode, "API");
            assert.strictEqual(inputs(resource(custom, "aws:eks/accessEntry:AccessEntry", "c-admin-0")).principalArn, "arn:aws:iam::111122223333:role/admins");
            const association = inputs(resource(custom, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation", "c-admin-0"));
            assert.strictEqual(association.policyArn, "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy");
            assert.deepStrictEqual(association.accessScope, { type: "cluster" });
            assert.deepStrictEqual(resourcesOfType(dev, "aws:eks/accessEntry:AccessEntry"), [], "dev configures no admin roles");
        });
    });

    describe("reaching the API server from the machine that runs pulumi up", () => {
        it("opens dev's public endpoint to that machine only (deployerCidrs: detect; offline, a stand-in address)", () => {
            const vpc = inputs(resource(dev, "aws:eks/cluster:Cluster", "llm-eks")).vpcConfig;
            assert.deepStrictEqual([vpc.endpointPrivateAccess, vpc.endpointPublicAccess, vpc.publicAccessCidrs], [true, true, ["198.51.100.7/32"]]);
            assert.deepStrictEqual(resourcesOfType(dev, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"), [], "nothing runs inside dev's new VPC");
        });

        it("adds public deployer CIDRs to the public endpoint's, and turns it on for them", async () => {
            const run = await runComponent(() => new EksCluster("d", { ...ARGS, deployerCidrs: ["52.10.0.7/32"], detectedDeployerCidr: Promise.resolve("52.10.0.99/32") }));
            const vpc = inputs(resource(run, "aws:eks/cluster:Cluster", "d-eks")).vpcConfig;
            assert.deepStrictEqual([vpc.endpointPublicAccess, vpc.publicAccessCidrs], [true, ["52.10.0.7/32", "52.10.0.99/32"]]);
        });

        it("opens 443 on the cluster security group to private deployer CIDRs and security groups, before any Kubernetes object", async () => {
            const run = await runComponent(() => new EksCluster("v", {
                ...ARGS, existingVpcId: "vpc-0123456789abcdef0", existingSubnetIds: ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"],
                deployerCidrs: ["10.8.0.0/16"], deployerSecurityGroupIds: ["sg-0123456789abcdef0"],
            }));
            const rules = resourcesOfType(run, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule");
            assert.deepStrictEqual(rules.map((rule) => {
                const { securityGroupId, ipProtocol, fromPort, toPort, cidrIpv4, referencedSecurityGroupId } = inputs(rule);
                return { securityGroupId, ipProtocol, fromPort, toPort, source: cidrIpv4 ?? referencedSecurityGroupId };
            }), [
                { securityGroupId: "sg-v-eks-cluster", ipProtocol: "tcp", fromPort: 443, toPort: 443, source: "10.8.0.0/16" },
                { securityGroupId: "sg-v-eks-cluster", ipProtocol: "tcp", fromPort: 443, toPort: 443, source: "sg-0123456789abcdef0" },
            ]);
            const provider = resource(run, "pulumi:providers:kubernetes", "v-k8s");
            for (const rule of rules) {
                assert.ok(provider.dependencies.includes(rule.urn), `the provider waits for ${rule.name}`);
            }
            assert.strictEqual(inputs(resource(run, "aws:eks/cluster:Cluster", "v-eks")).vpcConfig.endpointPublicAccess, false, "a private range needs no public endpoint");
        });

        /** What `run` prints on the console (where pulumi.log writes with no engine), and its result. */
        async function consoleOf<T>(run: () => Promise<T>): Promise<{ lines: string[]; result: T }> {
            const lines: string[] = [];
            const log = console.log;
            console.log = (...args: unknown[]) => lines.push(args.join(" "));
            try {
                return { lines, result: await run() };
            } finally {
                console.log = log;
            }
        }

        it("says in pulumi up's output which address detect opened the endpoint to, as checkip.amazonaws.com gave it", async () => {
            const config = await loadConfigWith({ target: "aws", cluster: { deployerCidrs: ["detect"] } });
            assert.ok(!(config instanceof Error) && config.aws, String(config));
            // An engine runs the program (pulumi up): this machine's address comes from checkip.amazonaws.com.
            const runtime = pulumi.runtime as unknown as { getEngine: () => unknown };
            const [getEngine, fetchOf] = [runtime.getEngine, globalThis.fetch];
            runtime.getEngine = () => ({});
            globalThis.fetch = async (url) => (String(url) === "https://checkip.amazonaws.com" ? new Response("52.10.0.99\n") : new Response("", { status: 404 }));
            try {
                const { lines, result } = await consoleOf(() => awsPreflight(config.aws!.cluster));
                assert.deepStrictEqual(result, { deployerCidr: "52.10.0.99/32" });
                assert.deepStrictEqual(lines.filter((line) => line.includes("cluster.deployerCidrs")), [
                    "info: [runtime] llm-platform:cluster.deployerCidrs: detect: the API server's public endpoint admits 52.10.0.99/32, "
                    + "this machine's public address as https://checkip.amazonaws.com sees it; a stack that CI or several people deploy should list fixed CIDRs instead",
                ]);
            } finally {
                runtime.getEngine = getEngine;
                globalThis.fetch = fetchOf;
            }
        });

        it("says nothing of detect offline (tests, the offline plan), where the address is always the same stand-in", async () => {
            const { lines, result } = await consoleOf(() => runAwsLayer({ cluster: { deployerCidrs: ["detect"] } }));
            assert.deepStrictEqual(result.failures, []);
            assert.deepStrictEqual(lines.filter((line) => line.includes("deployerCidrs")), []);
            assert.deepStrictEqual(inputs(resource(result.run, "aws:eks/cluster:Cluster", "llm-eks")).vpcConfig.publicAccessCidrs, ["198.51.100.7/32"], "the stand-in is in the plan");
        });

        it("refuses, before any AWS resource, a detect that cannot learn the address", async () => {
            const answers = invokeResults as Record<string, InvokeAnswer>;
            const answer = answers[OFFLINE_DEPLOYER_ADDRESS];
            answers[OFFLINE_DEPLOYER_ADDRESS] = () => {
                throw new Error("no route to checkip");
            };
            try {
                const { run, failures } = await runAwsLayer({ cluster: { deployerCidrs: ["detect"] } });
                assert.deepStrictEqual(run.resources.filter((r) => r.custom && r.type.startsWith("aws:")).map((r) => r.type), []);
                assert.deepStrictEqual(failures.map((error) => error.name), ["ConfigError"]);
                assert.match(failures[0].message, /^llm-platform:cluster\.deployerCidrs\[0\] = "detect": could not learn this machine's public address from https:\/\/checkip\.amazonaws\.com \(.+\); list it yourself as a \/32$/);
            } finally {
                answers[OFFLINE_DEPLOYER_ADDRESS] = answer;
            }
        });

        it("reads this machine's address from checkip.amazonaws.com's answer, and nothing else", () => {
            assert.strictEqual(checkipCidr("52.10.0.99\n"), "52.10.0.99/32");
            assert.throws(() => checkipCidr("<html>captive portal</html>"), /not an IPv4 address/);
            assert.throws(() => checkipCidr("10.1.2.3\n"), /private/);
        });
    });

    describe("admin roles and the role that created the cluster", () => {
        // The offline run's caller (tools/offline/fakes.ts): arn:aws:sts::123456789012:assumed-role/offline-deployer/offline.
        const DEPLOYER_ROLE = "arn:aws:iam::123456789012:role/offline-deployer";
        // Another admin, who created the cluster from CI.
        const CI_ROLE = "arn:aws:iam::123456789012:role/ci-deployer";
        const ADMINS = "arn:aws:iam::123456789012:role/admins";
        const CREATOR_TAG = "llm-platform.io/created-by";

        /**
         * The aws layer on a later run: EKS lists the cluster (`llm-platform-test`, its name in stack test, unless `listed`
         * says otherwise), and the engine returns its tags with the creator recorded at creation, which
         * ignoreChanges keeps whoever runs pulumi up now (undefined: a cluster created before the tag).
         */
        async function laterRun(adminRoleArns: string[], creator: string | undefined, listed = ["llm-platform-test"]): Promise<{ run: ProgramRun; failures: Error[] }> {
            const answers = invokeResults as Record<string, InvokeAnswer>;
            const outputs = computedOutputs as Record<string, (args: pulumi.runtime.MockResourceArgs) => Json>;
            const [listClusters, cluster] = [answers["aws:eks/getClusters:getClusters"], outputs["aws:eks/cluster:Cluster"]];
            answers["aws:eks/getClusters:getClusters"] = () => ({ names: listed, id: "us-west-2", region: "us-west-2" });
            outputs["aws:eks/cluster:Cluster"] = (args) => {
                const { [CREATOR_TAG]: _, ...tags } = (args.inputs.tags ?? {}) as Record<string, string>;
                return { ...cluster(args), tags: creator === undefined ? tags : { ...tags, [CREATOR_TAG]: creator } };
            };
            try {
                return await runAwsLayer({ cluster: { deployerCidrs: ["detect"], adminRoleArns } });
            } finally {
                answers["aws:eks/getClusters:getClusters"] = listClusters;
                outputs["aws:eks/cluster:Cluster"] = cluster;
            }
        }

        const accessEntries = (run: ProgramRun) => run.resources.filter((r) => r.type.startsWith("aws:eks/access")).map((r) => `${r.name} ${inputs(r).principalArn}`);

        it("records the role that creates the cluster on it, and never updates it (ignoreChanges)", async () => {
            const ignored: string[][] = [];
            await runComponent(() => {
                const monitor = settings.getMonitor() as unknown as { registerResource(request: RegistrationRequest, callback: unknown): unknown };
                const register = monitor.registerResource.bind(monitor);
                monitor.registerResource = (request, callback) => {
                    if (request.getType() === "aws:eks/cluster:Cluster") {
                        ignored.push(request.getIgnorechangesList());
                    }
                    return register(request, callback);
                };
                new EksCluster("r", ARGS);
            }).then((run) => {
                assert.strictEqual(inputs(resource(run, "aws:eks/cluster:Cluster", "r-eks")).tags[CREATOR_TAG], DEPLOYER_ROLE);
            });
            assert.deepStrictEqual(ignored, [[`tags["${CREATOR_TAG}"]`, "name"]], "and the name: a cluster Pulumi named keeps it");
        });

        it("first deploy: refuses the role running pulumi up, which creates the cluster, with one line naming the key, before any access entry", async () => {
            const { run, failures } = await runAwsLayer({ cluster: { deployerCidrs: ["detect"], adminRoleArns: [ADMINS, DEPLOYER_ROLE] } });
            assert.deepStrictEqual(accessEntries(run), []);
            assert.deepStrictEqual(failures.map((error) => [error.name, error.message.split("\n").length]), [["ConfigError", 1]]);
            assert.match(failures[0].message, /^llm-platform:cluster\.adminRoleArns\[1\] = "arn:aws:iam::123456789012:role\/offline-deployer": is the role running pulumi up \(arn:aws:sts::123456789012:assumed-role\/offline-deployer\/offline\), which creates the cluster/);
        });

        it("first deploy: gives every other admin role its access entry", async () => {
            const { run, failures } = await runAwsLayer({ cluster: { deployerCidrs: ["detect"], adminRoleArns: [ADMINS] } });
            assert.deepStrictEqual(failures, []);
            assert.deepStrictEqual(accessEntries(run), [`llm-admin-0 ${ADMINS}`, `llm-admin-0 ${ADMINS}`]);
        });

        it("a later run by another admin: CI created the cluster, and an admin listed in adminRoleArns runs pulumi up from a laptop", async () => {
            const { run, failures } = await laterRun([ADMINS, DEPLOYER_ROLE], CI_ROLE);
            assert.deepStrictEqual(failures, []);
            assert.ok(accessEntries(run).includes(`llm-admin-1 ${DEPLOYER_ROLE}`), accessEntries(run).join("\n"));
        });

        it("the creator listed later: refused on any caller's run, naming the key and the recorded creator", async () => {
            const { run, failures } = await laterRun([ADMINS, CI_ROLE], CI_ROLE);
            assert.deepStrictEqual(accessEntries(run), []);
            assert.deepStrictEqual(failures.map((error) => [error.name, error.message.split("\n").length]), [["ConfigError", 1]]);
            assert.match(failures[0].message, /^llm-platform:cluster\.adminRoleArns\[1\] = "arn:aws:iam::123456789012:role\/ci-deployer": is the role that created the cluster \(arn:aws:iam::123456789012:role\/ci-deployer, its tag llm-platform\.io\/created-by\)/);
        });

        it("an update that replaces the cluster: its creator is whoever runs it, not the old cluster's recorded one", async () => {
            const { failures } = await laterRun([DEPLOYER_ROLE], CI_ROLE, ["llm-eks-1111111"]);
            assert.match(failures.map((error) => error.message).join("\n"), /adminRoleArns\[0\] = "arn:aws:iam::123456789012:role\/offline-deployer": is the role running pulumi up/);
        });

        it("a cluster Pulumi auto-named before cluster.name: refused, naming the key and the name to set, before any add-on or node group", async () => {
            const answers = invokeResults as Record<string, InvokeAnswer>;
            const outputs = computedOutputs as Record<string, (args: pulumi.runtime.MockResourceArgs) => Json>;
            const [listClusters, cluster] = [answers["aws:eks/getClusters:getClusters"], outputs["aws:eks/cluster:Cluster"]];
            // The engine puts the state's name back (ignoreChanges), so the cluster answers with its old name.
            answers["aws:eks/getClusters:getClusters"] = () => ({ names: ["llm-eks-1a2b3c4"], id: "us-west-2", region: "us-west-2" });
            outputs["aws:eks/cluster:Cluster"] = (args) => ({ ...cluster(args), name: "llm-eks-1a2b3c4" });
            try {
                const { run, failures } = await runAwsLayer({ cluster: { deployerCidrs: ["detect"] } });
                assert.deepStrictEqual(failures.map((error) => [error.name, error.message.split("\n").length]), [["ConfigError", 1]]);
                assert.match(failures[0].message, /^llm-platform:cluster\.name = "": does not name the cluster, which is llm-eks-1a2b3c4 .*\/aws\/eks\/llm-eks-1a2b3c4\/cluster, not into the group the stack manages \(\/aws\/eks\/llm-platform-test\/cluster\); set cluster\.name: llm-eks-1a2b3c4 /);
                assert.deepStrictEqual(run.resources.filter((r) => r.type === "aws:eks/addon:Addon" || r.type === "aws:eks/nodeGroup:NodeGroup"), []);
                const named = await runAwsLayer({ cluster: { deployerCidrs: ["detect"], name: "llm-eks-1a2b3c4" } });
                assert.deepStrictEqual(named.failures, [], "set to the cluster's name, nothing is refused");
                assert.strictEqual(inputs(resource(named.run, "aws:cloudwatch/logGroup:LogGroup", "llm-logs-group")).name, "/aws/eks/llm-eks-1a2b3c4/cluster");
            } finally {
                answers["aws:eks/getClusters:getClusters"] = listClusters;
                outputs["aws:eks/cluster:Cluster"] = cluster;
            }
        });

        it("a cluster created before the creator was recorded: nothing to compare with, so nothing is refused", async () => {
            const { run, failures } = await laterRun([DEPLOYER_ROLE], undefined);
            assert.deepStrictEqual(failures, []);
            assert.deepStrictEqual(accessEntries(run), [`llm-admin-0 ${DEPLOYER_ROLE}`, `llm-admin-0 ${DEPLOYER_ROLE}`]);
        });
    });

    describe("network", () => {
        it("spans the configured zones with a private and a public subnet in each, tagged for load balancers", () => {
            const subnets = resourcesOfType(custom, "aws:ec2/subnet:Subnet").map(inputs);
            assert.deepStrictEqual(subnets.map((s) => s.availabilityZone).sort(), ["us-west-2a", "us-west-2a", "us-west-2b", "us-west-2b", "us-west-2c", "us-west-2c"]);
            assert.strictEqual(subnets.filter((s) => s.tags["kubernetes.io/role/internal-elb"] === "1").length, 3);
            assert.strictEqual(subnets.filter((s) => s.tags["kubernetes.io/role/elb"] === "1").length, 3);
            assert.strictEqual(resourcesOfType(custom, "aws:ec2/natGateway:NatGateway").length, 3, "perZone");
            assert.strictEqual(resourcesOfType(dev, "aws:ec2/natGateway:NatGateway").length, 1, "single by default");
        });

        it("spans regular Availability Zones only, never the Local Zones an account opted into (which sort first)", () => {
            const zones = new Set(resourcesOfType(dev, "aws:ec2/subnet:Subnet").map((s) => inputs(s).availabilityZone));
            assert.deepStrictEqual([...zones].sort(), ["us-west-2a", "us-west-2b"]);
        });

        it("asks for the zones that are available and need no opt-in", async () => {
            const calls = await invokesOf("aws:index/getAvailabilityZones:getAvailabilityZones", () => new EksCluster("z", ARGS));
            assert.deepStrictEqual(calls, [{ state: "available", filters: [{ name: "opt-in-status", values: ["opt-in-not-required"] }] }]);
        });

        it("carves non-overlapping subnets from the VPC block", () => {
            assert.deepStrictEqual(subnetLayout("10.0.0.0/16", 2), { privateCidrs: ["10.0.0.0/19", "10.0.32.0/19"], publicCidrs: ["10.0.224.0/22", "10.0.228.0/22"] });
            assert.strictEqual(cidrSubnet("172.16.0.0/20", 3, 7), "172.16.14.0/23");
        });

        it("uses existing subnets instead of creating a VPC", async () => {
            const run = await runComponent(() => new EksCluster("x", { ...ARGS, existingVpcId: "vpc-0123456789abcdef0", existingSubnetIds: ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"] }));
            assert.deepStrictEqual(resourcesOfType(run, "aws:ec2/vpc:Vpc"), []);
            assert.deepStrictEqual(inputs(resource(run, "aws:eks/cluster:Cluster", "x-eks")).vpcConfig.subnetIds, ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]);
            assert.deepStrictEqual(resourcesOfType(run, "aws:efs/mountTarget:MountTarget").map((m) => inputs(m).subnetId).sort(), ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]);
        });
    });

    describe("add-ons and their IAM", () => {
        it("installs the core add-ons and both CSI drivers", () => {
            const names = resourcesOfType(dev, "aws:eks/addon:Addon").map((a) => inputs(a).addonName).sort();
            assert.deepStrictEqual(names, ["aws-ebs-csi-driver", "aws-efs-csi-driver", "coredns", "eks-pod-identity-agent", "kube-proxy", "vpc-cni"]);
        });

        for (const [addon, serviceAccount] of [["vpc-cni", "aws-node"], ["aws-ebs-csi-driver", "ebs-csi-controller-sa"], ["aws-efs-csi-driver", "efs-csi-controller-sa"]]) {
            it(`scopes the ${addon} role's trust to kube-system/${serviceAccount} of this cluster`, () => {
                const [statement, ...others] = trustOf(dev, `llm-${addon}`).Statement;
                assert.deepStrictEqual(others, []);
                assert.deepStrictEqual(statement.Principal, { Service: "pods.eks.amazonaws.com" });
                assert.deepStrictEqual(statement.Action, ["sts:AssumeRole", "sts:TagSession"]);
                assert.strictEqual(statement.Condition.StringEquals["aws:RequestTag/kubernetes-namespace"], "kube-system");
                assert.strictEqual(statement.Condition.StringEquals["aws:RequestTag/kubernetes-service-account"], serviceAccount);
                assert.strictEqual(statement.Condition.StringEquals["aws:RequestTag/eks-cluster-name"], inputs(resource(dev, "aws:eks/addon:Addon", `llm-${addon}`)).clusterName);
                const association = inputs(resource(dev, "aws:eks/addon:Addon", `llm-${addon}`)).podIdentityAssociations;
                assert.deepStrictEqual(association.map((a: Json) => a.serviceAccount), [serviceAccount]);
            });
        }

        it("gives the system nodes no CNI policy (the VPC CNI has its own role)", () => {
            const policies = resourcesOfType(dev, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                .filter((a) => a.parentUrn && nameOfUrn(a.parentUrn) === "llm-system-0").map((a) => inputs(a).policyArn).sort();
            assert.deepStrictEqual(policies, ["arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly", "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"]);
        });
    });

    describe("storage and nodes", () => {
        it("encrypts the EFS file system and opens only NFS, from the cluster security group", () => {
            assert.strictEqual(inputs(resource(dev, "aws:efs/fileSystem:FileSystem", "llm-models-efs")).encrypted, true);
            const [rule, ...others] = inputs(resource(dev, "aws:ec2/securityGroup:SecurityGroup", "llm-models-nfs")).ingress;
            assert.deepStrictEqual(others, []);
            assert.deepStrictEqual([rule.protocol, rule.fromPort, rule.toPort, rule.securityGroups], ["tcp", 2049, 2049, ["sg-llm-eks-cluster"]]);
            assert.strictEqual(resourcesOfType(dev, "aws:efs/mountTarget:MountTarget").length, 2, "one per private subnet");
        });

        it("declares the efs-models class on that file system and an encrypted gp3 default class", () => {
            const efs = object(dev, "StorageClass", "efs-models") as Json;
            assert.strictEqual(efs.provisioner, "efs.csi.aws.com");
            assert.deepStrictEqual(efs.parameters, { provisioningMode: "efs-ap", fileSystemId: "llm-models-efs-id", directoryPerms: "700", basePath: "/models" });
            const gp3 = object(dev, "StorageClass", "gp3-encrypted") as Json;
            assert.deepStrictEqual([gp3.provisioner, gp3.parameters.type, gp3.parameters.encrypted], ["ebs.csi.aws.com", "gp3", "true"]);
        });

        it("runs a small untainted on-demand system node group", () => {
            const system = inputs(resource(dev, "aws:eks/nodeGroup:NodeGroup", "llm-system-0"));
            assert.deepStrictEqual([system.capacityType, system.instanceTypes, system.scalingConfig.minSize, system.scalingConfig.maxSize], ["ON_DEMAND", ["m6i.large"], 1, 2]);
            assert.deepStrictEqual(system.taints, []);
        });
    });

    describe("kubernetes provider", () => {
        it("authenticates with aws eks get-token, holding no credentials", () => {
            const config = JSON.parse(kubeconfig({ clusterName: "c1", endpoint: "https://e", certificateAuthorityData: "Y2E=", region: "eu-west-1" }));
            const user = config.users[0].user;
            assert.deepStrictEqual(Object.keys(user), ["exec"]);
            assert.strictEqual(user.exec.command, "aws");
            assert.deepStrictEqual(user.exec.args, ["eks", "get-token", "--cluster-name", "c1", "--region", "eu-west-1", "--output", "json"]);
        });

        it("passes the kubeconfig to the provider as a secret, and the Kubernetes objects use that provider", () => {
            const provider = resource(dev, "pulumi:providers:kubernetes", "llm-k8s");
            assert.strictEqual(provider.inputs.kubeconfig, SECRET);
            const storageClass = resourcesOfType(dev, "kubernetes:storage.k8s.io/v1:StorageClass")[0];
            assert.strictEqual(storageClass.providerUrn, provider.urn);
        });

        it("exports the cluster name, a secret kubeconfig, the GPU pool and its capacity", () => {
            assert.strictEqual(dev.outputs.clusterName, "llm-platform-dev");
            assert.strictEqual(dev.outputs.kubeconfig, SECRET);
            assert.strictEqual(dev.outputs.gpuPoolName, "gpu-0000000");
            assert.strictEqual(dev.outputs.gpuCapacityAtMax, 2);
        });
    });
});
