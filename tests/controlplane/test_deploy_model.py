"""Deploying and deleting a model end to end: API -> action -> real Celery worker -> sandbox,
with kubectl as the witness; bad input changes nothing; warnings; the role matrix."""

import json

import pytest

from controlplane.audit.models import AuditEvent
from deployments.warnings import node_warnings

from ..fixtures.controlplane import kubectl_json, make_deployment, wait_for

pytestmark = [pytest.mark.django_db(transaction=True)]

ROLES = ["viewer", "operator", "engineer", "admin"]
MAY_DEPLOY = {"engineer", "admin"}


def base(namespace, cluster="sandbox"):
    return f"/api/v1/clusters/{cluster}/namespaces/{namespace}/deployments/"


def model(**overrides):
    body = {
        "name": "iris",
        "image": "example/iris-model:1.0",
        "replicas": 2,
        "container_port": 8501,
        "model_name": "iris",
        "model_version": "v1",
        "env": {"MODEL_DIR": "/models/iris"},
        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "1"}},
        "readiness_probe": {"path": "/v1/models/iris", "initial_delay_seconds": 0},
        "liveness_probe": {"path": "/v1/models/iris", "period_seconds": 20},
        "service": {"type": "LoadBalancer", "port": 80},
    }
    body.update(overrides)
    return body


def finished(api, url, timeout=30) -> dict:
    def done():
        body = api.get(url).json()
        return body["status"] in ("succeeded", "failed") and body

    return wait_for(done, timeout=timeout, what=f"action {url} to finish")


def exists(sandbox, namespace, kind, name) -> bool:
    return sandbox.kubectl("-n", namespace, "get", kind, name).returncode == 0


@pytest.fixture
def engineer_api(sandbox_cluster, make_user, api_client_for):
    return api_client_for(make_user("ml-engineer", role="engineer", cluster=sandbox_cluster))


def deploy(api, namespace, body):
    return api.post(base(namespace), body, format="json")


def test_a_model_deployed_through_the_api_gets_a_deployment_and_a_service_with_matching_labels(
    celery_worker, sandbox, kube_namespace, engineer_api
):
    response = deploy(engineer_api, kube_namespace, model())
    assert response.status_code == 202, response.content
    assert response.json()["warnings"] == []
    outcome = finished(engineer_api, response["Location"])
    assert outcome["status"] == "succeeded", outcome["error"]
    assert outcome["verb"] == "deploy"
    assert outcome["parameters"]["image"] == "example/iris-model:1.0"
    assert outcome["result"]["service"] == "iris"

    deployment = kubectl_json(sandbox, "-n", kube_namespace, "get", "deployment", "iris")
    service = kubectl_json(sandbox, "-n", kube_namespace, "get", "service", "iris")
    labels = deployment["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "iris"
    assert labels["model.mlcp.io/name"] == "iris"
    assert labels["model.mlcp.io/version"] == "v1"
    assert deployment["spec"]["replicas"] == 2
    template = deployment["spec"]["template"]
    assert template["metadata"]["labels"] == labels
    [container] = template["spec"]["containers"]
    assert container["image"] == "example/iris-model:1.0"
    assert container["ports"][0]["containerPort"] == 8501
    assert container["env"] == [{"name": "MODEL_DIR", "value": "/models/iris"}]
    assert container["resources"]["requests"] == {"cpu": "250m", "memory": "256Mi"}
    probe = container["readinessProbe"]["httpGet"]
    assert (probe["path"], probe["port"]) == ("/v1/models/iris", 8501)
    assert container["livenessProbe"]["periodSeconds"] == 20
    # The Service selects exactly the Deployment's pods and forwards to the model's port.
    assert service["spec"]["type"] == "LoadBalancer"
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["port"] == 80
    assert service["spec"]["ports"][0]["targetPort"] == 8501
    assert service["metadata"]["labels"]["model.mlcp.io/name"] == "iris"

    def ready_endpoints():
        endpoints = kubectl_json(sandbox, "-n", kube_namespace, "get", "endpoints", "iris")
        return [a for s in endpoints.get("subsets") or [] for a in s.get("addresses") or []]

    assert len(wait_for(ready_endpoints, timeout=60, what="the Service's endpoints")) == 2
    warnings = engineer_api.get(f"{base(kube_namespace)}iris/warnings/")
    assert warnings.status_code == 200
    assert warnings.json()["warnings"] == []


def test_a_gpu_request_adds_the_gke_node_selector_and_toleration(
    celery_worker, sandbox, kube_namespace, engineer_api
):
    body = model(
        replicas=1,
        resources={"limits": {"nvidia.com/gpu": 1}},
        accelerator="nvidia-tesla-t4",
    )
    response = deploy(engineer_api, kube_namespace, body)
    assert response.status_code == 202, response.content
    outcome = finished(engineer_api, response["Location"])
    assert outcome["status"] == "succeeded", outcome["error"]
    spec = kubectl_json(sandbox, "-n", kube_namespace, "get", "deployment", "iris")["spec"]
    pod_spec = spec["template"]["spec"]
    assert pod_spec["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-tesla-t4"}
    assert {
        "key": "nvidia.com/gpu",
        "operator": "Equal",
        "value": "present",
        "effect": "NoSchedule",
    } in pod_spec["tolerations"]
    assert pod_spec["containers"][0]["resources"]["limits"] == {"nvidia.com/gpu": "1"}

    def scheduled_node():
        pods = kubectl_json(
            sandbox, "-n", kube_namespace, "get", "pods", "-l", "app.kubernetes.io/name=iris"
        )["items"]
        return pods and pods[0]["spec"].get("nodeName")

    node = kubectl_json(sandbox, "get", "node", wait_for(scheduled_node, what="the pod placed"))
    assert node["metadata"]["labels"]["cloud.google.com/gke-accelerator"] == "nvidia-tesla-t4"


BAD_INPUTS = [
    ("name", {"name": "Iris_Model"}),
    ("name", {"name": "x" * 64}),
    ("image", {"image": "Example/Model:1"}),
    ("image", {"image": "example/model:"}),
    ("image", {"image": "example model"}),
    ("replicas", {"replicas": -1}),
    ("replicas", {"replicas": 100_000}),
    ("replicas", {"replicas": "lots"}),
    ("container_port", {"container_port": 0}),
    ("container_port", {"container_port": 70_000}),
    ("resources.requests.memory", {"resources": {"requests": {"memory": "lots"}}}),
    ("resources.limits.cpu", {"resources": {"limits": {"cpu": "-1"}}}),
    ("resources.limits.nvidia.com/gpu", {"resources": {"limits": {"nvidia.com/gpu": "0.5"}}}),
    ("model_version", {"model_version": "v1 beta"}),
    ("env.API_KEY", {"env": {"API_KEY": "s3cr3t"}}),
    ("service.type", {"service": {"type": "ExternalName", "port": 80}}),
    ("service.port", {"service": {"type": "ClusterIP", "port": 0}}),
    ("readiness_probe.path", {"readiness_probe": {"path": "no-slash"}}),
]


@pytest.mark.parametrize(("field", "override"), BAD_INPUTS)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_created(
    sandbox, kube_namespace, engineer_api, field, override
):
    response = deploy(engineer_api, kube_namespace, model(**override))
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    items = kubectl_json(sandbox, "-n", kube_namespace, "get", "deployments,services")["items"]
    assert items == []
    event = AuditEvent.objects.get(verb="deploy")
    assert event.status == "failed"
    assert event.error.startswith("invalid request: ")
    assert field in event.error
    # A secret-looking value never reaches the audit log.
    assert "s3cr3t" not in json.dumps(event.parameters)


def test_a_name_that_is_already_taken_fails_with_the_api_servers_message_and_overwrites_nothing(
    celery_worker, sandbox, kube_namespace, engineer_api, tmp_path
):
    make_deployment(sandbox, kube_namespace, tmp_path, name="web")
    response = deploy(engineer_api, kube_namespace, model(name="web"))
    assert response.status_code == 202
    outcome = finished(engineer_api, response["Location"])
    assert outcome["status"] == "failed"
    assert outcome["error"].startswith("AlreadyExists (409)"), outcome["error"]
    assert '"web" already exists' in outcome["error"]
    current = kubectl_json(sandbox, "-n", kube_namespace, "get", "deployment", "web")
    assert current["spec"]["template"]["spec"]["containers"][0]["image"] == "example/model:1"


# Warnings ----------------------------------------------------------------------------------


@pytest.mark.parametrize("image", ["example/iris-model:latest", "example/iris-model"])
def test_an_image_tagged_latest_or_untagged_is_warned_about(
    sandbox, kube_namespace, engineer_api, image
):
    preview = deploy(engineer_api, kube_namespace, model(image=image, dry_run=True))
    assert preview.status_code == 200, preview.content
    [warning] = preview.json()["warnings"]
    assert image in warning
    assert "latest" in warning
    # A preview creates nothing and is not an action.
    assert kubectl_json(sandbox, "-n", kube_namespace, "get", "deployments")["items"] == []
    assert not AuditEvent.objects.filter(verb="deploy").exists()
    accepted = deploy(engineer_api, kube_namespace, model(image=image))
    assert accepted.status_code == 202
    assert accepted.json()["warnings"] == [warning]


def test_a_preview_shows_the_objects_that_would_be_created(sandbox, kube_namespace, engineer_api):
    preview = deploy(engineer_api, kube_namespace, model(dry_run=True)).json()
    assert preview["warnings"] == []
    assert preview["deployment"]["metadata"]["name"] == "iris"
    assert preview["service"]["spec"]["selector"] == {"app.kubernetes.io/name": "iris"}


def test_requests_no_node_can_satisfy_are_warned_about(sandbox, kube_namespace, engineer_api):
    body = model(resources={"requests": {"cpu": "500", "memory": "1Gi"}}, dry_run=True)
    preview = deploy(engineer_api, kube_namespace, body)
    assert preview.status_code == 200, preview.content
    [warning] = preview.json()["warnings"]
    assert warning.startswith("no node can satisfy the requests (cpu=500")


def test_a_gpu_request_in_a_cluster_without_gpu_nodes_is_warned_about(sandbox):
    nodes = kubectl_json(sandbox, "get", "nodes")["items"]
    cpu_only = [n for n in nodes if "nvidia.com/gpu" not in n["status"]["allocatable"]]
    assert 0 < len(cpu_only) < len(nodes)
    gpu = {"limits": {"nvidia.com/gpu": "1"}}
    [warning] = node_warnings(gpu, cpu_only)
    assert "no GPU node" in warning
    assert node_warnings(gpu, nodes) == []
    # More GPUs than any one node has is a request no node can satisfy.
    [warning] = node_warnings({"limits": {"nvidia.com/gpu": "8"}}, nodes)
    assert warning.startswith("no node can satisfy")


def test_a_service_whose_selector_matches_no_pods_is_warned_about(
    sandbox, kube_namespace, engineer_api, tmp_path
):
    # The classic walk-through's mistake: the Service selects app=hello, the pods are app=web.
    make_deployment(sandbox, kube_namespace, tmp_path, name="web")
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": kube_namespace},
        "spec": {
            "type": "LoadBalancer",
            "selector": {"app": "hello"},
            "ports": [{"port": 80, "targetPort": 8080}],
        },
    }
    path = tmp_path / "service.json"
    path.write_text(json.dumps(service))
    assert sandbox.kubectl("create", "-f", str(path)).returncode == 0
    response = engineer_api.get(f"{base(kube_namespace)}web/warnings/")
    assert response.status_code == 200
    [warning] = response.json()["warnings"]
    assert warning.startswith("Service web selects no pods (app=hello")
    assert engineer_api.get(f"{base(kube_namespace)}ghost/warnings/").status_code == 404


# Delete ------------------------------------------------------------------------------------


def deployed(api, sandbox, namespace):
    response = deploy(api, namespace, model(replicas=1))
    assert finished(api, response["Location"])["status"] == "succeeded"
    assert exists(sandbox, namespace, "service", "iris")


def test_deleting_a_deployment_leaves_its_service_unless_asked(
    celery_worker, sandbox, kube_namespace, engineer_api
):
    deployed(engineer_api, sandbox, kube_namespace)
    response = engineer_api.delete(f"{base(kube_namespace)}iris/")
    assert response.status_code == 202, response.content
    outcome = finished(engineer_api, response["Location"])
    assert outcome["status"] == "succeeded", outcome["error"]
    assert outcome["result"]["services"] == []
    wait_for(lambda: not exists(sandbox, kube_namespace, "deployment", "iris"), what="deleted")
    assert exists(sandbox, kube_namespace, "service", "iris")


@pytest.mark.parametrize("how", ["query", "body"])
def test_deleting_with_cascade_removes_its_services_too(
    celery_worker, sandbox, kube_namespace, engineer_api, how
):
    deployed(engineer_api, sandbox, kube_namespace)
    url = f"{base(kube_namespace)}iris/"
    if how == "query":
        response = engineer_api.delete(f"{url}?cascade=services,autoscaler&propagation=Foreground")
    else:
        response = engineer_api.delete(url, {"cascade": "services"}, format="json")
    assert response.status_code == 202, response.content
    outcome = finished(engineer_api, response["Location"])
    assert outcome["status"] == "succeeded", outcome["error"]
    assert outcome["result"]["services"] == ["iris"]
    wait_for(lambda: not exists(sandbox, kube_namespace, "service", "iris"), what="service gone")
    wait_for(
        lambda: not exists(sandbox, kube_namespace, "deployment", "iris"),
        timeout=60,
        what="deployment gone",
    )


def test_a_delete_with_an_unknown_cascade_is_refused_and_changes_nothing(
    sandbox, kube_namespace, engineer_api, tmp_path
):
    make_deployment(sandbox, kube_namespace, tmp_path, name="web")
    response = engineer_api.delete(f"{base(kube_namespace)}web/?cascade=everything")
    assert response.status_code == 400
    assert list(response.json()) == ["cascade"]
    assert exists(sandbox, kube_namespace, "deployment", "web")
    assert AuditEvent.objects.get(verb="delete").status == "failed"


# Roles -------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_only_engineers_and_admins_may_deploy_and_delete_and_refusals_are_audited(
    sandbox, sandbox_cluster, kube_namespace, make_user, api_client_for, role, tmp_path
):
    make_deployment(sandbox, kube_namespace, tmp_path, name="web")
    api = api_client_for(make_user(role=role, cluster=sandbox_cluster))
    created = deploy(api, kube_namespace, model())
    deleted = api.delete(f"{base(kube_namespace)}web/")
    if role in MAY_DEPLOY:
        assert (created.status_code, deleted.status_code) == (202, 202)
        assert AuditEvent.objects.filter(status="refused").count() == 0
    else:
        assert (created.status_code, deleted.status_code) == (403, 403)
        refused = AuditEvent.objects.filter(status="refused").order_by("created")
        assert [(e.verb, e.name) for e in refused] == [("deploy", "iris"), ("delete", "web")]
        assert "'deploy' permission" in refused[0].error


# The form page -----------------------------------------------------------------------------


def page_url(namespace):
    return f"/c/sandbox/ns/{namespace}/deploy/"


FORM = {
    "name": "iris",
    "model_name": "iris",
    "model_version": "v2",
    "image": "example/iris-model:2.0",
    "replicas": "1",
    "container_port": "8501",
    "env": "MODEL_DIR=/models/iris\n",
    "cpu_request": "100m",
    "memory_request": "128Mi",
    "readiness_path": "/v1/models/iris",
    "service_type": "ClusterIP",
    "service_port": "80",
}


@pytest.fixture
def engineer_browser(sandbox_cluster, make_user):
    from django.test import Client

    browser = Client()
    browser.force_login(make_user("form-engineer", role="engineer", cluster=sandbox_cluster))
    return browser


def test_a_model_deployed_through_the_form_page_is_checked_first_then_created(
    celery_worker, sandbox, kube_namespace, engineer_browser
):
    listing = engineer_browser.get(f"/c/sandbox/ns/{kube_namespace}/deployments/")
    assert page_url(kube_namespace).encode() in listing.content
    assert engineer_browser.get(page_url(kube_namespace)).status_code == 200
    checked = engineer_browser.post(
        page_url(kube_namespace), {**FORM, "image": "example/iris-model:latest", "check": "1"}
    )
    assert checked.status_code == 200
    assert b"is tagged latest" in checked.content
    assert kubectl_json(sandbox, "-n", kube_namespace, "get", "deployments")["items"] == []

    response = engineer_browser.post(page_url(kube_namespace), {**FORM, "deploy": "1"})
    assert response.status_code == 302
    assert response["Location"] == f"/c/sandbox/ns/{kube_namespace}/deployments/"
    event = AuditEvent.objects.get(verb="deploy")
    wait_for(lambda: AuditEvent.objects.get(id=event.id).status == "succeeded", what="deploy done")
    deployment = kubectl_json(sandbox, "-n", kube_namespace, "get", "deployment", "iris")
    assert deployment["metadata"]["labels"]["model.mlcp.io/version"] == "v2"
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["env"] == [{"name": "MODEL_DIR", "value": "/models/iris"}]
    service = kubectl_json(sandbox, "-n", kube_namespace, "get", "service", "iris")
    assert service["spec"]["type"] == "ClusterIP"


def test_the_form_page_puts_each_error_on_its_field_and_creates_nothing(
    sandbox, kube_namespace, engineer_browser
):
    bad = {**FORM, "image": "Example/Model", "memory_request": "lots", "deploy": "1"}
    response = engineer_browser.post(page_url(kube_namespace), bad)
    assert response.status_code == 400
    form = response.context["form"]
    assert "image" in form.errors
    assert "memory_request" in form.errors
    assert kubectl_json(sandbox, "-n", kube_namespace, "get", "deployments")["items"] == []
    assert AuditEvent.objects.get(verb="deploy").status == "failed"


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_who_may_not_deploy_sees_no_link_and_is_refused_by_the_page(
    sandbox, sandbox_cluster, kube_namespace, make_user, role
):
    from django.test import Client

    browser = Client()
    browser.force_login(make_user(role=role, cluster=sandbox_cluster))
    listing = browser.get(f"/c/sandbox/ns/{kube_namespace}/deployments/")
    assert listing.status_code == 200
    assert page_url(kube_namespace).encode() not in listing.content
    assert browser.get(page_url(kube_namespace)).status_code == 403
    assert browser.post(page_url(kube_namespace), {**FORM, "deploy": "1"}).status_code == 403
    assert AuditEvent.objects.get(verb="deploy").status == "refused"


def test_the_delete_page_asks_for_the_name_then_deletes_with_its_service(
    celery_worker, sandbox, kube_namespace, engineer_api, engineer_browser
):
    deployed(engineer_api, sandbox, kube_namespace)
    listing = engineer_browser.get(f"/c/sandbox/ns/{kube_namespace}/deployments/")
    delete_url = f"/c/sandbox/ns/{kube_namespace}/deployments/iris/delete/"
    assert delete_url.encode() in listing.content
    assert engineer_browser.get(delete_url).status_code == 200
    wrong = engineer_browser.post(delete_url, {"confirm": "iri", "services": "on"})
    assert wrong.status_code == 400
    assert "confirm" in wrong.context["form"].errors
    assert not AuditEvent.objects.filter(verb="delete").exists()

    response = engineer_browser.post(
        delete_url, {"confirm": "iris", "services": "on", "propagation": "Background"}
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(verb="delete")
    assert event.parameters == {"cascade": ["services"], "propagation": "Background"}
    wait_for(lambda: AuditEvent.objects.get(id=event.id).status == "succeeded", what="deleted")
    wait_for(lambda: not exists(sandbox, kube_namespace, "service", "iris"), what="service gone")
    wait_for(
        lambda: not exists(sandbox, kube_namespace, "deployment", "iris"), what="deployment gone"
    )


def test_who_may_not_delete_sees_no_delete_link_and_is_refused_by_the_page(
    sandbox, sandbox_cluster, kube_namespace, make_user, tmp_path
):
    from django.test import Client

    make_deployment(sandbox, kube_namespace, tmp_path, name="web")
    browser = Client()
    browser.force_login(make_user(role="operator", cluster=sandbox_cluster))
    delete_url = f"/c/sandbox/ns/{kube_namespace}/deployments/web/delete/"
    listing = browser.get(f"/c/sandbox/ns/{kube_namespace}/deployments/")
    assert delete_url.encode() not in listing.content
    assert browser.get(delete_url).status_code == 403
    assert browser.post(delete_url, {"confirm": "web"}).status_code == 403
    assert AuditEvent.objects.get(verb="delete").status == "refused"
    assert exists(sandbox, kube_namespace, "deployment", "web")


def test_a_service_name_already_taken_fails_the_deploy_before_anything_is_created(
    celery_worker, sandbox, kube_namespace, engineer_api
):
    taken = sandbox.kubectl(
        "-n", kube_namespace, "create", "service", "clusterip", "iris", "--tcp=80:8080"
    )
    assert taken.returncode == 0, taken.stderr
    response = deploy(engineer_api, kube_namespace, model())
    outcome = finished(engineer_api, response["Location"])
    assert outcome["status"] == "failed"
    assert outcome["error"] == 'AlreadyExists (409): services "iris" already exists'
    assert not exists(sandbox, kube_namespace, "deployment", "iris")


def test_a_delete_whose_deployment_was_replaced_meanwhile_deletes_nothing(
    sandbox, sandbox_cluster, kube_namespace, tmp_path
):
    from controlplane.kube import workloads
    from controlplane.kube.errors import Conflict

    make_deployment(sandbox, kube_namespace, tmp_path, name="web")
    stale_uid = "00000000-0000-0000-0000-000000000000"
    with pytest.raises(Conflict):
        workloads.deployment_delete(
            sandbox_cluster.connection(), namespace=kube_namespace, name="web", uid=stale_uid
        )
    assert exists(sandbox, kube_namespace, "deployment", "web")
