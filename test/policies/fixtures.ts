/**
 * Compliant objects for the rule tests. Each test breaks one thing of a copy and names
 * the violation it expects.
 */

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- fixtures are mutated freely

const RESTRICTED = {
    runAsNonRoot: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
};

/** A vLLM server on one GPU, weights on a read-only PVC: passes every pod rule. */
export function modelServer(): Obj {
    return {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "qwen", namespace: "llm", labels: { "llm-platform.io/role": "model-server" } },
        spec: {
            selector: { matchLabels: { app: "qwen" } },
            template: {
                metadata: { labels: { app: "qwen", "llm-platform.io/role": "model-server" } },
                spec: {
                    securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: "RuntimeDefault" } },
                    terminationGracePeriodSeconds: 60,
                    tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
                    nodeSelector: { "nvidia.com/gpu.present": "true" },
                    topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: { app: "qwen" } } }],
                    containers: [{
                        name: "vllm",
                        image: "vllm/vllm-openai:v0.11.0",
                        args: ["--model", "/models/qwen", "--served-model-name", "Qwen/Qwen2.5-7B-Instruct"],
                        env: [
                            { name: "HF_HUB_OFFLINE", value: "1" },
                            { name: "HF_TOKEN", valueFrom: { secretKeyRef: { name: "hf-token", key: "token" } } },
                        ],
                        ports: [{ name: "http", containerPort: 8000 }],
                        resources: {
                            requests: { cpu: "4", memory: "24Gi", "nvidia.com/gpu": "1" },
                            limits: { cpu: "8", memory: "24Gi", "nvidia.com/gpu": "1" },
                        },
                        securityContext: RESTRICTED,
                        volumeMounts: [{ name: "weights", mountPath: "/models", readOnly: true }, { name: "shm", mountPath: "/dev/shm" }],
                        startupProbe: { httpGet: { path: "/health", port: "http" }, periodSeconds: 10, failureThreshold: 90 },
                        readinessProbe: { httpGet: { path: "/v1/models", port: "http" }, periodSeconds: 5 },
                        livenessProbe: { httpGet: { path: "/health", port: "http" }, periodSeconds: 10 },
                        lifecycle: { preStop: { sleep: { seconds: 30 } } },
                    }],
                    volumes: [
                        { name: "weights", persistentVolumeClaim: { claimName: "qwen-weights", readOnly: true } },
                        { name: "shm", emptyDir: { medium: "Memory", sizeLimit: "2Gi" } },
                    ],
                },
            },
        },
    };
}

/** A small CPU service with no GPU: passes every pod rule. */
export function cpuService(): Obj {
    return {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "web", namespace: "apps" },
        spec: {
            selector: { matchLabels: { app: "web" } },
            template: {
                metadata: { labels: { app: "web" } },
                spec: {
                    securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
                    containers: [{
                        name: "web",
                        image: "nginxinc/nginx-unprivileged:1.27.3",
                        resources: { requests: { cpu: "100m", memory: "64Mi" }, limits: { memory: "128Mi" } },
                        securityContext: RESTRICTED,
                    }],
                },
            },
        },
    };
}

/** The pod spec of a Deployment fixture, for mutations. */
export function podSpec(workload: Obj): Obj {
    return workload.spec.template.spec;
}

export function mainContainer(workload: Obj): Obj {
    return podSpec(workload).containers[0];
}
