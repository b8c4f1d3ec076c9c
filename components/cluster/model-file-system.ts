import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface ModelFileSystemArgs {
    readonly vpcId: pulumi.Input<string>;
    /** One private subnet per zone: each gets a mount target. */
    readonly subnetIds: pulumi.Input<string>[];
    /** The security group of the nodes that mount it (EKS's cluster security group). */
    readonly clientSecurityGroupId: pulumi.Input<string>;
}

/** NFS, the only port an EFS mount target needs (AWS EFS User Guide, "Using VPC security groups"). */
export const NFS_PORT = 2049;

/** The NFS client actions a file system policy grants (EFS User Guide, "Using IAM to control access to file systems"). */
export const CLIENT_ACTIONS = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite", "elasticfilesystem:ClientRootAccess"] as const;

/**
 * The file system policy: NFS over TLS only. A policy replaces EFS's default one, which lets
 * any client that reaches a mount target in (EFS User Guide, "Default EFS file system policy"),
 * so the first statement keeps exactly that, and the second refuses every request that is not
 * over TLS (`aws:SecureTransport` false), as the AWS whitepaper "Encrypting File Data with Amazon
 * EFS", "Encryption of Data in Transit", enforces it; a Deny wins over any Allow, IAM ones too.
 *
 * The EFS CSI driver mounts over TLS: every access point mount adds `tls` (kubernetes-sigs/
 * aws-efs-csi-driver pkg/driver/node.go NodePublishVolume: "Access point mounts won't work
 * without it"), and so does the controller's mount that deletes a released claim's directory
 * (pkg/driver/controller.go DeleteVolume: `tls`, `iam`). A plain NFS mount from anywhere else
 * is refused.
 */
export function tlsOnlyFileSystemPolicy(fileSystemArn: string) {
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "ClientsThroughAMountTarget",
                Effect: "Allow",
                Principal: { AWS: "*" },
                Action: [...CLIENT_ACTIONS],
                Resource: fileSystemArn,
                Condition: { Bool: { "elasticfilesystem:AccessedViaMountTarget": "true" } },
            },
            {
                Sid: "DenyNonTls",
                Effect: "Deny",
                Principal: { AWS: "*" },
                Action: "*",
                Resource: fileSystemArn,
                Condition: { Bool: { "aws:SecureTransport": "false" } },
            },
        ],
    };
}

/**
 * An encrypted EFS file system for shared model weights, with a mount target in each
 * private subnet, reachable over NFS from the nodes only, and over TLS only.
 */
export class ModelFileSystem extends pulumi.ComponentResource {
    public readonly fileSystem: aws.efs.FileSystem;
    public readonly fileSystemId: pulumi.Output<string>;
    public readonly securityGroup: aws.ec2.SecurityGroup;
    public readonly mountTargets: aws.efs.MountTarget[];
    public readonly policy: aws.efs.FileSystemPolicy;

    constructor(name: string, args: ModelFileSystemArgs, opts?: pulumi.ComponentResourceOptions) {
        super("llm-platform:cluster:ModelFileSystem", name, {}, opts);

        this.fileSystem = new aws.efs.FileSystem(`${name}-efs`, {
            encrypted: true, // at rest, with the AWS managed key aws/elasticfilesystem
            performanceMode: "generalPurpose",
            throughputMode: "elastic", // weights are read in bursts when replicas start
            tags: { Name: `${name}-models` },
        }, { parent: this });
        this.fileSystemId = this.fileSystem.id;
        this.policy = new aws.efs.FileSystemPolicy(`${name}-tls-only`, {
            fileSystemId: this.fileSystem.id,
            policy: this.fileSystem.arn.apply((arn) => JSON.stringify(tlsOnlyFileSystemPolicy(arn))),
        }, { parent: this });

        this.securityGroup = new aws.ec2.SecurityGroup(`${name}-nfs`, {
            vpcId: args.vpcId,
            description: "NFS to the model weights file system from the cluster nodes",
            ingress: [{ protocol: "tcp", fromPort: NFS_PORT, toPort: NFS_PORT, securityGroups: [args.clientSecurityGroupId], description: "NFS from the nodes" }],
        }, { parent: this });

        this.mountTargets = args.subnetIds.map((subnetId, index) => new aws.efs.MountTarget(`${name}-mount-${index}`, {
            fileSystemId: this.fileSystem.id,
            subnetId,
            securityGroups: [this.securityGroup.id],
        }, { parent: this }));

        this.registerOutputs({ fileSystem: this.fileSystem, fileSystemId: this.fileSystemId, securityGroup: this.securityGroup, mountTargets: this.mountTargets, policy: this.policy });
    }
}
