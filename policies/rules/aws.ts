import { RuleConfig, typedRule } from "../lib/rule";
import { Props, asArray, asRecord, asString, at, objectName } from "../lib/values";
import { LAUNCH_TEMPLATE, gpuPoolTainted, mention, nodeImdsv2 } from "./aws-nodes";

/** Pulumi type tokens, as strings: the pack does not import @pulumi/aws. */
export const EKS_CLUSTER = "aws:eks/cluster:Cluster";
export const EFS_FILE_SYSTEM = "aws:efs/fileSystem:FileSystem";
export const STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass";

const CIDR = /^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F:]*:[0-9a-fA-F:.]*)\/(\d{1,3})$/;

interface EndpointConfig extends RuleConfig {
    readonly allowPublicEndpoint?: boolean;
    readonly minPublicCidrPrefix?: number;
}

/** Pulumi compliance-policies; AWS Security Hub EKS.1: the API server is not open to the internet. */
export const eksEndpointRestricted = typedRule<EndpointConfig>({
    name: "eks-endpoint-restricted",
    description: "An EKS cluster's public API endpoint is off, or limited to CIDR blocks that do not cover the internet.",
    enforcementLevel: "mandatory",
    properties: {
        allowPublicEndpoint: {
            type: "boolean", default: true,
            description: "Allow a public endpoint at all (limited to publicAccessCidrs); false requires endpointPublicAccess false.",
        },
        minPublicCidrPrefix: {
            type: "integer", minimum: 1, default: 1,
            description: "The shortest prefix length a public access CIDR may have; 1 refuses only /0 (the whole internet).",
        },
    },
}, [EKS_CLUSTER], (props, config, reportViolation, args) => {
    const vpcConfig = asRecord(props.vpcConfig);
    // EKS turns the public endpoint on when endpointPublicAccess is not given.
    if (vpcConfig.endpointPublicAccess === false) {
        return;
    }
    const where = `EKS cluster ${args.name}`;
    const state = vpcConfig.endpointPublicAccess === true ? "is true" : "is unset (EKS defaults it to true)";
    if (config.allowPublicEndpoint === false) {
        reportViolation(`${where}: vpcConfig.endpointPublicAccess ${state}; this pack's config allows no public endpoint, so set it to false (with endpointPrivateAccess true).`);
        return;
    }
    const cidrs = asArray(vpcConfig.publicAccessCidrs);
    if (cidrs.length === 0) {
        reportViolation(`${where}: vpcConfig.endpointPublicAccess ${state} and publicAccessCidrs is empty, which EKS reads as 0.0.0.0/0; set endpointPublicAccess false, or list the CIDR blocks that may reach the API.`);
        return;
    }
    const minPrefix = config.minPublicCidrPrefix ?? 1;
    cidrs.forEach((cidr, index) => {
        const match = typeof cidr === "string" ? CIDR.exec(cidr) : null;
        if (!match) {
            reportViolation(`${where}: vpcConfig.publicAccessCidrs[${index}] is not a CIDR block; write addresses as a.b.c.d/n.`);
        } else if (Number(match[1]) < minPrefix) {
            reportViolation(`${where}: vpcConfig.publicAccessCidrs[${index}] ${cidr} ${Number(match[1]) === 0 ? "is the whole internet" : `is wider than /${minPrefix}`}; list only the blocks that need the API, or set endpointPublicAccess false.`);
        }
    });
});

/** AWS Control Tower CT.EKS.PR.2: Kubernetes secrets are envelope-encrypted with a KMS key. */
export const eksSecretsKms = typedRule<RuleConfig>({
    name: "eks-secrets-kms",
    description: "An EKS cluster encrypts Kubernetes secrets with a KMS key (encryptionConfig with resources secrets and provider.keyArn).",
    enforcementLevel: "mandatory",
}, [EKS_CLUSTER], (props, _config, reportViolation, args) => {
    // The provider takes one block; older schemas and raw inputs may hold a list of them.
    const blocks = Array.isArray(props.encryptionConfig) ? props.encryptionConfig.map(asRecord) : [asRecord(props.encryptionConfig)];
    const forSecrets = blocks.filter((block) => asArray(block.resources).includes("secrets"));
    const where = `EKS cluster ${args.name}`;
    if (forSecrets.length === 0) {
        reportViolation(`${where}: encryptionConfig does not list "secrets" in resources; add { resources: ["secrets"], provider: { keyArn: <KMS key ARN> } }.`);
    } else if (!forSecrets.some((block) => (asString(at(block, "provider", "keyArn")) ?? "") !== "")) {
        reportViolation(`${where}: encryptionConfig.provider.keyArn is unset; point it at a KMS key for secrets envelope encryption.`);
    }
});

interface LogsConfig extends RuleConfig {
    readonly requiredLogTypes?: readonly string[];
}

export const DEFAULT_REQUIRED_LOG_TYPES = ["api", "audit", "authenticator"];

/** AWS Security Hub EKS.8: the control plane's audit trail reaches CloudWatch Logs. */
export const eksControlPlaneLogs = typedRule<LogsConfig>({
    name: "eks-control-plane-logs",
    description: "An EKS cluster sends its api, audit and authenticator control-plane logs to CloudWatch Logs.",
    enforcementLevel: "mandatory",
    properties: {
        requiredLogTypes: {
            type: "array", default: DEFAULT_REQUIRED_LOG_TYPES,
            items: { type: "string", enum: ["api", "audit", "authenticator", "controllerManager", "scheduler"] },
            description: "Control-plane log types that enabledClusterLogTypes must include.",
        },
    },
}, [EKS_CLUSTER], (props, config, reportViolation, args) => {
    const enabled = asArray(props.enabledClusterLogTypes);
    const missing = (config.requiredLogTypes ?? DEFAULT_REQUIRED_LOG_TYPES).filter((type) => !enabled.includes(type));
    if (missing.length > 0) {
        reportViolation(`EKS cluster ${args.name}: enabledClusterLogTypes lacks ${missing.join(", ")}; add them so that API calls and authentication are audited.`);
    }
});

interface AllowedProvisioner {
    readonly provisioner: string;
    readonly reason: string;
}

interface StorageConfig extends RuleConfig {
    readonly accountEncryptionByDefault?: boolean;
    readonly allowedProvisioners?: readonly AllowedProvisioner[];
}

/** Provisioners that create EBS volumes and take the `encrypted` parameter. */
const EBS_PROVISIONERS = ["ebs.csi.aws.com", "kubernetes.io/aws-ebs"];
/** EFS access points live on a file system whose own `encrypted` this rule checks. */
const EFS_PROVISIONERS = ["efs.csi.aws.com"];

/** The EBS volumes a launch template maps, named by device; instance-store and `noDevice` mappings have no `ebs`. */
function ebsVolumes(props: Props): { device: string; ebs: Props }[] {
    return asArray(props.blockDeviceMappings).map(asRecord)
        .map((mapping, index) => ({ device: asString(mapping.deviceName) ?? `blockDeviceMappings[${index}]`, ebs: mapping.ebs }))
        .filter((volume): volume is { device: string; ebs: Props } => typeof volume.ebs === "object" && volume.ebs !== null);
}

/** awsguard encrypted-volumes, efs-encrypted: data at rest on EBS, EFS and dynamically provisioned volumes is encrypted. */
export const storageEncrypted = typedRule<StorageConfig>({
    name: "storage-encrypted",
    description: "EBS volumes of launch templates, EFS file systems and StorageClasses encrypt data at rest.",
    enforcementLevel: "mandatory",
    properties: {
        accountEncryptionByDefault: {
            type: "boolean", default: false,
            description: "The account has EBS encryption by default on, so a launch-template volume without `encrypted` is still encrypted.",
        },
        allowedProvisioners: {
            type: "array", default: [],
            description: "StorageClass provisioners accepted without an encryption setting (local-path, hostpath on a laptop cluster), each with the reason.",
            items: {
                type: "object", additionalProperties: false, required: ["provisioner", "reason"],
                properties: { provisioner: { type: "string", minLength: 1 }, reason: { type: "string", minLength: 1 } },
            },
        },
    },
}, [LAUNCH_TEMPLATE, EFS_FILE_SYSTEM, STORAGE_CLASS], (props, config, reportViolation, args) => {
    if (args.type === LAUNCH_TEMPLATE) {
        const byDefault = config.accountEncryptionByDefault === true;
        const volumes = ebsVolumes(props);
        if (volumes.length === 0 && !byDefault) {
            reportViolation(`launch template ${args.name}: blockDeviceMappings maps no EBS volume, so the root volume is as unencrypted as the AMI's snapshot; map the root device with ebs.encrypted "true".`);
        }
        for (const { device, ebs } of volumes) {
            // The AWS provider types `encrypted` as a string: "true". A boolean true is coerced to it.
            if (ebs.encrypted === "true" || ebs.encrypted === true || ((ebs.encrypted === undefined || ebs.encrypted === null) && byDefault)) {
                continue;
            }
            const value = ebs.encrypted === false ? "the boolean false" : ebs.encrypted === "false" ? "\"false\"" : mention(ebs.encrypted, ["true", "false"]);
            reportViolation(`launch template ${args.name}: ${device} ebs.encrypted is ${value}; set it to the string "true".`);
        }
        return;
    }
    if (args.type === EFS_FILE_SYSTEM) {
        if (props.encrypted !== true && props.encrypted !== "true") {
            reportViolation(`EFS file system ${args.name}: encrypted is ${mention(props.encrypted, [true, false])}; set encrypted: true (it cannot change after creation).`);
        }
        return;
    }
    const name = objectName(props, args.name);
    const provisioner = asString(props.provisioner);
    if (provisioner !== undefined && EBS_PROVISIONERS.includes(provisioner)) {
        const encrypted = at(props, "parameters", "encrypted");
        if (encrypted !== "true") {
            const value = encrypted === true ? "the boolean true (StorageClass parameters are strings; quote it)" : mention(encrypted, ["true", "false"]);
            reportViolation(`StorageClass ${name}: parameters.encrypted is ${value}; set it to the string "true" so that ${provisioner} creates encrypted volumes.`);
        }
    } else if (provisioner === undefined || (!EFS_PROVISIONERS.includes(provisioner)
        && !(config.allowedProvisioners ?? []).some((allowed) => allowed.provisioner === provisioner))) {
        reportViolation(`StorageClass ${name}: provisioner ${provisioner === undefined ? "is unset" : `${provisioner} is not known to encrypt at rest`}; use ebs.csi.aws.com with parameters.encrypted "true" or efs.csi.aws.com, or add it to allowedProvisioners with the reason.`);
    }
});

export const awsRules = [gpuPoolTainted, eksEndpointRestricted, eksSecretsKms, eksControlPlaneLogs, nodeImdsv2, storageEncrypted];
