import type { ClusterFlavour } from "../../config";

/** The control-plane components kube-prometheus-stack scrapes through Services it makes in kube-system. */
export interface ControlPlaneScrapes {
    readonly controllerManager: boolean;
    readonly scheduler: boolean;
    readonly proxy: boolean;
    readonly etcd: boolean;
}

/**
 * What Prometheus can scrape of each flavour's control plane. The chart finds each component
 * through a Service that selects its pods in kube-system (`component: kube-controller-manager`,
 * `component: kube-scheduler`, `k8s-app: kube-proxy`, `component: etcd`) and scrapes the pod's
 * address (the node's, as these pods use the host network); its alerts are
 * `absent(up{job="..."})` (Down, critical) and `up == 0` (InstanceUnreachable)
 * (kube-prometheus-stack 88.5.3 templates/prometheus/rules-1.14/kubernetes-system-controller-manager.yaml,
 * kubernetes-system-scheduler.yaml, kubernetes-system-kube-proxy.yaml, etcd.yaml). A component
 * without such pods fires Down forever; one whose pods listen on 127.0.0.1 only fires
 * InstanceUnreachable (and TargetDown) forever. Scraping is on only where neither happens:
 *
 * - k3s: controller manager, scheduler and kube-proxy run inside the k3s process, no pods
 *   (values.yaml: "For k3s clusters, change to k3s-server"), and the datastore is kine/SQLite
 *   unless the server runs embedded etcd, inside the same process. Nothing to select: all off.
 * - kind: kubeadm static pods. kubeadm starts the controller manager and the scheduler with
 *   `--bind-address=127.0.0.1` (kubernetes cmd/kubeadm/app/phases/controlplane/manifests.go) and
 *   etcd with `--listen-metrics-urls=http://127.0.0.1:2381` (phases/etcd/local.go); kind overrides
 *   the bind address only for IPv6 clusters and sets no `metricsBindAddress` for kube-proxy
 *   (kubernetes-sigs/kind pkg/cluster/internal/kubeadm/config.go), whose default is
 *   127.0.0.1:10249 (kube-proxy config v1alpha1 defaults.go). All off.
 * - minikube: kubeadm's defaults for controller manager, scheduler and etcd as on kind
 *   (pkg/minikube/bootstrapper/bsutil/ktmpl/v1beta4.go adds none), but
 *   `metricsBindAddress: 0.0.0.0:10249` for kube-proxy (same file). kube-proxy on.
 * - eks (every aws stack): the control plane is AWS's, no pods in the cluster; the kube-proxy
 *   add-on's config keeps 127.0.0.1:10249 (aws/containers-roadmap#657,
 *   terraform-aws-modules/terraform-aws-eks#742). All off.
 * - generic: the chart's defaults, all on: a cluster whose components listen where Prometheus
 *   reaches them (a kubeadm cluster configured so).
 */
export const CONTROL_PLANE_SCRAPES: Readonly<Record<ClusterFlavour, ControlPlaneScrapes>> = {
    generic: { controllerManager: true, scheduler: true, proxy: true, etcd: true },
    k3s: { controllerManager: false, scheduler: false, proxy: false, etcd: false },
    kind: { controllerManager: false, scheduler: false, proxy: false, etcd: false },
    minikube: { controllerManager: false, scheduler: false, proxy: true, etcd: false },
    eks: { controllerManager: false, scheduler: false, proxy: false, etcd: false },
};

/**
 * kube-prometheus-stack values for one flavour: each component's scraping (`<component>.enabled`,
 * which also gates its Service, ServiceMonitor and dashboards) and its default rule groups
 * (`defaultRules.rules.*`: the templates create a group only when both are true), set together
 * so that nothing alerts on a component the cluster does not expose.
 */
export function controlPlaneValues(flavour: ClusterFlavour) {
    const scrapes = CONTROL_PLANE_SCRAPES[flavour];
    return {
        kubeControllerManager: { enabled: scrapes.controllerManager },
        kubeScheduler: { enabled: scrapes.scheduler },
        kubeProxy: { enabled: scrapes.proxy },
        kubeEtcd: { enabled: scrapes.etcd },
        defaultRules: {
            rules: {
                kubeControllerManager: scrapes.controllerManager,
                kubeSchedulerAlerting: scrapes.scheduler,
                kubeSchedulerRecording: scrapes.scheduler,
                kubeProxy: scrapes.proxy,
                etcd: scrapes.etcd,
            },
        },
    };
}
