"""Containers whose environment needs a missing Secret or ConfigMap wait, as on a real kubelet,
with CreateContainerConfigError, and start once the object (or key) appears."""

from __future__ import annotations

import json

from sandbox.testing import wait_for

POD = """
apiVersion: v1
kind: Pod
metadata: {name: %(name)s}
spec:
  containers:
  - name: app
    image: nginx:1.25
%(env)s
"""


def _apply_pod(sandbox, ns: str, name: str, env: str) -> None:
    result = sandbox.kubectl("apply", "-n", ns, "-f", "-", input=POD % {"name": name, "env": env})
    assert result.returncode == 0, result.stderr


def _waiting(sandbox, ns: str, name: str) -> dict | None:
    got = sandbox.kubectl("get", "pod", name, "-n", ns, "-o", "json")
    if got.returncode != 0:
        return None
    statuses = json.loads(got.stdout).get("status", {}).get("containerStatuses") or []
    return statuses[0]["state"].get("waiting") if statuses else None


def _running(sandbox, ns: str, name: str) -> bool:
    got = sandbox.kubectl("get", "pod", name, "-n", ns, "-o", "jsonpath={.status.phase}")
    return got.stdout == "Running"


def _config_error(sandbox, ns: str, name: str) -> dict | None:
    waiting = _waiting(sandbox, ns, name)
    return waiting if (waiting or {}).get("reason") == "CreateContainerConfigError" else None


def _failed_events(sandbox, ns: str, name: str) -> list[str]:
    got = sandbox.kubectl(
        "get", "events", "-n", ns, "--field-selector",
        f"involvedObject.name={name},reason=Failed", "-o", "jsonpath={.items[*].message}",
    )  # fmt: skip
    return [got.stdout] if got.stdout else []


def test_a_pod_waits_for_a_missing_secret_and_starts_once_it_exists(sandbox, sandbox_namespace):
    ns = sandbox_namespace
    env = "    envFrom: [{secretRef: {name: creds}}]"
    _apply_pod(sandbox, ns, "needs-secret", env)
    waiting = wait_for(lambda: _config_error(sandbox, ns, "needs-secret"), "config error")
    assert waiting["message"] == 'secret "creds" not found'
    assert wait_for(lambda: _failed_events(sandbox, ns, "needs-secret"), "Failed event") == [
        'Error: secret "creds" not found'
    ]
    described = sandbox.kubectl("describe", "pod", "needs-secret", "-n", ns).stdout
    assert "CreateContainerConfigError" in described
    phase = sandbox.kubectl(
        "get", "pod", "needs-secret", "-n", ns, "-o", "jsonpath={.status.phase}"
    )
    assert phase.stdout == "Pending"

    created = sandbox.kubectl(
        "create", "secret", "generic", "creds", "-n", ns, "--from-literal=a=b"
    )
    assert created.returncode == 0, created.stderr
    wait_for(lambda: _running(sandbox, ns, "needs-secret"), "the pod to run")


def test_a_missing_configmap_key_waits_until_the_key_is_added(sandbox, sandbox_namespace):
    ns = sandbox_namespace
    sandbox.kubectl(
        "create", "configmap", "settings", "-n", ns, "--from-literal=other=1", check=True
    )
    env = (
        "    env:\n"
        "    - name: MODEL\n"
        "      valueFrom: {configMapKeyRef: {name: settings, key: model}}"
    )
    _apply_pod(sandbox, ns, "needs-key", env)
    waiting = wait_for(lambda: _config_error(sandbox, ns, "needs-key"), "config error")
    assert waiting["message"] == f"couldn't find key model in ConfigMap {ns}/settings"

    patched = sandbox.kubectl(
        "patch", "configmap", "settings", "-n", ns, "-p", '{"data": {"model": "resnet"}}'
    )
    assert patched.returncode == 0, patched.stderr
    wait_for(lambda: _running(sandbox, ns, "needs-key"), "the pod to run")


def test_optional_references_to_missing_objects_do_not_block_the_container(
    sandbox, sandbox_namespace
):
    ns = sandbox_namespace
    env = (
        "    envFrom: [{configMapRef: {name: absent, optional: true}}]\n"
        "    env:\n"
        "    - name: TOKEN\n"
        "      valueFrom: {secretKeyRef: {name: absent, key: token, optional: true}}"
    )
    _apply_pod(sandbox, ns, "optional-refs", env)
    wait_for(lambda: _running(sandbox, ns, "optional-refs"), "the pod to run")


def test_a_missing_secret_key_names_the_secret(sandbox, sandbox_namespace):
    ns = sandbox_namespace
    sandbox.kubectl(
        "create", "secret", "generic", "db", "-n", ns, "--from-literal=user=u", check=True
    )  # fmt: skip
    env = (
        "    env:\n    - name: PASSWORD\n      valueFrom: {secretKeyRef: {name: db, key: password}}"
    )
    _apply_pod(sandbox, ns, "needs-secret-key", env)
    waiting = wait_for(lambda: _config_error(sandbox, ns, "needs-secret-key"), "config error")
    assert waiting["message"] == f"couldn't find key password in Secret {ns}/db"


VOLUME_POD = """
apiVersion: v1
kind: Pod
metadata: {name: mounts}
spec:
  containers:
  - name: app
    image: nginx:1.25
    volumeMounts:
    - {name: creds, mountPath: /creds}
    - {name: settings, mountPath: /settings}
  volumes:
  - name: creds
    secret: {secretName: model-creds}
  - name: settings
    configMap: {name: absent, optional: true}
"""


def test_a_missing_secret_volume_keeps_the_pod_creating_until_the_secret_exists(
    sandbox, sandbox_namespace
):
    ns = sandbox_namespace
    assert sandbox.kubectl("apply", "-n", ns, "-f", "-", input=VOLUME_POD).returncode == 0

    def failed_mount():
        got = sandbox.kubectl(
            "get", "events", "-n", ns, "--field-selector",
            "involvedObject.name=mounts,reason=FailedMount", "-o", "jsonpath={.items[*].message}",
        )  # fmt: skip
        return got.stdout

    message = wait_for(failed_mount, "a FailedMount event")
    assert message == 'MountVolume.SetUp failed for volume "creds" : secret "model-creds" not found'
    assert _waiting(sandbox, ns, "mounts") == {"reason": "ContainerCreating"}
    pulled = sandbox.kubectl(
        "get", "events", "-n", ns, "--field-selector", "involvedObject.name=mounts,reason=Pulling"
    )  # fmt: skip
    assert "No resources found" in pulled.stderr + pulled.stdout  # nothing pulled before mounts

    sandbox.kubectl("create", "secret", "generic", "model-creds", "-n", ns, "--from-literal=k=v",
                    check=True)  # fmt: skip
    wait_for(lambda: _running(sandbox, ns, "mounts"), "the pod to run")
