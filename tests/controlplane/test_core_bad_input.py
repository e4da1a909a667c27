"""Bad input to the JSON API is a 400 naming the problem, never a 500, and nothing is stored."""

import base64

import pytest
import yaml

from controlplane.accounts.models import RoleGrant
from controlplane.clusters.crypto import encrypt_json
from controlplane.clusters.models import Cluster
from tests.controlplane.certificates import certificate_b64, private_key_b64

pytestmark = pytest.mark.django_db

DEEP_JSON = "[" * 100_000 + "]" * 100_000


def kubeconfig_text(*, cluster=None, user=None, context=None) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": "c", "cluster": {"server": "https://10.0.0.1:6443", **(cluster or {})}}
            ],
            "users": [{"name": "u", "user": user or {"token": "abc.def"}}],
            "contexts": [{"name": "ctx", "context": context or {"cluster": "c", "user": "u"}}],
            "current-context": "ctx",
        }
    )


@pytest.fixture
def cluster():
    return Cluster.objects.create(
        name="offline",
        server="https://127.0.0.1:1",
        source="kubeconfig",
        credentials_encrypted=encrypt_json({"token": "t"}),
    )


@pytest.fixture
def admin(make_user):
    return make_user("root", superuser=True)


# --- JSON bodies ------------------------------------------------------------------------------


def test_a_json_body_nested_100000_deep_is_a_400_saying_so(admin, api_client_for):
    response = api_client_for(admin).post(
        "/api/v1/clusters/", DEEP_JSON, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert "nested too deeply" in response.json()["detail"]
    assert not Cluster.objects.exists()


def test_a_deeply_nested_scale_request_is_a_400(cluster, make_user, api_client_for):
    operator = make_user(role="operator", cluster=cluster)
    response = api_client_for(operator).post(
        "/api/v1/clusters/offline/namespaces/ml/deployments/web/scale/",
        '{"replicas": ' + DEEP_JSON + "}",
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    assert "nested too deeply" in response.json()["detail"]


# --- Paging the audit log ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=1e20", "limit"),
        ("limit=-1", "limit"),
        ("limit=0", "limit"),
        (f"limit={10**30}", "limit"),
        ("limit=100000", "limit"),
        ("offset=abc", "offset"),
        ("offset=-5", "offset"),
        (f"offset={10**30}", "offset"),
    ],
)
def test_bad_paging_of_the_audit_log_is_a_400_naming_the_parameter(
    admin, api_client_for, query, field
):
    response = api_client_for(admin).get(f"/api/v1/audit/?{query}")
    assert response.status_code == 400, response.content
    [message] = response.json()[field]
    assert "whole number" in message


def test_good_paging_of_the_audit_log_still_works(admin, api_client_for):
    response = api_client_for(admin).get("/api/v1/audit/?limit=1&offset=0")
    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


# --- Kubeconfigs ------------------------------------------------------------------------------

BAD_KUBECONFIGS = {
    "context-cluster-is-a-list": (
        kubeconfig_text(context={"cluster": ["c"], "user": "u"}),
        "contexts[0].context.cluster",
    ),
    "context-user-is-a-mapping": (
        kubeconfig_text(context={"cluster": "c", "user": {"name": "u"}}),
        "contexts[0].context.user",
    ),
    "server-with-an-unclosed-ipv6-bracket": (
        kubeconfig_text(cluster={"server": "https://[::1"}),
        "clusters[0].cluster.server",
    ),
    "server-with-port-99999": (
        kubeconfig_text(cluster={"server": "https://10.0.0.1:99999"}),
        "clusters[0].cluster.server",
    ),
    "server-with-a-line-break": (
        kubeconfig_text(cluster={"server": "https://10.0.0.1\r\nX-Evil: 1"}),
        "clusters[0].cluster.server",
    ),
    "tls-server-name-is-a-number": (
        kubeconfig_text(cluster={"tls-server-name": 42}),
        "clusters[0].cluster.tls-server-name",
    ),
    "tls-server-name-is-a-list": (
        kubeconfig_text(cluster={"tls-server-name": ["a", "b"]}),
        "clusters[0].cluster.tls-server-name",
    ),
    "ca-in-der": (
        kubeconfig_text(cluster={"certificate-authority-data": certificate_b64(der=True)}),
        "clusters[0].cluster.certificate-authority-data",
    ),
    "ca-pem-that-is-no-certificate": (
        kubeconfig_text(
            cluster={
                "certificate-authority-data": base64.b64encode(
                    b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
                ).decode()
            }
        ),
        "clusters[0].cluster.certificate-authority-data",
    ),
    "client-certificate-in-der": (
        kubeconfig_text(
            user={
                "client-certificate-data": certificate_b64(der=True),
                "client-key-data": private_key_b64(),
            }
        ),
        "users[0].user.client-certificate-data",
    ),
    "client-key-that-is-a-certificate": (
        kubeconfig_text(
            user={
                "client-certificate-data": certificate_b64(),
                "client-key-data": certificate_b64(),
            }
        ),
        "users[0].user.client-key-data",
    ),
    "token-with-a-line-break": (
        kubeconfig_text(user={"token": "abc\r\nX-Injected: 1"}),
        "users[0].user.token",
    ),
    "token-with-a-tab": (
        kubeconfig_text(user={"token": "abc\tdef"}),
        "users[0].user.token",
    ),
}


@pytest.mark.parametrize("case", BAD_KUBECONFIGS)
def test_adding_a_cluster_from_a_bad_kubeconfig_is_a_400_naming_the_field(
    admin, api_client_for, case
):
    text, field = BAD_KUBECONFIGS[case]
    response = api_client_for(admin).post(
        "/api/v1/clusters/", {"name": "bad", "kubeconfig": text}, format="json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["field"] == field
    assert not Cluster.objects.exists()


@pytest.mark.parametrize("case", BAD_KUBECONFIGS)
def test_previewing_a_bad_kubeconfig_is_a_400_naming_the_field(admin, api_client_for, case):
    text, field = BAD_KUBECONFIGS[case]
    response = api_client_for(admin).post(
        "/api/v1/clusters/preview/", {"kubeconfig": text}, format="json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["field"] == field


def test_a_pem_certificate_authority_is_accepted_and_stored(admin, api_client_for):
    text = kubeconfig_text(
        cluster={
            "certificate-authority-data": certificate_b64(),
            "tls-server-name": "api.example.com",
        }
    )
    response = api_client_for(admin).post(
        "/api/v1/clusters/", {"name": "good", "kubeconfig": text}, format="json"
    )
    assert response.status_code == 201, response.content
    assert Cluster.objects.get(name="good").connection().ca_data == certificate_b64()


def test_a_client_certificate_and_key_in_pem_are_accepted(admin, api_client_for):
    user = {"client-certificate-data": certificate_b64(), "client-key-data": private_key_b64()}
    response = api_client_for(admin).post(
        "/api/v1/clusters/preview/", {"kubeconfig": kubeconfig_text(user=user)}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["contexts"][0]["auth"] == "client certificate"


# --- URLs without their trailing slash ---------------------------------------------------------


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_a_write_to_an_api_url_without_its_slash_is_a_404_saying_so(
    admin, api_client_for, settings, debug, method
):
    settings.DEBUG = debug
    response = getattr(api_client_for(admin), method)(
        "/api/v1/clusters", {"name": "x", "source": "sandbox"}, format="json"
    )
    assert response.status_code == 404, response.content
    assert "/api/v1/clusters/" in response.json()["detail"]
    assert not Cluster.objects.exists()


def test_reading_an_api_url_without_its_slash_still_redirects(admin, api_client_for):
    response = api_client_for(admin).get("/api/v1/clusters")
    assert response.status_code == 301
    assert response["Location"] == "/api/v1/clusters/"


# --- Role grants ------------------------------------------------------------------------------


def test_a_grant_with_100000_namespaces_is_a_400_naming_namespaces(
    cluster, admin, make_user, api_client_for
):
    make_user("newcomer")
    body = {"user": "newcomer", "role": "viewer", "namespaces": [f"ns-{i}" for i in range(100_000)]}
    response = api_client_for(admin).post("/api/v1/clusters/offline/grants/", body, format="json")
    assert response.status_code == 400, response.content
    [message] = response.json()["namespaces"]
    assert "256" in message
    assert not RoleGrant.objects.exists()


@pytest.mark.parametrize("name", ["Serving", "a" * 64, "-ml", "ml.prod", ""])
def test_a_grant_with_an_invalid_namespace_is_a_400_naming_namespaces(
    cluster, admin, make_user, api_client_for, name
):
    make_user("newcomer")
    body = {"user": "newcomer", "role": "viewer", "namespaces": ["serving", name]}
    response = api_client_for(admin).post("/api/v1/clusters/offline/grants/", body, format="json")
    assert response.status_code == 400, response.content
    assert "namespaces" in response.json()
    assert not RoleGrant.objects.exists()


def test_a_grant_with_256_namespaces_is_accepted(cluster, admin, make_user, api_client_for):
    newcomer = make_user("newcomer")
    names = [f"ns-{i}" for i in range(256)]
    body = {"user": "newcomer", "role": "viewer", "namespaces": names}
    response = api_client_for(admin).post("/api/v1/clusters/offline/grants/", body, format="json")
    assert response.status_code == 201, response.content
    assert len(newcomer.role_grants.get().namespaces) == 256


# --- The API schema and docs ------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/schema/", "/api/docs/"])
def test_the_api_schema_and_docs_are_refused_to_anonymous_visitors(client, url):
    response = client.get(url)
    assert response.status_code in (401, 403) or (
        response.status_code == 302 and "/accounts/login/" in response["Location"]
    )


@pytest.mark.parametrize("url", ["/api/schema/", "/api/docs/"])
def test_the_api_schema_and_docs_are_shown_to_signed_in_users(client, make_user, url):
    client.force_login(make_user("reader"))
    assert client.get(url).status_code == 200
