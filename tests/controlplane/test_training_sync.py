"""The sync of training runs (what Celery beat runs): its lock, runs whose launch failed, an
unreachable cluster, and the reading of the program's progress lines."""

import pytest
from django.conf import settings

from controlplane.audit.models import ActionStatus, AuditEvent
from controlplane.live.cache import redis_client
from trainer.models import TrainingRun
from trainer.progress import events_in, final_metrics, progress_merge, progress_summary
from trainer.sync import trainingrun_sync, trainingrun_sync_active
from trainer.tasks.sync import trainingrun_sync_active as sync_task

pytestmark = [pytest.mark.django_db]

START = 'TRAINING_PROGRESS {"event": "start", "epochs": 4, "start_epoch": 1, "resumed": false}'


def epoch(n, loss, seconds=10.0):
    return (
        f'TRAINING_PROGRESS {{"event": "epoch", "epoch": {n}, "epochs": 4, "loss": {loss}, '
        f'"val_mean_iou": 0.{n}, "epoch_seconds": {seconds}}}'
    )


def test_progress_lines_are_found_among_other_log_lines_and_broken_ones_are_skipped():
    text = "\n".join(
        [
            "2026 INFO starting",
            START,
            "TRAINING_PROGRESS {not json",
            'TRAINING_PROGRESS {"event": "other"}',
            epoch(1, 1.5),
        ]
    )
    assert [e["event"] for e in events_in(text)] == ["start", "epoch"]


def test_a_resumed_attempt_replaces_the_epochs_it_trains_again_and_its_end_is_the_runs():
    first = "\n".join([START, epoch(1, 1.5, 30.0), epoch(2, 1.2)])
    resumed = START.replace('"resumed": false', '"resumed": true')
    second = "\n".join([resumed, epoch(2, 1.1), epoch(3, 0.9)])
    merged = progress_merge([first, second])
    assert [e["loss"] for e in merged["epochs"]] == [1.5, 1.1, 0.9]
    summary = progress_summary(merged, finished=False)
    assert summary["epoch"] == 3
    assert summary["epochs"] == 4
    assert summary["percent"] == 75.0
    # The first epoch (tracing, decoding) is left out of the estimate: one epoch of 10 s left.
    assert summary["eta_seconds"] == 10.0
    assert summary["resumed"] is True
    assert final_metrics(merged) == {"loss": 0.9, "val_mean_iou": 0.3}
    assert progress_summary(merged, finished=True)["eta_seconds"] is None


def test_the_sync_task_does_nothing_while_another_sync_holds_its_lock():
    lock = redis_client().lock(f"{settings.REDIS_PREFIX}:training-sync", timeout=30)
    assert lock.acquire(blocking=False)
    try:
        assert sync_task() == {"skipped": 1}
    finally:
        lock.release()
    assert sync_task() == {"synced": 0, "failed": 0, "busy": 0}


def test_a_run_whose_launch_action_failed_is_shown_failed_with_the_reason(offline_cluster):
    action = AuditEvent.objects.create(
        cluster=offline_cluster,
        cluster_name="offline",
        kind="job",
        verb="launch",
        status=ActionStatus.FAILED,
        error="Invalid (422): the Job was refused",
    )
    run = TrainingRun.objects.create(
        cluster=offline_cluster, namespace="default", job_name="refused", launch_action=action
    )
    run = trainingrun_sync(run=run)
    assert run.status == "failed"
    assert run.sync_error == "Invalid (422): the Job was refused"
    assert run.final_synced


def test_an_unreachable_cluster_is_recorded_on_its_runs_and_retried_later(
    offline_cluster, settings
):
    settings.KUBE_RETRY_ATTEMPTS = 1
    run = TrainingRun.objects.create(
        cluster=offline_cluster, namespace="default", job_name="far", status="running"
    )
    assert trainingrun_sync_active() == {"synced": 0, "failed": 1, "busy": 0}
    run.refresh_from_db()
    assert run.sync_error
    assert run.status == "running"
    assert not run.final_synced


def test_a_pending_gpu_pod_on_a_gke_cluster_links_to_the_node_pool_form(offline_cluster):
    from trainer.selectors import pending_reasons

    message = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
    pods = [{"name": "p-1", "phase": "Pending", "unschedulable": message}]
    run = TrainingRun(
        cluster=offline_cluster,
        namespace="default",
        job_name="gpu",
        parameters={"gpus": 2, "accelerator": "nvidia-l4"},
    )
    (reason,) = pending_reasons(run, pods, [])
    assert reason["link"] is None  # a cluster not made through GKE here has no pool form
    assert "accelerator nvidia-l4 and at least 2 GPU(s)" in reason["fixes"][0]
    offline_cluster.source = "gke"
    (reason,) = pending_reasons(run, pods, [])
    assert reason["link"] == ("/gke/for/offline/nodepools/create/?accelerator=nvidia-l4&count=2")
