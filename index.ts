import * as k8s from "@pulumi/kubernetes";
import { LocalCluster } from "./components/local-cluster";
import { loadConfig } from "./config";

const config = loadConfig();

const cluster = new LocalCluster("local", config.kubernetes);
const provider = cluster.provider;

const modelNamespace = new k8s.core.v1.Namespace("models", {
    metadata: {
        name: config.namespace,
        labels: {
            "app.kubernetes.io/part-of": "llm-platform",
            // Model servers run as restricted pods; the API server enforces it.
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "latest",
        },
    },
}, { provider });

export const target = config.target;
export const namespace = modelNamespace.metadata.name;
