"""The live websocket under attack and as access changes: exact origins, bad frames answered,
refusals throttled and audited once, and streams that end the moment access ends."""

import json
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client

from controlplane.accounts.models import RoleGrant
from controlplane.asgi import application
from controlplane.audit.models import AuditEvent
from controlplane.broadcast import group_name
from controlplane.clusters.models import Cluster

pytestmark = pytest.mark.django_db(transaction=True)

HOST = (b"host", b"127.0.0.1")
ORIGIN = (b"origin", b"http://127.0.0.1")


@pytest.fixture
def cluster():
    return Cluster.objects.create(
        name=f"h-{uuid.uuid4().hex[:6]}", server="https://203.0.113.1:6443", source="kubeconfig"
    )


def _login(user) -> tuple[Client, tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user)
    return client, (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


def _pod_event(cluster, namespace):
    return {
        "type": "kube.event",
        "event": "ADDED",
        "cluster": cluster.name,
        "kind": "pods",
        "key": f"{namespace}/p",
        "object": {"metadata": {"name": "p", "namespace": namespace}},
    }


@pytest.mark.parametrize(
    ("origin", "accepted"),
    [
        (b"http://127.0.0.1", True),
        (b"http://127.0.0.1:80", True),
        (b"http://127.0.0.1:9999", False),
        (b"https://127.0.0.1", False),
        (b"https://localhost", False),
        (b"http://evil.example", False),
        (b"null", False),
    ],
)
def test_the_origin_must_match_scheme_host_and_port(make_user, cluster, origin, accepted):
    _, cookie = _login(make_user(role="viewer", cluster=cluster))

    async def scenario():
        ws = WebsocketCommunicator(
            application, "/ws/live/", headers=[HOST, (b"origin", origin), cookie]
        )
        connected, _ = await ws.connect()
        await ws.disconnect()
        return connected

    assert async_to_sync(scenario)() is accepted


def test_bad_frames_get_an_error_and_the_connection_stays_usable(make_user, cluster):
    _, cookie = _login(make_user(role="viewer", cluster=cluster))
    nested = "[" * 100_000 + "]" * 100_000

    async def scenario():
        ws = WebsocketCommunicator(application, "/ws/live/", headers=[HOST, ORIGIN, cookie])
        assert (await ws.connect())[0]
        replies = []
        for frame in ({"bytes_data": b"\x00\x01"}, {"text_data": "x" * 70_000}):
            await ws.send_to(**frame)
            replies.append(await ws.receive_json_from(timeout=5))
        await ws.send_to(
            text_data=json.dumps({"subscribe": {"cluster": cluster.name}})[:-1] + nested[:10]
        )
        replies.append(await ws.receive_json_from(timeout=5))
        await ws.send_to(text_data=nested[:20_000] + nested[-20_000:])
        replies.append(await ws.receive_json_from(timeout=5))
        await ws.send_json_to({"subscribe": {"cluster": cluster.name, "kind": "pods"}})
        last = await ws.receive_json_from(timeout=5)
        await ws.disconnect()
        return replies, last

    replies, last = async_to_sync(scenario)()
    assert [reply["type"] for reply in replies] == ["error"] * 4
    assert "binary" in replies[0]["error"]
    assert "too large" in replies[1]["error"]
    assert last["type"] == "subscribed"


def test_refused_subscriptions_are_throttled_and_audited_once(make_user, cluster):
    user = make_user()  # no role anywhere
    _, cookie = _login(user)
    request = {"subscribe": {"cluster": cluster.name, "kind": "pods", "namespace": "x"}}

    async def scenario():
        ws = WebsocketCommunicator(application, "/ws/live/", headers=[HOST, ORIGIN, cookie])
        assert (await ws.connect())[0]
        replies = []
        for _ in range(30):
            await ws.send_json_to(request)
            replies.append(await ws.receive_json_from(timeout=5))
        await ws.disconnect()
        return replies

    replies = async_to_sync(scenario)()
    assert all(reply["type"] == "error" for reply in replies)
    assert sum("too many refused subscriptions" in r["error"] for r in replies) == 20
    assert AuditEvent.objects.filter(actor=user, status="refused", verb="watch").count() == 1


def _streaming_session(cookie, cluster, namespace, change):
    """Subscribe to pods in `namespace`, run `change()` (sync), then report what follows."""

    async def scenario():
        ws = WebsocketCommunicator(application, "/ws/live/", headers=[HOST, ORIGIN, cookie])
        assert (await ws.connect())[0]
        await ws.send_json_to(
            {"subscribe": {"cluster": cluster.name, "kind": "pods", "namespace": namespace}}
        )
        assert (await ws.receive_json_from(timeout=5))["type"] == "subscribed"
        from channels.db import database_sync_to_async

        await database_sync_to_async(change)()
        first = await ws.receive_output(timeout=5)
        await get_channel_layer().group_send(
            group_name("kube", cluster.name, "pods", namespace), _pod_event(cluster, namespace)
        )
        rest = []
        while not await ws.receive_nothing(timeout=0.5):
            rest.append(await ws.receive_output(timeout=1))
        return first, rest

    return async_to_sync(scenario)()


def test_revoking_a_grant_ends_its_streams_at_once(make_user, cluster):
    user = make_user(role="viewer", cluster=cluster, namespaces=["team-a"])
    _, cookie = _login(user)
    first, rest = _streaming_session(
        cookie, cluster, "team-a", lambda: RoleGrant.objects.filter(user=user).delete()
    )
    message = json.loads(first["text"])
    assert message["type"] == "unsubscribed"
    assert "team-a" in message["reason"]
    assert all("kube.event" not in output.get("text", "") for output in rest)


def test_deactivating_a_user_closes_their_connections(make_user, cluster):
    user = make_user(role="viewer", cluster=cluster)
    _, cookie = _login(user)

    def deactivate():
        user.is_active = False
        user.save(update_fields=["is_active"])

    first, _ = _streaming_session(cookie, cluster, "team-a", deactivate)
    assert first == {"type": "websocket.close", "code": 4403}


def test_logging_out_closes_that_sessions_connections(make_user, cluster):
    user = make_user(role="viewer", cluster=cluster)
    browser, cookie = _login(user)
    first, _ = _streaming_session(
        cookie, cluster, "team-a", lambda: browser.post("/accounts/logout/")
    )
    assert first == {"type": "websocket.close", "code": 4401}
