"""PATCH flavours: strategic merge with real merge keys and directives, JSON merge patch,
JSON patch, server-side apply, and kubectl's re-apply of a changed file."""

from __future__ import annotations

import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from sandbox.apiserver import patch


def deployment(name: str) -> dict:
    return {
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "main",
                            "image": "m:1",
                            "ports": [{"containerPort": 80}],
                            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                        },
                        {"name": "side", "image": "s:1"},
                    ]
                },
            },
        },
    }


def test_strategic_merge_merges_containers_and_env_by_name(sandbox_api, sandbox_namespace):
    apps = client.AppsV1Api(sandbox_api)
    apps.create_namespaced_deployment(sandbox_namespace, deployment("smp"))
    out = apps.patch_namespaced_deployment(
        "smp",
        sandbox_namespace,
        {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "main",
                                "image": "m:2",
                                "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
                            }
                        ]
                    }
                }
            }
        },
    )
    containers = {c.name: c for c in out.spec.template.spec.containers}
    assert set(containers) == {"main", "side"}
    assert containers["main"].image == "m:2"
    assert [(e.name, e.value) for e in containers["main"].env] == [
        ("A", "1"),
        ("B", "3"),
        ("C", "4"),
    ]
    assert containers["main"].ports[0].container_port == 80


def test_strategic_merge_deletes_list_items_by_directive(sandbox_api, sandbox_namespace):
    apps = client.AppsV1Api(sandbox_api)
    apps.create_namespaced_deployment(sandbox_namespace, deployment("del"))
    out = apps.patch_namespaced_deployment(
        "del",
        sandbox_namespace,
        {"spec": {"template": {"spec": {"containers": [{"name": "side", "$patch": "delete"}]}}}},
    )
    assert [c.name for c in out.spec.template.spec.containers] == ["main"]


def test_json_merge_patch_replaces_lists(sandbox, sandbox_namespace):
    apps = client.AppsV1Api(sandbox.api())
    apps.create_namespaced_deployment(sandbox_namespace, deployment("jmp"))
    body = {"spec": {"template": {"spec": {"containers": [{"name": "only", "image": "o:1"}]}}}}
    status, out, _ = sandbox.request(
        "PATCH",
        f"/apis/apps/v1/namespaces/{sandbox_namespace}/deployments/jmp",
        body,
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert status == 200
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["only"]


def test_json_patch_operations_apply_in_order(sandbox_api, sandbox_namespace):
    apps = client.AppsV1Api(sandbox_api)
    apps.create_namespaced_deployment(sandbox_namespace, deployment("jp"))
    out = apps.patch_namespaced_deployment(
        "jp",
        sandbox_namespace,
        [
            {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "m:9"},
            {"op": "add", "path": "/metadata/labels", "value": {"x": "y"}},
            {"op": "test", "path": "/spec/template/spec/containers/1/name", "value": "side"},
            {"op": "remove", "path": "/spec/template/spec/containers/1"},
        ],
    )
    assert [c.image for c in out.spec.template.spec.containers] == ["m:9"]
    assert out.metadata.labels == {"x": "y"}


def test_a_failed_json_patch_test_changes_nothing(sandbox_api, sandbox_namespace):
    apps = client.AppsV1Api(sandbox_api)
    apps.create_namespaced_deployment(sandbox_namespace, deployment("jpt"))
    with pytest.raises(ApiException) as err:
        apps.patch_namespaced_deployment(
            "jpt",
            sandbox_namespace,
            [
                {"op": "replace", "path": "/spec/replicas", "value": 5},
                {"op": "test", "path": "/spec/template/spec/containers/0/image", "value": "nope"},
            ],
        )
    assert err.value.status == 422
    assert apps.read_namespaced_deployment("jpt", sandbox_namespace).spec.replicas == 1


def test_patching_in_a_bad_value_is_invalid(sandbox_api, sandbox_namespace):
    apps = client.AppsV1Api(sandbox_api)
    apps.create_namespaced_deployment(sandbox_namespace, deployment("badp"))
    with pytest.raises(ApiException) as err:
        apps.patch_namespaced_deployment("badp", sandbox_namespace, {"spec": {"replicas": -3}})
    assert err.value.status == 422
    assert json.loads(err.value.body)["details"]["causes"][0]["field"] == "spec.replicas"


def test_server_side_apply_creates_then_updates(sandbox, sandbox_namespace):
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: '1'\n"
    path = f"/api/v1/namespaces/{sandbox_namespace}/configmaps/ssa?fieldManager=test"
    headers = {"Content-Type": "application/apply-patch+yaml"}
    status, created, _ = sandbox.request("PATCH", path, manifest.encode(), headers=headers)
    assert status == 201
    assert created["data"] == {"a": "1"}
    status, updated, _ = sandbox.request(
        "PATCH", path, manifest.replace("'1'", "'2'").encode(), headers=headers
    )
    assert status == 200
    assert updated["data"] == {"a": "2"}


def test_kubectl_reapplies_a_changed_file(sandbox, sandbox_namespace):
    manifest = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: reapply}
spec:
  replicas: 1
  selector: {matchLabels: {app: reapply}}
  template:
    metadata: {labels: {app: reapply}}
    spec:
      containers:
      - {name: main, image: "m:1", env: [{name: A, value: "1"}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: reapply}
data: {k: v}
"""
    ns = ["-n", sandbox_namespace]
    first = sandbox.kubectl("apply", "-f", "-", *ns, input=manifest, check=True).stdout
    assert "deployment.apps/reapply created" in first
    assert "configmap/reapply created" in first
    changed = manifest.replace('"m:1"', '"m:2"').replace("replicas: 1", "replicas: 2")
    second = sandbox.kubectl("apply", "-f", "-", *ns, input=changed, check=True).stdout
    assert "deployment.apps/reapply configured" in second
    assert "configmap/reapply unchanged" in second
    out = sandbox.kubectl(
        "get",
        "deploy/reapply",
        *ns,
        "-o",
        "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image}",
        check=True,
    ).stdout
    assert out == "2 m:2"


def test_kubectl_set_image_and_patch(sandbox, sandbox_namespace):
    ns = ["-n", sandbox_namespace]
    sandbox.kubectl("create", "deployment", "si", "--image=nginx:1.25", *ns, check=True)
    sandbox.kubectl("set", "image", "deployment/si", "nginx=nginx:1.27", *ns, check=True)
    sandbox.kubectl(
        "patch",
        "deployment",
        "si",
        *ns,
        "--type=json",
        "-p",
        '[{"op":"add","path":"/metadata/labels/patched","value":"yes"}]',
        check=True,
    )
    out = sandbox.kubectl(
        "get",
        "deploy/si",
        *ns,
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image} {.metadata.labels.patched}",
        check=True,
    ).stdout
    assert out == "nginx:1.27 yes"


def test_strategic_merge_replace_directive_and_element_order():
    current = {"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}]}}
    replaced = patch.strategic_merge(
        current,
        {"spec": {"containers": [{"$patch": "replace"}, {"name": "c", "image": "3"}]}},
        "V1Pod",
    )
    assert replaced["spec"]["containers"] == [{"name": "c", "image": "3"}]
    ordered = patch.strategic_merge(
        current,
        {
            "spec": {
                "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
                "containers": [{"name": "a", "image": "9"}],
            }
        },
        "V1Pod",
    )
    assert [c["name"] for c in ordered["spec"]["containers"]] == ["b", "a"]
    assert ordered["spec"]["containers"][1]["image"] == "9"


def test_strategic_merge_keys_service_ports_by_port():
    current = {"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}}
    out = patch.strategic_merge(
        current, {"spec": {"ports": [{"port": 443, "targetPort": 8443}]}}, "V1Service"
    )
    assert out["spec"]["ports"] == [
        {"port": 80, "name": "http"},
        {"port": 443, "name": "https", "targetPort": 8443},
    ]
