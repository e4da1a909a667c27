"""Launching training Jobs: API -> action -> real Celery worker -> sandbox, with kubectl as the
witness of the Job's spec; bad bodies change nothing; the role matrix."""

import pytest

from controlplane.audit.models import AuditEvent
from trainer.models import TrainingRun

from ..fixtures.controlplane import kubectl_json, wait_for

pytestmark = [pytest.mark.django_db(transaction=True)]


def base(namespace, cluster="sandbox"):
    return f"/api/v1/clusters/{cluster}/namespaces/{namespace}/trainingruns/"


def launch_body(**overrides):
    body = {
        "name": "pets-unet",
        "image": "example/pet-unet-trainer:1.0",
        "args": ["--model", "unet"],
        "data_uri": "gs://example-data/oxford_iiit_pet",
        "epochs": 2,
        "gpus": 1,
        "accelerator": "nvidia-tesla-t4",
        "cpu": "2",
        "memory": "4Gi",
        "parallelism": 1,
        "completions": 1,
        "backoff_limit": 3,
        "active_deadline_seconds": 3600,
        "ttl_seconds_after_finished": 86400,
    }
    body.update(overrides)
    return body


def finished(api, url, timeout=30) -> dict:
    def done():
        body = api.get(url).json()
        return body["status"] in ("succeeded", "failed") and body

    return wait_for(done, timeout=timeout, what=f"action {url} to finish")


@pytest.fixture
def engineer_api(sandbox_cluster, make_user, api_client_for):
    return api_client_for(make_user("trainer-eng", role="engineer", cluster=sandbox_cluster))


def test_a_job_launched_through_the_api_has_exactly_the_expected_spec(
    celery_worker, sandbox, kube_namespace, engineer_api
):
    response = engineer_api.post(base(kube_namespace), launch_body(), format="json")
    assert response.status_code == 202, response.content
    outcome = finished(engineer_api, response["Location"])
    assert outcome["status"] == "succeeded", outcome["error"]
    assert outcome["verb"] == "launch"
    assert outcome["kind"] == "job"
    run = TrainingRun.objects.get(id=response.json()["run"])
    assert run.job_name == "pets-unet"
    assert run.output_uri == f"/output/{kube_namespace}/pets-unet"

    job = kubectl_json(sandbox, "-n", kube_namespace, "get", "job", "pets-unet")
    spec = job["spec"]
    assert spec["backoffLimit"] == 3
    assert spec["parallelism"] == 1
    assert spec["completions"] == 1
    assert spec["activeDeadlineSeconds"] == 3600
    assert spec["ttlSecondsAfterFinished"] == 86400
    assert job["metadata"]["labels"]["training.mlcp.io/run"] == str(run.id)
    pod_spec = spec["template"]["spec"]
    assert "backoffLimit" not in pod_spec
    assert pod_spec["restartPolicy"] == "Never"
    assert pod_spec["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-tesla-t4"}
    assert pod_spec["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]
    (container,) = pod_spec["containers"]
    assert container["image"] == "example/pet-unet-trainer:1.0"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert container["resources"]["limits"]["memory"] == "4Gi"
    # The API server defaults an extended resource's request to its limit.
    assert container["resources"]["requests"] == {
        "cpu": "2",
        "memory": "4Gi",
        "nvidia.com/gpu": "1",
    }
    assert container["args"] == [
        "--model",
        "unet",
        "--data",
        "gs://example-data/oxford_iiit_pet",
        "--epochs",
        "2",
        "--resume",
    ]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["OUTPUT_URI"] == run.output_uri
    assert spec["template"]["metadata"]["labels"]["training.mlcp.io/run"] == str(run.id)


def test_a_generated_name_gets_a_random_suffix_and_a_cpu_job_no_gpu_scheduling(
    celery_worker, sandbox, kube_namespace, engineer_api
):
    body = launch_body(gpus=0, accelerator="", generate_name="nightly-")
    body.pop("name")
    response = engineer_api.post(base(kube_namespace), body, format="json")
    assert response.status_code == 202, response.content
    assert finished(engineer_api, response["Location"])["status"] == "succeeded"
    run = TrainingRun.objects.get(id=response.json()["run"])
    assert run.job_name.startswith("nightly-")
    assert len(run.job_name) == len("nightly-") + 5
    pod_spec = kubectl_json(sandbox, "-n", kube_namespace, "get", "job", run.job_name)["spec"][
        "template"
    ]["spec"]
    assert "nodeSelector" not in pod_spec
    assert "tolerations" not in pod_spec
    assert "nvidia.com/gpu" not in pod_spec["containers"][0]["resources"].get("limits", {})


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"gpus": -1}, "gpus"),
        ({"gpus": 2, "accelerator": ""}, "accelerator"),
        ({"accelerator": "nvidia-tesla-x9000"}, "accelerator"),
        ({"gpus": 0, "accelerator": "nvidia-l4"}, "gpus"),
        ({"cpu": "two"}, "cpu"),
        ({"memory": "-1Gi"}, "memory"),
        ({"backoff_limit": -1}, "backoff_limit"),
        ({"backoff_limit": "3"}, "backoff_limit"),
        ({"parallelism": 0}, "parallelism"),
        ({"parallelism": 3, "completions": 2}, "parallelism"),
        ({"active_deadline_seconds": 0}, "active_deadline_seconds"),
        ({"ttl_seconds_after_finished": -5}, "ttl_seconds_after_finished"),
        ({"name": "Bad_Name"}, "name"),
        ({"image": "Not A Valid Image"}, "image"),
        ({"args": "--epochs 2"}, "args"),
        ({"args": ["ok", 3, {"x": 1}]}, "args"),
        ({"args": ["--api-key=abc123"]}, "args"),
        ({"args": ["--wandb-token", "abc123"]}, "args"),
        ({"data_uri": "http://example.com/data"}, "data_uri"),
        ({"epochs": 0}, "epochs"),
        ({"parent": 999999}, "parent"),
    ],
)
def test_it_rejects_a_bad_launch_body_naming_the_field_and_creates_nothing(
    sandbox_cluster, engineer_api, change, field
):
    response = engineer_api.post(base("default"), launch_body(**change), format="json")
    assert response.status_code == 400, response.content
    assert any(key == field or key.startswith(f"{field}.") for key in response.json()), (
        response.json()
    )
    assert not TrainingRun.objects.exists()
    event = AuditEvent.objects.get(verb="launch")
    assert event.status == "failed"
    assert field in event.error


def test_it_rejects_a_body_that_is_not_an_object(sandbox_cluster, engineer_api):
    response = engineer_api.post(base("default"), ["image"], format="json")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()


ROLES = ["viewer", "operator", "engineer", "admin"]


@pytest.mark.parametrize("role", ROLES)
def test_only_engineers_and_admins_launch_and_every_role_reads(
    sandbox_cluster, make_user, api_client_for, role
):
    api = api_client_for(make_user(role=role, cluster=sandbox_cluster))
    response = api.post(base("default"), launch_body(name=f"r-{role}"), format="json")
    if role in ("engineer", "admin"):
        assert response.status_code == 202, response.content
    else:
        assert response.status_code == 403
        refused = AuditEvent.objects.get(verb="launch")
        assert refused.status == "refused"
        assert "'train' permission" in refused.error
    listing = api.get(base("default"))
    assert listing.status_code == 200
    names = [r["job_name"] for r in listing.json()]
    assert (f"r-{role}" in names) == (role in ("engineer", "admin"))


def test_a_user_without_a_grant_can_neither_read_nor_launch(
    sandbox_cluster, make_user, api_client_for
):
    api = api_client_for(make_user("stranger"))
    assert api.get(base("default")).status_code in (403, 404)
    assert api.post(base("default"), launch_body(), format="json").status_code in (403, 404)
    assert not TrainingRun.objects.exists()


def test_a_secret_in_the_args_is_refused_and_never_recorded(sandbox_cluster, engineer_api):
    body = launch_body(args=["--model", "unet", "--hf-token", "hf_s3cr3t", "--api-key=k3y"])
    response = engineer_api.post(base("default"), body, format="json")
    assert response.status_code == 400
    assert "looks like a secret" in response.json()["args"][0]
    event = AuditEvent.objects.get(verb="launch")
    assert event.status == "failed"
    assert "hf_s3cr3t" not in str(event.parameters)
    assert "k3y" not in str(event.parameters)
    assert "hf_s3cr3t" not in event.error
