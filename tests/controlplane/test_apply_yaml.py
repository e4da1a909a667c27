""" "Apply YAML" end to end: the preview is a server-side dry run that changes nothing, the
apply is an action run by a real Celery worker against the sandbox, with kubectl as the
witness; refusals name the document and the field; the role matrix."""

import pytest

from controlplane.audit.models import AuditEvent

from ..fixtures.controlplane import kubectl_json, wait_for

pytestmark = [pytest.mark.django_db(transaction=True)]

URL = "/api/v1/clusters/sandbox/apply/"

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: example/web:1.0
        ports:
        - containerPort: 8080
"""

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
"""

MISPLACED_BACKOFF = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: train
spec:
  template:
    spec:
      backoffLimit: 4
      restartPolicy: Never
      containers:
      - name: train
        image: example/train:1.0
"""


def deployment(replicas=1):
    return DEPLOYMENT.replace("{replicas}", str(replicas))


def both(replicas=1):
    return deployment(replicas) + "---\n" + SERVICE


@pytest.fixture
def engineer_api(sandbox_cluster, make_user, api_client_for):
    return api_client_for(make_user("yaml-engineer", role="engineer", cluster=sandbox_cluster))


def post(api, namespace, text, *, dry_run):
    body = {"yaml": text, "namespace": namespace, "dry_run": dry_run}
    return api.post(URL, body, format="json")


def finished(api, url, timeout=30) -> dict:
    def done():
        body = api.get(url).json()
        return body["status"] in ("succeeded", "failed") and body

    return wait_for(done, timeout=timeout, what=f"action {url} to finish")


def exists(sandbox, namespace, kind, name) -> bool:
    return sandbox.kubectl("-n", namespace, "get", kind, name).returncode == 0


def apply(api, namespace, text) -> dict:
    response = post(api, namespace, text, dry_run=False)
    assert response.status_code == 202, response.content
    return finished(api, response["Location"])


def test_a_preview_of_a_new_deployment_and_service_says_create_and_changes_nothing(
    sandbox, kube_namespace, engineer_api
):
    response = post(engineer_api, kube_namespace, both(), dry_run=True)
    assert response.status_code == 200, response.content
    plan = response.json()
    assert plan["valid"] is True
    assert [(d["document"], d["kind"], d["name"], d["action"]) for d in plan["documents"]] == [
        (0, "Deployment", "web", "create"),
        (1, "Service", "web", "create"),
    ]
    assert not exists(sandbox, kube_namespace, "deployment", "web")
    assert not exists(sandbox, kube_namespace, "service", "web")
    assert not AuditEvent.objects.filter(verb="apply").exists()


def test_applying_creates_the_objects_and_a_changed_deployment_previews_as_a_diff(
    celery_worker, sandbox, kube_namespace, engineer_api
):
    outcome = apply(engineer_api, kube_namespace, both(replicas=1))
    assert outcome["status"] == "succeeded", outcome["error"]
    assert outcome["verb"] == "apply"
    assert [d["action"] for d in outcome["result"]["documents"]] == ["created", "created"]
    live = kubectl_json(sandbox, "-n", kube_namespace, "get", "deployment", "web")
    assert live["spec"]["replicas"] == 1
    service = kubectl_json(sandbox, "-n", kube_namespace, "get", "service", "web")
    assert service["spec"]["ports"][0]["targetPort"] == 8080

    preview = post(engineer_api, kube_namespace, both(replicas=3), dry_run=True).json()
    deployment_plan, service_plan = preview["documents"]
    assert deployment_plan["action"] == "change"
    assert "-  replicas: 1\n" in deployment_plan["diff"]
    assert "+  replicas: 3\n" in deployment_plan["diff"]
    assert "resourceVersion" not in deployment_plan["diff"]
    assert service_plan["action"] == "unchanged"
    # Still a preview: nothing moved.
    live = kubectl_json(sandbox, "-n", kube_namespace, "get", "deployment", "web")
    assert live["spec"]["replicas"] == 1

    outcome = apply(engineer_api, kube_namespace, both(replicas=3))
    assert outcome["status"] == "succeeded", outcome["error"]
    assert [d["action"] for d in outcome["result"]["documents"]] == ["configured", "configured"]
    live = kubectl_json(sandbox, "-n", kube_namespace, "get", "deployment", "web")
    assert live["spec"]["replicas"] == 3


def test_a_job_with_backoff_limit_in_its_pod_template_is_reported_naming_document_and_field(
    celery_worker, sandbox, kube_namespace, engineer_api
):
    text = deployment() + "---\n" + MISPLACED_BACKOFF
    preview = post(engineer_api, kube_namespace, text, dry_run=True)
    assert preview.status_code == 200, preview.content
    plan = preview.json()
    assert plan["valid"] is False
    ok, job = plan["documents"]
    assert ok["action"] == "create"
    assert job["action"] == "error"
    assert job["error"]["document"] == 1
    assert job["error"]["object"] == "Job train"
    assert [f["field"] for f in job["error"]["fields"]] == ["spec.template.spec.backoffLimit"]

    # Applied anyway: the worker dry-runs every document first, so nothing is created.
    outcome = apply(engineer_api, kube_namespace, text)
    assert outcome["status"] == "failed"
    assert "document 1 (Job train)" in outcome["error"]
    assert "spec.template.spec.backoffLimit" in outcome["error"]
    assert not exists(sandbox, kube_namespace, "deployment", "web")
    assert not exists(sandbox, kube_namespace, "job", "train")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (deployment() + "---\nkind: &k Service\napiVersion: v1\n", "document 1: YAML anchors"),
        (deployment() + "---\n- just\n- a list\n", "document 1: must be a mapping"),
        (
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n",
            "document 0 (Secret s) kind: Secret (v1) cannot be applied here",
        ),
        ("apiVersion: v1\nkind: Service\nmetadata: {}\n", "document 0 (Service) metadata.name"),
        (deployment() + "#" + "x" * 300_000 + "\n", "the limit is"),
        ("---\n".join([SERVICE.replace("web", f"s{i}") for i in range(25)]), "document 20"),
    ],
    ids=["alias", "not-a-mapping", "unknown-kind", "no-name", "oversized", "too-many"],
)
def test_refused_yaml_is_a_400_naming_the_document_and_nothing_is_applied(
    sandbox, kube_namespace, engineer_api, text, expected
):
    for dry_run in (True, False):
        response = post(engineer_api, kube_namespace, text, dry_run=dry_run)
        assert response.status_code == 400, response.content
        assert any(expected in message for message in response.json()["yaml"]), response.json()
    assert not exists(sandbox, kube_namespace, "deployment", "web")
    # The refused apply is audited as failed; the refused preview too (bad input is recorded).
    assert set(AuditEvent.objects.filter(verb="apply").values_list("status", flat=True)) == {
        "failed"
    }


def test_a_document_in_another_namespace_than_the_request_is_refused_naming_the_field(
    sandbox, kube_namespace, engineer_api
):
    text = SERVICE.replace("name: web\n", "name: web\n  namespace: elsewhere\n", 1)
    response = post(engineer_api, kube_namespace, text, dry_run=True)
    assert response.status_code == 400
    [message] = response.json()["yaml"]
    assert message.startswith("document 0 (Service web) metadata.namespace")


OTHER_KINDS = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config}
data: {MODEL_DIR: /models/web}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 3
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  rules:
  - http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: web, port: {number: 80}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web}
spec:
  rules:
  - backendRefs:
    - {name: web, port: 80}
"""


def test_every_other_allowed_kind_previews_as_create(sandbox, kube_namespace, engineer_api):
    plan = post(engineer_api, kube_namespace, OTHER_KINDS, dry_run=True).json()
    assert [(d["kind"], d["action"]) for d in plan["documents"]] == [
        ("ConfigMap", "create"),
        ("HorizontalPodAutoscaler", "create"),
        ("Ingress", "create"),
        ("HTTPRoute", "create"),
    ], plan
    assert not exists(sandbox, kube_namespace, "configmap", "web-config")


def test_a_field_named_like_a_secret_is_refused_rather_than_applied_redacted(
    sandbox, kube_namespace, engineer_api
):
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {db_password: x}\n"
    response = post(engineer_api, kube_namespace, text, dry_run=False)
    assert response.status_code == 400
    [message] = response.json()["yaml"]
    assert message.startswith("document 0 (ConfigMap c) data.db_password: ")


@pytest.mark.parametrize("role", ["viewer", "operator", "engineer", "admin"])
def test_only_engineers_and_admins_may_apply_and_refusals_are_audited(
    sandbox, sandbox_cluster, kube_namespace, make_user, api_client_for, role
):
    api = api_client_for(make_user(role=role, cluster=sandbox_cluster))
    preview = post(api, kube_namespace, both(), dry_run=True)
    applied = post(api, kube_namespace, both(), dry_run=False)
    if role in ("engineer", "admin"):
        assert (preview.status_code, applied.status_code) == (200, 202)
        assert not AuditEvent.objects.filter(status="refused").exists()
    else:
        assert (preview.status_code, applied.status_code) == (403, 403)
        refused = AuditEvent.objects.filter(status="refused").order_by("created")
        assert [(e.verb, e.kind) for e in refused] == [("apply", "manifests")] * 2
        assert "'apply' permission" in refused[0].error


# The page ----------------------------------------------------------------------------------


def page_url(namespace):
    return f"/c/sandbox/ns/{namespace}/apply/"


@pytest.fixture
def engineer_browser(sandbox_cluster, make_user):
    from django.test import Client

    browser = Client()
    browser.force_login(make_user("page-engineer", role="engineer", cluster=sandbox_cluster))
    return browser


def test_the_page_previews_an_upload_with_its_refusal_then_applies_the_pasted_yaml(
    celery_worker, sandbox, kube_namespace, engineer_browser
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    listing = engineer_browser.get(f"/c/sandbox/ns/{kube_namespace}/deployments/")
    assert page_url(kube_namespace).encode() in listing.content
    page = engineer_browser.get(page_url(kube_namespace))
    assert page.status_code == 200
    assert b'enctype="multipart/form-data"' in page.content
    assert b"<script>" not in page.content  # the strict CSP allows no inline script

    upload = SimpleUploadedFile("app.yaml", (both() + "---\n" + MISPLACED_BACKOFF).encode())
    preview = engineer_browser.post(page_url(kube_namespace), {"file": upload, "preview": "1"})
    assert preview.status_code == 200
    assert b'data-action="create"' in preview.content
    assert b"spec.template.spec.backoffLimit" in preview.content
    assert not exists(sandbox, kube_namespace, "deployment", "web")

    applied = engineer_browser.post(page_url(kube_namespace), {"yaml": both(), "apply": "1"})
    assert applied.status_code == 302
    event = AuditEvent.objects.get(verb="apply", status__in=["pending", "running", "succeeded"])
    wait_for(lambda: AuditEvent.objects.get(id=event.id).status == "succeeded", what="apply")
    assert kubectl_json(sandbox, "-n", kube_namespace, "get", "deployment", "web")


def test_the_page_shows_refused_yaml_naming_the_document(sandbox, kube_namespace, engineer_browser):
    response = engineer_browser.post(
        page_url(kube_namespace), {"yaml": "a: &x 1\nb: *x\n", "preview": "1"}
    )
    assert response.status_code == 400
    assert b"document 0: YAML anchors" in response.content


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_who_may_not_apply_sees_no_link_and_is_refused_by_the_page(
    sandbox, sandbox_cluster, kube_namespace, make_user, role
):
    from django.test import Client

    browser = Client()
    browser.force_login(make_user(role=role, cluster=sandbox_cluster))
    listing = browser.get(f"/c/sandbox/ns/{kube_namespace}/deployments/")
    assert page_url(kube_namespace).encode() not in listing.content
    assert browser.get(page_url(kube_namespace)).status_code == 403
    assert browser.post(page_url(kube_namespace), {"yaml": both(), "apply": "1"}).status_code == 403
    assert AuditEvent.objects.get(verb="apply").status == "refused"
