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

/**
 * An encrypted EFS file system for shared model weights, with a mount target in each
 * private subnet, reachable over NFS from the nodes only.
 */
export class ModelFileSystem extends pulumi.ComponentResource {
    public readonly fileSystem: aws.efs.FileSystem;
    public readonly fileSystemId: pulumi.Output<string>;
    public readonly securityGroup: aws.ec2.SecurityGroup;
    public readonly mountTargets: aws.efs.MountTarget[];

    constructor(name: string, args: ModelFileSystemArgs, opts?: pulumi.ComponentResourceOptions) {
        super("llm-platform:cluster:ModelFileSystem", name, {}, opts);

        this.fileSystem = new aws.efs.FileSystem(`${name}-efs`, {
            encrypted: true, // at rest, with the AWS managed key aws/elasticfilesystem
            performanceMode: "generalPurpose",
            throughputMode: "elastic", // weights are read in bursts when replicas start
            tags: { Name: `${name}-models` },
        }, { parent: this });
        this.fileSystemId = this.fileSystem.id;

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

        this.registerOutputs({ fileSystem: this.fileSystem, fileSystemId: this.fileSystemId, securityGroup: this.securityGroup, mountTargets: this.mountTargets });
    }
}
