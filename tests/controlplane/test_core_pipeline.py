"""The action pipeline without a cluster: state transitions happen once, errors are recorded."""

import pytest

from controlplane.audit.models import AuditEvent
from controlplane.audit.pipeline import run_action
from controlplane.audit.services import action_finish, action_start
from controlplane.clusters.models import Cluster
from controlplane.kube.errors import Forbidden, Invalid, Unavailable
from tests.fixtures.controlplane import FakeTask

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(make_user):
    cluster = Cluster.objects.create(name="c", server="https://127.0.0.1:1", source="kubeconfig")
    user = make_user("op", role="operator", cluster=cluster)
    return AuditEvent.objects.create(
        actor=user,
        actor_name="op",
        cluster=cluster,
        cluster_name="c",
        namespace="ml",
        kind="deployment",
        name="web",
        verb="scale",
        parameters={"replicas": 2},
    )


def test_an_action_completes_exactly_once(event):
    assert action_start(event_id=event.id).status == "running"
    assert action_finish(event_id=event.id, status="succeeded") is True
    # A second run of the same task (its worker died before acking) changes nothing.
    assert action_start(event_id=event.id) is None
    assert action_finish(event_id=event.id, status="failed", error="late") is False
    event.refresh_from_db()
    assert (event.status, event.error, event.attempts) == ("succeeded", "", 1)


def test_a_restarted_action_counts_its_attempts(event):
    action_start(event_id=event.id)
    action_start(event_id=event.id)
    event.refresh_from_db()
    assert (event.status, event.attempts) == ("running", 2)


def test_a_kube_error_is_recorded_with_its_exact_message(event):
    def perform(_event):
        raise Forbidden('deployments.apps "web" is forbidden: User "ro" cannot patch', status=403)

    assert run_action(FakeTask(), str(event.id), perform) == "failed"
    event.refresh_from_db()
    assert event.status == "failed"
    assert event.error == (
        'Forbidden (403): deployments.apps "web" is forbidden: User "ro" cannot patch'
    )


def test_invalid_errors_keep_their_field_causes(event):
    def perform(_event):
        raise Invalid("bad", causes=[{"field": "spec.replicas", "reason": "", "message": "neg"}])

    run_action(FakeTask(), str(event.id), perform)
    event.refresh_from_db()
    assert "spec.replicas: neg" in event.error


def test_an_unavailable_cluster_is_retried_then_recorded(event):
    def perform(_event):
        raise Unavailable("The API server is unreachable (NewConnectionError)")

    task = FakeTask(retries=0)
    with pytest.raises(RuntimeError, match="retry requested"):
        run_action(task, str(event.id), perform)
    assert len(task.retried) == 1
    event.refresh_from_db()
    assert event.status == "running"

    last = FakeTask(retries=2)
    assert run_action(last, str(event.id), perform) == "failed"
    event.refresh_from_db()
    assert "unreachable" in event.error
    assert "gave up after 3 attempts" in event.error


def test_an_unexpected_error_is_recorded_not_swallowed(event):
    def perform(_event):
        raise KeyError("replicas")

    run_action(FakeTask(), str(event.id), perform)
    event.refresh_from_db()
    assert event.status == "failed"
    assert event.error.startswith("internal error: KeyError")


def test_a_finished_action_is_not_run_again(event):
    action_start(event_id=event.id)
    action_finish(event_id=event.id, status="succeeded")
    calls = []
    assert run_action(FakeTask(), str(event.id), calls.append) == "skipped"
    assert calls == []


def test_secret_looking_parameters_are_redacted():
    from controlplane.audit.redaction import redact_parameters

    cleaned = redact_parameters({"image": "m:1", "env": {"API_TOKEN": "x"}, "password": "p"})
    assert cleaned == {"image": "m:1", "env": {"API_TOKEN": "[REDACTED]"}, "password": "[REDACTED]"}
