"""TLS towards a cluster's API server, against the real sandbox: a CA stored as DER before
uploads were checked still verifies the server, and a kubeconfig's tls-server-name is the
name the server's certificate is checked against (the sandbox's carries 127.0.0.1 and
localhost), while the connection still goes to the server address."""

import base64
import importlib

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from django.apps import apps

from controlplane.clusters.cadata import CaUnreadable, ca_pem_b64
from controlplane.clusters.crypto import decrypt_json, encrypt_json
from controlplane.clusters.models import Cluster
from controlplane.clusters.services import cluster_create_from_kubeconfig
from controlplane.kube import resources
from controlplane.kube.errors import Unavailable

pytestmark = pytest.mark.django_db

migration = importlib.import_module("controlplane.clusters.migrations.0004_ca_data_der_to_pem")


@pytest.fixture
def one_attempt(settings):
    # A refused certificate is refused again on a retry: one attempt says it all.
    settings.KUBE_RETRY_ATTEMPTS = 1


def sandbox_ca_der_b64(sandbox) -> str:
    certificate = x509.load_pem_x509_certificate(sandbox.ca_file.read_bytes())
    return base64.b64encode(certificate.public_bytes(Encoding.DER)).decode()


def stored_der_cluster(sandbox, name="old-der") -> Cluster:
    """A cluster saved the way rows were before the upload check: CA as base64 DER."""
    creds = {
        "ca_data": sandbox_ca_der_b64(sandbox),
        "token": sandbox.admin_token,
        "insecure": False,
    }
    return Cluster.objects.create(
        name=name,
        server=sandbox.url,
        source="kubeconfig",
        credentials_encrypted=encrypt_json(creds),
    )


def sandbox_kubeconfig(sandbox, **cluster_fields) -> str:
    doc = yaml.safe_load(sandbox.kubeconfig.read_text())
    doc["clusters"][0]["cluster"].update(cluster_fields)
    return yaml.safe_dump(doc)


def test_a_cluster_stored_with_a_der_ca_talks_to_its_server(sandbox, one_attempt):
    cluster = stored_der_cluster(sandbox)
    conn = cluster.connection()
    assert base64.b64decode(conn.ca_data).startswith(b"-----BEGIN CERTIFICATE-----")
    assert resources.version(conn)["gitVersion"]


def test_the_migration_rewrites_der_cas_as_pem_and_keeps_the_other_credentials(sandbox):
    der = stored_der_cluster(sandbox)
    pem_creds = {"ca_data": base64.b64encode(sandbox.ca_file.read_bytes()).decode(), "token": "t"}
    pem = Cluster.objects.create(
        name="pem",
        server=sandbox.url,
        source="kubeconfig",
        credentials_encrypted=encrypt_json(pem_creds),
    )
    pem_before = pem.credentials_encrypted

    migration.ca_der_to_pem(apps, None)

    der.refresh_from_db()
    stored = decrypt_json(der.credentials_encrypted)
    assert base64.b64decode(stored["ca_data"]) == sandbox.ca_file.read_bytes()
    assert stored["token"] == sandbox.admin_token
    assert stored["insecure"] is False
    pem.refresh_from_db()
    assert pem.credentials_encrypted == pem_before  # already PEM: not rewritten
    assert resources.version(der.connection())["gitVersion"]


def test_a_stored_ca_that_is_neither_pem_nor_der_is_named_as_unreadable():
    with pytest.raises(CaUnreadable, match="neither PEM nor a DER certificate"):
        ca_pem_b64(base64.b64encode(b"\x30\x03not a certificate").decode())


def test_tls_server_name_matching_the_certificate_connects_by_address(
    sandbox, make_user, one_attempt
):
    admin = make_user("root", superuser=True)
    assert sandbox.url.startswith("https://127.0.0.1:")
    cluster = cluster_create_from_kubeconfig(
        actor=admin,
        name="by-name",
        kubeconfig=sandbox_kubeconfig(sandbox, **{"tls-server-name": "localhost"}),
    )
    conn = cluster.connection()
    assert conn.tls_server_name == "localhost"
    assert conn.server == sandbox.url
    assert resources.version(conn)["gitVersion"]


def test_tls_server_name_the_certificate_does_not_carry_is_refused_naming_the_mismatch(
    sandbox, make_user, one_attempt
):
    admin = make_user("root", superuser=True)
    cluster = cluster_create_from_kubeconfig(
        actor=admin,
        name="wrong-name",
        kubeconfig=sandbox_kubeconfig(sandbox, **{"tls-server-name": "kubernetes.default.svc"}),
    )
    with pytest.raises(Unavailable) as info:
        resources.version(cluster.connection())
    message = str(info.value)
    assert "certificate was not accepted" in message
    assert "Hostname mismatch" in message
    assert "kubernetes.default.svc" in message
    assert sandbox.admin_token not in message


def test_changing_the_tls_server_name_changes_the_connection_key(sandbox):
    first = stored_der_cluster(sandbox, name="keyed")
    key = first.connection().key
    creds = decrypt_json(first.credentials_encrypted)
    first.credentials_encrypted = encrypt_json({**creds, "tls_server_name": "localhost"})
    assert first.connection().key != key
