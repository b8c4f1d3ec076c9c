import * as assert from "assert";
import { hostIsolation, imagePinned, noLiteralSecrets, podSecurityRestricted, underPrefix } from "../../policies/rules/pods-security";
import { cpuService, mainContainer, modelServer, podSpec } from "./fixtures";
import { cases, messagesBothWays, mutated } from "./harness";

describe("image-pinned", () => {
    cases(imagePinned, cpuService, [
        ["a :latest tag", (o) => { mainContainer(o).image = "nginx:latest"; }, [/image "nginx:latest" is not pinned: use a version tag or a digest/]],
        ["no tag at all", (o) => { mainContainer(o).image = "nginx"; }, [/image "nginx" is not pinned.*an implicit latest/]],
        ["a registry with a port and no tag (reg:5000/img)", (o) => { mainContainer(o).image = "reg:5000/img"; }, [/image "reg:5000\/img" is not pinned/]],
        ["an init container on latest", (o) => { podSpec(o).initContainers = [{ name: "init", image: "busybox:latest" }]; }, [/initContainer "init" image "busybox:latest"/]],
        ["a container without an image", (o) => { delete mainContainer(o).image; }, [/container "web" has no image/]],
    ], [
        ["a digest (img@sha256:...)", (o) => { mainContainer(o).image = `nginx@sha256:${"a".repeat(64)}`; }],
        ["latest pinned by a digest (img:latest@sha256:...)", (o) => { mainContainer(o).image = `nginx:latest@sha256:${"b".repeat(64)}`; }],
        ["a registry with a port and a tag", (o) => { mainContainer(o).image = "reg:5000/img:1.2.3"; }],
    ]);

    it("requires digests for serving engines when configured", async () => {
        const settings = { requireDigestForModelServers: true };
        assert.match((await messagesBothWays(imagePinned, [modelServer()], settings))[0], /serving-engine image "vllm\/vllm-openai:v0.11.0" must be pinned by digest/);
        const byDigest = mutated(modelServer(), (o) => { mainContainer(o).image = `vllm/vllm-openai@sha256:${"c".repeat(64)}`; });
        assert.deepStrictEqual(await messagesBothWays(imagePinned, [byDigest], settings), []);
    });
});

describe("pod-security-restricted", () => {
    cases(podSecurityRestricted, cpuService, [
        ["a container overriding runAsNonRoot", (o) => { mainContainer(o).securityContext.runAsNonRoot = false; }, [/container "web" is not restricted: runAsNonRoot is not true\./]],
        ["runAsNonRoot and seccomp set nowhere", (o) => { delete podSpec(o).securityContext; delete mainContainer(o).securityContext.runAsNonRoot; delete mainContainer(o).securityContext.seccompProfile; },
            [/runAsNonRoot is not true; seccompProfile.type is unset, not RuntimeDefault\./]],
        ["runAsUser 0", (o) => { mainContainer(o).securityContext.runAsUser = 0; }, [/runAsUser is 0 \(root\)/]],
        ["privilege escalation left on", (o) => { delete mainContainer(o).securityContext.allowPrivilegeEscalation; }, [/allowPrivilegeEscalation is not false/]],
        ["a lowercase \"all\" in the drop list", (o) => { mainContainer(o).securityContext.capabilities.drop = ["all"]; }, [/capabilities.drop does not include "ALL"/]],
        ["a container overriding seccomp with Unconfined", (o) => { mainContainer(o).securityContext.seccompProfile = { type: "Unconfined" }; }, [/seccompProfile.type is "Unconfined"/]],
        ["a privileged container", (o) => { mainContainer(o).securityContext.privileged = true; }, [/privileged is true/]],
        ["an init container with no security context", (o) => { podSpec(o).initContainers = [{ name: "init", image: "busybox:1.36" }]; },
            [/initContainer "init" is not restricted: allowPrivilegeEscalation is not false; capabilities.drop does not include "ALL"\./]],
        ["resources: {} and no containers at all", (o) => { podSpec(o).containers = undefined; }, []],
        ["a Deployment named like a node agent (only DaemonSets are)", (o) => { o.metadata.name = "alloy-exporter"; mainContainer(o).securityContext.privileged = true; }, [/container "web" is not restricted: privileged is true\./]],
    ], [
        ["seccomp and runAsNonRoot set once, at pod level", (o) => { delete mainContainer(o).securityContext.seccompProfile; }],
        ["a node-agent DaemonSet on the allowlist", (o) => { o.kind = "DaemonSet"; o.metadata.name = "nvidia-dcgm-exporter"; mainContainer(o).securityContext = { privileged: true }; }],
    ]);
});

describe("host-isolation", () => {
    cases(hostIsolation, cpuService, [
        ["hostNetwork, hostPID and hostIPC", (o) => { Object.assign(podSpec(o), { hostNetwork: true, hostPID: true, hostIPC: true }); },
            [/sets hostNetwork: true/, /sets hostPID: true/, /sets hostIPC: true/]],
        ["a hostPath volume", (o) => { podSpec(o).volumes = [{ name: "root", hostPath: { path: "/" } }]; }, [/mounts host path "\/" \(volume "root"\), which is not allowlisted/]],
    ]);

    it("matches allowlisted host paths by whole segment", async () => {
        const settings = { allowedHostPaths: ["/var/lib/kubelet/device-plugins"] };
        const at = (path: string) => mutated(cpuService(), (o) => { podSpec(o).volumes = [{ name: "dp", hostPath: { path } }]; });
        assert.deepStrictEqual(await messagesBothWays(hostIsolation, [at("/var/lib/kubelet/device-plugins/kubelet.sock")], settings), []);
        assert.match((await messagesBothWays(hostIsolation, [at("/var/lib/kubelet/device-plugins-evil")], settings))[0], /device-plugins-evil/);
        assert.strictEqual((await messagesBothWays(hostIsolation, [at("/var/lib/kubelet/device-plugins/../../..")], settings)).length, 1);
    });

    it("segments, not strings", () => {
        assert.ok(underPrefix("/var/log/pods", "/var/log"));
        assert.ok(!underPrefix("/var/logs", "/var/log"));
        assert.ok(underPrefix("/var/log/", "/var/log"));
    });
});

describe("no-literal-secrets", () => {
    // A token-shaped fake, assembled so that no credential scanner mistakes the source for a leak.
    const TOKEN = ["hf", "abcdefghijklmnopqrstuvwxyz123456"].join("_");
    cases(noLiteralSecrets, modelServer, [
        ["a Hugging Face token written in clear", (o) => { mainContainer(o).env = [{ name: "HF_TOKEN", value: TOKEN }]; },
            [/container "vllm" sets env HF_TOKEN to a literal value that looks secret; take it from a Secret/]],
        ["a Grafana admin password written in clear", (o) => { mainContainer(o).env = [{ name: "GF_SECURITY_ADMIN_PASSWORD", value: "hunter2" }]; }, [/sets env GF_SECURITY_ADMIN_PASSWORD/]],
        ["a token-shaped value under an innocent name", (o) => { mainContainer(o).env = [{ name: "EXTRA", value: TOKEN }]; }, [/sets env EXTRA/]],
        ["a Pulumi secret placed in a literal env value", (o) => { mainContainer(o).env = [{ name: "EXTRA", value: "[secret]" }]; }, [/sets env EXTRA/]],
    ], [
        ["a secret-named variable from a secretKeyRef", () => undefined],
        ["an empty value", (o) => { mainContainer(o).env = [{ name: "HF_TOKEN", value: "" }]; }],
    ]);

    it("never echoes the secret in its message", async () => {
        const leaky = mutated(modelServer(), (o) => { mainContainer(o).env = [{ name: "HF_TOKEN", value: TOKEN }]; });
        const messages = await messagesBothWays(noLiteralSecrets, [leaky]);
        assert.strictEqual(messages.length, 1);
        assert.ok(!messages[0].includes(TOKEN));
    });
});
