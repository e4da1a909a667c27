"""The metrics pages and the live "metrics" subscription: charts only when there are samples,
plain words when there are none or no metrics API, and each new sample pushed after a cycle."""

import asyncio
import json
import re

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from controlplane.asgi import application
from deployments.metrics.sampling import metrics_sample, store_for
from tests.controlplane.metrics_support import clear_metrics, sample_deployment

pytestmark = pytest.mark.django_db(transaction=True)
HEADERS = [(b"host", b"127.0.0.1"), (b"origin", b"http://127.0.0.1")]


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def _data(html: str) -> dict:
    found = re.search(r'<script id="metrics-data" type="application/json">(.*?)</script>', html)
    return json.loads(found[1])


def test_the_deployment_page_links_to_charts_fed_by_the_stored_series(
    sandbox, sandbox_cluster, kube_namespace, tmp_path, make_user
):
    pods = sample_deployment(sandbox, sandbox_cluster, kube_namespace, tmp_path)
    client = _client(make_user(role="viewer", cluster=sandbox_cluster))
    detail = client.get(f"/c/sandbox/ns/{kube_namespace}/deployments/model/")
    url = f"/c/sandbox/ns/{kube_namespace}/deployments/model/metrics/"
    assert url in detail.content.decode()
    page = client.get(url + "?window=15m")
    html = page.content.decode()
    assert page.status_code == 200
    for chart in ("cpu", "memory", "replicas"):
        assert f'data-chart="{chart}"' in html
    assert 'data-chart="autoscaler"' not in html
    data = _data(html)
    assert data["status"] == "ok"
    assert {s["label"] for s in data["series"] if s["name"] == "cpu"} == {*pods, "total"}
    for pod in pods:
        assert f"/c/sandbox/ns/{kube_namespace}/pods/{pod}/metrics/" in html
    clear_metrics("sandbox")


def test_the_page_says_plainly_when_the_cluster_has_no_metrics_api(sandbox_cluster, make_user):
    clear_metrics("sandbox")
    store_for("sandbox").state_set(
        status="absent", message="the cluster has no metrics.k8s.io API (404)", checked_at=1
    )
    try:
        client = _client(make_user(role="viewer", cluster=sandbox_cluster))
        html = client.get("/c/sandbox/ns/default/deployments/web/metrics/").content.decode()
    finally:
        clear_metrics("sandbox")
    assert "This cluster has no metrics API" in html
    assert "data-chart=" not in html


def test_the_page_says_when_there_are_no_samples_yet_and_draws_nothing(sandbox_cluster, make_user):
    clear_metrics("sandbox")
    client = _client(make_user(role="viewer", cluster=sandbox_cluster))
    html = client.get("/c/sandbox/ns/default/pods/web-1/metrics/").content.decode()
    assert "No samples yet" in html
    assert "data-chart=" not in html


def test_a_bad_window_on_the_page_is_named_and_the_default_shown(sandbox_cluster, make_user):
    client = _client(make_user(role="viewer", cluster=sandbox_cluster))
    page = client.get("/c/sandbox/ns/default/pods/web-1/metrics/?window=forever")
    assert page.status_code == 400
    assert "window: must be a number followed by m, h or d" in page.content.decode()


def test_the_node_page_shows_gpus_allocatable_against_requested(
    sandbox, sandbox_cluster, make_user
):
    clear_metrics("sandbox")
    assert metrics_sample(cluster=sandbox_cluster).status == "ok"
    gpu_node = next(
        n["metadata"]["name"]
        for n in json.loads(sandbox.kubectl("get", "nodes", "-o", "json").stdout)["items"]
        if "nvidia.com/gpu" in (n["status"].get("allocatable") or {})
    )
    client = _client(make_user(role="viewer", cluster=sandbox_cluster))
    overview = client.get("/c/sandbox/").content.decode()
    assert f"/c/sandbox/nodes/{gpu_node}/metrics/" in overview
    html = client.get(f"/c/sandbox/nodes/{gpu_node}/metrics/").content.decode()
    clear_metrics("sandbox")
    data = _data(html)
    assert data["status"] == "ok"
    assert data["capacity"]["allocatable"]["gpu"] >= 1
    assert re.search(r"data-gpu-allocatable>\d+<", html)
    assert 'data-chart="cpu"' in html


def _cookie(user):
    client = _client(user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


def test_a_live_subscription_receives_each_new_sample_after_the_cycle(
    sandbox, sandbox_cluster, kube_namespace, tmp_path, make_user
):
    pods = sample_deployment(sandbox, sandbox_cluster, kube_namespace, tmp_path, cpu="200m")
    cookie = _cookie(make_user(role="viewer", cluster=sandbox_cluster))
    subscription = {
        "cluster": "sandbox",
        "kind": "metrics",
        "namespace": kube_namespace,
        "deployment": "model",
    }
    store = store_for("sandbox")

    async def scenario():
        ws = WebsocketCommunicator(application, "/ws/live/", headers=[*HEADERS, cookie])
        assert (await ws.connect())[0]
        await ws.send_json_to({"subscribe": subscription})
        subscribed = await ws.receive_json_from(timeout=5)
        # The subscriber count is kept once the socket joined (just after "subscribed").
        for _ in range(100):
            watched = store.watched()
            if watched:
                break
            await asyncio.sleep(0.05)
        result = await sync_sample()
        sample = await ws.receive_json_from(timeout=10)
        await ws.send_json_to({"unsubscribe": subscription})
        await ws.receive_json_from(timeout=5)
        await ws.disconnect()
        return subscribed, watched, result, sample

    sync_sample = sync_to_async(lambda: metrics_sample(cluster=sandbox_cluster))
    subscribed, watched, result, sample = async_to_sync(scenario)()
    assert subscribed["type"] == "subscribed"
    assert f"d/{kube_namespace}/model" in watched
    assert result.status == "ok"
    assert sample["type"] == "metrics.sample"
    assert sample["series"] == f"d/{kube_namespace}/model"
    assert sample["t"] == pytest.approx(result.at)
    assert sample["values"]["cpu"] == pytest.approx(0.4)
    assert sample["values"]["replicas"] == 2
    assert sorted(sample["pods"]) == pods
    assert sample["pods"][pods[0]][0] == pytest.approx(0.2)
    assert f"d/{kube_namespace}/model" not in store.watched()
    clear_metrics("sandbox")


def test_a_metrics_subscription_outside_the_users_grant_is_refused(sandbox_cluster, make_user):
    cookie = _cookie(make_user(role="viewer", cluster=sandbox_cluster, namespaces=["elsewhere"]))

    async def scenario():
        ws = WebsocketCommunicator(application, "/ws/live/", headers=[*HEADERS, cookie])
        assert (await ws.connect())[0]
        answers = []
        for request in (
            {"cluster": "sandbox", "kind": "metrics", "namespace": "default", "pod": "web-1"},
            {"cluster": "sandbox", "kind": "metrics", "node": "node-1"},
            {"cluster": "sandbox", "kind": "metrics", "namespace": "default"},
        ):
            await ws.send_json_to({"subscribe": request})
            answers.append(await ws.receive_json_from(timeout=5))
        await ws.disconnect()
        return answers

    pod, node, bad = async_to_sync(scenario)()
    assert pod["type"] == "error"
    assert "namespace default" in pod["error"]
    assert node["type"] == "error"
    assert "the nodes" in node["error"]
    assert "subscription.deployment" in bad["error"]
