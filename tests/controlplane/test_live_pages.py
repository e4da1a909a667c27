"""Dashboard and deployments pages against the sandbox: numbers, provenance, roles, scaling."""

import re
import threading
import uuid
from decimal import Decimal

import pytest

from controlplane.audit.models import AuditEvent
from controlplane.broadcast import BroadcastLoop
from controlplane.dashboard.quantities import parse_quantity
from controlplane.dashboard.summaries import node_rows, pod_requests
from controlplane.live.cache import live_cache
from controlplane.live.watcher import Watcher
from tests.fixtures.controlplane import wait_for

pytestmark = pytest.mark.django_db


def deploy(sandbox, namespace: str, name: str, replicas: int = 1, labels=None) -> None:
    body = {
        "metadata": {"name": name, "labels": {"app": name, **(labels or {})}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "server", "image": f"registry.local/{name}:1"}]},
            },
        },
    }
    status, payload, _ = sandbox.request(
        "POST", f"/apis/apps/v1/namespaces/{namespace}/deployments", body
    )
    assert status == 201, payload


@pytest.fixture
def logged_in(client, make_user, sandbox_cluster):
    def login(role=None, namespaces=None, superuser=False):
        user = make_user(
            role=role, cluster=sandbox_cluster, namespaces=namespaces, superuser=superuser
        )
        client.force_login(user)
        return user

    return login


# Pure computations ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("250m", Decimal("0.25")),
        ("2", Decimal(2)),
        ("1Gi", Decimal(1024**3)),
        ("1.5G", Decimal("1.5e9")),
        ("100Ki", Decimal(102400)),
    ],
)
def test_it_parses_resource_quantities(text, value):
    assert parse_quantity(text) == value


def test_it_names_an_unparseable_quantity():
    with pytest.raises(ValueError, match="'lots'"):
        parse_quantity("lots")


def test_a_pods_request_counts_the_largest_init_container_and_overhead():
    pod = {
        "spec": {
            "containers": [
                {"resources": {"requests": {"cpu": "100m"}}},
                {"resources": {"requests": {"cpu": "200m", "memory": "1Gi"}}},
            ],
            "initContainers": [{"resources": {"requests": {"cpu": "500m"}}}],
            "overhead": {"cpu": "10m"},
        }
    }
    assert pod_requests(pod) == {"cpu": Decimal("0.51"), "memory": Decimal(1024**3)}


def test_finished_pods_do_not_count_against_their_node():
    node = {
        "metadata": {"name": "n1"},
        "status": {
            "allocatable": {"cpu": "4", "memory": "8Gi", "nvidia.com/gpu": "2"},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }

    def pod(phase, gpu):
        return {
            "spec": {
                "nodeName": "n1",
                "containers": [{"resources": {"requests": {"cpu": "1", "nvidia.com/gpu": gpu}}}],
            },
            "status": {"phase": phase},
        }

    [row] = node_rows([node], [pod("Running", "1"), pod("Succeeded", "1"), pod("Pending", "0")])
    assert row.pods == 2
    assert row.cpu == {"requested": "2", "allocatable": "4", "percent": 50}
    assert row.gpu == {"requested": "1", "allocatable": "2", "percent": 50}
    assert row.ready


# Pages ---------------------------------------------------------------------------------------


def test_the_overview_shows_every_node_and_says_it_listed_them_live(
    client, logged_in, sandbox, sandbox_cluster
):
    logged_in(role="viewer")
    response = client.get(f"/c/{sandbox_cluster.name}/")
    assert response.status_code == 200
    _status, nodes, _ = sandbox.request("GET", "/api/v1/nodes")
    html = response.content.decode()
    for node in nodes["items"]:
        assert node["metadata"]["name"] in html
        gpus = node["status"]["allocatable"].get("nvidia.com/gpu")
        if gpus:
            assert re.search(rf"\d+ / {gpus}\b", html), "the GPU node's GPUs are shown"
    # No watcher runs here: the page says the numbers come from a live list.
    assert "live list (watcher not running for this cluster)" in html


def test_the_overview_reads_the_watchers_cache_once_it_is_synced(
    client, logged_in, sandbox_cluster, settings
):
    # A prefix of its own: stopping this watcher must not touch another one's cache.
    settings.REDIS_PREFIX = f"{settings.REDIS_PREFIX}-p{uuid.uuid4().hex[:8]}"
    logged_in(role="viewer")
    publisher = BroadcastLoop()
    watcher = Watcher(
        cluster_source=lambda: {sandbox_cluster.name: sandbox_cluster.connection()},
        cache=live_cache(),
        publisher=publisher,
        poll_interval=0.2,
        watch_timeout=5,
    )
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(
            lambda: "live list" not in client.get(f"/c/{sandbox_cluster.name}/").content.decode(),
            what="the page to use the cache",
        )
        html = client.get(f"/c/{sandbox_cluster.name}/sections/nodes/").content.decode()
        assert "watcher cache, confirmed" in html
    finally:
        stop.set()
        thread.join(20)
        publisher.close()
        cache = live_cache()
        leftovers = list(cache.client.scan_iter(match=f"{settings.REDIS_PREFIX}:*"))
        if leftovers:
            cache.client.delete(*leftovers)


def test_a_narrowed_viewer_sees_only_their_namespaces_and_no_nodes(
    client, logged_in, sandbox, sandbox_cluster, kube_namespace
):
    logged_in(role="viewer", namespaces=[kube_namespace])
    html = client.get(f"/c/{sandbox_cluster.name}/").content.decode()
    assert kube_namespace in html
    assert "kube-system" not in html
    assert "Nodes are visible with a cluster-wide role." in html


def test_users_without_a_role_get_404_for_the_cluster(client, logged_in, sandbox_cluster):
    logged_in()
    assert client.get(f"/c/{sandbox_cluster.name}/").status_code == 404
    assert client.get(f"/c/{sandbox_cluster.name}/deployments/").status_code == 404


def test_anonymous_users_are_sent_to_log_in(client, sandbox_cluster):
    response = client.get(f"/c/{sandbox_cluster.name}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_navigation_shows_missing_areas_as_not_available_yet(client, logged_in, sandbox_cluster):
    logged_in(role="viewer")
    html = client.get(f"/c/{sandbox_cluster.name}/").content.decode()
    assert 'href="/audit/"' in html
    assert 'href="/clusters/"' in html
    assert 'href="/training/"' in html
    assert 'href="/experiments/"' in html


def test_the_deployments_page_lists_replicas_images_and_model_labels(
    client, logged_in, sandbox, sandbox_cluster, kube_namespace
):
    deploy(sandbox, kube_namespace, "ranker", replicas=2, labels={"model-name": "ranker-v2"})
    logged_in(role="viewer")
    url = f"/c/{sandbox_cluster.name}/ns/{kube_namespace}/deployments/"
    html = client.get(url).content.decode()
    assert 'data-deployment="ranker"' in html
    assert "registry.local/ranker:1" in html
    assert "model-name" in html
    assert "ranker-v2" in html
    assert 'name="replicas"' not in html  # viewers get no scale control


def test_an_operator_scales_from_the_page_and_gets_the_pending_action(
    client, logged_in, sandbox, sandbox_cluster, kube_namespace
):
    deploy(sandbox, kube_namespace, "api")
    user = logged_in(role="operator")
    base = f"/c/{sandbox_cluster.name}/ns/{kube_namespace}/deployments/"
    assert 'name="replicas"' in client.get(base).content.decode()
    response = client.post(f"{base}api/scale/", {"replicas": "3"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 202
    action = AuditEvent.objects.get(actor=user, verb="scale", name="api")
    assert action.parameters == {"replicas": 3}
    assert f'data-action-id="{action.id}"' in response.content.decode()


def test_the_scale_control_is_prefilled_and_shows_the_last_actions_outcome(
    client, logged_in, sandbox, sandbox_cluster, kube_namespace
):
    from controlplane.audit.services import action_record

    deploy(sandbox, kube_namespace, "api", replicas=2)
    logged_in(role="operator")
    action_record(
        actor=None,
        cluster=sandbox_cluster,
        namespace=kube_namespace,
        kind="deployment",
        name="api",
        verb="scale",
        parameters={"replicas": 5},
        status="failed",
        error="Conflict (409): the object has been modified",
    )
    overview = client.get(f"/c/{sandbox_cluster.name}/").content.decode()
    url = f"/c/{sandbox_cluster.name}/ns/{kube_namespace}/deployments/"
    assert f'href="{url}"' in overview  # one click from the overview
    assert f'href="{url}#deployment-api"' in overview  # and from its recent actions
    html = client.get(url).content.decode()
    row = html[html.index('data-deployment="api"') :]
    assert re.search(r'<input type="number" name="replicas"[^>]* value="2"', row)
    assert "scale to 5 by system" in row
    assert 'class="pill status-failed"' in row
    assert "Conflict (409): the object has been modified" in row


@pytest.mark.parametrize("replicas", ["-1", "100000", "three"])
def test_an_invalid_replica_count_is_refused_naming_the_field(
    client, logged_in, sandbox, sandbox_cluster, kube_namespace, replicas
):
    deploy(sandbox, kube_namespace, "api")
    logged_in(role="operator")
    url = f"/c/{sandbox_cluster.name}/ns/{kube_namespace}/deployments/api/scale/"
    response = client.post(url, {"replicas": replicas}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert "replicas:" in response.content.decode()


def test_a_viewer_cannot_scale_and_the_refusal_is_audited(
    client, logged_in, sandbox, sandbox_cluster, kube_namespace
):
    deploy(sandbox, kube_namespace, "api")
    user = logged_in(role="viewer")
    url = f"/c/{sandbox_cluster.name}/ns/{kube_namespace}/deployments/api/scale/"
    assert client.post(url, {"replicas": "2"}).status_code == 403
    assert AuditEvent.objects.filter(actor=user, status="refused", verb="scale").exists()


def test_scaling_a_deployment_the_synced_watcher_lacks_answers_404(
    client, logged_in, sandbox_cluster
):
    cache = live_cache()
    cache.replace(sandbox_cluster.name, "deployments", [], "1")
    cache.heartbeat(60, {"host": "test", "pid": 0})
    try:
        logged_in(role="operator")
        name = f"nope-{uuid.uuid4().hex[:6]}"
        url = f"/c/{sandbox_cluster.name}/ns/default/deployments/{name}/scale/"
        assert client.post(url, {"replicas": "1"}, HTTP_HX_REQUEST="true").status_code == 404
    finally:
        cache.forget(sandbox_cluster.name, "deployments")
        cache.client.delete(cache.heartbeat_key)


def test_the_switcher_remembers_the_namespace_for_the_deployments_page(
    client, logged_in, sandbox_cluster, kube_namespace
):
    logged_in(role="viewer")
    client.get(f"/c/{sandbox_cluster.name}/")
    response = client.get(
        "/switch/",
        {"cluster": sandbox_cluster.name, "namespace": kube_namespace, "to": "deployments"},
    )
    assert response["Location"] == f"/c/{sandbox_cluster.name}/ns/{kube_namespace}/deployments/"
    index = client.get(f"/c/{sandbox_cluster.name}/deployments/")
    assert index["Location"] == f"/c/{sandbox_cluster.name}/ns/{kube_namespace}/deployments/"


def test_the_watcher_page_says_when_the_watcher_is_not_running(client, logged_in):
    logged_in(role="viewer")
    html = client.get("/watcher/").content.decode()
    assert "not running" in html


@pytest.fixture
def unreachable_cluster():
    from controlplane.clusters.models import Cluster

    # Port 9 on localhost: nothing listens there.
    return Cluster.objects.create(name="gone", server="https://127.0.0.1:9", source="kubeconfig")


def test_an_unreachable_cluster_is_reported_not_hidden(client, make_user, unreachable_cluster):
    client.force_login(make_user(role="operator", cluster=unreachable_cluster))
    html = client.get("/c/gone/").content.decode()
    # Once on top, with what happened and where; each section points at it.
    assert "Could not read from gone: The API server at 127.0.0.1:9 refused the connection" in html
    assert 'source-error" title="The API server at 127.0.0.1:9 refused' in html
    # Scaling makes no cluster call in the request: the worker will report the outage.
    response = client.post(
        "/c/gone/ns/default/deployments/web/scale/", {"replicas": "2"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 202


def test_a_role_over_more_namespaces_than_one_socket_streams_is_told_to_reload(make_user):
    from controlplane.clusters.models import Cluster
    from controlplane.dashboard.selectors import overview_live_get

    cluster = Cluster.objects.create(name="many", server="https://127.0.0.1:9", source="sandbox")
    few = make_user(role="viewer", cluster=cluster, namespaces=["a", "b"])
    many = make_user(role="viewer", cluster=cluster, namespaces=[f"ns-{i}" for i in range(40)])
    assert overview_live_get(user=few, cluster=cluster).namespaces == ["a", "b"]
    plan = overview_live_get(user=many, cluster=cluster)
    assert plan.kinds == []
    assert "reload to refresh" in plan.note
