import type * as pulumi from "@pulumi/pulumi";
import { isRecord } from "../../config/project";

/**
 * What the offline run answers for cloud state that only a real provider knows: the
 * outputs a resource computes and the results of provider functions. The mocks are
 * strict: an invoke without an entry here fails the run rather than guessing.
 */

type Inputs = Record<string, unknown>;

/** Extra outputs per resource type, merged over its inputs. */
export const computedOutputs: Readonly<Record<string, (args: pulumi.runtime.MockResourceArgs) => Inputs>> = {
    // AWS: the names Pulumi would generate (name + random suffix), ARNs and what EKS reports.
    "aws:iam/role:Role": (args) => ({ name: physicalName(args), arn: `arn:aws:iam::${OFFLINE_ACCOUNT}:role/${physicalName(args)}` }),
    "aws:kms/key:Key": (args) => ({ arn: `arn:aws:kms:${OFFLINE_REGION}:${OFFLINE_ACCOUNT}:key/${args.name}`, keyId: args.name }),
    "aws:ec2/launchTemplate:LaunchTemplate": (args) => ({ latestVersion: 1, arn: `arn:aws:ec2:${OFFLINE_REGION}:${OFFLINE_ACCOUNT}:launch-template/${args.name}` }),
    "aws:eks/cluster:Cluster": (args) => ({
        name: physicalName(args),
        arn: `arn:aws:eks:${OFFLINE_REGION}:${OFFLINE_ACCOUNT}:cluster/${physicalName(args)}`,
        endpoint: `https://${args.name}.offline.${OFFLINE_REGION}.eks.amazonaws.com`,
        certificateAuthority: { data: "b2ZmbGluZS1jYQ==" },
        identities: [{ oidcs: [{ issuer: `https://oidc.eks.${OFFLINE_REGION}.amazonaws.com/id/OFFLINE` }] }],
        vpcConfig: { ...(isRecord(args.inputs.vpcConfig) ? args.inputs.vpcConfig : {}), clusterSecurityGroupId: `sg-${args.name}-cluster`, vpcId: `vpc-${args.name}` },
    }),
    "aws:eks/nodeGroup:NodeGroup": (args) => ({
        nodeGroupName: physicalName(args, "nodeGroupName"),
        arn: `arn:aws:eks:${OFFLINE_REGION}:${OFFLINE_ACCOUNT}:nodegroup/${physicalName(args, "nodeGroupName")}`,
        resources: [{ autoscalingGroups: [{ name: `eks-${physicalName(args, "nodeGroupName")}-asg` }], remoteAccessSecurityGroupId: "" }],
    }),
    "aws:efs/fileSystem:FileSystem": (args) => ({ arn: `arn:aws:elasticfilesystem:${OFFLINE_REGION}:${OFFLINE_ACCOUNT}:file-system/${args.name}-id` }),
    // S3 completes a `bucketPrefix` with a 26-character unique suffix (time-based); offline it is zeros.
    "aws:s3/bucket:Bucket": (args) => {
        const prefix = args.inputs.bucketPrefix;
        const bucket = typeof prefix === "string" && prefix !== "" && !args.inputs.bucket ? `${prefix}${"0".repeat(26)}` : physicalName(args, "bucket");
        return { bucket, arn: `arn:aws:s3:::${bucket}`, bucketRegion: OFFLINE_REGION };
    },
    // A generated password; the provider marks `result` secret, and so does everything that uses it.
    "random:index/randomPassword:RandomPassword": (args) => ({ result: `offline-password-${args.name}` }),
};

/** Results of provider functions, by token. */
export const invokeResults: Readonly<Record<string, (inputs: Inputs) => Inputs>> = {
    "aws:index/getCallerIdentity:getCallerIdentity": () => ({
        accountId: OFFLINE_ACCOUNT, arn: `arn:aws:iam::${OFFLINE_ACCOUNT}:user/offline`, userId: "OFFLINE", id: OFFLINE_ACCOUNT,
    }),
    "aws:index/getPartition:getPartition": () => ({ partition: "aws", dnsSuffix: "amazonaws.com", reverseDnsPrefix: "com.amazonaws", id: "aws" }),
    "aws:index/getRegion:getRegion": (inputs) => {
        const region = typeof inputs.region === "string" ? inputs.region : OFFLINE_REGION;
        return { region, name: region, id: region, description: region, endpoint: `ec2.${region}.amazonaws.com` };
    },
    "aws:index/getAvailabilityZones:getAvailabilityZones": (inputs) => {
        const region = typeof inputs.region === "string" ? inputs.region : OFFLINE_REGION;
        const names = ["a", "b", "c", "d", "e", "f"].map((zone) => `${region}${zone}`);
        return { names, zoneIds: names.map((_, index) => `usw2-az${index + 1}`), groupNames: [region], id: region, region };
    },
};

/** The account and region the offline run pretends to be in. */
export const OFFLINE_ACCOUNT = "123456789012";
export const OFFLINE_REGION = "us-west-2";

/** The resource's own name input if set, else what Pulumi auto-naming would make of its name. */
function physicalName(args: pulumi.runtime.MockResourceArgs, key = "name"): string {
    const given = args.inputs[key];
    return typeof given === "string" && given !== "" ? given : `${args.name}-0000000`;
}

