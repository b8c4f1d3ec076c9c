import * as z from "zod";
import { isQuantity } from "../lib/quantity";

/** Field types shared by the config schemas; each message says what a valid value looks like. */

export const dnsLabel = (maxLength: number) =>
    z.string().regex(
        new RegExp(`^[a-z](?:[-a-z0-9]{0,${maxLength - 2}}[a-z0-9])?$`),
        `is not a DNS label: lowercase letters, digits and '-', starting with a letter, at most ${maxLength} characters`,
    );

/** Accepts `4` as well as `"4"`, since YAML turns bare numbers into numbers. */
export const quantity = z
    .union([z.string(), z.number()])
    .transform(String)
    .refine(isQuantity, "is not a Kubernetes quantity (like 500m, 4, 16Gi)");

export const count = (min: number) => z.int().min(min);

export const seconds = z.int().min(0);

/** For checks across fields, which run on raw values of any type. */
export function isCount(value: unknown): value is number {
    return Number.isInteger(value);
}
