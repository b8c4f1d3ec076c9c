/**
 * node bin/tools/sdk-floor.js <resources.json>
 *
 * Registers the resources a plan recorded (its resources.json) through the Pulumi SDK, under the
 * plan's mocks, with none of the platform's code: no config, components, policies or output
 * files. What it takes is what the SDK alone costs for that plan; `npm run bench` times it beside
 * the plans it replays, so that a plan's time splits into the SDK's share and the platform's.
 */
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import { PROJECT } from "../config/project";
import { OfflineMocks } from "./offline/run";
import { settings } from "./offline/internals";
import { exitWhenFlushed } from "./offline/exit";
import { withStackTraceOnFailure } from "./offline/stack-traces";
import type { PlannedResource } from "./offline/diff";

/** One entry of a plan's resources.json: the diff's type (./offline/diff.ts), not a copy of it. */
export type { PlannedResource };

/** Any provider's resource: the SDK's CustomResource is abstract; its providers subclass it as this does. */
class PlannedCustomResource extends pulumi.CustomResource {}

/** Component resources are the platform's own types; every other resource is a provider's. */
function isComponent(type: string): boolean {
    return type.startsWith(`${PROJECT}:`);
}

/**
 * Registers `resources`, each after its parent (resources.json is sorted by type, so a child
 * may come first), as plain custom and component resources with their recorded inputs.
 * Two resources may share a name (an Eip and a NatGateway `llm-net-nat-0`); resources.json names
 * a parent by name alone, and a parent is a component where one has that name.
 */
export function registerPlanned(resources: readonly PlannedResource[]): void {
    const parents = new Map<string, PlannedResource>();
    for (const resource of resources) {
        if (!parents.has(resource.name) || isComponent(resource.type)) {
            parents.set(resource.name, resource);
        }
    }
    const registered = new Map<PlannedResource, pulumi.Resource>();
    const register = (resource: PlannedResource): pulumi.Resource => {
        const done = registered.get(resource);
        if (done) {
            return done;
        }
        const planned = resource.parent ? parents.get(resource.parent) : undefined;
        const opts = { parent: planned ? register(planned) : undefined };
        const created = isComponent(resource.type)
            ? new pulumi.ComponentResource(resource.type, resource.name, {}, opts)
            : new PlannedCustomResource(resource.type, resource.name, resource.inputs, opts);
        registered.set(resource, created);
        return created;
    };
    resources.forEach(register);
}

async function main(file: string | undefined): Promise<number> {
    if (!file || !fs.existsSync(file)) {
        console.error(`error: ${file ?? "a resources.json"}: no such file; usage: node bin/tools/sdk-floor.js <resources.json>`);
        return 2;
    }
    const resources = JSON.parse(fs.readFileSync(file, "utf8")) as PlannedResource[];
    await replayPlanned(resources);
    console.log(`registered ${resources.length} resources`);
    return 0;
}

/**
 * Registers `resources` as the plan registered them: under its mocks, and without the stack traces
 * the plan runs without (./offline/stack-traces.ts), so that the two times compare. Resolves once
 * every registration has reached the mocks.
 */
export async function replayPlanned(resources: readonly PlannedResource[], mocks: pulumi.runtime.Mocks = new OfflineMocks()): Promise<void> {
    await withStackTraceOnFailure(async () => {
        await pulumi.runtime.setMocks(mocks, PROJECT, "sdk-floor", false);
        registerPlanned(resources);
        await settings.waitForRPCs();
    });
}

if (require.main === module) {
    main(process.argv[2]).then(exitWhenFlushed, (error: Error) => {
        // The stack withStackTraceOnFailure repeated the replay for: a failure here is a bug.
        console.error(`error: ${error.stack ?? error.message}`);
        exitWhenFlushed(1);
    });
}
