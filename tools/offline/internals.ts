/**
 * The few @pulumi/pulumi internals the offline run needs, typed in one place. They are
 * stable across 3.x, and the version is pinned; test/offline.test.ts fails if they move.
 */
/* eslint-disable @typescript-eslint/no-require-imports */

export interface RegisterResourceRequest {
    getType(): string;
    getName(): string;
    getParent(): string;
    getCustom(): boolean;
    /** `<provider urn>::<provider id>`, or empty for the default provider. */
    getProvider(): string;
    getObject(): unknown;
    /** URNs of the resources it depends on (explicit dependsOn, expanded, and its inputs'). */
    getDependenciesList(): string[];
    getCustomtimeouts(): { getCreate(): string } | undefined;
    /** The `protect` option; undefined when not set. */
    getProtect(): boolean | undefined;
    /** The `transforms` option: callbacks served by the program's callback server. */
    getTransformsList(): { getTarget(): string; getToken(): string }[];
}

export interface MockMonitor {
    newUrn(parent: string, type: string, name: string): string;
    registerResource(request: RegisterResourceRequest, callback: (...args: unknown[]) => void): Promise<void>;
}

interface Settings {
    getMonitor(): MockMonitor | undefined;
    /** Resolves once every outstanding resource registration has finished. */
    waitForRPCs(): Promise<void>;
}

interface Rpc {
    deserializeProperties(struct: unknown): Record<string, unknown>;
    serializeProperties(label: string, props: Record<string, unknown>): Promise<Record<string, unknown>>;
    specialSigKey: string;
    specialSecretSig: string;
}

export const settings = require("@pulumi/pulumi/runtime/settings") as Settings;
export const rpc = require("@pulumi/pulumi/runtime/rpc") as Rpc;
