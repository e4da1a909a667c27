"""The action pipeline under reordering and faults: the last accepted request decides, a 409
is retried, nothing is answered 202 without a queue, and stuck actions are swept."""

import threading
from datetime import timedelta

import kombu.pools
import pytest
from django.db import connection
from django.utils import timezone

from controlplane.audit.models import AuditEvent
from controlplane.audit.pipeline import run_action
from controlplane.audit.services import action_sweep
from controlplane.audit.workers import worker_list
from controlplane.kube import retry
from controlplane.kube.errors import Conflict
from tests.fixtures.controlplane import (
    REDIS_PREFIX,
    FakeTask,
    kubectl_json,
    make_deployment,
    wait_for,
)

from .test_core_scale import scale_url

STATE = "deployment/offline/ml/web/replicas"


def _scale_event(cluster, replicas, *, status="pending", state_key=STATE, **fields):
    fields.setdefault("task", "deployments.tasks.deployment_scale_task")
    return AuditEvent.objects.create(
        actor_name="op",
        cluster=cluster,
        cluster_name=cluster.name,
        namespace="ml",
        kind="deployment",
        name="web",
        verb="scale",
        parameters={"replicas": replicas},
        status=status,
        state_key=state_key,
        **fields,
    )


@pytest.mark.django_db
def test_an_older_scale_that_runs_after_a_newer_one_is_superseded_and_not_applied(
    offline_cluster,
):
    older = _scale_event(offline_cluster, 10)
    newer = _scale_event(offline_cluster, 20)
    applied = []

    def perform(event):
        applied.append(event.parameters["replicas"])
        return {"replicas": event.parameters["replicas"]}

    assert run_action(FakeTask(), str(newer.id), perform) == "succeeded"
    # The older request's task arrives late (a redelivery, a retry, a slower worker).
    assert run_action(FakeTask(), str(older.id), perform) == "superseded"
    assert applied == [20]
    older.refresh_from_db()
    assert older.status == "superseded"
    assert str(newer.id) in older.error
    assert older.result == {"superseded_by": str(newer.id)}


@pytest.mark.django_db
def test_a_newer_request_that_was_refused_or_invalid_supersedes_nothing(offline_cluster):
    older = _scale_event(offline_cluster, 10)
    _scale_event(offline_cluster, -1, status="failed")
    _scale_event(offline_cluster, 5, status="refused")
    assert run_action(FakeTask(), str(older.id), lambda event: {}) == "succeeded"


@pytest.mark.django_db
def test_actions_on_other_targets_never_supersede_each_other(offline_cluster):
    older = _scale_event(offline_cluster, 10)
    _scale_event(offline_cluster, 20, state_key="deployment/offline/ml/other/replicas")
    assert run_action(FakeTask(), str(older.id), lambda event: {}) == "succeeded"


def test_a_conflict_on_an_absolute_write_is_tried_again(settings):
    settings.KUBE_CONFLICT_ATTEMPTS = 5
    calls = []

    def write():
        calls.append(1)
        if len(calls) < 3:
            raise Conflict("Operation cannot be fulfilled: the object has been modified")
        return {"spec": {"replicas": 4}}

    assert retry.on_conflict(write, what="scale web") == {"spec": {"replicas": 4}}
    assert len(calls) == 3


def test_a_conflict_that_persists_is_raised_after_the_policys_attempts(settings):
    settings.KUBE_CONFLICT_ATTEMPTS = 2

    def write():
        raise Conflict("still conflicting")

    with pytest.raises(Conflict):
        retry.on_conflict(write, what="scale web")


# Stuck actions -------------------------------------------------------------------------------


def _age(event, seconds):
    AuditEvent.objects.filter(id=event.id).update(
        created=timezone.now() - timedelta(seconds=seconds)
    )


@pytest.mark.django_db(transaction=True)
def test_a_pending_action_no_worker_took_is_queued_again_then_failed_with_the_reason(
    offline_cluster, settings
):
    settings.ACTION_PICKUP_DEADLINE = 30
    settings.ACTION_MAX_ENQUEUES = 2
    # Re-queued for real, under a task name no worker knows: a worker of this test session
    # that happens to run must not take it and change the state under the test.
    event = _scale_event(offline_cluster, 3, enqueues=1, task="tests.unknown_task")
    _age(event, 10)
    assert action_sweep() == {"requeued": 0, "failed": 0}
    _age(event, 40)
    assert action_sweep() == {"requeued": 1, "failed": 0}
    event.refresh_from_db()
    assert event.enqueues == 2
    assert event.status == "pending"
    _age(event, 70)
    assert action_sweep() == {"requeued": 0, "failed": 1}
    event.refresh_from_db()
    assert event.status == "failed"
    assert event.error.startswith("no worker took the action within 70 s")
    assert "queued 2 times" in event.error


@pytest.mark.django_db(transaction=True)
def test_a_running_action_whose_worker_vanished_is_requeued_only_when_that_is_safe(
    offline_cluster, settings
):
    settings.ACTION_RUNNING_DEADLINE = 60
    settings.ACTION_PICKUP_DEADLINE = 30
    absolute = _scale_event(
        offline_cluster, 3, status="running", enqueues=1, task="tests.unknown_task"
    )
    other = _scale_event(offline_cluster, 3, status="running", enqueues=1, state_key="")
    for event in (absolute, other):
        _age(event, 90)
    assert action_sweep() == {"requeued": 1, "failed": 1}
    absolute.refresh_from_db()
    other.refresh_from_db()
    assert absolute.status == "running"
    assert absolute.enqueues == 2
    assert other.status == "failed"
    assert other.error.startswith("the worker running the action was lost")


@pytest.mark.django_db
def test_the_api_says_when_an_action_is_waiting_for_a_worker(
    offline_cluster, make_user, api_client_for, settings
):
    settings.ACTION_PICKUP_DEADLINE = 30
    event = _scale_event(offline_cluster, 3)
    api = api_client_for(make_user(role="viewer", cluster=offline_cluster))
    assert api.get(f"/api/v1/actions/{event.id}/").json()["waiting_for_worker"] is False
    _age(event, 45)
    assert api.get(f"/api/v1/actions/{event.id}/").json()["waiting_for_worker"] is True


# Without a queue -----------------------------------------------------------------------------


def _reconnect_broker(app, url):
    # Celery and kombu keep connection and producer pools per broker; drop them all.
    kombu.pools.reset()
    app._pool = None
    app.amqp._producer_pool = None
    app.conf.broker_url = app.conf.broker_write_url = url


@pytest.fixture
def broker_down(private_redis):
    """The Celery app's broker is a Redis of its own, which is then stopped."""
    from controlplane.celery import app

    saved = app.conf.broker_write_url
    _reconnect_broker(app, private_redis.url)
    private_redis.stop()
    yield
    _reconnect_broker(app, saved)
    private_redis.start()


@pytest.mark.django_db(transaction=True)
def test_a_scale_that_cannot_be_queued_is_a_503_with_retry_after_and_a_failed_action(
    offline_cluster, make_user, api_client_for, broker_down
):
    api = api_client_for(make_user(role="operator", cluster=offline_cluster))
    response = api.post(
        "/api/v1/clusters/offline/namespaces/ml/deployments/web/scale/",
        {"replicas": 2},
        format="json",
    )
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    body = response.json()
    assert body["action"]["status"] == "failed"
    assert "could not queue the action" in body["action"]["error"]
    event = AuditEvent.objects.get(verb="scale")
    assert event.status == "failed"
    assert event.enqueues == 0


# End to end ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_scale_requests_leave_the_last_accepted_value_and_all_are_audited(
    celery_worker_factory,
    sandbox,
    kube_namespace,
    sandbox_cluster,
    make_user,
    api_client_for,
    tmp_path,
):
    # Two worker processes take the actions in whatever order the queue and the OS give.
    workers = [celery_worker_factory(f"order{i}").start() for i in range(2)]
    make_deployment(sandbox, kube_namespace, tmp_path)
    operator = make_user(role="operator", cluster=sandbox_cluster)
    clients = [api_client_for(operator) for _ in range(20)]
    statuses = []

    def request(index):
        try:
            response = clients[index].post(
                scale_url(kube_namespace, "web"), {"replicas": index + 1}, format="json"
            )
            statuses.append(response.status_code)
        finally:
            # Each thread has its own database connection; leave none open for teardown.
            connection.close()

    threads = [threading.Thread(target=request, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert statuses == [202] * 20
    actions = AuditEvent.objects.filter(verb="scale", namespace=kube_namespace)

    def all_finished():
        return actions.count() == 20 and not actions.filter(status__in=["pending", "running"])

    wait_for(all_finished, timeout=120, what="all 20 scale actions to finish")
    last = actions.order_by("-created").first()
    assert last.status == "succeeded"
    finals = set(actions.values_list("status", flat=True))
    assert finals <= {"succeeded", "superseded"}
    deployment = kubectl_json(sandbox, "-n", kube_namespace, "get", "deployment", "web")
    assert deployment["spec"]["replicas"] == last.parameters["replicas"]
    for worker in workers:
        worker.stop()


# Isolation and visibility --------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_watcher_page_names_live_workers_and_actions_no_worker_took(
    celery_worker, client, make_user, offline_cluster, settings
):
    settings.ACTION_PICKUP_DEADLINE = 30
    wait_for(
        lambda: any(REDIS_PREFIX in w["hostname"] for w in worker_list()),
        what="the session worker to report itself",
    )
    stuck = _scale_event(offline_cluster, 7)
    _age(stuck, 60)
    client.force_login(make_user(role="viewer", cluster=offline_cluster))
    html = client.get("/watcher/").content.decode()
    assert "running</span>" in html
    assert celery_worker.process is not None
    assert REDIS_PREFIX in html
    assert "not taken by any worker after 30 s" in html
    assert "scale deployment ml/web" in html
    audit = client.get("/audit/").content.decode()
    assert "no worker has taken it yet" in audit


@pytest.mark.django_db(transaction=True)
def test_a_stack_on_another_prefix_sharing_this_redis_takes_none_of_our_actions(
    celery_worker,
    celery_worker_factory,
    sandbox,
    kube_namespace,
    sandbox_cluster,
    make_user,
    api_client_for,
    tmp_path,
):
    # Another checkout's worker on the same Redis, with its own prefix (as `make run` gives it).
    other = celery_worker_factory("other-checkout").start(REDIS_PREFIX=f"{REDIS_PREFIX}-other")
    make_deployment(sandbox, kube_namespace, tmp_path)
    api = api_client_for(make_user(role="operator", cluster=sandbox_cluster))
    urls = []
    for replicas in (2, 3, 4):
        response = api.post(scale_url(kube_namespace, "web"), {"replicas": replicas}, format="json")
        assert response.status_code == 202
        urls.append(response["Location"])
    for url in urls:
        wait_for(
            lambda url=url: api.get(url).json()["status"] in ("succeeded", "superseded"),
            what=f"{url} to finish on this stack's worker",
        )
    assert "] received" in celery_worker.log()  # the pattern a taken task leaves
    assert "] received" not in other.log()
    assert not any(w["hostname"].startswith("other-checkout") for w in worker_list())
    deployment = kubectl_json(sandbox, "-n", kube_namespace, "get", "deployment", "web")
    assert deployment["spec"]["replicas"] == 4


@pytest.mark.django_db(transaction=True)
def test_a_pending_action_that_is_not_absolute_is_failed_not_queued_twice(
    offline_cluster, settings
):
    settings.ACTION_PICKUP_DEADLINE = 30
    event = _scale_event(offline_cluster, 3, enqueues=1, state_key="")
    _age(event, 40)
    assert action_sweep() == {"requeued": 0, "failed": 1}
    event.refresh_from_db()
    assert event.status == "failed"
    assert event.error.startswith("no worker took the action within 40 s")
