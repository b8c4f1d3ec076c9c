import type * as pulumi from "@pulumi/pulumi";
import { isRecord } from "../../config/project";
import { OFFLINE_DEPLOYER_ADDRESS } from "../../lib/eks";

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
    // A Secret without metadata.name: pulumi-kubernetes names it `<resource name>-` plus 8 random hex
    // digits (provider/pkg/metadata/naming.go AssignNameIfAutonamable); offline the digits are zeros.
    "kubernetes:core/v1:Secret": (args) => {
        const metadata = isRecord(args.inputs.metadata) ? args.inputs.metadata : {};
        return typeof metadata.name === "string" && metadata.name !== "" ? {} : { metadata: { ...metadata, name: `${args.name}-${"0".repeat(8)}` } };
    },
    // A generated password; the provider marks `result` secret, and so does everything that uses it.
    "random:index/randomPassword:RandomPassword": (args) => ({ result: `offline-password-${args.name}` }),
};

/** Results of provider functions, by token. */
export const invokeResults: Readonly<Record<string, (inputs: Inputs) => Inputs>> = {
    // Who runs pulumi up: an assumed role, as with SSO or a CI role (the STS ARN of the session, not the role's IAM ARN).
    "aws:index/getCallerIdentity:getCallerIdentity": () => ({
        accountId: OFFLINE_ACCOUNT, arn: `arn:aws:sts::${OFFLINE_ACCOUNT}:assumed-role/offline-deployer/offline`, userId: "AROAOFFLINE:offline", id: OFFLINE_ACCOUNT,
    }),
    // The public address of the machine that runs pulumi up (config/preflight.ts asks https://checkip.amazonaws.com
    // when the engine runs it): a documentation address stands in for it offline.
    [OFFLINE_DEPLOYER_ADDRESS]: () => ({ cidr: OFFLINE_DEPLOYER_CIDR }),
    "aws:index/getPartition:getPartition": () => ({ partition: "aws", dnsSuffix: "amazonaws.com", reverseDnsPrefix: "com.amazonaws", id: "aws" }),
    "aws:index/getRegion:getRegion": (inputs) => {
        const region = typeof inputs.region === "string" ? inputs.region : OFFLINE_REGION;
        return { region, name: region, id: region, description: region, endpoint: `ec2.${region}.amazonaws.com` };
    },
    "aws:index/getAvailabilityZones:getAvailabilityZones": availabilityZones,
    // A fresh account: no EKS cluster in the region yet (tests that deploy over a cluster list it here).
    "aws:eks/getClusters:getClusters": () => ({ names: [], id: OFFLINE_REGION, region: OFFLINE_REGION }),
    // A cluster getClusters lists has no node group yet (so no getNodeGroup is answered); for any other cluster
    // ListNodegroups fails, as AWS does, and the data source passes the error on
    // (terraform-provider-aws internal/service/eks/node_groups_data_source.go).
    "aws:eks/getNodeGroups:getNodeGroups": (inputs) => {
        const clusters = invokeResults["aws:eks/getClusters:getClusters"]({}).names;
        if (!Array.isArray(clusters) || !clusters.includes(inputs.clusterName)) {
            throw new Error(`listing EKS Node Groups: operation error EKS: ListNodegroups, https response error StatusCode: 404, RequestID: ${OFFLINE_REQUEST_ID}, `
                + `ResourceNotFoundException: No cluster found for name: ${String(inputs.clusterName)}.`);
        }
        return { clusterName: inputs.clusterName, names: [], id: inputs.clusterName };
    },
};

/** One zone of the offline region, as DescribeAvailabilityZones describes it. */
interface Zone {
    readonly name: string;
    readonly zoneId: string;
    readonly groupName: string;
    readonly state: "available" | "impaired";
    readonly optInStatus: "opt-in-not-required" | "opted-in";
}

/**
 * The zones of an account that opted into a Local Zone group, as such accounts see them:
 * DescribeAvailabilityZones returns the opted-in Local Zones with the Availability Zones, and
 * the provider sorts all of them by name (terraform-provider-aws
 * internal/service/ec2/ec2_availability_zones_data_source.go), so `us-west-2-lax-1a` comes
 * before `us-west-2a`. Only the filters the program uses are modelled; any other input fails.
 */
function availabilityZones(inputs: Inputs): Inputs {
    const { region = OFFLINE_REGION, state, filters = [], ...unknown } = inputs;
    if (Object.keys(unknown).length > 0 || typeof region !== "string") {
        throw new Error(`the offline run does not model getAvailabilityZones inputs ${JSON.stringify(Object.keys(unknown))}`);
    }
    const regular: Zone[] = ["a", "b", "c", "d", "e", "f"].map((letter, index) => ({
        name: `${region}${letter}`, zoneId: `usw2-az${index + 1}`, groupName: region, state: "available", optInStatus: "opt-in-not-required",
    }));
    const local: Zone[] = ["a", "b"].map((letter, index) => ({
        name: `${region}-lax-1${letter}`, zoneId: `usw2-lax1-az${index + 1}`, groupName: `${region}-lax-1`, state: "available", optInStatus: "opted-in",
    }));
    const zones = [...regular, ...local]
        .filter((zone) => state === undefined || zone.state === state)
        .filter((zone) => zoneFilters(filters).every(({ name, values }) => values.includes(zone[ZONE_FILTERS[name]])))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return {
        names: zones.map((zone) => zone.name), zoneIds: zones.map((zone) => zone.zoneId),
        groupNames: [...new Set(zones.map((zone) => zone.groupName))].sort(), id: region, region, state, filters,
    };
}

/** DescribeAvailabilityZones filter names the offline run understands, and the field each reads. */
const ZONE_FILTERS = { "opt-in-status": "optInStatus", "zone-name": "name", "group-name": "groupName" } as const;

function zoneFilters(filters: unknown): { name: keyof typeof ZONE_FILTERS; values: string[] }[] {
    if (!Array.isArray(filters)) {
        throw new Error("getAvailabilityZones: filters is not a list");
    }
    return filters.map((filter: unknown) => {
        const { name, values } = isRecord(filter) ? filter : {};
        if (typeof name !== "string" || !(name in ZONE_FILTERS) || !Array.isArray(values)) {
            throw new Error(`the offline run does not model the getAvailabilityZones filter ${JSON.stringify(filter)}`);
        }
        return { name: name as keyof typeof ZONE_FILTERS, values: values.map(String) };
    });
}

/** The account and region the offline run pretends to be in. */
export const OFFLINE_ACCOUNT = "123456789012";
export const OFFLINE_REGION = "us-west-2";
export const OFFLINE_DEPLOYER_CIDR = "198.51.100.7/32";
const OFFLINE_REQUEST_ID = "00000000-0000-0000-0000-000000000000";

/** The resource's own name input if set, else what Pulumi auto-naming would make of its name. */
function physicalName(args: pulumi.runtime.MockResourceArgs, key = "name"): string {
    const given = args.inputs[key];
    return typeof given === "string" && given !== "" ? given : `${args.name}-0000000`;
}

