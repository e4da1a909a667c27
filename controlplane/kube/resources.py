"""Operations on cluster resources: plain dicts in and out (the API's camelCase JSON shape).

Every call carries an explicit (connect, read) timeout and goes through the one retry policy.
Responses are read raw (`_preload_content=False`) and parsed as JSON, which yields exactly the
shape kubectl shows, without a round trip through the generated model classes.
"""

import json
from collections.abc import Callable

import kubernetes.client as k8s
from kubernetes.client.exceptions import ApiException

from . import retry
from .client import api_client, timeouts
from .connection import ClusterConnection

MERGE_PATCH = "application/merge-patch+json"


def _json(response) -> dict:
    try:
        return json.loads(response.data or b"{}")
    finally:
        response.release_conn()


def read_json(fn: Callable, *args, what: str, retry_ok: bool = True, **kwargs) -> dict:
    def once():
        return _json(fn(*args, _request_timeout=timeouts(), _preload_content=False, **kwargs))

    return retry.call(once, what=what, retry=retry_ok)


def list_items(result: dict) -> list[dict]:
    return list(result.get("items") or [])


# Cluster-wide ------------------------------------------------------------------------------


def version(conn: ClusterConnection) -> dict:
    """The server's /version: {"major", "minor", "gitVersion", ...}.

    Requested as kubectl does, at "/version" (the generated VersionApi asks for "/version/").
    """
    client = api_client(conn)

    def once() -> dict:
        params = client.param_serialize(
            method="GET",
            resource_path="/version",
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        response = client.call_api(*params, _request_timeout=timeouts())
        try:
            body = response.read()
        finally:
            response.response.release_conn()
        if not 200 <= response.status < 300:
            error = ApiException(status=response.status, reason=response.reason)
            error.body = body
            error.headers = response.headers
            raise error
        return json.loads(body or b"{}")

    return retry.call(once, what="version")


# Deployments -------------------------------------------------------------------------------


def deployment_list(conn: ClusterConnection, *, namespace: str) -> list[dict]:
    api = k8s.AppsV1Api(api_client(conn))
    return list_items(read_json(api.list_namespaced_deployment, namespace, what="list deployments"))


def deployment_get(conn: ClusterConnection, *, namespace: str, name: str) -> dict:
    api = k8s.AppsV1Api(api_client(conn))
    return read_json(api.read_namespaced_deployment, name, namespace, what=f"get deployment {name}")


def deployment_scale(conn: ClusterConnection, *, namespace: str, name: str, replicas: int) -> dict:
    """Set spec.replicas through the scale subresource; returns the Scale object.

    An absolute count makes the call idempotent, so retrying it (or re-running the task
    after a worker died) is safe; for the same reason a 409 Conflict (the deployment changed
    under the patch) is retried within the conflict policy instead of failing the action.
    """
    api = k8s.AppsV1Api(api_client(conn))
    body = {"spec": {"replicas": replicas}}

    def patch() -> dict:
        return read_json(
            api.patch_namespaced_deployment_scale,
            name,
            namespace,
            body,
            # The generated client would default to json-patch, which needs a list of operations.
            _content_type=MERGE_PATCH,
            what=f"scale deployment {name}",
        )

    return retry.on_conflict(patch, what=f"scale deployment {name}")


# Authorization -----------------------------------------------------------------------------


def access_review(
    conn: ClusterConnection,
    *,
    verb: str,
    resource: str,
    group: str = "",
    namespace: str | None = None,
    subresource: str | None = None,
) -> bool:
    """Whether the connection's own credentials allow `verb` on `resource` (SSAR)."""
    attributes = {"verb": verb, "resource": resource, "group": group}
    if namespace:
        attributes["namespace"] = namespace
    if subresource:
        attributes["subresource"] = subresource
    body = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": attributes},
    }
    api = k8s.AuthorizationV1Api(api_client(conn))
    # Creating a review changes nothing, so retrying it is safe.
    result = read_json(
        api.create_self_subject_access_review, body, what=f"access review {verb} {resource}"
    )
    return bool((result.get("status") or {}).get("allowed"))
