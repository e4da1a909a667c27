"""Training pages: the launch form creates the same Job as the API (kubectl as the witness),
form errors name the field, the run page shows status, progress and kept logs, the
navigation's Training entry leads to the runs, and viewers read but cannot launch."""

import json

import pytest

from trainer.models import TrainingRun
from trainer.sync import trainingrun_sync

from ..fixtures.controlplane import wait_for

pytestmark = [pytest.mark.django_db(transaction=True)]


def page(namespace, rest=""):
    return f"/c/sandbox/ns/{namespace}/training/{rest}"


def form_body(**overrides):
    body = {
        "name": "from-form",
        "image": "example/pet-unet-trainer:1.0",
        "model": "unet",
        "data_uri": "gs://example-data/pets",
        "epochs": "2",
        "args": "--batch-size\n8",
        "resume": "on",
        "gpus": "1",
        "accelerator": "nvidia-l4",
        "cpu": "1",
        "memory": "2Gi",
        "parallelism": "1",
        "completions": "1",
        "backoff_limit": "2",
        "active_deadline_seconds": "",
        "ttl_seconds_after_finished": "600",
    }
    body.update(overrides)
    return body


@pytest.fixture
def engineer(sandbox_cluster, make_user, client):
    user = make_user("page-engineer", role="engineer", cluster=sandbox_cluster)
    client.force_login(user)
    return client


def test_the_launch_form_creates_the_expected_job(celery_worker, sandbox, kube_namespace, engineer):
    assert engineer.get(page(kube_namespace, "launch/")).status_code == 200
    response = engineer.post(page(kube_namespace, "launch/"), form_body())
    assert response.status_code == 302, response.content.decode()[-2000:]
    run = TrainingRun.objects.get(job_name="from-form")
    assert response["Location"] == page(kube_namespace, f"{run.id}/")

    def job():
        found = sandbox.kubectl("-n", kube_namespace, "get", "job", "from-form", "-o", "json")
        return found.returncode == 0 and json.loads(found.stdout)

    spec = wait_for(job, what="the Job from the form")["spec"]
    assert spec["backoffLimit"] == 2
    assert spec["ttlSecondsAfterFinished"] == 600
    assert "activeDeadlineSeconds" not in spec
    pod_spec = spec["template"]["spec"]
    assert "backoffLimit" not in pod_spec
    assert pod_spec["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-l4"}
    assert pod_spec["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]
    (container,) = pod_spec["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert container["args"] == [
        "--batch-size",
        "8",
        "--model",
        "unet",
        "--data",
        "gs://example-data/pets",
        "--epochs",
        "2",
        "--resume",
    ]


def test_the_launch_form_names_the_bad_field_and_launches_nothing(kube_namespace, engineer):
    response = engineer.post(page(kube_namespace, "launch/"), form_body(gpus="2", accelerator=""))
    assert response.status_code == 400
    form = response.context["form"]
    assert "accelerator" in form.errors
    response = engineer.post(page(kube_namespace, "launch/"), form_body(backoff_limit="-1"))
    assert response.status_code == 400
    assert "backoff_limit" in response.context["form"].errors
    assert not TrainingRun.objects.exists()


def test_the_run_page_shows_status_progress_and_kept_logs(
    celery_worker, sandbox, kube_namespace, engineer
):
    progress = [
        'TRAINING_PROGRESS {"event": "start", "epochs": 3, "start_epoch": 1, "resumed": false}',
        'TRAINING_PROGRESS {"event": "epoch", "epoch": 1, "epochs": 3, "loss": 1.5, '
        '"val_loss": 1.6, "mean_iou": 0.12, "val_mean_iou": 0.11, "epoch_seconds": 5.0}',
    ]
    rule = sandbox.script(
        "behaviors",
        {
            "match": {"namespace": kube_namespace},
            "runSeconds": None,
            "startupLogLines": progress,
            "logLines": [],
        },
    )
    try:
        engineer.post(page(kube_namespace, "launch/"), form_body(gpus="0", accelerator=""))
        run = TrainingRun.objects.get(job_name="from-form")
        wait_for(
            lambda: trainingrun_sync(run=TrainingRun.objects.get(id=run.id)).status == "running",
            what="the run to be running",
        )
        trainingrun_sync(run=TrainingRun.objects.get(id=run.id))
    finally:
        sandbox.script(f"behaviors/{rule['id']}", method="DELETE")
    html = engineer.get(page(kube_namespace, f"{run.id}/")).content.decode()
    assert "epoch <strong>1</strong> of 3" in html
    assert "about 10s left" in html
    assert 'data-chart="Loss"' in html
    assert 'data-chart="Mean IoU"' in html
    assert "0 failed of backoffLimit 2" in html
    assert "TRAINING_PROGRESS" in html
    assert "Cancel run" in html
    pod = TrainingRun.objects.get(id=run.id).pods[0]["name"]
    # The live log viewer's route, where the deployments app provides it; kept lines anyway.
    assert f"/c/sandbox/ns/{kube_namespace}/pods/{pod}/logs/" in html
    assert f"/c/sandbox/ns/{kube_namespace}/jobs/from-form/logs/" in html
    listing = engineer.get(page(kube_namespace)).content.decode()
    assert f'data-run="{run.id}"' in listing
    assert "epoch 1 of 3" in listing


def test_the_navigation_training_entry_leads_to_the_runs(sandbox_cluster, engineer):
    home = engineer.get("/training/")
    assert home.status_code == 302
    assert "/training/" in home["Location"]
    assert engineer.get(home["Location"]).status_code == 200
    nav = engineer.get(home["Location"]).content.decode()
    assert "not available yet</small></span></li>" not in nav.split("Training")[0][-200:]
    assert 'href="/training/"' in nav


def test_viewers_read_the_pages_but_cannot_launch(
    sandbox_cluster, make_user, client, kube_namespace
):
    client.force_login(make_user(role="viewer", cluster=sandbox_cluster))
    assert client.get(page(kube_namespace)).status_code == 200
    assert client.get(page(kube_namespace, "launch/")).status_code == 403
    assert client.post(page(kube_namespace, "launch/"), form_body()).status_code == 403
    assert not TrainingRun.objects.exists()
    assert "Launch a training Job" not in client.get(page(kube_namespace)).content.decode()
