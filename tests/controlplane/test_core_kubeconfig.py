"""Kubeconfig validation: only embedded data is accepted; plugins, paths and bombs are refused."""

import pytest
import yaml

from controlplane.clusters.kubeconfig import KubeconfigError, parse_kubeconfig
from tests.controlplane.certificates import certificate_b64

CA = certificate_b64()


def kubeconfig(*, user=None, cluster=None, contexts=None, current="main") -> str:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "c1",
                "cluster": cluster
                or {"server": "https://10.0.0.1:6443", "certificate-authority-data": CA},
            }
        ],
        "users": [{"name": "u1", "user": user or {"token": "abc.def"}}],
        "contexts": contexts
        if contexts is not None
        else [{"name": "main", "context": {"cluster": "c1", "user": "u1", "namespace": "ml"}}],
        "current-context": current,
    }
    return yaml.safe_dump(doc)


def refused(text) -> KubeconfigError:
    with pytest.raises(KubeconfigError) as info:
        parse_kubeconfig(text)
    return info.value


def test_it_previews_contexts_with_their_api_server():
    config = parse_kubeconfig(kubeconfig())
    [context] = config.contexts
    assert context.server == "https://10.0.0.1:6443"
    assert context.namespace == "ml"
    assert context.auth == "token"
    assert config.current_context == "main"


def test_it_extracts_the_chosen_contexts_credentials():
    creds = parse_kubeconfig(kubeconfig()).credentials("main")
    assert creds["server"] == "https://10.0.0.1:6443"
    assert creds["token"] == "abc.def"
    assert creds["ca_data"] == CA


def test_it_rejects_exec_plugins_naming_the_field():
    error = refused(kubeconfig(user={"exec": {"command": "gke-gcloud-auth-plugin"}}))
    assert error.field == "users[0].user.exec"
    assert "exec" in str(error)


def test_it_rejects_auth_provider_plugins():
    error = refused(kubeconfig(user={"auth-provider": {"name": "gcp"}}))
    assert error.field == "users[0].user.auth-provider"


@pytest.mark.parametrize(
    ("user", "field"),
    [
        ({"tokenFile": "/etc/passwd"}, "users[0].user.tokenFile"),
        ({"client-certificate": "/tmp/c.crt", "client-key": "/tmp/c.key"}, "client-certificate"),
        ({"client-key": "/root/.ssh/id_rsa"}, "users[0].user.client-key"),
    ],
)
def test_it_rejects_file_paths_in_users(user, field):
    error = refused(kubeconfig(user=user))
    assert error.field.endswith(field)


def test_it_rejects_a_certificate_authority_path():
    error = refused(
        kubeconfig(cluster={"server": "https://x:6443", "certificate-authority": "/ca"})
    )
    assert error.field == "clusters[0].cluster.certificate-authority"


def test_it_rejects_malformed_yaml_with_the_line():
    error = refused("clusters: [\n  - name: c1\n    cluster: {server: ")
    assert error.field == "kubeconfig"
    assert "not valid YAML" in error.message


def test_it_rejects_yaml_alias_bombs():
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n'
    bomb += "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    error = refused(bomb)
    assert "anchors" in error.message or "aliases" in error.message


def test_it_rejects_documents_with_too_many_nodes(settings):
    settings.KUBECONFIG_MAX_NODES = 50
    error = refused("items: [" + ",".join(["1"] * 100) + "]")
    assert "too many nodes" in error.message


def test_it_rejects_oversized_files_before_parsing(settings):
    settings.KUBECONFIG_MAX_BYTES = 1024
    error = refused(kubeconfig() + "#" * 2048)
    assert "limit is 1024" in error.message


def test_it_rejects_a_missing_context():
    config = parse_kubeconfig(kubeconfig())
    with pytest.raises(KubeconfigError) as info:
        config.credentials("nope")
    assert info.value.field == "context"


def test_it_rejects_a_kubeconfig_without_contexts():
    error = refused(kubeconfig(contexts=[], current=""))
    assert error.field == "contexts"


def test_it_rejects_a_context_pointing_at_an_unknown_cluster():
    contexts = [{"name": "main", "context": {"cluster": "ghost", "user": "u1"}}]
    error = refused(kubeconfig(contexts=contexts))
    assert error.field == "contexts[0].context.cluster"


def test_it_rejects_a_server_that_is_not_a_url():
    error = refused(kubeconfig(cluster={"server": "file:///etc/passwd"}))
    assert error.field == "clusters[0].cluster.server"


def test_it_rejects_client_key_data_that_is_not_base64():
    error = refused(kubeconfig(user={"client-certificate-data": CA, "client-key-data": "%%%"}))
    assert error.field == "users[0].user.client-key-data"


def test_it_rejects_non_mapping_documents():
    assert refused("- just\n- a list\n").field == "kubeconfig"


def test_it_rejects_python_object_tags():
    error = refused("a: !!python/object/apply:os.system ['true']\n")
    assert error.field == "kubeconfig"


def test_it_rejects_documents_nested_too_deeply():
    error = refused("a: " + "[" * 50_000 + "]" * 50_000)
    assert "nested too deeply" in error.message


def test_it_keeps_the_tls_server_name_with_the_credentials():
    cluster = {
        "server": "https://10.0.0.1:6443",
        "certificate-authority-data": CA,
        "tls-server-name": "kubernetes.default.svc",
    }
    creds = parse_kubeconfig(kubeconfig(cluster=cluster)).credentials("main")
    assert creds["tls_server_name"] == "kubernetes.default.svc"
    assert parse_kubeconfig(kubeconfig()).credentials("main")["tls_server_name"] is None
