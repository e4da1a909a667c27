"""Bearer-token authentication: 401 without a valid token, 403 for writes with the read-only
token (on every write path, the scripting endpoint included), reads allowed."""

from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException


@pytest.mark.parametrize("token", ["", "not-a-token"])
def test_a_missing_or_wrong_token_is_unauthorized(sandbox, token):
    status, body, _ = sandbox.request("GET", "/api/v1/namespaces", token=token)
    assert status == 401
    assert body["reason"] == "Unauthorized"


def test_the_read_only_token_reads(sandbox):
    result = sandbox.kubectl("get", "namespaces", readonly=True)
    assert result.returncode == 0
    assert "default" in result.stdout


def test_the_read_only_token_cannot_write(sandbox, sandbox_namespace):
    result = sandbox.kubectl(
        "create", "configmap", "ro", "-n", sandbox_namespace, "--from-literal=a=b", readonly=True
    )
    assert result.returncode != 0
    assert (
        'configmaps is forbidden: User "sandbox-readonly" cannot create resource '
        f'"configmaps" in API group "" in the namespace "{sandbox_namespace}"' in result.stderr
    )


def test_the_read_only_token_cannot_scale(sandbox, sandbox_namespace):
    sandbox.kubectl(
        "create", "deployment", "ro-web", "--image=nginx:1.25", "-n", sandbox_namespace, check=True
    )
    result = sandbox.kubectl(
        "scale", "deployment/ro-web", "--replicas=3", "-n", sandbox_namespace, readonly=True
    )
    assert result.returncode != 0
    assert 'cannot patch resource "deployments/scale" in API group "apps"' in result.stderr


def test_the_read_only_token_is_forbidden_on_the_client_too(sandbox, sandbox_namespace):
    api = sandbox.api(readonly=True)
    try:
        with pytest.raises(ApiException) as err:
            client.CoreV1Api(api).delete_namespace(sandbox_namespace)
        assert err.value.status == 403
    finally:
        api.close()


def test_the_read_only_token_cannot_write_the_scripting_endpoint(sandbox):
    status, body, _ = sandbox.request("POST", "/sandbox/v1/reset", {}, token=sandbox.readonly_token)
    assert status == 403
    assert body["reason"] == "Forbidden"
    assert 'User "sandbox-readonly" cannot post path "/sandbox/v1/reset"' in body["message"]


def test_access_reviews_answer_per_token(sandbox):
    yes = sandbox.kubectl("auth", "can-i", "create", "deployments")
    assert yes.stdout.strip() == "yes"
    no = sandbox.kubectl("auth", "can-i", "create", "deployments", readonly=True)
    assert no.stdout.strip() == "no"
    read = sandbox.kubectl("auth", "can-i", "list", "pods", readonly=True)
    assert read.stdout.strip() == "yes"


def test_kubectl_auth_whoami_names_the_token_user(sandbox):
    admin = sandbox.kubectl("auth", "whoami", check=True).stdout
    assert "sandbox-admin" in admin
    assert "system:masters" in admin
    readonly = sandbox.kubectl("auth", "whoami", readonly=True, check=True).stdout
    assert "sandbox-readonly" in readonly
    assert "system:masters" not in readonly
