"""metrics.json of a succeeded run: read from a local output (a path or file:// URI) the
control plane can see, and otherwise the reason it was not read (missing, not JSON, too large,
gs:// without google-cloud-storage), shown on the run's API detail and page."""

import json

import pytest

from trainer.models import TrainingRun
from trainer.outputs import METRICS_MAX_BYTES, metrics_file_read, metrics_location

from .test_training_runs import (  # noqa: F401
    base,
    behave,
    detail,
    engineer_api,
    epoch,
    forget,
    launch,
    line,
    start,
    synced_until,
)

METRICS = {
    "status": "succeeded",
    "final": {"val_mean_iou": 0.275, "val_loss": 1.09},
    "data": {"uri": "/data/pets", "images": 12, "train_images": 10, "val_images": 2},
    "parameters": {"model": "unet", "epochs": 2, "batch_size": 4},
    "duration_seconds": 9.03,
    "training_seconds": 4.55,
    "resumed_from_epoch": None,
}


def test_metrics_json_is_read_from_a_local_path_or_file_uri(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps(METRICS))
    where = metrics_location(output_uri=f"{tmp_path}/", end=None)
    assert where == f"{tmp_path}/metrics.json"
    assert metrics_file_read(uri=where) == (METRICS, "")
    assert metrics_file_read(uri=f"file://{where}") == (METRICS, "")
    named = metrics_location(output_uri="/elsewhere", end={"metrics": where})
    assert named == where


def test_an_unreadable_metrics_json_says_why(tmp_path):
    missing = metrics_file_read(uri=f"{tmp_path}/metrics.json")
    assert missing[0] == {}
    assert "not visible to the control plane" in missing[1]
    (tmp_path / "bad.json").write_text("{not json")
    assert "is not JSON" in metrics_file_read(uri=f"{tmp_path}/bad.json")[1]
    (tmp_path / "list.json").write_text("[1, 2]")
    assert "not a JSON object" in metrics_file_read(uri=f"{tmp_path}/list.json")[1]
    (tmp_path / "big.json").write_bytes(b" " * (METRICS_MAX_BYTES + 1))
    assert "larger than" in metrics_file_read(uri=f"{tmp_path}/big.json")[1]
    assert "not a path" in metrics_file_read(uri="s3://bucket/metrics.json")[1]


def test_a_gs_output_without_google_cloud_storage_says_so():
    try:
        import google.cloud.storage  # noqa: F401
    except ImportError:
        data, note = metrics_file_read(uri="gs://bucket/runs/7/metrics.json")
        assert data == {}
        assert "google-cloud-storage is not installed" in note
    else:
        pytest.skip("google-cloud-storage is installed here")


@pytest.mark.django_db(transaction=True)
def test_a_succeeded_run_keeps_its_metrics_json_and_shows_it(
    celery_worker,
    sandbox,
    kube_namespace,
    engineer_api,  # noqa: F811
    tmp_path,
    client,
    make_user,
    sandbox_cluster,
):
    (tmp_path / "metrics.json").write_text(json.dumps(METRICS))
    rule = behave(
        sandbox,
        kube_namespace,
        [
            start(),
            epoch(1),
            epoch(2),
            line(
                "end",
                status="succeeded",
                exit_code=0,
                export=f"{tmp_path}/model",
                metrics=f"{tmp_path}/metrics.json",
            ),
        ],
    )
    try:
        run = launch(engineer_api, kube_namespace, name="with-metrics", output_uri=str(tmp_path))
        run = synced_until(run, lambda r: r.status == "succeeded", "the run to succeed")
    finally:
        forget(sandbox, rule)
    assert run.metrics_file == METRICS
    body = detail(engineer_api, run)
    assert body["metrics_file"]["data"]["images"] == 12
    assert body["metrics_file_note"] == ""
    client.force_login(make_user("metrics-viewer", role="viewer", cluster=sandbox_cluster))
    html = client.get(f"/c/sandbox/ns/{kube_namespace}/training/{run.id}/").content.decode()
    assert 'id="run-metrics-file"' in html
    assert "12 images (10 train, 2 validation)" in html


@pytest.mark.django_db
def test_the_page_says_why_metrics_json_was_not_read(sandbox_cluster, make_user, client):
    run = TrainingRun.objects.create(
        cluster=sandbox_cluster,
        namespace="default",
        job_name="gs-run",
        status="succeeded",
        output_uri="gs://bucket/runs/gs-run",
        metrics_file_note="gs://bucket/runs/gs-run/metrics.json is on Cloud Storage and "
        "google-cloud-storage is not installed on the control plane: metrics.json is not read",
    )
    client.force_login(make_user("metrics-reader", role="viewer", cluster=sandbox_cluster))
    html = client.get(f"/c/sandbox/ns/default/training/{run.id}/").content.decode()
    assert "google-cloud-storage is not installed" in html
