"""The pages' spine: signed-out htmx requests, which namespace the Deployments entry opens,
the audit filters, connection errors, kubeconfig messages, the scale control's limits."""

import re
import uuid

import pytest
import urllib3
from django.test import Client

from controlplane.audit.models import AuditEvent
from controlplane.audit.services import action_record
from controlplane.clusters.crypto import encrypt_json
from controlplane.clusters.models import Cluster
from controlplane.kube import resources
from controlplane.kube.connection import ClusterConnection
from controlplane.kube.errors import Unavailable, translate
from controlplane.live.cache import live_cache
from sandbox.testing import free_port

pytestmark = pytest.mark.django_db


def offline_cluster(name: str = "offline", port: int = 1) -> Cluster:
    return Cluster.objects.create(
        name=name,
        server=f"https://127.0.0.1:{port}",
        source="kubeconfig",
        credentials_encrypted=encrypt_json({"token": "t0ken"}),
    )


def namespace_obj(name: str) -> dict:
    return {"metadata": {"name": name, "uid": uuid.uuid4().hex, "resourceVersion": "1"}}


def deployment_obj(namespace: str, name: str, replicas: int = 1) -> dict:
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": uuid.uuid4().hex,
            "resourceVersion": "1",
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "spec": {
            "replicas": replicas,
            "template": {"spec": {"containers": [{"name": "s", "image": f"r.local/{name}:1"}]}},
        },
        "status": {"replicas": replicas, "readyReplicas": replicas},
    }


@pytest.fixture
def watched():
    """watched(cluster, namespaces=[...], deployments=[(ns, name), ...]): the watcher's cache
    holds them, as if the watcher were running and synced."""
    cache = live_cache()
    filled: list[tuple[str, str]] = []

    def fill(cluster: Cluster, *, namespaces, deployments=()):
        cache.heartbeat(60, {"pid": 0})
        cache.replace(cluster.name, "namespaces", [namespace_obj(n) for n in namespaces], "1")
        cache.replace(
            cluster.name, "deployments", [deployment_obj(ns, n) for ns, n in deployments], "1"
        )
        filled.extend([(cluster.name, "namespaces"), (cluster.name, "deployments")])

    yield fill
    for cluster_name, kind in filled:
        cache.forget(cluster_name, kind)
    cache.client.delete(cache.heartbeat_key)


def logged_in(user) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


def visible_text(html: str) -> str:
    """The page's text without tags (and so without attributes such as title)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# 1. A signed-out htmx request sends the browser to the login page, and back afterwards --------


def test_it_answers_a_signed_out_htmx_request_with_a_redirect_to_the_login_page():
    page = "/c/offline/ns/ml/deployments/?sort=name"
    response = Client().get(
        "/c/offline/ns/ml/deployments/_table/",
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL=f"http://testserver{page}",
    )
    assert (
        response["HX-Redirect"]
        == "/accounts/login/?next=/c/offline/ns/ml/deployments/%3Fsort%3Dname"
    )
    assert b"password" not in response.content


def test_it_answers_a_signed_out_htmx_post_with_a_redirect_to_the_login_page():
    response = Client().post(
        "/c/offline/ns/ml/deployments/scorer/scale/",
        {"replicas": "2"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="http://testserver/c/offline/ns/ml/deployments/",
    )
    assert response["HX-Redirect"] == "/accounts/login/?next=/c/offline/ns/ml/deployments/"


def test_it_never_sends_the_browser_back_to_another_site():
    response = Client().get(
        "/c/offline/ns/ml/deployments/_table/",
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="https://elsewhere.example/phish/",
    )
    assert response["HX-Redirect"] == "/accounts/login/"


def test_it_still_redirects_plain_signed_out_requests_as_before():
    response = Client().get("/c/offline/ns/ml/deployments/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/c/offline/ns/ml/deployments/"


# 2. The Deployments entry opens the namespace last used, else the first with deployments -------


def deployments_link(html: str) -> str:
    return re.search(r'<a href="([^"]+)"[^>]*>Deployments</a>', html).group(1)


def test_it_opens_the_first_namespace_with_deployments_for_a_new_session(make_user, watched):
    cluster = offline_cluster()
    watched(
        cluster, namespaces=["default", "kube-system", "serving"], deployments=[("serving", "a")]
    )
    browser = logged_in(make_user(role="viewer", cluster=cluster))
    entry = deployments_link(browser.get(f"/c/{cluster.name}/").content.decode())
    response = browser.get(entry)
    assert response.status_code == 302
    assert response["Location"] == f"/c/{cluster.name}/ns/serving/deployments/"


def test_it_opens_the_namespace_last_used_in_this_session(make_user, watched):
    cluster = offline_cluster()
    watched(
        cluster,
        namespaces=["default", "quiet", "serving"],
        deployments=[("serving", "a"), ("default", "b")],
    )
    browser = logged_in(make_user(role="viewer", cluster=cluster))
    assert browser.get(f"/c/{cluster.name}/ns/quiet/deployments/").status_code == 200
    entry = deployments_link(browser.get(f"/c/{cluster.name}/").content.decode())
    opened = browser.get(entry, follow=True)
    assert opened.request["PATH_INFO"] == f"/c/{cluster.name}/ns/quiet/deployments/"


def test_it_prefers_the_clusters_default_namespace_when_it_has_deployments(make_user, watched):
    cluster = offline_cluster()
    watched(
        cluster,
        namespaces=["alpha", "default"],
        deployments=[("alpha", "a"), ("default", "b")],
    )
    browser = logged_in(make_user(role="viewer", cluster=cluster))
    response = browser.get(f"/c/{cluster.name}/deployments/")
    assert response["Location"] == f"/c/{cluster.name}/ns/default/deployments/"


# 3. Audit filter drop-downs list each value once -----------------------------------------------


def test_it_lists_each_audit_filter_value_once(make_user):
    cluster = offline_cluster()
    admin = make_user("admin", superuser=True)
    for index in range(36):
        action_record(
            actor=admin,
            cluster=cluster,
            namespace="serving",
            kind="deployment",
            name=f"d{index % 3}",
            verb="scale",
            parameters={"replicas": index},
            status="succeeded",
        )
    html = logged_in(admin).get("/audit/").content.decode()
    for name, value in (
        ("actor", "admin"),
        ("cluster", "offline"),
        ("namespace", "serving"),
        ("verb", "scale"),
        ("kind", "deployment"),
    ):
        select = re.search(rf'<select name="{name}">(.*?)</select>', html, re.S).group(1)
        assert select.count(f">{value}</option>") == 1, name


# 4. Refused connections say so, with the address; the error shows once per page -------------


def test_it_reports_a_refused_connection_as_refused_with_the_address(settings):
    settings.KUBE_RETRY_ATTEMPTS = 1
    port = free_port()  # nothing listens there
    conn = ClusterConnection(key=f"refused:{port}", server=f"https://127.0.0.1:{port}")
    with pytest.raises(Unavailable) as caught:
        resources.version(conn)
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message
    assert "refused" in message
    assert "in time" not in message


def test_it_says_how_long_it_waited_for_a_server_that_did_not_answer(settings):
    settings.KUBE_READ_TIMEOUT = 7
    pool = urllib3.HTTPSConnectionPool("10.0.0.9", port=6443)
    error = translate(urllib3.exceptions.ReadTimeoutError(pool, "/api", "Read timed out."))
    assert isinstance(error, Unavailable)
    assert str(error) == "The API server at 10.0.0.9:6443 did not answer within 7 s"


def test_it_names_a_server_whose_name_does_not_resolve():
    conn = urllib3.connection.HTTPSConnection("nowhere.invalid", port=443)
    error = translate(
        urllib3.exceptions.NameResolutionError("nowhere.invalid", conn, OSError("unknown"))
    )
    assert str(error) == "The API server's name nowhere.invalid could not be resolved"


def test_it_shows_a_clusters_connection_error_once_on_the_overview(make_user, settings):
    settings.KUBE_RETRY_ATTEMPTS = 1
    cluster = offline_cluster(port=free_port())
    browser = logged_in(make_user(role="viewer", cluster=cluster))
    text = visible_text(browser.get(f"/c/{cluster.name}/").content.decode())
    assert text.count("refused the connection") == 1, text


def test_it_shows_a_clusters_connection_error_once_on_the_deployments_page(make_user, settings):
    settings.KUBE_RETRY_ATTEMPTS = 1
    cluster = offline_cluster(port=free_port())
    browser = logged_in(make_user(role="viewer", cluster=cluster))
    text = visible_text(browser.get(f"/c/{cluster.name}/ns/default/deployments/").content.decode())
    assert text.count("refused the connection") == 1, text


# 5. A kubeconfig with a NUL byte gets one clear message ----------------------------------------


def form_errors(html: str) -> list[str]:
    return [
        visible_text(item).strip()
        for block in re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', html, re.S)
        for item in re.findall(r"<li>(.*?)</li>", block, re.S)
    ]


def test_it_answers_a_pasted_kubeconfig_with_a_nul_byte_with_one_message(make_user):
    browser = logged_in(make_user(superuser=True))
    response = browser.post("/clusters/add/", {"text": "apiVersion: v1\nkind: Con\x00fig\n"})
    errors = form_errors(response.content.decode())
    assert len(errors) == 1, errors
    assert "NUL" in errors[0]
    assert "line 2" in errors[0]


def test_it_answers_an_uploaded_kubeconfig_with_a_nul_byte_with_one_message(make_user):
    from django.core.files.uploadedfile import SimpleUploadedFile

    browser = logged_in(make_user(superuser=True))
    upload = SimpleUploadedFile("config", b"apiVersion: v1\x00\n")
    errors = form_errors(browser.post("/clusters/add/", {"file": upload}).content.decode())
    assert len(errors) == 1, errors
    assert "NUL" in errors[0]


def test_it_shows_a_refused_kubeconfigs_reason_once(make_user):
    browser = logged_in(make_user(superuser=True))
    response = browser.post("/clusters/add/", {"text": "just: [unbalanced"})
    errors = form_errors(response.content.decode())
    assert len(errors) == 1, errors
    assert "not valid YAML" in errors[0]


def test_it_asks_for_a_kubeconfig_once_when_nothing_was_sent(make_user):
    browser = logged_in(make_user(superuser=True))
    errors = form_errors(browser.post("/clusters/add/", {"text": ""}).content.decode())
    assert errors == ["Choose a kubeconfig file or paste one."]


# 6. The scale input carries the server's limits; a failure is its actor's, not everyone's -----


def test_it_gives_the_scale_input_the_limits_the_server_enforces(make_user, watched, settings):
    settings.DEPLOYMENT_MAX_REPLICAS = 40
    cluster = offline_cluster()
    watched(cluster, namespaces=["serving"], deployments=[("serving", "scorer")])
    browser = logged_in(make_user(role="operator", cluster=cluster))
    html = browser.get(f"/c/{cluster.name}/ns/serving/deployments/").content.decode()
    field = re.search(r'<input type="number" name="replicas"[^>]*>', html).group(0)
    assert 'min="0"' in field
    assert 'max="40"' in field


def last_action(html: str, name: str) -> str:
    row = re.search(rf'<tr id="deployment-{name}".*?</tr>', html, re.S).group(0)
    cell = re.search(r'data-field="last-action"[^>]*>(.*?)</div>\s*(?:<div|</td>)', row, re.S)
    return visible_text(cell.group(1))


def test_it_shows_a_failed_action_to_its_actor_and_not_as_everyones_headline(make_user, watched):
    cluster = offline_cluster()
    watched(cluster, namespaces=["serving"], deployments=[("serving", "scorer")])
    careful = make_user("careful", role="operator", cluster=cluster)
    clumsy = make_user("clumsy", role="operator", cluster=cluster)
    target = {"cluster": cluster, "namespace": "serving", "kind": "deployment", "name": "scorer"}
    action_record(
        actor=careful, **target, verb="scale", parameters={"replicas": 3}, status="succeeded"
    )
    action_record(
        actor=clumsy,
        **target,
        verb="scale",
        parameters={"replicas": "lots"},
        status="failed",
        error="replicas: A valid integer is required.",
    )
    page = f"/c/{cluster.name}/ns/serving/deployments/"
    others = last_action(logged_in(careful).get(page).content.decode(), "scorer")
    assert "scale to 3 by careful" in others
    assert "failed" not in others
    assert "valid integer" not in others
    own = last_action(logged_in(clumsy).get(page).content.decode(), "scorer")
    assert "by clumsy" in own
    assert "failed" in own
    assert "valid integer" in own
    audit = logged_in(careful).get("/audit/?status=failed").content.decode()
    assert "replicas: A valid integer is required." in audit
    assert AuditEvent.objects.filter(status="failed").count() == 1


# 8. A strict Content-Security-Policy, and templates that need nothing inline ------------------


def test_it_sends_a_strict_content_security_policy_with_every_page(make_user):
    policy = logged_in(make_user()).get("/audit/")["Content-Security-Policy"]
    directives = dict(d.split(" ", 1) for d in policy.split("; "))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self' ws://testserver wss://testserver"
    assert directives["frame-ancestors"] == "'none'"


def test_no_template_has_inline_scripts_styles_or_event_handlers():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    templates = [
        path
        for base in ("controlplane", "deployments")
        for path in (root / base).rglob("templates/**/*.html")
    ]
    assert templates
    inline = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=", re.I)
    offenders = [
        f"{path.relative_to(root)}: {match.group(0)}"
        for path in templates
        for match in inline.finditer(path.read_text())
    ]
    assert offenders == []
