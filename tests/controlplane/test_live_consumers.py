"""The live websocket: session and origin checks, per-subscription authorization, forwarding.

Runs against the real Redis channel layer (with this session's key prefix) through the full
ASGI stack of controlplane.asgi, as a browser would reach it.
"""

import re
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client

from controlplane.asgi import application
from controlplane.audit.models import AuditEvent
from controlplane.broadcast import group_name
from controlplane.clusters.models import Cluster

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://127.0.0.1")
HOST = (b"host", b"127.0.0.1")


@pytest.fixture
def cluster():
    return Cluster.objects.create(
        name=f"c-{uuid.uuid4().hex[:6]}", server="https://203.0.113.1:6443", source="kubeconfig"
    )


def _cookie_for(user) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


def _communicator(*headers) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, "/ws/live/", headers=[HOST, *headers])


def test_it_closes_anonymous_connections_with_4401():
    async def scenario():
        ws = _communicator(ORIGIN)
        connected, _ = await ws.connect()
        assert connected
        closed = await ws.receive_output(timeout=5)
        await ws.wait()
        return closed

    closed = async_to_sync(scenario)()
    assert closed == {"type": "websocket.close", "code": 4401}


def test_it_rejects_a_foreign_origin(make_user, cluster):
    cookie = _cookie_for(make_user(role="admin", cluster=cluster))

    async def scenario():
        ws = _communicator((b"origin", b"http://evil.example"), cookie)
        connected, _ = await ws.connect()
        await ws.disconnect()
        return connected

    assert async_to_sync(scenario)() is False


def _session(user, messages, *, then=None):
    """Connect as `user`, send `messages`, collect one reply per message, then run `then`."""
    cookie = _cookie_for(user)

    async def scenario():
        ws = _communicator(ORIGIN, cookie)
        connected, _ = await ws.connect()
        assert connected
        replies = []
        for message in messages:
            await ws.send_json_to(message)
            replies.append(await ws.receive_json_from(timeout=5))
        extra = None
        if then is not None:
            extra = await then(ws)
        await ws.disconnect()
        return replies, extra

    return async_to_sync(scenario)()


def test_it_refuses_and_audits_a_subscription_outside_the_users_namespaces(make_user, cluster):
    user = make_user(role="viewer", cluster=cluster, namespaces=["team-a"])
    replies, _ = _session(
        user,
        [
            {"subscribe": {"cluster": cluster.name, "kind": "pods", "namespace": "team-b"}},
            {"subscribe": {"cluster": cluster.name, "kind": "pods"}},
            {"subscribe": {"cluster": cluster.name, "kind": "nodes"}},
        ],
    )
    assert [reply["type"] for reply in replies] == ["error", "error", "error"]
    assert "team-b" in replies[0]["error"]
    refused = AuditEvent.objects.filter(actor=user, status="refused", verb="watch")
    assert refused.count() == 3
    assert set(refused.values_list("kind", flat=True)) == {"pods", "nodes"}


def test_it_refuses_users_without_any_role_and_unknown_clusters(make_user, cluster):
    user = make_user()
    replies, _ = _session(
        user,
        [
            {"subscribe": {"cluster": cluster.name, "kind": "deployments", "namespace": "x"}},
            {"subscribe": {"cluster": "no-such-cluster", "kind": "pods", "namespace": "x"}},
            {"subscribe": {"cluster": cluster.name, "kind": "secrets", "namespace": "x"}},
        ],
    )
    assert [reply["type"] for reply in replies] == ["error", "error", "error"]
    assert "no cluster named" in replies[1]["error"]
    assert replies[2]["error"].startswith("subscription.kind")


def test_an_authorized_subscriber_receives_the_events_of_its_namespace(make_user, cluster):
    user = make_user(role="viewer", cluster=cluster, namespaces=["team-a"])
    pod = {"metadata": {"name": "p1", "namespace": "team-a", "resourceVersion": "7"}}

    async def then(ws):
        layer = get_channel_layer()
        await layer.group_send(
            group_name("kube", cluster.name, "pods", "team-a"),
            {
                "type": "kube.event",
                "event": "ADDED",
                "cluster": cluster.name,
                "kind": "pods",
                "key": "team-a/p1",
                "object": pod,
            },
        )
        event = await ws.receive_json_from(timeout=5)
        # Actions elsewhere are filtered out; actions in the user's namespace come through.
        for namespace in ("team-b", "team-a"):
            await layer.group_send(
                group_name("actions", cluster.name),
                {
                    "type": "action.update",
                    "action": {
                        "id": namespace,
                        "cluster": cluster.name,
                        "namespace": namespace,
                        "status": "running",
                    },
                },
            )
        action = await ws.receive_json_from(timeout=5)
        nothing_more = await ws.receive_nothing(timeout=0.3)
        return event, action, nothing_more

    replies, (event, action, nothing_more) = _session(
        user,
        [
            {"subscribe": {"cluster": cluster.name, "kind": "pods", "namespace": "team-a"}},
            {"subscribe": {"cluster": cluster.name, "kind": "actions"}},
        ],
        then=then,
    )
    assert [reply["type"] for reply in replies] == ["subscribed", "subscribed"]
    assert event["type"] == "kube.event"
    assert event["object"] == pod
    assert action == {
        "type": "action.update",
        "action": {
            "id": "team-a",
            "cluster": cluster.name,
            "namespace": "team-a",
            "status": "running",
        },
    }
    assert nothing_more


def test_a_cluster_wide_viewer_may_watch_nodes_and_all_pods(make_user, cluster):
    user = make_user(role="viewer", cluster=cluster)
    replies, _ = _session(
        user,
        [
            {"subscribe": {"cluster": cluster.name, "kind": "nodes"}},
            {"subscribe": {"cluster": cluster.name, "kind": "pods"}},
            {"unsubscribe": {"cluster": cluster.name, "kind": "pods"}},
        ],
    )
    assert [reply["type"] for reply in replies] == ["subscribed", "subscribed", "unsubscribed"]
    assert not AuditEvent.objects.filter(actor=user, status="refused").exists()


def test_it_answers_malformed_messages_with_an_error(make_user, cluster):
    user = make_user(role="viewer", cluster=cluster)
    replies, _ = _session(user, [["not", "an", "object"], {"hello": 1}, {"subscribe": "pods"}])
    assert [reply["type"] for reply in replies] == ["error", "error", "error"]


def test_it_answers_text_that_is_not_json_without_dropping_the_connection(make_user, cluster):
    cookie = _cookie_for(make_user(role="viewer", cluster=cluster))

    async def scenario():
        ws = _communicator(ORIGIN, cookie)
        await ws.connect()
        await ws.send_to(text_data="{not json")
        first = await ws.receive_json_from(timeout=5)
        await ws.send_json_to({"subscribe": {"cluster": cluster.name, "kind": "pods"}})
        second = await ws.receive_json_from(timeout=5)
        await ws.disconnect()
        return first, second

    first, second = async_to_sync(scenario)()
    assert first["type"] == "error"
    assert second["type"] == "subscribed"


def test_a_narrowed_viewers_overview_subscribes_in_each_of_their_namespaces(
    make_user, sandbox_cluster
):
    user = make_user(role="viewer", cluster=sandbox_cluster, namespaces=["team-b", "team-a"])
    client = Client()
    client.force_login(user)
    html = client.get(f"/c/{sandbox_cluster.name}/").content.decode()
    root = re.search(r'<div id="live-root"[^>]*>', html).group(0)
    kinds = re.search(r'data-live-kinds="([^"]*)"', root).group(1).split()
    namespaces = re.search(r'data-live-namespaces="([^"]*)"', root).group(1).split()
    assert namespaces == ["team-a", "team-b"]
    assert {"pods", "events", "deployments"} <= set(kinds)
    assert not {"nodes", "namespaces"} & set(kinds)  # cluster-scoped: not theirs to watch
    # What static/js/live.js sends for this page.
    messages = [
        {"subscribe": {"cluster": sandbox_cluster.name, "kind": kind, "namespace": namespace}}
        for kind in kinds
        for namespace in namespaces
    ] + [{"subscribe": {"cluster": sandbox_cluster.name, "kind": "actions"}}]
    event = {"metadata": {"name": "e1", "namespace": "team-b", "resourceVersion": "9"}}

    async def then(ws):
        await get_channel_layer().group_send(
            group_name("kube", sandbox_cluster.name, "events", "team-b"),
            {
                "type": "kube.event",
                "event": "ADDED",
                "cluster": sandbox_cluster.name,
                "kind": "events",
                "key": "team-b/e1",
                "object": event,
            },
        )
        return await ws.receive_json_from(timeout=5)

    replies, received = _session(user, messages, then=then)
    assert {reply["type"] for reply in replies} == {"subscribed"}
    assert received["object"] == event
    assert not AuditEvent.objects.filter(actor=user, status="refused").exists()
