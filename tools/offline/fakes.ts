import type * as pulumi from "@pulumi/pulumi";

/**
 * What the offline run answers for cloud state that only a real provider knows: the
 * outputs a resource computes and the results of provider functions. The mocks are
 * strict: an invoke without an entry here fails the run rather than guessing.
 */

type Inputs = Record<string, unknown>;

/** Extra outputs per resource type, merged over its inputs. */
export const computedOutputs: Readonly<Record<string, (args: pulumi.runtime.MockResourceArgs) => Inputs>> = {};

/** Results of provider functions, by token. */
export const invokeResults: Readonly<Record<string, (inputs: Inputs) => Inputs>> = {};
