""" "Deploy this model" creating the model deployment: the deploy-a-model body under "create",
checked by the deployments app's deploy service (400s naming create.<field>, nothing made),
the Deployment and its Service created through the action pipeline with MODEL_URI and the
run's lineage on them (kubectl as the witness), and the run page's form offering both ways."""

import uuid

import pytest

from controlplane.audit.models import AuditEvent
from controlplane.live.cache import live_cache, redis_client
from trainer.models import TrainingRun

from ..fixtures.controlplane import kubectl_json, wait_for
from .test_training_runs import base, engineer_api, finished, succeed  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True)]

SERVER = "example/pet-unet-server:1.0"


def test_deploy_this_model_creates_the_model_deployment_and_service_with_its_lineage(
    celery_worker,
    sandbox,
    kube_namespace,
    engineer_api,  # noqa: F811
):
    run = succeed(sandbox, kube_namespace, engineer_api)
    body = {
        "create": {
            "name": "pets",
            "image": SERVER,
            "replicas": 2,
            "service": {"type": "ClusterIP", "port": 8080},
        }
    }
    response = engineer_api.post(f"{base(kube_namespace)}{run.id}/deploy/", body, format="json")
    assert response.status_code == 202, response.content
    outcome = finished(engineer_api, response["Location"])
    assert outcome["status"] == "succeeded", outcome["error"]
    assert outcome["verb"] == "deploy_model"
    assert outcome["name"] == "pets"

    deployment = kubectl_json(sandbox, "-n", kube_namespace, "get", "deployment", "pets")
    assert deployment["spec"]["replicas"] == 2
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == SERVER
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == {"MODEL_URI": f"/output/{kube_namespace}/ok/model"}
    annotations = deployment["metadata"]["annotations"]
    assert annotations["model.mlcp.io/training-run"] == str(run.id)
    assert annotations["model.mlcp.io/training-job"] == "ok"
    assert annotations["model.mlcp.io/training-output"] == f"/output/{kube_namespace}/ok"
    assert annotations["model.mlcp.io/artifact-uri"] == f"/output/{kube_namespace}/ok/model"
    assert annotations["model.mlcp.io/version"] == f"run-{run.id}"
    labels = deployment["metadata"]["labels"]
    assert labels["model.mlcp.io/version"] == f"run-{run.id}"
    assert labels["model.mlcp.io/name"] == "unet"
    template = deployment["spec"]["template"]["metadata"]["annotations"]
    assert template["model.mlcp.io/training-run"] == str(run.id)
    # Made once, already serving the model: no second rollout.
    assert deployment["metadata"]["generation"] == 1

    service = kubectl_json(sandbox, "-n", kube_namespace, "get", "service", "pets")
    assert service["spec"]["type"] == "ClusterIP"
    assert [p["port"] for p in service["spec"]["ports"]] == [8080]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["metadata"]["labels"]["model.mlcp.io/version"] == f"run-{run.id}"

    # A second create of the same name is refused by the cluster, never overwritten.
    again = engineer_api.post(f"{base(kube_namespace)}{run.id}/deploy/", body, format="json")
    if again.status_code == 202:  # the watcher's cache had not seen it yet
        refused = finished(engineer_api, again["Location"])
        assert refused["status"] == "failed"
        assert "already exists" in refused["error"]
    else:
        assert again.status_code == 400
        assert "create.name" in again.json()


def test_a_bad_create_body_is_refused_naming_the_field_and_nothing_is_queued(
    sandbox_cluster,
    engineer_api,  # noqa: F811
):
    run = TrainingRun.objects.create(
        cluster=sandbox_cluster,
        namespace="default",
        job_name="done",
        status="succeeded",
        output_uri="/output/default/done",
    )
    url = f"{base('default')}{run.id}/deploy/"
    good = {"name": "pets", "image": SERVER}
    cases = [
        ({"create": {"image": SERVER}}, "create.name"),
        ({"create": {**good, "image": "Not An Image"}}, "create.image"),
        ({"create": {**good, "replicas": "3"}}, "create.replicas"),
        ({"create": {**good, "name": "Pets_1"}}, "create.name"),
        ({"create": {**good, "service": {"type": "Ingress"}}}, "create.service.type"),
        ({"create": {**good, "env": {"MODEL_URI": "/elsewhere"}}}, "create.env.MODEL_URI"),
        ({"create": {**good, "model_version": "v2"}}, "create.model_version"),
        ({"create": {**good, "dry_run": True}}, "create.dry_run"),
        ({"create": good, "deployment": "web"}, "deployment"),
        ({"create": good, "container": "model"}, "container"),
        ({"create": "pets"}, "create.non_field_errors"),
    ]
    for body, field in cases:
        response = engineer_api.post(url, body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert field in response.json(), (body, response.json())
    assert not AuditEvent.objects.filter(status__in=("pending", "running")).exists()
    failed = AuditEvent.objects.filter(verb="deploy_model", status="failed")
    assert failed.count() == len(cases)


def test_a_create_for_a_run_without_a_model_is_refused(sandbox_cluster, engineer_api):  # noqa: F811
    run = TrainingRun.objects.create(
        cluster=sandbox_cluster, namespace="default", job_name="busy", status="running"
    )
    response = engineer_api.post(
        f"{base('default')}{run.id}/deploy/",
        {"create": {"name": "pets", "image": SERVER}},
        format="json",
    )
    assert response.status_code == 400
    assert "run" in response.json()


def test_the_run_page_offers_an_existing_deployment_or_a_new_one_and_creates_it(
    celery_worker, sandbox, sandbox_cluster, kube_namespace, make_user, client
):
    client.force_login(make_user("deploy-page", role="engineer", cluster=sandbox_cluster))
    run = TrainingRun.objects.create(
        cluster=sandbox_cluster,
        namespace=kube_namespace,
        job_name="done",
        status="succeeded",
        output_uri=f"/output/{kube_namespace}/done",
    )
    page = f"/c/sandbox/ns/{kube_namespace}/training/{run.id}/"
    html = client.get(page).content.decode()
    assert 'name="target" value="existing"' in html
    assert 'name="target" value="new"' in html
    assert f"MODEL_URI=/output/{kube_namespace}/done/model" in html

    bad = client.post(f"{page}do/deploy/", {"target": "new", "name": "pets", "image": ""})
    assert bad.status_code == 302
    assert "create.image" in client.get(page).content.decode()

    response = client.post(
        f"{page}do/deploy/",
        {
            "target": "new",
            "name": "pets-page",
            "image": SERVER,
            "replicas": "1",
            "container_port": "8080",
            "service_type": "none",
        },
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(verb="deploy_model", name="pets-page")
    assert event.parameters["create"].get("service") is None

    def created():
        found = sandbox.kubectl(
            "-n", kube_namespace, "get", "deployment", "pets-page", "-o", "json"
        )
        return found.returncode == 0

    wait_for(created, what="the deployment made from the page")
    env = kubectl_json(sandbox, "-n", kube_namespace, "get", "deployment", "pets-page")
    (container,) = env["spec"]["template"]["spec"]["containers"]
    assert container["env"] == [
        {"name": "MODEL_URI", "value": f"/output/{kube_namespace}/done/model"}
    ]
    missing = sandbox.kubectl("-n", kube_namespace, "get", "service", "pets-page")
    assert missing.returncode != 0


def test_a_create_of_a_deployment_the_watcher_already_holds_is_refused_pointing_to_it(
    sandbox_cluster,
    engineer_api,  # noqa: F811
    settings,
):
    settings.REDIS_PREFIX = f"{settings.REDIS_PREFIX}-d{uuid.uuid4().hex[:8]}"
    cache = live_cache()
    existing = {"metadata": {"name": "pets", "namespace": "default", "resourceVersion": "3"}}
    cache.replace(sandbox_cluster.name, "deployments", [existing], "3")
    run = TrainingRun.objects.create(
        cluster=sandbox_cluster, namespace="default", job_name="done", status="succeeded"
    )
    try:
        response = engineer_api.post(
            f"{base('default')}{run.id}/deploy/",
            {"create": {"name": "pets", "image": SERVER}},
            format="json",
        )
    finally:
        keys = list(redis_client().scan_iter(match=f"{settings.REDIS_PREFIX}:*"))
        if keys:
            redis_client().delete(*keys)
    assert response.status_code == 400
    (message,) = response.json()["create.name"]
    assert '{"deployment": "pets"}' in message
    assert AuditEvent.objects.get(verb="deploy_model").status == "failed"
