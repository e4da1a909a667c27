"""Feature apps' subscription kinds on the live websocket (controlplane/live/streams.py)."""

import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client

from controlplane.asgi import application
from controlplane.broadcast import group_name
from controlplane.clusters.models import Cluster
from controlplane.live import streams
from controlplane.live.subscriptions import SubscriptionRefused

pytestmark = pytest.mark.django_db(transaction=True)

HEADERS = [(b"host", b"127.0.0.1"), (b"origin", b"http://127.0.0.1")]


@pytest.fixture
def cluster():
    return Cluster.objects.create(
        name=f"c-{uuid.uuid4().hex[:6]}", server="https://203.0.113.1:6443", source="kubeconfig"
    )


@pytest.fixture
def echo_kind(monkeypatch):
    """A kind that streams lines of a named topic; topic "secret" is refused."""
    calls = []

    def parse(request):
        topic = request.get("topic")
        if not isinstance(topic, str) or not topic:
            raise ValueError("subscription.topic: a topic name is required")
        return {"cluster": request.get("cluster"), "kind": "echo", "topic": topic}

    def authorize(*, user, subscription, audit):
        calls.append(("authorize", subscription["topic"], audit))
        if subscription["topic"] == "secret":
            raise SubscriptionRefused("you may not read topic secret")

    async def joined(*, subscription, channel_name, send):
        calls.append(("joined", subscription["topic"]))
        await send({"type": "echo.history", "lines": ["earlier"]})

    async def left(*, subscription, channel_name):
        calls.append(("left", subscription["topic"]))

    kind = streams.StreamKind(
        name="echo",
        parse=parse,
        authorize=authorize,
        group=lambda s: group_name("echo", s["cluster"], s["topic"]),
        joined=joined,
        left=left,
    )
    monkeypatch.setitem(streams._KINDS, "echo", kind)
    return calls


def _cookie(user):
    client = Client()
    client.force_login(user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


def test_a_registered_kind_is_parsed_authorized_joined_forwarded_and_left(
    make_user, cluster, echo_kind
):
    cookie = _cookie(make_user(role="viewer", cluster=cluster))

    async def scenario():
        ws = WebsocketCommunicator(application, "/ws/live/", headers=[*HEADERS, cookie])
        assert (await ws.connect())[0]
        await ws.send_json_to({"subscribe": {"cluster": cluster.name, "kind": "echo"}})
        bad = await ws.receive_json_from(timeout=5)
        await ws.send_json_to(
            {"subscribe": {"cluster": cluster.name, "kind": "echo", "topic": "t"}}
        )
        subscribed = await ws.receive_json_from(timeout=5)
        history = await ws.receive_json_from(timeout=5)
        await get_channel_layer().group_send(
            group_name("echo", cluster.name, "t"),
            {"type": "stream.message", "payload": {"type": "echo.line", "line": "now"}},
        )
        forwarded = await ws.receive_json_from(timeout=5)
        await ws.send_json_to(
            {"unsubscribe": {"cluster": cluster.name, "kind": "echo", "topic": "t"}}
        )
        unsubscribed = await ws.receive_json_from(timeout=5)
        await ws.disconnect()
        return bad, subscribed, history, forwarded, unsubscribed

    bad, subscribed, history, forwarded, unsubscribed = async_to_sync(scenario)()
    assert bad["type"] == "error"
    assert "subscription.topic" in bad["error"]
    assert subscribed == {
        "type": "subscribed",
        "subscription": {"cluster": cluster.name, "kind": "echo", "topic": "t"},
    }
    assert history == {"type": "echo.history", "lines": ["earlier"]}
    assert forwarded == {"type": "echo.line", "line": "now"}
    assert unsubscribed["type"] == "unsubscribed"
    assert echo_kind == [("authorize", "t", True), ("joined", "t"), ("left", "t")]


def test_a_refused_kind_subscription_is_answered_with_the_reason_and_never_joined(
    make_user, cluster, echo_kind
):
    cookie = _cookie(make_user(role="viewer", cluster=cluster))

    async def scenario():
        ws = WebsocketCommunicator(application, "/ws/live/", headers=[*HEADERS, cookie])
        assert (await ws.connect())[0]
        await ws.send_json_to(
            {"subscribe": {"cluster": cluster.name, "kind": "echo", "topic": "secret"}}
        )
        answer = await ws.receive_json_from(timeout=5)
        await ws.disconnect()
        return answer

    answer = async_to_sync(scenario)()
    assert answer["type"] == "error"
    assert answer["error"] == "you may not read topic secret"
    assert echo_kind == [("authorize", "secret", True)]


def test_a_disconnect_leaves_every_kind_subscription(make_user, cluster, echo_kind):
    cookie = _cookie(make_user(role="viewer", cluster=cluster))

    async def scenario():
        ws = WebsocketCommunicator(application, "/ws/live/", headers=[*HEADERS, cookie])
        assert (await ws.connect())[0]
        for topic in ("a", "b"):
            await ws.send_json_to(
                {"subscribe": {"cluster": cluster.name, "kind": "echo", "topic": topic}}
            )
            await ws.receive_json_from(timeout=5)
            await ws.receive_json_from(timeout=5)
        await ws.disconnect()

    async_to_sync(scenario)()
    assert [c for c in echo_kind if c[0] == "left"] == [("left", "a"), ("left", "b")]


def test_unknown_kinds_are_refused_naming_the_registered_ones_too(make_user, cluster, echo_kind):
    cookie = _cookie(make_user(role="viewer", cluster=cluster))

    async def scenario():
        ws = WebsocketCommunicator(application, "/ws/live/", headers=[*HEADERS, cookie])
        assert (await ws.connect())[0]
        await ws.send_json_to({"subscribe": {"cluster": cluster.name, "kind": "nope"}})
        answer = await ws.receive_json_from(timeout=5)
        await ws.disconnect()
        return answer

    answer = async_to_sync(scenario)()
    assert "subscription.kind" in answer["error"]
    assert "echo" in answer["error"]
