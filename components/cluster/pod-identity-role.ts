import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { PolicyDocument, managedPolicyArn, podIdentityTrustPolicy } from "../../lib/aws-iam";

export interface PodIdentityRoleArgs {
    readonly clusterName: pulumi.Input<string>;
    /** Namespace of the service account. */
    readonly namespace: string;
    /** The one service account whose pods may assume the role. */
    readonly serviceAccount: string;
    /** AWS managed policies to attach, by name (`service-role/AmazonEBSCSIDriverPolicy`). Defaults to none. */
    readonly managedPolicies?: readonly string[];
    /** An inline policy, built from the cluster name (it may wait on other outputs, like a bucket's ARN). Defaults to none. */
    readonly inlinePolicy?: (clusterName: string) => pulumi.Input<PolicyDocument>;
    /**
     * Create the PodIdentityAssociation too. Defaults to false: EKS add-ons create their own
     * association from the add-on's `podIdentityAssociations`.
     */
    readonly associate?: boolean;
}

/**
 * An IAM role for one Kubernetes service account through EKS Pod Identity: the trust
 * policy admits only that service account (lib/aws-iam.ts `podIdentityTrustPolicy`).
 */
export class PodIdentityRole extends pulumi.ComponentResource {
    public readonly role: aws.iam.Role;
    public readonly arn: pulumi.Output<string>;
    public readonly association?: aws.eks.PodIdentityAssociation;

    constructor(name: string, args: PodIdentityRoleArgs, opts?: pulumi.ComponentResourceOptions) {
        super("llm-platform:iam:PodIdentityRole", name, {}, opts);

        const accountId = aws.getCallerIdentityOutput({}, { parent: this }).accountId;
        const partition = aws.getPartitionOutput({}, { parent: this }).partition;
        const { namespace, serviceAccount } = args;

        this.role = new aws.iam.Role(`${name}-role`, {
            description: `EKS Pod Identity role for ${namespace}/${serviceAccount}`,
            assumeRolePolicy: pulumi.all([accountId, args.clusterName]).apply(([account, clusterName]) =>
                JSON.stringify(podIdentityTrustPolicy({ accountId: account, clusterName, namespace, serviceAccount }))),
        }, { parent: this });
        this.arn = this.role.arn;

        (args.managedPolicies ?? []).forEach((policy, index) => {
            new aws.iam.RolePolicyAttachment(`${name}-policy-${index}`, {
                role: this.role.name,
                policyArn: partition.apply((p) => managedPolicyArn(p, policy)),
            }, { parent: this });
        });
        const inlinePolicy = args.inlinePolicy;
        if (inlinePolicy) {
            new aws.iam.RolePolicy(`${name}-inline`, {
                role: this.role.id,
                policy: pulumi.output(args.clusterName).apply(inlinePolicy).apply((document) => JSON.stringify(document)),
            }, { parent: this });
        }
        if (args.associate) {
            this.association = new aws.eks.PodIdentityAssociation(`${name}-association`, {
                clusterName: args.clusterName,
                namespace,
                serviceAccount,
                roleArn: this.role.arn,
            }, { parent: this });
        }

        this.registerOutputs({ role: this.role, arn: this.arn, association: this.association });
    }
}
