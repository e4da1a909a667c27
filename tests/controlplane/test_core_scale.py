"""Scaling end to end: API -> AuditEvent -> real Celery worker -> sandbox cluster, checked
with kubectl; invalid requests change nothing; a killed worker still completes once."""

import json
import os
import signal

import pytest
from django.utils import timezone

from controlplane.audit.models import AuditEvent
from controlplane.clusters.services import cluster_create_from_kubeconfig
from controlplane.live.cache import live_cache

from ..fixtures.controlplane import kubectl_json, make_deployment, wait_for

pytestmark = [pytest.mark.django_db(transaction=True)]

VISIBILITY_TIMEOUT = 1


def replicas_in_cluster(sandbox, namespace, name) -> int:
    return kubectl_json(sandbox, "-n", namespace, "get", "deployment", name)["spec"]["replicas"]


def action(api, url) -> dict:
    response = api.get(url)
    assert response.status_code == 200
    return response.json()


def wait_until_finished(api, url, timeout=30) -> dict:
    return wait_for(
        lambda: (body := action(api, url))["status"] in ("succeeded", "failed") and body,
        timeout=timeout,
        what=f"action {url} to finish",
    )


@pytest.fixture
def operator_api(sandbox_cluster, make_user, api_client_for):
    return api_client_for(make_user("oncall", role="operator", cluster=sandbox_cluster))


def scale_url(namespace, name, cluster="sandbox"):
    return f"/api/v1/clusters/{cluster}/namespaces/{namespace}/deployments/{name}/scale/"


def test_scale_runs_through_the_worker_and_changes_the_deployment(
    celery_worker, sandbox, kube_namespace, operator_api, tmp_path
):
    make_deployment(sandbox, kube_namespace, tmp_path)
    response = operator_api.post(scale_url(kube_namespace, "web"), {"replicas": 3}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "pending"
    assert response["Location"] == body["url"] == f"/api/v1/actions/{body['id']}/"
    finished = wait_until_finished(operator_api, body["url"])
    assert finished["status"] == "succeeded", finished["error"]
    assert finished["result"] == {"replicas": 3}
    assert finished["attempts"] == 1
    assert replicas_in_cluster(sandbox, kube_namespace, "web") == 3
    # Neither the worker's log nor the action record carries the cluster's credentials.
    assert sandbox.admin_token not in celery_worker.log()
    assert sandbox.admin_token not in json.dumps(finished)


@pytest.mark.parametrize("replicas", [-1, 100_000, "lots"])
def test_invalid_counts_are_refused_and_change_nothing(
    sandbox, kube_namespace, operator_api, tmp_path, replicas
):
    make_deployment(sandbox, kube_namespace, tmp_path)
    response = operator_api.post(
        scale_url(kube_namespace, "web"), {"replicas": replicas}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()) == ["replicas"]
    assert replicas_in_cluster(sandbox, kube_namespace, "web") == 1
    assert AuditEvent.objects.get(verb="scale").status == "failed"


@pytest.fixture
def synced_watcher_cache(sandbox_cluster):
    """The watcher's cache as a running, synced watcher leaves it (with no deployments)."""
    cache = live_cache()
    cache.replace(sandbox_cluster.name, "deployments", [], "1")
    cache.heartbeat(60, {"host": "test", "pid": 0})
    yield cache
    cache.forget(sandbox_cluster.name, "deployments")
    cache.client.delete(cache.heartbeat_key)


def test_scaling_a_deployment_the_synced_watcher_does_not_know_is_a_404_and_audited(
    sandbox, kube_namespace, operator_api, synced_watcher_cache
):
    response = operator_api.post(scale_url(kube_namespace, "ghost"), {"replicas": 2}, format="json")
    assert response.status_code == 404
    event = AuditEvent.objects.get(verb="scale")
    assert event.status == "failed"
    assert event.error.startswith("NotFound")


def test_without_a_synced_watcher_the_worker_finds_the_deployment_missing(
    celery_worker, sandbox, sandbox_cluster, kube_namespace, operator_api
):
    # An earlier test's watcher may have left a synced cache behind: this one has none.
    cache = live_cache()
    cache.forget(sandbox_cluster.name, "deployments")
    cache.client.delete(cache.heartbeat_key)
    response = operator_api.post(scale_url(kube_namespace, "ghost"), {"replicas": 2}, format="json")
    assert response.status_code == 202
    finished = wait_until_finished(operator_api, response["Location"])
    assert finished["status"] == "failed"
    assert finished["error"].startswith("NotFound (404)")


def test_read_only_credentials_fail_and_the_exact_error_is_recorded(
    celery_worker, sandbox, kube_namespace, make_user, api_client_for, tmp_path
):
    root = make_user("root", superuser=True)
    cluster_create_from_kubeconfig(
        actor=root, name="readonly", kubeconfig=sandbox.readonly_kubeconfig.read_bytes()
    )
    make_deployment(sandbox, kube_namespace, tmp_path)
    api = api_client_for(root)
    response = api.post(
        scale_url(kube_namespace, "web", cluster="readonly"), {"replicas": 2}, format="json"
    )
    assert response.status_code == 202, response.content
    finished = wait_until_finished(api, response["Location"])
    assert finished["status"] == "failed"
    assert finished["error"].startswith("Forbidden (403)")
    assert replicas_in_cluster(sandbox, kube_namespace, "web") == 1


@pytest.mark.slow
def test_an_action_whose_worker_is_killed_mid_task_completes_exactly_once(
    celery_worker, celery_worker_factory, sandbox, kube_namespace, operator_api, tmp_path
):
    make_deployment(sandbox, kube_namespace, tmp_path)
    # Only the workers of this test may take the task.
    celery_worker.stop()
    try:
        doomed = celery_worker_factory("doomed").start(ACTION_TASK_TEST_DELAY="60")
        response = operator_api.post(
            scale_url(kube_namespace, "web"), {"replicas": 4}, format="json"
        )
        url = response["Location"]
        wait_for(lambda: action(operator_api, url)["status"] == "running", what="task started")
        doomed.kill()
        assert action(operator_api, url)["status"] == "running"
        assert replicas_in_cluster(sandbox, kube_namespace, "web") == 1
        # A fresh worker re-queues, when it starts, unacknowledged tasks delivered longer
        # ago than its visibility timeout: wait until the doomed delivery is that old.
        started = AuditEvent.objects.get(verb="scale").started
        wait_for(
            lambda: (timezone.now() - started).total_seconds() > VISIBILITY_TIMEOUT + 0.5,
            what="the lost delivery to pass the visibility timeout",
        )
        celery_worker_factory("rescuer").start(
            ACTION_TASK_TEST_DELAY="60", CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT)
        )
        finished = wait_until_finished(operator_api, url, timeout=60)
    finally:
        celery_worker.start()
    assert finished["status"] == "succeeded", finished["error"]
    assert finished["attempts"] == 2
    assert AuditEvent.objects.filter(verb="scale").count() == 1
    assert replicas_in_cluster(sandbox, kube_namespace, "web") == 4


def test_test_connection_reports_version_and_allowed_verbs(
    sandbox, sandbox_cluster, make_user, api_client_for
):
    root = make_user("root", superuser=True)
    cluster_create_from_kubeconfig(
        actor=root, name="readonly", kubeconfig=sandbox.readonly_kubeconfig.read_bytes()
    )
    api = api_client_for(root)
    full = api.post("/api/v1/clusters/sandbox/test/").json()
    assert full["reachable"] is True, full["error"]
    assert full["version"]
    rows = {row["resource"]: row["verbs"] for row in full["access"]}
    assert rows["deployments"]["patch"] is True
    readonly = api.post("/api/v1/clusters/readonly/test/").json()
    rows = {row["resource"]: row["verbs"] for row in readonly["access"]}
    assert rows["deployments"]["list"] is True
    assert rows["deployments"]["patch"] is False
    assert sandbox.admin_token not in json.dumps(full)
    assert sandbox.readonly_token not in json.dumps(readonly)


def test_deployments_are_read_through_the_api_by_role(
    sandbox, sandbox_cluster, kube_namespace, make_user, api_client_for, tmp_path
):
    make_deployment(sandbox, kube_namespace, tmp_path, replicas=2)
    viewer = api_client_for(make_user(role="viewer", cluster=sandbox_cluster))
    base = f"/api/v1/clusters/sandbox/namespaces/{kube_namespace}/deployments/"
    listed = viewer.get(base)
    assert listed.status_code == 200
    assert [d["name"] for d in listed.json()] == ["web"]
    detail = viewer.get(f"{base}web/").json()
    assert detail["replicas"] == 2
    assert detail["images"] == ["example/model:1"]
    assert viewer.get(f"{base}ghost/").status_code == 404
    narrowed = api_client_for(
        make_user(role="viewer", cluster=sandbox_cluster, namespaces=["elsewhere"])
    )
    assert narrowed.get(base).status_code == 403
    stranger = api_client_for(make_user())
    assert stranger.get(base).status_code == 404


def test_every_status_change_is_broadcast_after_commit(
    celery_worker, sandbox, kube_namespace, operator_api, tmp_path
):
    import asyncio

    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from controlplane.broadcast import group_name

    make_deployment(sandbox, kube_namespace, tmp_path)
    layer = get_channel_layer()

    async def listen_until_finished():
        channel = await layer.new_channel()
        await layer.group_add(group_name("actions", "sandbox"), channel)
        response = await asyncio.to_thread(
            operator_api.post, scale_url(kube_namespace, "web"), {"replicas": 2}, format="json"
        )
        seen = []
        while not seen or seen[-1] not in ("succeeded", "failed"):
            message = await asyncio.wait_for(layer.receive(channel), timeout=30)
            assert message["type"] == "action.update"
            assert message["action"]["id"] == response.json()["id"]
            seen.append(message["action"]["status"])
        return seen

    assert async_to_sync(listen_until_finished)() == ["pending", "running", "succeeded"]


@pytest.mark.slow
def test_an_action_whose_pool_process_dies_is_requeued_and_completes_once(
    celery_worker, celery_worker_factory, sandbox, kube_namespace, operator_api, tmp_path
):
    make_deployment(sandbox, kube_namespace, tmp_path)
    celery_worker.stop()
    try:
        # Prefork: the parent sees its child die and rejects the task back onto the queue
        # (reject_on_worker_lost), and a fresh child runs it again.
        worker = celery_worker_factory("prefork").start(pool="prefork", ACTION_TASK_TEST_DELAY="60")
        response = operator_api.post(
            scale_url(kube_namespace, "web"), {"replicas": 5}, format="json"
        )
        url = response["Location"]
        wait_for(lambda: action(operator_api, url)["status"] == "running", what="task started")
        [child] = worker.child_pids()
        os.kill(child, signal.SIGKILL)
        finished = wait_until_finished(operator_api, url, timeout=60)
    finally:
        celery_worker.start()
    assert finished["status"] == "succeeded", finished["error"]
    assert finished["attempts"] == 2
    assert replicas_in_cluster(sandbox, kube_namespace, "web") == 5
