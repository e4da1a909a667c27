"""The live layer keeps idle connections open and keeps subscriptions and checkouts apart."""

import hashlib
import os
import re
import subprocess
import sys
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from controlplane.asgi import application
from controlplane.broadcast import group_name
from controlplane.clusters.models import Cluster
from tests.fixtures.controlplane import REPO_ROOT

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://127.0.0.1")
HOST = (b"host", b"127.0.0.1")
# channels_redis blocks 5 s in BZPOPMIN per read; idling across two of them shows the bug.
IDLE_SECONDS = 12


def _cookie_for(user) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


def _deployment_event(cluster: str, namespace: str) -> dict:
    return {
        "type": "kube.event",
        "event": "MODIFIED",
        "cluster": cluster,
        "kind": "deployments",
        "key": f"{namespace}/model",
        "object": {"metadata": {"name": "model", "namespace": namespace}},
    }


def test_an_idle_websocket_stays_open_and_then_delivers_the_next_change(make_user):
    cluster = Cluster.objects.create(
        name=f"idle-{uuid.uuid4().hex[:6]}", server="https://203.0.113.1:6443"
    )
    cookie = _cookie_for(make_user(role="viewer", cluster=cluster))

    async def scenario():
        ws = WebsocketCommunicator(application, "/ws/live/", headers=[HOST, ORIGIN, cookie])
        connected, _ = await ws.connect()
        assert connected
        subscription = {"cluster": cluster.name, "kind": "deployments", "namespace": "demo"}
        await ws.send_json_to({"subscribe": subscription})
        assert (await ws.receive_json_from(timeout=5))["type"] == "subscribed"
        idle = await ws.receive_nothing(timeout=IDLE_SECONDS, interval=0.5)
        await get_channel_layer().group_send(
            group_name("kube", cluster.name, "deployments", "demo"),
            _deployment_event(cluster.name, "demo"),
        )
        change = await ws.receive_json_from(timeout=5)
        await ws.disconnect()
        return idle, change

    idle, change = async_to_sync(scenario)()
    assert idle, "the connection produced output (an error or a close) while idle"
    assert change["key"] == "demo/model"


def test_namespaces_at_the_length_limit_sharing_a_prefix_never_share_a_stream(make_user):
    # A cluster name and two 63-character namespaces that differ only in their last letter.
    cluster = Cluster.objects.create(name="c" * 63, server="https://203.0.113.1:6443")
    granted, other = "n" * 62 + "a", "n" * 62 + "b"
    cookie = _cookie_for(make_user(role="viewer", cluster=cluster, namespaces=[granted]))

    async def scenario():
        ws = WebsocketCommunicator(application, "/ws/live/", headers=[HOST, ORIGIN, cookie])
        connected, _ = await ws.connect()
        assert connected
        subscription = {"cluster": cluster.name, "kind": "deployments", "namespace": granted}
        await ws.send_json_to({"subscribe": subscription})
        assert (await ws.receive_json_from(timeout=5))["type"] == "subscribed"
        layer = get_channel_layer()
        await layer.group_send(
            group_name("kube", cluster.name, "deployments", other),
            _deployment_event(cluster.name, other),
        )
        leaked = await ws.receive_nothing(timeout=1)
        await layer.group_send(
            group_name("kube", cluster.name, "deployments", granted),
            _deployment_event(cluster.name, granted),
        )
        own = await ws.receive_json_from(timeout=5)
        await ws.disconnect()
        return leaked, own

    nothing_leaked, own = async_to_sync(scenario)()
    assert nothing_leaked, "a viewer of one namespace received another namespace's objects"
    assert own["object"]["metadata"]["namespace"] == granted


@pytest.mark.django_db(transaction=False)
def test_group_names_are_valid_and_distinct_for_any_legal_names():
    clusters = ["c" * 63, "c" * 62 + "d", "a"]
    namespaces = ["n" * 63, "n" * 62 + "m", "x", None]
    kinds = ["deployments", "pods", "horizontalpodautoscalers"]
    names = set()
    for cluster in clusters:
        for kind in kinds:
            for namespace in namespaces:
                parts = ["kube", cluster, kind] + ([namespace] if namespace else [])
                name = group_name(*parts)
                assert re.fullmatch(r"[A-Za-z0-9._-]{1,99}", name), name
                names.add(name)
    assert len(names) == len(clusters) * len(kinds) * len(namespaces)
    # Parts are kept apart: ("ab", "c") and ("a", "bc") are different subscriptions.
    assert group_name("kube", "ab", "c") != group_name("kube", "a", "bc")


@pytest.mark.django_db(transaction=False)
def test_each_checkout_gets_its_own_redis_prefix_by_default():
    env = {k: v for k, v in os.environ.items() if k != "REDIS_PREFIX"}
    env["DJANGO_SETTINGS_MODULE"] = "controlplane.settings"
    code = "from django.conf import settings; print(settings.REDIS_PREFIX)"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    expected = "cp-" + hashlib.sha256(str(REPO_ROOT).encode()).hexdigest()[:10]
    assert out.stdout.strip() == expected
    # This test session runs under a prefix of its own, which every Redis user follows.
    assert settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"].startswith(settings.REDIS_PREFIX)
