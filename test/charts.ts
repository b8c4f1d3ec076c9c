/**
 * Small charts the tests write themselves (never a fetched upstream chart): `demo` 1.0.0 has a
 * CRD, a values.schema.json, a subchart, a Helm hook that creates the TLS Secret its Deployment
 * mounts, custom objects rendered only when their API version is served (its own Widget, a
 * Gadget of another CRD), a map read with `with` and one dumped with `toYaml`, and a Secret.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { helmBinary } from "../tools/offline/helm-binary";

const DEMO: Record<string, string> = {
    "Chart.yaml": `apiVersion: v2
name: demo
version: 1.0.0
dependencies:
  - name: sub
    version: 0.1.0
    condition: sub.enabled
`,
    "values.yaml": `image:
  repository: registry.example.com/demo
  tag: "1.0"
tls:
  enabled: false
withResources: true
replicas: 1
podLabels: {}
cache:
  enabled: false
extraConfig:
  level: info
credentials:
  password: ""
sub:
  enabled: true
`,
    "values.schema.json": JSON.stringify({ type: "object", properties: { replicas: { type: "integer", minimum: 1 } } }),
    "crds/widgets.yaml": `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.demo.example.com
spec:
  group: demo.example.com
  scope: Namespaced
  names: { kind: Widget, plural: widgets, singular: widget }
  versions:
    - name: v1
      served: true
      storage: true
      schema: { openAPIV3Schema: { type: object, x-kubernetes-preserve-unknown-fields: true } }
`,
    "templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicas }}
  selector: { matchLabels: { app: demo } }
  template:
    metadata:
      labels:
        app: demo
        {{- with .Values.podLabels }}{{ toYaml . | nindent 8 }}{{ end }}
    spec:
      securityContext: { runAsNonRoot: true, seccompProfile: { type: RuntimeDefault } }
      containers:
        - name: demo
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: [ALL] } }
          {{- if .Values.withResources }}
          resources: { requests: { cpu: 100m, memory: 64Mi }, limits: { memory: 64Mi } }
          {{- end }}
          {{- if .Values.tls.enabled }}
          volumeMounts: [{ name: tls, mountPath: /tls }]
      volumes:
        - name: tls
          secret: { secretName: {{ .Release.Name }}-tls }
          {{- end }}
`,
    "templates/hook-job.yaml": `{{- if .Values.tls.enabled }}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-certgen
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
spec:
  template:
    spec:
      restartPolicy: OnFailure
      containers:
        - name: certgen
          image: registry.example.com/certgen:v1
          args: [create, --secret-name={{ .Release.Name }}-tls]
{{- end }}
`,
    "templates/widget.yaml": `{{- if .Capabilities.APIVersions.Has "demo.example.com/v1/Widget" }}
apiVersion: demo.example.com/v1
kind: Widget
metadata:
  name: {{ .Release.Name }}
spec: { size: 1 }
{{- end }}
`,
    "templates/gadget.yaml": `{{- if .Capabilities.APIVersions.Has "example.com/v1/Gadget" }}
apiVersion: example.com/v1
kind: Gadget
metadata:
  name: {{ .Release.Name }}
{{- end }}
`,
    "templates/cache.yaml": `{{- with .Values.cache }}
{{- if .enabled }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ $.Release.Name }}-cache
data:
  {{- toYaml $.Values.extraConfig | nindent 2 }}
{{- end }}
{{- end }}
`,
    "templates/secret.yaml": `{{- if .Values.credentials.password }}
apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-credentials
stringData:
  password: {{ .Values.credentials.password | quote }}
{{- end }}
`,
    "charts/sub/Chart.yaml": "apiVersion: v2\nname: sub\nversion: 0.1.0\n",
    "charts/sub/values.yaml": "port: 80\n",
    "charts/sub/templates/service.yaml": `apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}-sub
spec:
  selector: { app: demo }
  ports: [{ port: {{ .Values.port }} }]
`,
};

/** A `--charts` directory holding `demo-1.0.0/`; with `packedSubchart`, its subchart as charts/sub-0.1.0.tgz. */
export function writeDemoCharts({ packedSubchart = false } = {}): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "charts-"));
    const chart = path.join(dir, "demo-1.0.0");
    for (const [file, content] of Object.entries(DEMO)) {
        fs.mkdirSync(path.dirname(path.join(chart, file)), { recursive: true });
        fs.writeFileSync(path.join(chart, file), content);
    }
    if (packedSubchart) {
        const packed = spawnSync(helmBinary(), ["package", path.join(chart, "charts", "sub"), "--destination", path.join(chart, "charts")], { encoding: "utf8" });
        if (packed.status !== 0) {
            throw new Error(packed.stderr);
        }
        fs.rmSync(path.join(chart, "charts", "sub"), { recursive: true });
    }
    return dir;
}
