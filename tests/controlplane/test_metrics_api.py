"""GET .../metrics/ of deployments, pods and nodes: series with their source and age, windows,
bad windows, role checks, and what is said when there is nothing to show."""

import time

import pytest

from controlplane.kube.metrics import pod_metrics_list
from deployments.metrics.sampling import metrics_sample, store_for
from tests.fixtures.controlplane import make_deployment, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
MIB = 2**20


def _clear(name):
    store = store_for(name)
    keys = list(store.client.scan_iter(match=f"{store.base}:*", count=1000))
    if keys:
        store.client.unlink(*keys)


@pytest.fixture
def sampled(sandbox, sandbox_cluster, kube_namespace, tmp_path):
    """A two-pod deployment with scripted usage, sampled twice: 30 s and 15 s ago."""
    _clear(sandbox_cluster.name)
    make_deployment(sandbox, kube_namespace, tmp_path, name="model", replicas=2)
    sandbox.script(
        "usage", {"match": {"namespace": kube_namespace}, "cpu": "300m", "memory": "64Mi"}
    )

    def pods():
        items = pod_metrics_list(sandbox_cluster.connection())
        return sorted(
            m["metadata"]["name"] for m in items if m["metadata"]["namespace"] == kube_namespace
        )

    names = wait_for(lambda: len(pods()) == 2 and pods(), what="two pods with metrics")
    now = time.time()
    for ago in (30, 15):
        assert metrics_sample(cluster=sandbox_cluster, now=now - ago).status == "ok"
    yield {"namespace": kube_namespace, "pods": names, "at": now - 15}
    _clear(sandbox_cluster.name)


def _url(cluster, namespace, kind, name, window="15m"):
    return (
        f"/api/v1/clusters/{cluster}/namespaces/{namespace}/{kind}/{name}/metrics/?window={window}"
    )


def test_a_deployments_metrics_give_each_pod_the_total_and_the_replicas(
    sampled, sandbox_cluster, make_user, api_client_for
):
    client = api_client_for(make_user(role="viewer", cluster=sandbox_cluster))
    response = client.get(_url("sandbox", sampled["namespace"], "deployments", "model"))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert body["step_seconds"] == body["interval_seconds"]
    assert body["last_cycle_seconds"] > 0
    by = {(s["name"], s["label"]): s for s in body["series"]}
    for pod in sampled["pods"]:
        cpu = by[("cpu", pod)]
        assert cpu["source"] == "metrics.k8s.io"
        assert [v for _, v in cpu["points"]] == [pytest.approx(0.3)] * 2
        assert by[("memory", pod)]["points"][-1][1] == pytest.approx(64 * MIB)
    total = by[("cpu", "total")]
    assert [v for _, v in total["points"]] == [pytest.approx(0.6)] * 2
    assert total["newest_sample_at"] == pytest.approx(sampled["at"], abs=15)
    assert 0 <= total["newest_sample_age_seconds"] < 60
    assert [v for _, v in by[("replicas", "spec")]["points"]] == [2, 2]
    assert by[("replicas", "spec")]["source"] == "apps/v1 Deployment status"
    assert not any(name == "autoscaler" for name, _ in by)  # none exists: none invented


def test_a_pods_and_a_nodes_metrics_are_served_with_the_nodes_capacity(
    sampled, sandbox_cluster, make_user, api_client_for
):
    client = api_client_for(make_user(role="viewer", cluster=sandbox_cluster))
    pod = sampled["pods"][0]
    body = client.get(_url("sandbox", sampled["namespace"], "pods", pod, "1h")).json()
    assert body["status"] == "ok"
    assert [s["name"] for s in body["series"]] == ["cpu", "memory"]
    assert body["series"][0]["points"][-1][1] == pytest.approx(0.3)
    node = None
    store = store_for("sandbox")
    for item in store.client.scan_iter(match=f"{store.base}:*:n/*"):
        node = item.decode().rsplit(":n/", 1)[1]
        break
    assert node, "no node series was stored"
    response = client.get(f"/api/v1/clusters/sandbox/nodes/{node}/metrics/?window=6h")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert body["step_seconds"] == 60
    assert body["series"][0]["points"][-1][1] > 0
    assert body["capacity"]["allocatable"]["cpu"] > 0
    assert body["capacity"]["requested"]["cpu"] >= 0


@pytest.mark.parametrize("window", ["7x", "0m", "48h", "1h30m", "-1h", "h"])
def test_a_bad_window_is_refused_naming_the_field(
    window, sandbox_cluster, make_user, api_client_for
):
    client = api_client_for(make_user(role="viewer", cluster=sandbox_cluster))
    response = client.get(_url("sandbox", "default", "deployments", "model", window))
    assert response.status_code == 400
    assert "window" in response.json()


def test_viewers_of_other_namespaces_and_narrowed_grants_on_nodes_are_refused(
    sandbox_cluster, make_user, api_client_for
):
    narrowed = api_client_for(
        make_user(role="viewer", cluster=sandbox_cluster, namespaces=["elsewhere"])
    )
    assert narrowed.get(_url("sandbox", "default", "deployments", "web")).status_code == 403
    assert narrowed.get(_url("sandbox", "default", "pods", "web-1")).status_code == 403
    assert (
        narrowed.get("/api/v1/clusters/sandbox/nodes/node-1/metrics/?window=1h").status_code == 403
    )
    # The namespace it may see answers (nothing sampled there: said so, no series).
    body = narrowed.get(_url("sandbox", "elsewhere", "deployments", "web")).json()
    assert body["status"] == "no_samples"
    assert body["series"] == []
    assert body["message"]


def test_a_cluster_without_metrics_api_is_said_so_instead_of_series(
    sandbox_cluster, make_user, api_client_for
):
    _clear("sandbox")
    store_for("sandbox").state_set(
        status="absent", message="the cluster has no metrics.k8s.io API (404)", checked_at=1
    )
    try:
        client = api_client_for(make_user(role="viewer", cluster=sandbox_cluster))
        body = client.get(_url("sandbox", "default", "deployments", "web")).json()
    finally:
        _clear("sandbox")
    assert body["status"] == "no_metrics_api"
    assert "metrics.k8s.io" in body["message"]
    assert body["series"] == []
