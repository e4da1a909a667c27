"""Logs of short-lived pods: the runs whose pods the watcher sees ending are synced at once
(a short beat that reads only the watcher's cache), so a pod that finishes and is cleaned up
by ttlSecondsAfterFinished before the periodic sync still leaves its log with the run."""

import json
import threading
import uuid

import pytest
from django.conf import settings

from controlplane.broadcast import BroadcastLoop
from controlplane.kube import jobs
from controlplane.live.cache import live_cache, redis_client
from controlplane.live.watcher import Watcher
from trainer.finishing import runs_finishing
from trainer.manifests import RUN_LABEL, job_manifest
from trainer.models import TrainingRun
from trainer.services import launch_validate
from trainer.sync import trainingrun_sync, trainingrun_sync_finishing
from trainer.tasks.sync import trainingrun_sync_finishing as finishing_task

from ..fixtures.controlplane import wait_for

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def own_prefix(settings):
    """A Redis prefix of this test's own: its cache and watcher touch no one else's."""
    value = f"{settings.REDIS_PREFIX}-f{uuid.uuid4().hex[:8]}"
    settings.REDIS_PREFIX = value
    yield value
    client = redis_client()
    keys = list(client.scan_iter(match=f"{value}:*", count=1000))
    if keys:
        client.delete(*keys)


def pod(name, run_id, *, phase="Running", terminated=False):
    state = {"terminated": {"exitCode": 0}} if terminated else {"running": {}}
    return {
        "metadata": {
            "name": name,
            "namespace": "default",
            "resourceVersion": "1",
            "labels": {RUN_LABEL: str(run_id)},
        },
        "status": {"phase": phase, "containerStatuses": [{"name": "trainer", "state": state}]},
    }


def job(name, *, complete=False):
    conditions = [{"type": "Complete", "status": "True"}] if complete else []
    return {
        "metadata": {"name": name, "namespace": "default", "resourceVersion": "1"},
        "status": {"conditions": conditions},
    }


def test_only_runs_with_an_ending_pod_or_job_not_yet_kept_are_picked(offline_cluster, own_prefix):
    def run(name, status="running", pods=()):
        return TrainingRun.objects.create(
            cluster=offline_cluster,
            namespace="default",
            job_name=name,
            status=status,
            pods=list(pods),
        )

    running = run("running")
    ending = run("ending")
    kept = run("kept", pods=[{"name": "kept-0", "phase": "Succeeded", "finished": "2026-01-01"}])
    complete = run("complete")
    run("vanished")
    submitted = run("submitted", status="submitted")
    cache = live_cache()
    cache.replace(
        offline_cluster.name,
        "pods",
        [
            pod("running-0", running.id),
            pod("ending-0", ending.id, terminated=True),
            pod("kept-0", kept.id, phase="Succeeded", terminated=True),
            pod("complete-0", complete.id),
        ],
        "5",
    )
    cache.replace(
        offline_cluster.name,
        "jobs",
        [job("running"), job("ending"), job("kept"), job("complete", complete=True)],
        "5",
    )
    all_runs = list(TrainingRun.objects.select_related("cluster"))
    # No live watcher (no heartbeat): the cache is not trusted and nothing is picked.
    assert runs_finishing(runs=all_runs) == []
    cache.heartbeat(60, {"host": "test", "pid": 0})
    picked = {r.job_name for r in runs_finishing(runs=all_runs)}
    assert picked == {"ending", "complete", "vanished"}
    assert submitted.job_name not in picked


def test_the_finishing_sync_is_on_the_beat_schedule():
    entry = settings.CELERY_BEAT_SCHEDULE["training-sync-finishing"]
    assert entry["task"] == finishing_task.name
    assert entry["schedule"] < settings.CELERY_BEAT_SCHEDULE["training-sync"]["schedule"]


def test_a_pod_cleaned_up_by_its_ttl_before_the_periodic_sync_leaves_its_log_with_the_run(
    sandbox, sandbox_cluster, kube_namespace, own_prefix
):
    end = {"event": "end", "status": "succeeded", "exit_code": 0, "export": "/out/model"}
    rule = sandbox.script(
        "behaviors",
        {
            "match": {"namespace": kube_namespace},
            "runSeconds": 0.3,
            "exitCode": 0,
            "startupLogLines": [
                "short-lived pod says hello",
                f"TRAINING_PROGRESS {json.dumps(end)}",
            ],
            "logLines": [],
        },
    )
    publisher = BroadcastLoop()
    watcher = Watcher(
        cluster_source=lambda: {sandbox_cluster.name: sandbox_cluster.connection()},
        cache=live_cache(),
        publisher=publisher,
        kinds=["jobs", "pods"],
        poll_interval=0.2,
        watch_timeout=5,
    )
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(
            lambda: all(
                live_cache().meta(sandbox_cluster.name, k).get("synced") == "1"
                for k in ("jobs", "pods")
            ),
            what="the watcher to sync jobs and pods",
        )
        parameters = launch_validate(
            spec={"image": "example/pet-unet-trainer:1.0", "ttl_seconds_after_finished": 4}
        )
        run = TrainingRun.objects.create(
            cluster=sandbox_cluster,
            namespace=kube_namespace,
            job_name="brief",
            status="pending",
            parameters=parameters,
            output_uri="/out",
        )
        jobs.job_create(
            sandbox_cluster.connection(),
            namespace=kube_namespace,
            body=job_manifest(
                run_id=run.id,
                namespace=kube_namespace,
                name="brief",
                parameters=parameters,
                output_uri="/out",
            ),
        )

        def kept_to_the_end():
            # What the beat does every TRAINING_FINISHING_SYNC_INTERVAL seconds.
            trainingrun_sync_finishing()
            return TrainingRun.objects.get(id=run.id).final_synced

        wait_for(kept_to_the_end, timeout=60, interval=0.2, what="the run's end to be kept")

        def gone():
            found = sandbox.kubectl("-n", kube_namespace, "get", "pods", "-o", "json")
            return found.returncode == 0 and not json.loads(found.stdout)["items"]

        wait_for(gone, timeout=60, interval=0.5, what="the Job's pods to be cleaned up by TTL")
        # A sync once they are gone keeps what was read.
        trainingrun_sync(run=TrainingRun.objects.get(id=run.id))
    finally:
        stop.set()
        thread.join(20)
        publisher.close()
        sandbox.script(f"behaviors/{rule['id']}", method="DELETE")
    kept = TrainingRun.objects.get(id=run.id)
    assert kept.status == "succeeded"
    assert kept.final_synced
    (log,) = kept.logs.values()
    assert "short-lived pod says hello" in log
    assert kept.progress["end"]["status"] == "succeeded"
    assert kept.pods
    assert all(p["phase"] == "Succeeded" and p["deleted"] for p in kept.pods)
