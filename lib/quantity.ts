/**
 * Kubernetes resource quantities ("500m", "1.5Gi", "2e3"), parsed the way the API
 * server does (k8s.io/apimachinery/pkg/api/resource): a signed decimal number and an
 * optional binary (Ki..Ei), decimal (n, u, m, k, M..E) or exponent suffix.
 * Suffixes are case sensitive: "1gi" is not a quantity.
 */
const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/;

const MULTIPLIERS: Readonly<Record<string, number>> = {
    Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
    n: 1e-9, u: 1e-6, m: 1e-3, "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
};

/**
 * The quantity's value in base units (bytes, cores, devices), or undefined if it does not parse;
 * takes any value (a config field, a resource's props): neither a string nor a number does not parse.
 */
export function parseQuantity(quantity: unknown): number | undefined {
    if (typeof quantity === "number") {
        return Number.isFinite(quantity) ? quantity : undefined;
    }
    if (typeof quantity !== "string") {
        return undefined;
    }
    const match = QUANTITY.exec(quantity.trim() === quantity ? quantity : "");
    if (!match) {
        return undefined;
    }
    const [, digits, suffix = ""] = match;
    const multiplier = /^[eE]/.test(suffix) ? 10 ** Number(suffix.slice(1)) : MULTIPLIERS[suffix];
    return Number(digits) * multiplier;
}

export function isQuantity(quantity: string | number): boolean {
    return parseQuantity(quantity) !== undefined;
}
