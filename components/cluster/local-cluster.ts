import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as os from "os";
import * as path from "path";

export interface LocalClusterArgs {
    /**
     * Path to the kubeconfig file; `~` and relative paths are resolved against the home
     * and the project directory. Defaults to $KUBECONFIG, then ~/.kube/config.
     */
    readonly kubeconfig?: string;
    /** The kubeconfig context to use. Defaults to the file's current context. */
    readonly context?: string;
}

/**
 * An existing cluster (k3s, kind, minikube, ...) reached through a kubeconfig: the
 * `local` target provisions no infrastructure, only the Kubernetes provider that every
 * other component deploys through.
 */
export class LocalCluster extends pulumi.ComponentResource {
    public readonly provider: k8s.Provider;

    constructor(name: string, args: LocalClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("llm-platform:cluster:LocalCluster", name, {}, opts);

        this.provider = new k8s.Provider(`${name}-k8s`, localProviderArgs(args), { parent: this });

        this.registerOutputs({ provider: this.provider });
    }
}

/** The provider settings for a kubeconfig path and context; pure, for tests. */
export function localProviderArgs(args: LocalClusterArgs, home = os.homedir(), projectDir = process.cwd()): k8s.ProviderArgs {
    return {
        kubeconfig: args.kubeconfig ? resolveKubeconfigPath(args.kubeconfig, home, projectDir) : undefined,
        context: args.context,
    };
}

export function resolveKubeconfigPath(file: string, home: string, projectDir: string): string {
    if (file === "~" || file.startsWith("~/")) {
        return path.join(home, file.slice(1));
    }
    return path.resolve(projectDir, file);
}
