/**
 * On-demand EC2 prices, Linux, USD per hour, for the instance types the platform accepts
 * (lib/instance-types.ts: the GPU families and the system pool's m6i, m7i), pinned: the plan's
 * summary (./summary.ts) prices the pools with them and says "no price" for any region or type
 * that is not here. Never a guess: a price not read in a source is not in this table.
 *
 * Sources, transcribed by hand (only the types above; the sources list every type):
 * - us-east-1: aws/karpenter-provider-aws pkg/providers/pricing/zz_generated.pricing_aws.go at
 *   commit 6fc13b5236fd04fd16ff3f9dc7490d0813994099 ("generated at 2026-07-20T13:44:30Z for
 *   us-east-1", from the AWS Price List API by hack/code/prices_gen/main.go). That generator
 *   writes us-east-1 only (getAWSRegions returns ["us-east-1"] for the aws partition): Karpenter
 *   fetches the other regions at run time, so the file has no other region.
 * - us-west-2, eu-west-1: tsaol/aws-gpu data/<family>_instances.js at commit
 *   7412fd256c5eda04a70a17742a68e8e44824b2cb ("Auto-generated from instances.vantage.sh data,
 *   Last updated: 2026-01-21"), `pricing.<region>.onDemand`, GPU families only (the file has
 *   no m6i or m7i: the system pool has no price there). Its us-east-1 figures equal Karpenter's
 *   above for every type below, a cross-check of the two. No eu-west-1 entry for g6, g6e, gr6,
 *   p4de, p5, p5en there: not offered in that region then, so no price.
 * - p5e.48xlarge has no on-demand price in either source (sold as capacity blocks): no price.
 */

export interface PriceTable {
    /** When the prices were read from AWS, per region (ISO date). */
    readonly dates: Readonly<Record<string, string>>;
    /** Where they come from, per region: repository, path, commit. */
    readonly sources: Readonly<Record<string, string>>;
    /** Region -> instance type -> USD per hour. */
    readonly onDemand: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

const KARPENTER = "aws/karpenter-provider-aws pkg/providers/pricing/zz_generated.pricing_aws.go @ 6fc13b5";
const VANTAGE = "tsaol/aws-gpu data/*_instances.js @ 7412fd2 (instances.vantage.sh data)";

/** The GPU families' prices in us-east-1 and us-west-2 (the same in both sources' figures, listed once per region below). */
const US_GPU: Readonly<Record<string, number>> = {
    "g4dn.xlarge": 0.526, "g4dn.2xlarge": 0.752, "g4dn.4xlarge": 1.204, "g4dn.8xlarge": 2.176,
    "g4dn.12xlarge": 3.912, "g4dn.16xlarge": 4.352, "g4dn.metal": 7.824,
    "g5.xlarge": 1.006, "g5.2xlarge": 1.212, "g5.4xlarge": 1.624, "g5.8xlarge": 2.448,
    "g5.12xlarge": 5.672, "g5.16xlarge": 4.096, "g5.24xlarge": 8.144, "g5.48xlarge": 16.288,
    "g6.xlarge": 0.8048, "g6.2xlarge": 0.9776, "g6.4xlarge": 1.3232, "g6.8xlarge": 2.0144,
    "g6.12xlarge": 4.6016, "g6.16xlarge": 3.3968, "g6.24xlarge": 6.6752, "g6.48xlarge": 13.3504,
    "gr6.4xlarge": 1.5392, "gr6.8xlarge": 2.4464,
    "g6e.xlarge": 1.861, "g6e.2xlarge": 2.24208, "g6e.4xlarge": 3.00424, "g6e.8xlarge": 4.52856,
    "g6e.12xlarge": 10.49264, "g6e.16xlarge": 7.57719, "g6e.24xlarge": 15.06559, "g6e.48xlarge": 30.13118,
    "p4de.24xlarge": 27.44705,
    "p5.4xlarge": 6.88, "p5.48xlarge": 55.04,
    "p5en.48xlarge": 63.296,
};

export const EC2_PRICES: PriceTable = {
    dates: { "us-east-1": "2026-07-20", "us-west-2": "2026-01-21", "eu-west-1": "2026-01-21" },
    sources: { "us-east-1": KARPENTER, "us-west-2": VANTAGE, "eu-west-1": VANTAGE },
    onDemand: {
        "us-east-1": {
            ...US_GPU,
            // Karpenter's figure has more digits than vantage's 21.95764.
            "p4d.24xlarge": 21.957642,
            "m6i.large": 0.096, "m6i.xlarge": 0.192, "m6i.2xlarge": 0.384, "m6i.4xlarge": 0.768, "m6i.8xlarge": 1.536,
            "m6i.12xlarge": 2.304, "m6i.16xlarge": 3.072, "m6i.24xlarge": 4.608, "m6i.32xlarge": 6.144, "m6i.metal": 6.144,
            "m7i.large": 0.1008, "m7i.xlarge": 0.2016, "m7i.2xlarge": 0.4032, "m7i.4xlarge": 0.8064, "m7i.8xlarge": 1.6128,
            "m7i.12xlarge": 2.4192, "m7i.16xlarge": 3.2256, "m7i.24xlarge": 4.8384, "m7i.48xlarge": 9.6768,
            "m7i.metal-24xl": 5.32224, "m7i.metal-48xl": 9.6768,
        },
        "us-west-2": {
            ...US_GPU,
            "p4d.24xlarge": 21.95764,
        },
        "eu-west-1": {
            "g4dn.xlarge": 0.587, "g4dn.2xlarge": 0.838, "g4dn.4xlarge": 1.342, "g4dn.8xlarge": 2.426,
            "g4dn.12xlarge": 4.362, "g4dn.16xlarge": 4.853, "g4dn.metal": 8.724,
            "g5.xlarge": 1.123, "g5.2xlarge": 1.35296, "g5.4xlarge": 1.81287, "g5.8xlarge": 2.73271,
            "g5.12xlarge": 6.33167, "g5.16xlarge": 4.57237, "g5.24xlarge": 9.09117, "g5.48xlarge": 18.18233,
            "p4d.24xlarge": 23.71569,
        },
    },
};

/** The on-demand price of `type` in `region`, or undefined: not in the table (say "no price"). */
export function onDemandPrice(region: string | undefined, type: string, table: PriceTable = EC2_PRICES): number | undefined {
    if (region === undefined || !Object.hasOwn(table.onDemand, region)) {
        return undefined;
    }
    const prices = table.onDemand[region];
    return Object.hasOwn(prices, type) ? prices[type] : undefined;
}
