import { z } from "zod";
import { count } from "./fields";

/** EC2 instance families with NVIDIA GPUs that the EKS NVIDIA AMI supports. */
const GPU_INSTANCE = /^(g4dn|g5|g5g|g6|g6e|gr6|p3|p3dn|p4d|p4de|p5|p5e|p5en|p6-b200)\.[0-9a-z]+$/;

const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d|[12]\d|3[0-2])$/;

const cidr = z.string().refine(
    (value) => CIDR.test(value) && value.split("/")[0].split(".").every((octet) => Number(octet) <= 255),
    "is not an IPv4 CIDR block (like 10.0.0.0/16)",
);

export const clusterSchema = z.strictObject({
    kubernetesVersion: z.string().regex(/^1\.\d{2}$/, "is not a Kubernetes minor version (like 1.33)"),
    vpcCidr: cidr,
    availabilityZones: z.int().min(2).max(6),
    existingVpcId: z.string().regex(/^(vpc-[0-9a-f]{8,17})?$/, "is not a VPC id (vpc-...)"),
    existingSubnetIds: z.array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/, "is not a subnet id (subnet-...)")),
    endpointPublicAccess: z.boolean(),
    publicAccessCidrs: z.array(cidr),
    allowPublicEndpointFromAnywhere: z.boolean(),
    adminRoleArns: z.array(z.string().regex(/^arn:aws[\w-]*:iam::\d{12}:role\/.+$/, "is not an IAM role ARN")),
});

export const gpuPoolSchema = z.strictObject({
    instanceTypes: z.array(z.string().regex(GPU_INSTANCE, "is not a GPU instance type (g4dn, g5, g6, g6e, p4d, p5 ...)")).min(1),
    gpusPerNode: count(1),
    capacityType: z.enum(["ON_DEMAND", "SPOT"]),
    minSize: count(0),
    maxSize: count(1),
    diskSizeGiB: z.int().min(50),
    metadataHopLimit: z.int().min(1).max(64),
});

export type ClusterConfig = z.output<typeof clusterSchema>;
export type GpuPoolConfig = z.output<typeof gpuPoolSchema>;
