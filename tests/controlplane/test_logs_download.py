"""GET .../pods/{pod}/log/: the download, against kubectl logs of the same pod."""

import pytest

from controlplane.audit.models import AuditEvent

from .logs_support import kubectl_logs, make_pod, script_logs, wait_for_log

pytestmark = pytest.mark.django_db(transaction=True)

LINES = [f'level=info msg="line {i}" value={i * 7}' for i in range(1, 41)]


def _url(cluster, namespace, pod):
    return f"/api/v1/clusters/{cluster.name}/namespaces/{namespace}/pods/{pod}/log/"


def _body(response) -> bytes:
    return b"".join(response) if response.streaming else response.content


@pytest.fixture
def quiet_pod(sandbox, sandbox_cluster, kube_namespace):
    """A pod whose container writes LINES at start and then nothing (a log that holds still)."""
    rule = script_logs(
        sandbox, kube_namespace, startupLogLines=LINES, logLines=[], logLinesPerSecond=0
    )
    try:
        pod = make_pod(sandbox, kube_namespace, containers=("app", "sidecar"))
        wait_for_log(sandbox, kube_namespace, pod, "app", "line 40")
        yield pod
    finally:
        sandbox.script(f"behaviors/{rule}", method="DELETE")


@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume")
def test_the_download_with_timestamps_equals_kubectl_logs_timestamps_byte_for_byte(
    sandbox, sandbox_cluster, kube_namespace, quiet_pod, make_user, api_client_for
):
    client = api_client_for(make_user(role="viewer", cluster=sandbox_cluster))
    response = client.get(
        _url(sandbox_cluster, kube_namespace, quiet_pod),
        {"container": "app", "timestamps": "true"},
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response["Content-Disposition"] == f'attachment; filename="{quiet_pod}_app.log"'
    expected = kubectl_logs(sandbox, kube_namespace, quiet_pod, "-c", "app", "--timestamps")
    assert _body(response).decode() == expected
    assert expected.count("\n") == len(LINES)


@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume")
def test_the_download_tails_like_kubectl_and_strips_timestamps_unless_asked(
    sandbox, sandbox_cluster, kube_namespace, quiet_pod, make_user, api_client_for
):
    client = api_client_for(make_user(role="viewer", cluster=sandbox_cluster))
    response = client.get(
        _url(sandbox_cluster, kube_namespace, quiet_pod), {"container": "app", "tail_lines": 5}
    )
    assert response.status_code == 200
    assert _body(response).decode() == "".join(f"{line}\n" for line in LINES[-5:])
    expected = kubectl_logs(sandbox, kube_namespace, quiet_pod, "-c", "app", "--tail=5")
    assert expected == "".join(f"{line}\n" for line in LINES[-5:])


def test_bad_parameters_are_refused_naming_the_field(
    sandbox_cluster, kube_namespace, make_user, api_client_for
):
    client = api_client_for(make_user(role="viewer", cluster=sandbox_cluster))
    url = _url(sandbox_cluster, kube_namespace, "some-pod")
    for params, field in (
        ({"tail_lines": "-1"}, "tail_lines"),
        ({"since_seconds": "0"}, "since_seconds"),
        ({"timestamps": "maybe"}, "timestamps"),
        ({"container": "Not_A_Name"}, "container"),
    ):
        response = client.get(url, params)
        assert response.status_code == 400, params
        assert field in response.json(), response.json()


def test_a_pod_without_that_container_is_a_400_with_the_api_servers_reason(
    sandbox, sandbox_cluster, kube_namespace, quiet_pod, make_user, api_client_for
):
    client = api_client_for(make_user(role="viewer", cluster=sandbox_cluster))
    response = client.get(_url(sandbox_cluster, kube_namespace, quiet_pod), {"container": "nope"})
    assert response.status_code == 400
    assert "nope" in response.json()["detail"]


def test_a_cluster_that_keeps_logs_from_viewers_refuses_them_and_audits_it_but_serves_operators(
    sandbox, sandbox_cluster, kube_namespace, quiet_pod, make_user, api_client_for
):
    sandbox_cluster.logs_for_viewers = False
    sandbox_cluster.save()
    viewer = make_user(role="viewer", cluster=sandbox_cluster)
    url = _url(sandbox_cluster, kube_namespace, quiet_pod)
    refused = api_client_for(viewer).get(url, {"container": "app"})
    assert refused.status_code == 403
    assert "keeps logs from viewers" in refused.json()["detail"]
    audit = AuditEvent.objects.get(actor=viewer, kind="pods/log")
    assert (audit.status, audit.name, audit.namespace) == ("refused", quiet_pod, kube_namespace)
    operator = make_user(role="operator", cluster=sandbox_cluster)
    allowed = api_client_for(operator).get(url, {"container": "app", "tail_lines": 1})
    assert allowed.status_code == 200


def test_a_viewer_of_another_namespace_may_not_read_the_log(
    sandbox, sandbox_cluster, kube_namespace, quiet_pod, make_user, api_client_for
):
    other = make_user(role="viewer", cluster=sandbox_cluster, namespaces=["elsewhere"])
    response = api_client_for(other).get(
        _url(sandbox_cluster, kube_namespace, quiet_pod), {"container": "app"}
    )
    assert response.status_code == 403


def test_an_admin_turns_logs_off_for_viewers_through_the_api_and_it_is_audited(
    sandbox_cluster, make_user, api_client_for
):
    admin = make_user(role="admin", cluster=sandbox_cluster)
    url = f"/api/v1/clusters/{sandbox_cluster.name}/"
    assert api_client_for(admin).get(url).json()["logs_for_viewers"] is True
    response = api_client_for(admin).patch(url, {"logs_for_viewers": False}, format="json")
    assert response.status_code == 200
    assert response.json()["logs_for_viewers"] is False
    sandbox_cluster.refresh_from_db()
    assert sandbox_cluster.logs_for_viewers is False
    event = AuditEvent.objects.filter(actor=admin, kind="cluster", verb="update").get()
    assert event.parameters["logs_for_viewers"] is False
    # A body that does not name the setting leaves it alone.
    api_client_for(admin).patch(url, {"display_name": "Sandbox"}, format="json")
    sandbox_cluster.refresh_from_db()
    assert sandbox_cluster.logs_for_viewers is False
