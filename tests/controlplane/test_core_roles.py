"""The role matrix: each role against each action, over the API and the pages. Allowed
actions succeed; the others get 403 and, for changes, an audited refusal."""

import pytest
from django.test import Client

from controlplane.audit.models import AuditEvent
from tests.fixtures.controlplane import make_deployment

pytestmark = pytest.mark.django_db

ROLES = ["viewer", "operator", "engineer", "admin"]
# permission -> roles that hold it
ALLOWED = {
    "view": set(ROLES),
    "scale": {"operator", "engineer", "admin"},
    "manage_cluster": {"admin"},
    "manage_roles": {"admin"},
}


@pytest.fixture
def world(sandbox, sandbox_cluster, kube_namespace, make_user, tmp_path):
    make_deployment(sandbox, kube_namespace, tmp_path)
    make_user("target")
    return kube_namespace


def api_actions(namespace):
    base = f"/api/v1/clusters/sandbox/namespaces/{namespace}/deployments/"
    return [
        ("view", "get", base, None, 200),
        ("view", "get", f"{base}web/", None, 200),
        ("scale", "post", f"{base}web/scale/", {"replicas": 2}, 202),
        ("manage_cluster", "patch", "/api/v1/clusters/sandbox/", {"display_name": "S"}, 200),
        ("manage_cluster", "post", "/api/v1/clusters/sandbox/test/", None, 200),
        (
            "manage_roles",
            "post",
            "/api/v1/clusters/sandbox/grants/",
            {"user": "target", "role": "viewer"},
            201,
        ),
    ]


def page_actions(namespace):
    deployments = f"/c/sandbox/ns/{namespace}/deployments/"
    return [
        ("view", "get", "/clusters/sandbox/", None, 200),
        ("view", "get", deployments, None, 200),
        ("scale", "post", f"{deployments}web/scale/", {"replicas": "2"}, 302),
        ("view", "get", "/audit/", None, 200),
        ("manage_cluster", "get", "/clusters/sandbox/edit/", None, 200),
        ("manage_cluster", "post", "/clusters/sandbox/edit/", {"display_name": "S"}, 302),
        ("manage_cluster", "post", "/clusters/sandbox/test/", None, 200),
        ("manage_roles", "get", "/accounts/grants/sandbox/", None, 200),
        (
            "manage_roles",
            "post",
            "/accounts/grants/sandbox/",
            {"user": "target", "role": "viewer"},
            302,
        ),
    ]


MUTATIONS = {"post", "patch", "delete"}


def api_call(api, method, url, body):
    if body is None:
        return getattr(api, method)(url)
    return getattr(api, method)(url, body, format="json")


# Requests that are reads in effect even when POSTed ("Test connection").
NOT_AUDITED = {"/clusters/sandbox/test/", "/api/v1/clusters/sandbox/test/"}


def check(role, actions, call):
    for permission, method, url, body, ok_status in actions:
        before = AuditEvent.objects.filter(status="refused").count()
        response = call(method, url, body)
        allowed = role in ALLOWED[permission]
        expected = ok_status if allowed else 403
        assert response.status_code == expected, (role, method, url, response.content[:300])
        refused = AuditEvent.objects.filter(status="refused").count() - before
        if not allowed and method in MUTATIONS and url not in NOT_AUDITED:
            assert refused == 1, (role, method, url, "refusal not audited")


@pytest.mark.parametrize("role", ROLES)
def test_the_api_enforces_each_roles_permissions(
    world, make_user, api_client_for, role, sandbox_cluster
):
    api = api_client_for(make_user(role=role, cluster=sandbox_cluster))

    check(role, api_actions(world), lambda method, url, body: api_call(api, method, url, body))


@pytest.mark.parametrize("role", ROLES)
def test_the_pages_enforce_each_roles_permissions(world, make_user, role, sandbox_cluster):
    browser = Client()
    browser.force_login(make_user(role=role, cluster=sandbox_cluster))

    def call(method, url, body):
        return getattr(browser, method)(url, body or {})

    check(role, page_actions(world), call)


def test_superusers_are_admin_on_every_cluster(world, make_user, api_client_for):
    api = api_client_for(make_user("root", superuser=True))
    for _permission, method, url, body, ok_status in api_actions(world):
        response = api_call(api, method, url, body)
        assert response.status_code == ok_status, (url, response.content[:300])


def test_users_without_a_role_cannot_see_the_cluster_at_all(world, make_user, api_client_for):
    api = api_client_for(make_user())
    for _permission, method, url, body, _ok in api_actions(world):
        response = api_call(api, method, url, body)
        assert response.status_code == 404, url


# The live websocket, with names at Kubernetes' length limits -------------------------------

LONG_CLUSTER = "c" * 62 + "1"
OWN, OTHER = "n" * 62 + "a", "n" * 62 + "b"  # 63 characters, sharing 62


def _subscribe_all(user, subscriptions):
    from asgiref.sync import async_to_sync
    from channels.testing import WebsocketCommunicator

    from controlplane.asgi import application

    browser = Client()
    browser.force_login(user)
    headers = [
        (b"host", b"127.0.0.1"),
        (b"origin", b"http://127.0.0.1"),
        (b"cookie", f"sessionid={browser.cookies['sessionid'].value}".encode()),
    ]

    async def scenario():
        ws = WebsocketCommunicator(application, "/ws/live/", headers=headers)
        connected, _ = await ws.connect()
        assert connected
        replies = []
        for subscription in subscriptions:
            await ws.send_json_to({"subscribe": subscription})
            replies.append((await ws.receive_json_from(timeout=5))["type"])
        await ws.disconnect()
        return replies

    return async_to_sync(scenario)()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("narrowed", [False, True])
def test_the_websocket_enforces_each_roles_view_permission_with_long_names(
    make_user, role, narrowed
):
    from controlplane.clusters.models import Cluster

    cluster = Cluster.objects.create(name=LONG_CLUSTER, server="https://203.0.113.1:6443")
    user = make_user(role=role, cluster=cluster, namespaces=[OWN] if narrowed else None)
    subscriptions = [
        {"cluster": LONG_CLUSTER, "kind": "pods", "namespace": OWN},
        {"cluster": LONG_CLUSTER, "kind": "deployments", "namespace": OTHER},
        {"cluster": LONG_CLUSTER, "kind": "nodes"},
        {"cluster": LONG_CLUSTER, "kind": "actions"},
    ]
    expected = ["subscribed", "subscribed", "subscribed", "subscribed"]
    if narrowed:
        expected = ["subscribed", "error", "error", "subscribed"]
    assert _subscribe_all(user, subscriptions) == expected
