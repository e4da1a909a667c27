"""The real Celery worker shares the test database and Redis prefix of the session."""

from pathlib import Path

import pytest

from controlplane.audit.models import AuditEvent
from deployments.tasks import deployment_scale_task

from ..fixtures.controlplane import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_worker_records_the_failure_of_an_action_whose_cluster_is_gone(
    celery_worker, make_user
):
    # The cluster was removed after the action was queued: the task must say so.
    event = AuditEvent.objects.create(
        actor=make_user("oncall"),
        actor_name="oncall",
        cluster=None,
        cluster_name="gone",
        namespace="ml",
        kind="deployment",
        name="web",
        verb="scale",
        parameters={"replicas": 2},
    )
    deployment_scale_task.apply_async(args=[str(event.id)])

    def finished():
        event.refresh_from_db()
        return event.status not in ("pending", "running")

    wait_for(finished, timeout=30, what="the worker to finish the action")
    assert event.status == "failed"
    assert event.error == "the cluster 'gone' was removed before the action ran"
    assert event.attempts == 1


def test_register_sandbox_is_idempotent_and_refreshes_credentials(sandbox, tmp_path):
    from django.core.management import call_command

    from controlplane.clusters.models import Cluster

    call_command("register_sandbox", "--kubeconfig", str(sandbox.kubeconfig))
    first = Cluster.objects.get(name="sandbox")
    call_command("register_sandbox", "--kubeconfig", str(sandbox.kubeconfig))
    assert Cluster.objects.count() == 1
    assert Cluster.objects.get(name="sandbox").connection().token == sandbox.admin_token
    assert first.source == "sandbox"


def test_refreshed_sandbox_credentials_are_audited_once_they_change(sandbox, tmp_path):
    import yaml

    from controlplane.clusters.services import cluster_register_sandbox

    cluster_register_sandbox(path=sandbox.kubeconfig)
    cluster_register_sandbox(path=sandbox.kubeconfig)
    assert not AuditEvent.objects.filter(kind="cluster", verb="update").exists()
    config = yaml.safe_load(Path(sandbox.kubeconfig).read_text())
    config["users"][0]["user"]["token"] = "rotated-token"
    rotated = tmp_path / "rotated.kubeconfig"
    rotated.write_text(yaml.safe_dump(config))
    cluster_register_sandbox(path=rotated)
    update = AuditEvent.objects.get(kind="cluster", verb="update")
    assert update.actor_label == "system"
    assert update.status == "succeeded"
    assert "rotated-token" not in str(update.parameters)
