import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface ClusterNetworkArgs {
    /** The VPC's IPv4 block, /16 to /20. */
    readonly vpcCidr: string;
    /** The zones to span, at least two (EKS needs subnets in two zones). */
    readonly availabilityZones: pulumi.Input<string[]>;
    /** How many zones; must match the length of `availabilityZones`. */
    readonly zoneCount: number;
    /** One NAT gateway for all zones, or one per zone. Defaults to "single". */
    readonly natGateways?: "single" | "perZone";
    /** ECR interface endpoints (api and dkr) in the private subnets, besides the S3 gateway endpoint. Defaults to false. */
    readonly ecrEndpoints?: boolean;
}

/** The ECR interface endpoints: the registry API (auth, manifests' metadata) and the Docker registry protocol. */
const ECR_ENDPOINT_SERVICES = ["ecr.api", "ecr.dkr"] as const;

/** HTTPS, the only port an interface endpoint serves. */
export const HTTPS_PORT = 443;

export interface SubnetLayout {
    readonly privateCidrs: string[];
    readonly publicCidrs: string[];
}

/**
 * The subnets carved from the VPC block: a large private subnet per zone (the VPC CNI gives
 * every pod a VPC address) in the first seven eighths, small public subnets (load balancers
 * and NAT gateways only) in the last eighth. Like Terraform's `cidrsubnet`.
 */
export function subnetLayout(vpcCidr: string, zones: number): SubnetLayout {
    const zoneIndexes = Array.from({ length: zones }, (_, index) => index);
    const publicBlock = cidrSubnet(vpcCidr, 3, 7);
    return {
        privateCidrs: zoneIndexes.map((index) => cidrSubnet(vpcCidr, 3, index)),
        publicCidrs: zoneIndexes.map((index) => cidrSubnet(publicBlock, 3, index)),
    };
}

/** The `index`th block of `newBits` more prefix bits within `cidr`. */
export function cidrSubnet(cidr: string, newBits: number, index: number): string {
    const [address, prefixText] = cidr.split("/");
    const prefix = Number(prefixText) + newBits;
    if (prefix > 32 || index >= 2 ** newBits) {
        throw new Error(`${cidr} has no block ${index} of /${prefix}`);
    }
    const base = address.split(".").reduce((value, octet) => value * 256 + Number(octet), 0);
    const start = base - (base % 2 ** (32 - Number(prefixText))) + index * 2 ** (32 - prefix);
    const octets = [24, 16, 8, 0].map((shift) => Math.floor(start / 2 ** shift) % 256);
    return `${octets.join(".")}/${prefix}`;
}

/** Subnet tags the AWS Load Balancer Controller discovers subnets by (its docs, "Subnet auto-discovery"). */
export const PUBLIC_SUBNET_TAGS = { "kubernetes.io/role/elb": "1" } as const;
export const PRIVATE_SUBNET_TAGS = { "kubernetes.io/role/internal-elb": "1" } as const;

/**
 * A VPC for the cluster: public and private subnets in each zone, an internet gateway,
 * NAT for the private subnets. Nodes, the control plane's network interfaces and EFS
 * mount targets live in the private subnets.
 *
 * NAT bills every GB it carries (AWS, "Amazon VPC pricing", NAT gateway data processing, per GB
 * on top of the hour), and S3 is most of what the nodes fetch from AWS: ECR serves image layers
 * from S3 (Amazon ECR User Guide, "Amazon ECR interface VPC endpoints": layers are downloaded
 * from S3, which needs the S3 gateway endpoint), and Loki writes its chunks there. An S3 gateway
 * endpoint on the private route tables takes that traffic off NAT, free of charge (gateway
 * endpoints have no hourly or per-GB price). ECR interface endpoints (`ecrEndpoints`) would carry
 * the rest of an ECR pull, the API and manifests, small next to the layers, at $0.01 an hour
 * per endpoint per zone plus $0.01 per GB in us-east-1 (AWS PrivateLink pricing): they pay only
 * where nodes must pull from ECR without NAT. The serving images come from Docker Hub, GHCR and
 * nvcr.io, through NAT either way.
 */
export class ClusterNetwork extends pulumi.ComponentResource {
    public readonly vpc: aws.ec2.Vpc;
    public readonly vpcId: pulumi.Output<string>;
    public readonly privateSubnetIds: pulumi.Output<string>[];
    public readonly publicSubnetIds: pulumi.Output<string>[];

    constructor(name: string, args: ClusterNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        super("llm-platform:cluster:ClusterNetwork", name, {}, opts);
        const parent = { parent: this };
        const layout = subnetLayout(args.vpcCidr, args.zoneCount);
        const zone = (index: number) => pulumi.output(args.availabilityZones).apply((zones) => zones[index]);

        this.vpc = new aws.ec2.Vpc(`${name}-vpc`, {
            cidrBlock: args.vpcCidr,
            enableDnsHostnames: true, // EKS private endpoint and EFS mount target DNS need both
            enableDnsSupport: true,
            tags: { Name: `${name}-vpc` },
        }, parent);
        this.vpcId = this.vpc.id;
        const gateway = new aws.ec2.InternetGateway(`${name}-igw`, { vpcId: this.vpc.id }, parent);
        const publicRoutes = new aws.ec2.RouteTable(`${name}-public`, {
            vpcId: this.vpc.id,
            routes: [{ cidrBlock: "0.0.0.0/0", gatewayId: gateway.id }],
        }, parent);

        const publicSubnets = layout.publicCidrs.map((cidrBlock, index) => {
            const subnet = new aws.ec2.Subnet(`${name}-public-${index}`, {
                vpcId: this.vpc.id, cidrBlock, availabilityZone: zone(index),
                mapPublicIpOnLaunch: false, // nothing launched here gets a public address by default
                tags: { Name: `${name}-public-${index}`, ...PUBLIC_SUBNET_TAGS },
            }, parent);
            new aws.ec2.RouteTableAssociation(`${name}-public-${index}`, { subnetId: subnet.id, routeTableId: publicRoutes.id }, parent);
            return subnet;
        });

        const natCount = args.natGateways === "perZone" ? args.zoneCount : 1;
        const nats = publicSubnets.slice(0, natCount).map((subnet, index) => {
            const address = new aws.ec2.Eip(`${name}-nat-${index}`, { domain: "vpc" }, parent);
            return new aws.ec2.NatGateway(`${name}-nat-${index}`, { allocationId: address.id, subnetId: subnet.id }, { parent: this, dependsOn: [gateway] });
        });

        const privateSubnets = layout.privateCidrs.map((cidrBlock, index) => {
            const subnet = new aws.ec2.Subnet(`${name}-private-${index}`, {
                vpcId: this.vpc.id, cidrBlock, availabilityZone: zone(index),
                tags: { Name: `${name}-private-${index}`, ...PRIVATE_SUBNET_TAGS },
            }, parent);
            const routes = new aws.ec2.RouteTable(`${name}-private-${index}`, {
                vpcId: this.vpc.id,
                routes: [{ cidrBlock: "0.0.0.0/0", natGatewayId: nats[index % nats.length].id }],
            }, parent);
            new aws.ec2.RouteTableAssociation(`${name}-private-${index}`, { subnetId: subnet.id, routeTableId: routes.id }, parent);
            return { subnet, routes };
        });

        this.privateSubnetIds = privateSubnets.map(({ subnet }) => subnet.id);
        this.endpoints(name, args, privateSubnets.map(({ routes }) => routes.id));
        this.publicSubnetIds = publicSubnets.map((subnet) => subnet.id);
        this.registerOutputs({ vpc: this.vpc, vpcId: this.vpcId, privateSubnetIds: this.privateSubnetIds, publicSubnetIds: this.publicSubnetIds });
    }

    /**
     * The S3 gateway endpoint on the private route tables, and with `ecrEndpoints` the ECR
     * interface endpoints in the private subnets (private DNS on: the nodes' usual ECR names
     * resolve to them), behind a security group admitting HTTPS from the VPC only.
     */
    private endpoints(name: string, args: ClusterNetworkArgs, privateRouteTableIds: pulumi.Output<string>[]): void {
        const parent = { parent: this };
        const service = (suffix: string) => pulumi.interpolate`${aws.getPartitionOutput({}, parent).reverseDnsPrefix}.${aws.getRegionOutput({}, parent).region}.${suffix}`;
        new aws.ec2.VpcEndpoint(`${name}-s3`, {
            vpcId: this.vpc.id,
            serviceName: service("s3"),
            vpcEndpointType: "Gateway",
            routeTableIds: privateRouteTableIds,
            tags: { Name: `${name}-s3` },
        }, parent);
        if (!args.ecrEndpoints) {
            return;
        }
        const https = new aws.ec2.SecurityGroup(`${name}-endpoints`, {
            vpcId: this.vpc.id,
            description: "HTTPS to the ECR interface endpoints from the VPC",
            ingress: [{ protocol: "tcp", fromPort: HTTPS_PORT, toPort: HTTPS_PORT, cidrBlocks: [args.vpcCidr], description: "HTTPS from the VPC" }],
        }, parent);
        for (const suffix of ECR_ENDPOINT_SERVICES) {
            new aws.ec2.VpcEndpoint(`${name}-${suffix.replace(".", "-")}`, {
                vpcId: this.vpc.id,
                serviceName: service(suffix),
                vpcEndpointType: "Interface",
                subnetIds: this.privateSubnetIds,
                securityGroupIds: [https.id],
                privateDnsEnabled: true,
                tags: { Name: `${name}-${suffix}` },
            }, parent);
        }
    }
}
