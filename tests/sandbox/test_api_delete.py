"""Deletion: propagation policies and garbage collection through ownerReferences,
deletecollection, graceful pod deletion, and namespace teardown."""

from __future__ import annotations

import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from sandbox.testing import wait_for


def owned_pair(core, ns: str, owner_name: str = "owner") -> tuple[dict, str]:
    owner = core.create_namespaced_config_map(ns, {"metadata": {"name": owner_name}})
    ref = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": owner_name,
        "uid": owner.metadata.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }
    core.create_namespaced_config_map(
        ns, {"metadata": {"name": f"{owner_name}-dep", "ownerReferences": [ref]}}
    )
    return ref, f"{owner_name}-dep"


def exists(core, ns: str, name: str) -> bool:
    try:
        core.read_namespaced_config_map(name, ns)
        return True
    except ApiException as err:
        if err.status == 404:
            return False
        raise


def test_background_deletion_collects_dependents(sandbox_api, sandbox_namespace):
    core = client.CoreV1Api(sandbox_api)
    _, dep = owned_pair(core, sandbox_namespace)
    core.delete_namespaced_config_map("owner", sandbox_namespace)
    wait_for(lambda: not exists(core, sandbox_namespace, dep), "the dependent to be collected")


def test_orphan_deletion_keeps_dependents_without_the_owner_reference(
    sandbox_api, sandbox_namespace
):
    core = client.CoreV1Api(sandbox_api)
    _, dep = owned_pair(core, sandbox_namespace)
    core.delete_namespaced_config_map("owner", sandbox_namespace, propagation_policy="Orphan")
    left = core.read_namespaced_config_map(dep, sandbox_namespace)
    assert not left.metadata.owner_references


def test_foreground_deletion_removes_dependents_first(sandbox_api, sandbox_namespace):
    core = client.CoreV1Api(sandbox_api)
    _, dep = owned_pair(core, sandbox_namespace)
    core.delete_namespaced_config_map("owner", sandbox_namespace, propagation_policy="Foreground")
    wait_for(lambda: not exists(core, sandbox_namespace, "owner"), "the owner to go")
    assert not exists(core, sandbox_namespace, dep)


def test_deleting_a_deployment_removes_its_replicasets_and_pods(sandbox, sandbox_namespace):
    ns = ["-n", sandbox_namespace]
    sandbox.kubectl(
        "create", "deployment", "gone", "--image=nginx:1.25", "--replicas=2", *ns, check=True
    )
    core = client.CoreV1Api(sandbox.api())
    wait_for(
        lambda: (
            len(core.list_namespaced_pod(sandbox_namespace, label_selector="app=gone").items) == 2
        ),
        "the deployment's pods",
    )
    sandbox.kubectl("delete", "deployment", "gone", *ns, check=True)
    apps = client.AppsV1Api(sandbox.api())
    wait_for(
        lambda: not apps.list_namespaced_replica_set(sandbox_namespace).items,
        "the replicasets to be collected",
    )
    wait_for(
        lambda: not core.list_namespaced_pod(sandbox_namespace, label_selector="app=gone").items,
        "the pods to be collected",
    )


def test_a_scheduled_pod_terminates_gracefully(sandbox_api, sandbox_namespace):
    core = client.CoreV1Api(sandbox_api)
    node = core.list_node().items[0].metadata.name
    core.create_namespaced_pod(
        sandbox_namespace,
        {
            "metadata": {"name": "grace"},
            "spec": {
                "nodeName": node,
                "terminationGracePeriodSeconds": 1,
                "containers": [{"name": "c", "image": "nginx:1.25"}],
            },
        },
    )
    deleted = core.delete_namespaced_pod("grace", sandbox_namespace)
    assert deleted.metadata.deletion_timestamp is not None
    assert deleted.metadata.deletion_grace_period_seconds == 1

    def gone() -> bool:
        try:
            core.read_namespaced_pod("grace", sandbox_namespace)
            return False
        except ApiException as err:
            return err.status == 404

    wait_for(gone, "the kubelet to finish the pod's deletion")


def test_delete_collection_deletes_what_the_selector_matches(sandbox_api, sandbox_namespace):
    core = client.CoreV1Api(sandbox_api)
    for name, tier in (("x1", "a"), ("x2", "a"), ("x3", "b")):
        core.create_namespaced_config_map(
            sandbox_namespace, {"metadata": {"name": name, "labels": {"tier": tier}}}
        )
    core.delete_collection_namespaced_config_map(sandbox_namespace, label_selector="tier=a")
    left = [
        c.metadata.name
        for c in core.list_namespaced_config_map(sandbox_namespace, label_selector="tier").items
    ]
    assert left == ["x3"]


def test_deleting_a_namespace_deletes_everything_in_it(sandbox, sandbox_api):
    core = client.CoreV1Api(sandbox_api)
    core.create_namespace({"metadata": {"name": "doomed-ns"}})
    core.create_namespaced_config_map("doomed-ns", {"metadata": {"name": "inside"}})
    status, ns, _ = sandbox.request("DELETE", "/api/v1/namespaces/doomed-ns")
    assert status == 200
    assert ns["status"]["phase"] == "Terminating"

    def namespace_gone() -> bool:
        try:
            core.read_namespace("doomed-ns")
            return False
        except ApiException as err:
            return err.status == 404

    wait_for(namespace_gone, "the namespace to be removed")
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("inside", "doomed-ns")
    assert err.value.status == 404


def test_an_eviction_deletes_the_pod(sandbox_api, sandbox_namespace):
    core = client.CoreV1Api(sandbox_api)
    core.create_namespaced_pod(
        sandbox_namespace,
        {
            "metadata": {"name": "evictee"},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]},
        },
    )
    core.create_namespaced_pod_eviction(
        "evictee",
        sandbox_namespace,
        {"metadata": {"name": "evictee"}, "deleteOptions": {"gracePeriodSeconds": 0}},
    )

    def gone() -> bool:
        try:
            core.read_namespaced_pod("evictee", sandbox_namespace)
            return False
        except ApiException as err:
            return err.status == 404

    wait_for(gone, "the evicted pod to go")


def test_events_older_than_the_ttl_expire(tmp_path):
    from sandbox.testing import SandboxProcess

    proc = SandboxProcess(tmp_path / "sb", nodes=1, gpu_nodes=0, extra_args=("--event-ttl", "1"))
    proc.start()
    try:
        core = client.CoreV1Api(proc.api())
        core.create_namespaced_event(
            "default",
            {
                "metadata": {"name": "old"},
                "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
                "reason": "Test",
                "message": "m",
                "type": "Normal",
                "lastTimestamp": "2020-01-01T00:00:00Z",
            },
        )
        wait_for(
            lambda: (
                not [
                    e
                    for e in core.list_namespaced_event("default").items
                    if e.metadata.name == "old"
                ]
            ),
            "the old event to expire",
        )
    finally:
        proc.stop()


def test_a_terminating_namespace_takes_no_new_objects(sandbox_api):
    core = client.CoreV1Api(sandbox_api)
    core.create_namespace({"metadata": {"name": "closing-ns"}})
    node = core.list_node().items[0].metadata.name
    # a pod terminating on a node keeps the namespace in Terminating for a moment
    core.create_namespaced_pod(
        "closing-ns",
        {
            "metadata": {"name": "slow"},
            "spec": {
                "nodeName": node,
                "terminationGracePeriodSeconds": 5,
                "containers": [{"name": "c", "image": "nginx:1.25"}],
            },
        },
    )
    core.delete_namespace("closing-ns")
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("closing-ns", {"metadata": {"name": "late"}})
    assert err.value.status == 403
    assert json.loads(err.value.body)["message"] == (
        'configmaps "late" is forbidden: unable to create new content in namespace closing-ns '
        "because it is being terminated"
    )
