#!/usr/bin/env python3
"""Checks the deployment files without a cluster.

For the Kubernetes base and every overlay under deploy/kubernetes:
  1. `kubectl kustomize` renders it;
  2. `kubernetes-validate --strict` checks every object against the
     Kubernetes schemas (unknown fields are errors);
  3. every Silta container's settings -- the silta.toml of the ConfigMap it
     mounts plus the SILTA_* variables it sets -- pass `silta check-config`
     (every key known, every value valid), with placeholders for values
     that come from Secrets and the downward API;
  4. every container runs as non-root, with a read-only root filesystem and
     no privilege escalation, and every long-running Silta container has
     probes on /healthz and /readyz.
Then nats.conf passes `nats-server -t`, and every systemd unit under
deploy/systemd passes `systemd-analyze verify` and (Silta's) `silta
check-config` with its Environment= lines and --config file.

Usage: check_manifests.py SILTA_BINARY
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
SILTA_COMMANDS = {"signal", "sfu", "booking", "migrate"}
PLACEHOLDERS = {
    "status.hostIP": "192.0.2.10",
    "spec.nodeName": "node-1",
    "metadata.name": "pod-0",
}
SECRET_PLACEHOLDER = "placeholder-from-a-secret-0123456789"

failures = []


def fail(message):
    failures.append(message)
    print(f"FAIL {message}", file=sys.stderr)


def render(directory):
    result = subprocess.run(["kubectl", "kustomize", str(directory)], capture_output=True, text=True)
    if result.returncode != 0:
        fail(f"kubectl kustomize {directory.relative_to(ROOT)}: {result.stderr.strip()}")
        return None
    return result.stdout


def validate(directory, rendered):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        handle.write(rendered)
        path = handle.name
    try:
        result = subprocess.run(
            ["kubernetes-validate", "--strict", "--quiet", path],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            fail(f"kubernetes-validate {directory.relative_to(ROOT)}:\n{result.stdout}{result.stderr}")
    finally:
        os.unlink(path)


def check_config(silta, label, toml_text, env):
    with tempfile.TemporaryDirectory() as scratch:
        environment = {"PATH": os.environ.get("PATH", ""), **env}
        if toml_text is not None:
            config = Path(scratch) / "silta.toml"
            config.write_text(toml_text)
            environment["SILTA_CONFIG"] = str(config)
        result = subprocess.run([silta, "check-config"], env=environment, capture_output=True, text=True, cwd=scratch)
        if result.returncode != 0:
            fail(f"{label}: silta check-config: {result.stderr.strip()}")


def pod_spec(obj):
    kind = obj.get("kind")
    if kind in ("Deployment", "DaemonSet", "StatefulSet", "Job"):
        return obj["spec"]["template"]["spec"]
    return None


def container_settings(obj, container, config_maps):
    """The silta.toml text this container reads and its SILTA_* variables."""
    env = {}
    for variable in container.get("env", []):
        name = variable["name"]
        if "value" in variable:
            # $(NAME) refers to a variable defined before it, as Kubernetes
            # expands it.
            env[name] = re.sub(r"\$\((\w+)\)", lambda ref: env.get(ref.group(1), ref.group(0)), variable["value"])
        elif "fieldRef" in variable.get("valueFrom", {}):
            env[name] = PLACEHOLDERS[variable["valueFrom"]["fieldRef"]["fieldPath"]]
        else:
            env[name] = SECRET_PLACEHOLDER
    config_path = env.pop("SILTA_CONFIG", None)
    toml_text = None
    if config_path is not None:
        volumes = {volume["name"]: volume for volume in pod_spec(obj).get("volumes", [])}
        for mount in container.get("volumeMounts", []):
            if mount["mountPath"] == config_path:
                config_map = volumes[mount["name"]].get("configMap", {}).get("name")
                data = config_maps.get(config_map, {})
                toml_text = data.get(mount.get("subPath", ""))
        if toml_text is None:
            fail(f"{obj['metadata']['name']}: SILTA_CONFIG={config_path} is not a mounted ConfigMap file")
    return toml_text, env


def check_security(obj, spec, container):
    label = f"{obj['kind']}/{obj['metadata']['name']}/{container['name']}"
    context = container.get("securityContext", {})
    pod_context = spec.get("securityContext", {})
    if not (context.get("runAsNonRoot") or pod_context.get("runAsNonRoot")):
        fail(f"{label}: not runAsNonRoot")
    if context.get("readOnlyRootFilesystem") is not True:
        fail(f"{label}: the root filesystem is writable")
    if context.get("allowPrivilegeEscalation") is not False:
        fail(f"{label}: privilege escalation is allowed")
    if "ALL" not in context.get("capabilities", {}).get("drop", []):
        fail(f"{label}: capabilities are not all dropped")
    resources = container.get("resources", {})
    if not resources.get("requests") or "memory" not in resources.get("limits", {}):
        fail(f"{label}: no resource requests or memory limit")


def check_probes(obj, container):
    label = f"{obj['kind']}/{obj['metadata']['name']}"
    paths = {
        probe: container.get(probe, {}).get("httpGet", {}).get("path")
        for probe in ("livenessProbe", "readinessProbe")
    }
    if paths != {"livenessProbe": "/healthz", "readinessProbe": "/readyz"}:
        fail(f"{label}: probes should be /healthz (liveness) and /readyz (readiness), are {paths}")


def check_kustomization(silta, directory):
    label = directory.relative_to(ROOT)
    rendered = render(directory)
    if rendered is None:
        return
    validate(directory, rendered)
    objects = [obj for obj in yaml.safe_load_all(rendered) if obj]
    config_maps = {}
    for obj in objects:
        if obj["kind"] == "ConfigMap":
            config_maps[obj["metadata"]["name"]] = obj.get("data", {})
    silta_containers = 0
    for obj in objects:
        spec = pod_spec(obj)
        if spec is None:
            continue
        for container in spec.get("containers", []) + spec.get("initContainers", []):
            check_security(obj, spec, container)
            args = container.get("args", [])
            if not args or args[0] not in SILTA_COMMANDS:
                continue
            silta_containers += 1
            toml_text, env = container_settings(obj, container, config_maps)
            check_config(silta, f"{label}: {obj['kind']}/{obj['metadata']['name']}", toml_text, env)
            if obj["kind"] != "Job":
                check_probes(obj, container)
    if silta_containers < 4:
        fail(f"{label}: expected the signal, sfu, booking and migrate containers, found {silta_containers}")
    print(f"ok   {label}: {len(objects)} objects, {silta_containers} Silta containers")


def check_nats():
    result = subprocess.run(
        ["/usr/sbin/nats-server", "-c", str(KUBERNETES / "base" / "nats.conf"), "-t"],
        capture_output=True,
        text=True,
        env={"POD_NAME": "silta-nats-0", "PATH": os.environ.get("PATH", "")},
    )
    if result.returncode != 0:
        fail(f"nats.conf: {result.stdout}{result.stderr}")
    else:
        print("ok   deploy/kubernetes/base/nats.conf: nats-server -t")


def check_systemd(silta):
    units = sorted((ROOT / "deploy" / "systemd").glob("silta-*.service"))
    if not units:
        fail("deploy/systemd has no silta-*.service units")
    for unit in units:
        verify = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
        complaints = [
            line
            for line in verify.stderr.splitlines()
            if "is not executable" not in line and "nats-server" not in line
        ]
        if complaints:
            fail(f"{unit.name}: systemd-analyze verify:\n" + "\n".join(complaints))
        if "bin/silta " not in unit.read_text():
            continue
        env = {}
        config = None
        for line in unit.read_text().splitlines():
            line = line.strip()
            if line.startswith("Environment="):
                name, _, value = line[len("Environment="):].strip('"').partition("=")
                env[name] = value
            if line.startswith("ExecStart=") and "--config" in line:
                config = line.split("--config", 1)[1].split()[0]
        toml_text = None
        if config is not None:
            local = ROOT / "deploy" / "systemd" / Path(config).name
            if not local.is_file():
                fail(f"{unit.name}: its --config {config} has no sample at {local.relative_to(ROOT)}")
                continue
            toml_text = local.read_text()
        check_config(silta, f"deploy/systemd/{unit.name}", toml_text, env)
    print(f"ok   deploy/systemd: {len(units)} units")


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    silta = sys.argv[1]
    for tool, hint in [
        ("kubectl", "kubectl is on the machine; install it from your distribution"),
        ("kubernetes-validate", "pip install kubernetes-validate (.ci/run does)"),
        ("systemd-analyze", "apt-get install systemd"),
    ]:
        if shutil.which(tool) is None:
            print(f"{tool} is missing: {hint}", file=sys.stderr)
            return 1
    if not Path(silta).is_file():
        print(f"{silta} is missing: cargo build -p silta first (tests/run does)", file=sys.stderr)
        return 1
    directories = [KUBERNETES / "base"] + sorted(p for p in (KUBERNETES / "overlays").iterdir() if p.is_dir())
    for directory in directories:
        check_kustomization(silta, directory)
    check_nats()
    check_systemd(silta)
    if failures:
        print(f"{len(failures)} problem(s) in the deployment files", file=sys.stderr)
        return 1
    print("the deployment files are valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
