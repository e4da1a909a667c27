"""Corners where clients depend on the API server answering exactly as kube-apiserver does:
List files through kubectl's client-side validation, /version/, malformed JSON patches, RBAC
objects."""

from __future__ import annotations

import json

import pytest
from kubernetes import client

LIST_YAML = """\
apiVersion: v1
kind: List
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: web}
  spec:
    selector: {matchLabels: {app: web}}
    template:
      metadata: {labels: {app: web}}
      spec:
        containers:
        - name: web
          %s: nginx:1.25
          ports: [{containerPort: 80}]
    strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: "25%%"}}
- apiVersion: v1
  kind: Service
  metadata: {name: web}
  spec: {selector: {app: web}, ports: [{port: 80, targetPort: 80}]}
"""


def test_kubectl_applies_a_json_list_file(sandbox, sandbox_namespace, tmp_path):
    ns = sandbox_namespace
    items = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": n}, "data": {"k": n}}
        for n in ("first", "second")
    ]
    path = tmp_path / "list.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    result = sandbox.kubectl("apply", "-n", ns, "-f", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["configmap/first created", "configmap/second created"]
    got = sandbox.kubectl("get", "configmap", "second", "-n", ns, "-o", "jsonpath={.data.k}")
    assert got.stdout == "second"


def test_kubectl_applies_a_yaml_list_of_mixed_kinds(sandbox, sandbox_namespace):
    ns = sandbox_namespace
    result = sandbox.kubectl("apply", "-n", ns, "-f", "-", input=LIST_YAML % "image")
    assert result.returncode == 0, result.stderr
    assert "deployment.apps/web created" in result.stdout
    assert "service/web created" in result.stdout


def test_kubectl_rejects_a_list_item_with_an_unknown_field_client_side(sandbox, sandbox_namespace):
    ns = sandbox_namespace
    result = sandbox.kubectl("apply", "-n", ns, "-f", "-", input=LIST_YAML % "imagee")
    assert result.returncode != 0
    assert (
        'ValidationError(Deployment.spec.template.spec.containers[0]): unknown field "imagee" '
        "in io.k8s.api.core.v1.Container" in result.stderr
    )
    assert sandbox.kubectl("get", "deployment", "web", "-n", ns).returncode != 0


def test_openapi_v2_is_protobuf_when_asked_and_json_otherwise(sandbox):
    accept = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
    status, body, headers = sandbox.request(
        "GET", "/openapi/v2", headers={"Accept": accept}, raw=True
    )
    assert status == 200
    assert headers["Content-Type"] == "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    assert body[:5] == b"\x0a\x032.0"  # field 1 (swagger), length 3, "2.0"
    status, doc, headers = sandbox.request("GET", "/openapi/v2")
    assert status == 200
    assert doc["swagger"] == "2.0"
    assert "io.k8s.api.apps.v1.Deployment" in doc["definitions"]


def test_kubectl_reapplies_an_unchanged_deployment_as_unchanged(sandbox, sandbox_namespace):
    # kubectl computes the strategic merge patch from OpenAPI v3 when the patch operation lists
    # application/strategic-merge-patch+json, as kube-apiserver's does
    ns = sandbox_namespace
    assert sandbox.kubectl("apply", "-n", ns, "-f", "-", input=LIST_YAML % "image").returncode == 0
    again = sandbox.kubectl("apply", "-n", ns, "-f", "-", "-v=6", input=LIST_YAML % "image")
    assert "deployment.apps/web unchanged" in again.stdout, again.stderr
    assert "does not support strategic merge patch" not in again.stderr


def test_the_version_endpoint_answers_with_a_trailing_slash(sandbox, sandbox_api):
    status, with_slash, _ = sandbox.request("GET", "/version/", token="")
    assert status == 200
    assert with_slash == sandbox.request("GET", "/version", token="")[1]
    info = client.VersionApi(sandbox_api).get_code()
    assert info.major == with_slash["major"]
    assert info.git_version == with_slash["gitVersion"]


@pytest.mark.parametrize(
    ("body", "validation", "message"),
    [
        (
            {"spec": {"replicas": 5}},
            "Strict",
            "error decoding patch: json: cannot unmarshal object into Go value of type "
            "[]handlers.jsonPatchOp",
        ),
        (
            "replicas",
            "Warn",
            "error decoding patch: json: cannot unmarshal string into Go value of type "
            "[]handlers.jsonPatchOp",
        ),
        (
            [5],
            "Warn",
            "error decoding patch: json: cannot unmarshal number into Go value of type "
            "handlers.jsonPatchOp",
        ),
        (
            {"spec": {"replicas": 5}},
            "Ignore",
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
        ),
    ],
)
def test_a_json_patch_that_is_not_a_list_of_operations_is_refused(
    sandbox, sandbox_namespace, body, validation, message
):
    ns = sandbox_namespace
    sandbox.kubectl("create", "configmap", "cfg", "-n", ns, "--from-literal=k=v", check=True)
    for path in (
        f"/api/v1/namespaces/{ns}/configmaps/cfg",
        f"/apis/apps/v1/namespaces/{ns}/deployments/missing/scale",
    ):
        status, got, _ = sandbox.request(
            "PATCH",
            f"{path}?fieldValidation={validation}",
            body,
            headers={"Content-Type": "application/json-patch+json"},
        )
        if path.endswith("/scale"):
            assert status == 404  # the object is looked up before the body is read
            continue
        assert (status, got["reason"], got["message"]) == (400, "BadRequest", message)
    unchanged = sandbox.kubectl("get", "configmap", "cfg", "-n", ns, "-o", "jsonpath={.data}")
    assert unchanged.stdout == '{"k":"v"}'


def test_a_null_json_patch_changes_nothing_like_an_empty_one(sandbox, sandbox_namespace):
    ns = sandbox_namespace
    sandbox.kubectl("create", "configmap", "cfg", "-n", ns, "--from-literal=k=v", check=True)
    status, got, _ = sandbox.request(
        "PATCH",
        f"/api/v1/namespaces/{ns}/configmaps/cfg",
        b"null",
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert status == 200
    assert got["data"] == {"k": "v"}


def test_rbac_objects_are_stored_and_served_to_kubectl(sandbox, sandbox_namespace):
    ns = sandbox_namespace
    role = f"reader-{ns}"
    for args in (
        ("create", "clusterrole", role, "--verb=get,list", "--resource=pods"),
        ("create", "clusterrolebinding", role, f"--clusterrole={role}", "--user=alice"),
        ("create", "role", "deployer", "-n", ns, "--verb=get,patch", "--resource=deployments"),
        ("create", "rolebinding", "deployer", "-n", ns, "--role=deployer",
         f"--serviceaccount={ns}:default", "--group=ops"),
    ):  # fmt: skip
        result = sandbox.kubectl(*args)
        assert result.returncode == 0, result.stderr

    roles = sandbox.kubectl("get", "clusterrole", role).stdout.splitlines()
    assert roles[0].split() == ["NAME", "CREATED", "AT"]
    binding = sandbox.kubectl("get", "rolebinding", "deployer", "-n", ns, "-o", "wide").stdout
    assert binding.splitlines()[1].split()[:2] == ["deployer", "Role/deployer"]
    assert f"{ns}/default" in binding
    described = sandbox.kubectl("describe", "clusterrole", role).stdout
    assert "pods       []                 []              [get list]" in described

    rbac = client.RbacAuthorizationV1Api(sandbox.api())
    got = rbac.read_cluster_role_binding(role)
    assert (got.role_ref.kind, got.role_ref.name) == ("ClusterRole", role)
    assert [(s.kind, s.name) for s in got.subjects] == [("User", "alice")]
    rbac.delete_cluster_role_binding(role)
    rbac.delete_cluster_role(role)


def test_rbac_objects_are_not_enforced_authorization_is_by_token(sandbox, sandbox_namespace):
    ns = sandbox_namespace
    # a binding that would grant the read-only user writes changes nothing: it still gets 403
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "grant-edit", "namespace": ns},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "sandbox-readonly"}
        ],
    }
    assert sandbox.kubectl("apply", "-f", "-", input=json.dumps(binding)).returncode == 0
    denied = sandbox.kubectl("create", "configmap", "x", "-n", ns, readonly=True)
    assert denied.returncode != 0
    assert "Forbidden" in denied.stderr or "forbidden" in denied.stderr
