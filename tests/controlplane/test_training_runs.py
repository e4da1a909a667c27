"""Following training runs against the sandbox: scripted pods print the program's
TRAINING_PROGRESS lines; the sync (the beat task's work, run here in the test) keeps status,
logs and progress with the run; retries, backoffLimit exhaustion, a Pending GPU Job explained,
cancel, clone, rerun with --resume, "Deploy this model", and the YAML path's strict check."""

import json

import pytest

from controlplane.audit.models import AuditEvent
from trainer.models import TrainingRun
from trainer.sync import trainingrun_sync
from trainer.tasks import trainingrun_launch_task

from ..fixtures.controlplane import kubectl_json, make_deployment, wait_for

pytestmark = [pytest.mark.django_db(transaction=True)]


def base(namespace):
    return f"/api/v1/clusters/sandbox/namespaces/{namespace}/trainingruns/"


def line(event, **fields):
    return "TRAINING_PROGRESS " + json.dumps({"event": event, **fields})


def start(epochs=2, start_epoch=1, resumed=False):
    return line("start", model="unet", epochs=epochs, start_epoch=start_epoch, resumed=resumed)


def epoch(n, epochs=2, loss=1.0, iou=0.2):
    return line(
        "epoch",
        epoch=n,
        epochs=epochs,
        loss=loss,
        val_loss=loss + 0.1,
        mean_iou=iou,
        val_mean_iou=iou - 0.01,
        epoch_seconds=4.0,
    )


def behave(sandbox, namespace, lines, *, exit_code=0, run_seconds=0.3):
    return sandbox.script(
        "behaviors",
        {
            "match": {"namespace": namespace},
            "runSeconds": run_seconds,
            "exitCode": exit_code,
            "startupLogLines": lines,
            "logLines": [],
        },
    )


def forget(sandbox, rule):
    sandbox.script(f"behaviors/{rule['id']}", method="DELETE")


def finished(api, url, timeout=30) -> dict:
    def done():
        body = api.get(url).json()
        return body["status"] in ("succeeded", "failed") and body

    return wait_for(done, timeout=timeout, what=f"action {url} to finish")


def launch(api, namespace, **overrides):
    body = {"image": "example/pet-unet-trainer:1.0", "model": "unet", "epochs": 2}
    body.update(overrides)
    response = api.post(base(namespace), body, format="json")
    assert response.status_code == 202, response.content
    outcome = finished(api, response["Location"])
    assert outcome["status"] == "succeeded", outcome["error"]
    return TrainingRun.objects.get(id=response.json()["run"])


def synced_until(run, predicate, what, timeout=40):
    def check():
        fresh = trainingrun_sync(run=TrainingRun.objects.get(id=run.id))
        return predicate(fresh) and fresh

    return wait_for(check, timeout=timeout, interval=0.3, what=what)


def detail(api, run):
    response = api.get(f"{base(run.namespace)}{run.id}/")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def engineer_api(sandbox_cluster, make_user, api_client_for):
    return api_client_for(make_user("trainer-eng", role="engineer", cluster=sandbox_cluster))


def succeed(sandbox, namespace, api, **overrides):
    """A run whose pod prints start, two epochs and a succeeded end line, then exits 0."""
    output = f"/output/{namespace}/ok"
    rule = behave(
        sandbox,
        namespace,
        [
            start(),
            "level=info msg=human-readable line",
            epoch(1, loss=1.2, iou=0.1),
            epoch(2, loss=0.9, iou=0.3),
            line(
                "end",
                status="succeeded",
                exit_code=0,
                epochs_completed=2,
                epochs=2,
                export=f"{output}/model",
                val_mean_iou=0.29,
                val_loss=1.0,
            ),
        ],
    )
    try:
        run = launch(api, namespace, name="ok", output_uri=output, **overrides)
        return synced_until(run, lambda r: r.status == "succeeded", "the run to succeed")
    finally:
        forget(sandbox, rule)


def test_a_scripted_success_is_shown_with_its_progress_and_final_metrics(
    celery_worker, sandbox, kube_namespace, engineer_api
):
    run = succeed(sandbox, kube_namespace, engineer_api)
    assert run.final_synced
    body = detail(engineer_api, run)
    assert body["status"] == "succeeded"
    assert body["progress"]["epoch"] == 2
    assert body["progress"]["epochs"] == 2
    assert body["progress"]["percent"] == 100.0
    assert [h["loss"] for h in body["progress"]["history"]] == [1.2, 0.9]
    assert [h["mean_iou"] for h in body["progress"]["history"]] == [0.1, 0.3]
    assert body["metrics"]["val_mean_iou"] == 0.29
    assert body["attempts"]["succeeded"] == 1
    assert body["attempts"]["failed"] == 0
    assert any(c["type"] == "Complete" and c["status"] == "True" for c in body["conditions"])
    assert body["duration_seconds"] is not None
    (log,) = body["logs"].values()
    assert "human-readable line" in log


def test_logs_and_progress_stay_with_the_run_after_its_job_and_pods_are_deleted(
    celery_worker, sandbox, kube_namespace, engineer_api
):
    run = succeed(sandbox, kube_namespace, engineer_api)
    result = sandbox.kubectl("-n", kube_namespace, "delete", "job", run.job_name)
    assert result.returncode == 0, result.stderr
    wait_for(
        lambda: not kubectl_json(sandbox, "-n", kube_namespace, "get", "pods")["items"],
        what="the run's pods to be deleted",
    )
    trainingrun_sync(run=TrainingRun.objects.get(id=run.id))
    body = detail(engineer_api, run)
    assert body["status"] == "succeeded"
    assert body["progress"]["epoch"] == 2
    assert all(pod["deleted"] for pod in body["pods"])
    (log,) = body["logs"].values()
    assert "TRAINING_PROGRESS" in log


def test_a_failed_attempt_is_retried_and_the_resumed_attempt_completes_the_progress(
    celery_worker, sandbox, kube_namespace, engineer_api
):
    # Each failing attempt lives long enough for the switch below to come before the Job's
    # retries run out, even on a busy machine (the sandbox retries at once).
    rule = behave(sandbox, kube_namespace, [start(), epoch(1)], exit_code=1, run_seconds=1.5)
    run = launch(engineer_api, kube_namespace, name="flaky", backoff_limit=3)
    synced_until(run, lambda r: (r.job_status or {}).get("failed", 0) >= 1, "a failed attempt")
    forget(sandbox, rule)
    rule = behave(
        sandbox,
        kube_namespace,
        [start(start_epoch=2, resumed=True), epoch(2), line("end", status="succeeded")],
    )
    try:
        synced_until(run, lambda r: r.status == "succeeded", "the retried run to succeed")
    finally:
        forget(sandbox, rule)
    body = detail(engineer_api, run)
    assert body["attempts"]["failed"] >= 1
    assert body["attempts"]["backoff_limit"] == 3
    assert body["attempts"]["pods"] >= 2
    assert body["progress"]["resumed"] is True
    assert [h["epoch"] for h in body["progress"]["history"]] == [1, 2]


def test_a_run_that_keeps_failing_exhausts_its_backoff_limit_and_says_so(
    celery_worker, sandbox, kube_namespace, engineer_api
):
    failing = [start(), line("end", status="failed", error="boom", exit_code=1)]
    rule = behave(sandbox, kube_namespace, failing, exit_code=1, run_seconds=0.05)
    try:
        run = launch(engineer_api, kube_namespace, name="broken", backoff_limit=2)
        synced_until(run, lambda r: r.status == "failed", "the run to fail")
    finally:
        forget(sandbox, rule)
    body = detail(engineer_api, run)
    assert body["attempts"]["failed"] == 3
    assert body["attempts"]["backoff_limit"] == 2
    assert body["attempts"]["retries_left"] == 0
    assert body["attempts"]["pods"] == 3
    failed = [c for c in body["conditions"] if c["type"] == "Failed"]
    assert failed[0]["reason"] == "BackoffLimitExceeded"
    assert body["progress"]["end"]["status"] == "failed"
    assert len(body["logs"]) == 3


@pytest.mark.parametrize(
    ("gpus", "accelerator", "expected", "fix"),
    [
        (1, "nvidia-h100-80gb", "didn't match Pod's node affinity/selector", "nvidia-h100-80gb"),
        (4, "nvidia-tesla-t4", "Insufficient nvidia.com/gpu", "at least 4 GPU(s) per node"),
    ],
)
def test_a_gpu_job_that_cannot_be_scheduled_explains_itself_and_what_would_fix_it(
    celery_worker, sandbox, kube_namespace, engineer_api, client, gpus, accelerator, expected, fix
):
    run = launch(engineer_api, kube_namespace, name="gpu", gpus=gpus, accelerator=accelerator)

    def explained():
        body = detail(engineer_api, run)
        return body["pending_reasons"] and body

    body = wait_for(explained, what="the scheduler's reason")
    (reason,) = body["pending_reasons"]
    assert reason["message"].startswith("0/")
    assert expected in reason["message"]
    assert any("GPU node pool" in f and fix in f for f in reason["fixes"]), reason["fixes"]
    client.force_login(run.created_by)
    html = client.get(f"/c/sandbox/ns/{kube_namespace}/training/{run.id}/").content.decode()
    assert "Why it is Pending" in html
    assert expected in html.replace("&#x27;", "'")


def test_cancel_deletes_the_job_with_its_pods_and_keeps_the_logs(
    celery_worker, sandbox, kube_namespace, engineer_api
):
    rule = behave(sandbox, kube_namespace, [start(), epoch(1)], run_seconds=None)
    try:
        run = launch(engineer_api, kube_namespace, name="long")
        synced_until(run, lambda r: r.status == "running" and r.logs, "the run to be running")
        response = engineer_api.post(f"{base(kube_namespace)}{run.id}/cancel/", {}, format="json")
        assert response.status_code == 202, response.content
        outcome = finished(engineer_api, response["Location"])
        assert outcome["status"] == "succeeded", outcome["error"]
        assert outcome["result"]["propagation"] == "Foreground"
    finally:
        forget(sandbox, rule)
    wait_for(
        lambda: sandbox.kubectl("-n", kube_namespace, "get", "job", "long").returncode != 0,
        what="the Job to be deleted",
    )
    body = detail(engineer_api, run)
    assert body["status"] == "cancelled"
    assert body["progress"]["epoch"] == 1
    assert body["logs"]
    again = engineer_api.post(f"{base(kube_namespace)}{run.id}/cancel/", {}, format="json")
    assert again.status_code == 400
    assert "run" in again.json()


def test_clone_records_its_parent_and_rerun_resumes_in_the_same_output(
    celery_worker, sandbox, kube_namespace, engineer_api
):
    parent = launch(engineer_api, kube_namespace, name="first", epochs=3)
    busy = engineer_api.post(f"{base(kube_namespace)}{parent.id}/rerun/", {}, format="json")
    assert busy.status_code == 400
    assert "cancel it before resuming" in busy.json()["run"][0]
    TrainingRun.objects.filter(id=parent.id).update(status="failed")
    cloned = launch(engineer_api, kube_namespace, name="second", epochs=5, parent=parent.id)
    assert cloned.parent_id == parent.id
    assert cloned.relation == "clone"
    assert cloned.output_uri != parent.output_uri

    response = engineer_api.post(f"{base(kube_namespace)}{parent.id}/rerun/", {}, format="json")
    assert response.status_code == 202, response.content
    assert finished(engineer_api, response["Location"])["status"] == "succeeded"
    rerun = TrainingRun.objects.get(id=response.json()["run"])
    assert rerun.parent_id == parent.id
    assert rerun.relation == "resume"
    assert rerun.output_uri == parent.output_uri
    assert rerun.job_name.startswith("first-")
    job = kubectl_json(sandbox, "-n", kube_namespace, "get", "job", rerun.job_name)
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert "--resume" in container["args"]
    assert container["args"][container["args"].index("--epochs") + 1] == "3"
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["OUTPUT_URI"] == parent.output_uri
    assert job["metadata"]["annotations"]["training.mlcp.io/parent-run"] == str(parent.id)


def test_deploy_this_model_rolls_the_deployment_with_the_model_and_its_lineage(
    celery_worker, sandbox, kube_namespace, engineer_api, tmp_path
):
    make_deployment(sandbox, kube_namespace, tmp_path, name="segmenter")
    run = succeed(sandbox, kube_namespace, engineer_api)
    url = f"{base(kube_namespace)}{run.id}/deploy/"
    response = engineer_api.post(url, {"deployment": "segmenter"}, format="json")
    assert response.status_code == 202, response.content
    outcome = finished(engineer_api, response["Location"])
    assert outcome["status"] == "succeeded", outcome["error"]
    assert outcome["verb"] == "deploy_model"

    deployment = kubectl_json(sandbox, "-n", kube_namespace, "get", "deployment", "segmenter")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["MODEL_URI"] == f"/output/{kube_namespace}/ok/model"
    annotations = deployment["metadata"]["annotations"]
    assert annotations["model.mlcp.io/training-run"] == str(run.id)
    assert annotations["model.mlcp.io/training-job"] == "ok"
    assert annotations["model.mlcp.io/training-output"] == f"/output/{kube_namespace}/ok"
    assert annotations["model.mlcp.io/version"] == f"run-{run.id}"
    assert deployment["metadata"]["labels"]["model.mlcp.io/version"] == f"run-{run.id}"
    template = deployment["spec"]["template"]["metadata"]["annotations"]
    assert template["model.mlcp.io/training-run"] == str(run.id)
    assert deployment["metadata"]["generation"] >= 2


def test_deploy_is_refused_for_a_run_without_a_model_and_for_viewers(
    sandbox_cluster, make_user, api_client_for, engineer_api
):
    run = TrainingRun.objects.create(
        cluster=sandbox_cluster, namespace="default", job_name="unfinished", status="running"
    )
    url = f"{base('default')}{run.id}/deploy/"
    refused = engineer_api.post(url, {"deployment": "web"}, format="json")
    assert refused.status_code == 400
    assert "run" in refused.json()
    assert engineer_api.post(url, {}, format="json").json().keys() == {"deployment"}
    viewer = api_client_for(make_user(role="viewer", cluster=sandbox_cluster))
    assert viewer.post(url, {"deployment": "web"}, format="json").status_code == 403
    assert viewer.post(f"{base('default')}{run.id}/cancel/", {}).status_code == 403
    assert viewer.post(f"{base('default')}{run.id}/rerun/", {}).status_code == 403
    assert viewer.get(f"{base('default')}{run.id}/").status_code == 200
    verbs = set(AuditEvent.objects.filter(status="refused").values_list("verb", flat=True))
    assert verbs == {"deploy_model", "cancel", "rerun"}


def test_apply_yaml_reports_a_backoff_limit_in_the_pod_template_naming_the_field(
    sandbox_cluster, engineer_api
):
    manifest = """
apiVersion: batch/v1
kind: Job
metadata:
  name: classic-mistake
  namespace: default
spec:
  template:
    spec:
      backoffLimit: 4
      restartPolicy: Never
      containers:
      - name: train
        image: example/pet-unet-trainer:1.0
"""
    response = engineer_api.post(
        "/api/v1/clusters/sandbox/apply/", {"yaml": manifest, "dry_run": True}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["valid"] is False
    (document,) = body["documents"]
    assert document["action"] == "error"
    assert document["error"]["fields"][0]["field"] == "spec.template.spec.backoffLimit"
    assert "strict decoding error" in document["error"]["message"]


def test_a_run_cancelled_before_its_launch_ran_never_gets_a_job(
    sandbox, sandbox_cluster, kube_namespace
):
    run = TrainingRun.objects.create(
        cluster=sandbox_cluster,
        namespace=kube_namespace,
        job_name="stopped",
        status="cancelled",
        parameters={"image": "example/pet-unet-trainer:1.0"},
    )
    event = AuditEvent.objects.create(
        cluster=run.cluster,
        cluster_name="sandbox",
        namespace=kube_namespace,
        kind="job",
        name="stopped",
        verb="launch",
        parameters={"run": run.id},
    )
    result = trainingrun_launch_task.perform(event)
    assert result["created"] is False
    assert sandbox.kubectl("-n", kube_namespace, "get", "job", "stopped").returncode != 0
