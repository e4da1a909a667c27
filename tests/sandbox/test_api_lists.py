"""Lists: label selectors, field selectors, paging with limit/continue, and Table output."""

from __future__ import annotations

import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException


@pytest.fixture
def labelled(sandbox_api, sandbox_namespace):
    core = client.CoreV1Api(sandbox_api)
    labels = {
        "a": {"tier": "web", "env": "prod"},
        "b": {"tier": "web", "env": "dev"},
        "c": {"tier": "db", "env": "prod"},
        "d": {"tier": "cache"},
    }
    for name, lab in labels.items():
        core.create_namespaced_config_map(
            sandbox_namespace, {"metadata": {"name": name, "labels": lab}}
        )
    return core, sandbox_namespace


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("tier=web", ["a", "b"]),
        ("tier==web", ["a", "b"]),
        ("tier!=web", ["c", "d"]),
        ("env in (prod,dev)", ["a", "b", "c"]),
        ("env notin (prod)", ["b", "d"]),
        ("env", ["a", "b", "c"]),
        ("!env", ["d"]),
        ("tier=web,env=prod", ["a"]),
    ],
)
def test_label_selectors_select_like_the_real_server(labelled, selector, expected):
    core, ns = labelled
    items = core.list_namespaced_config_map(ns, label_selector=selector).items
    assert [i.metadata.name for i in items if i.metadata.name != "kube-root-ca.crt"] == expected


def test_field_selectors_select_by_name(labelled):
    core, ns = labelled
    items = core.list_namespaced_config_map(ns, field_selector="metadata.name=c").items
    assert [i.metadata.name for i in items] == ["c"]
    items = core.list_namespaced_config_map(ns, field_selector="metadata.name!=c").items
    assert "c" not in [i.metadata.name for i in items]


def test_an_unsupported_field_selector_is_a_bad_request(labelled):
    core, ns = labelled
    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map(ns, field_selector="data.colour=blue")
    assert err.value.status == 400
    assert json.loads(err.value.body)["message"] == "field label not supported: data.colour"


def test_pods_are_selected_by_node_and_phase(sandbox_api, sandbox_namespace):
    core = client.CoreV1Api(sandbox_api)
    node = core.list_node().items[0].metadata.name
    core.create_namespaced_pod(
        sandbox_namespace,
        {
            "metadata": {"name": "pinned"},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "nginx:1.25"}]},
        },
    )
    on_node = core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}").items
    assert "pinned" in [p.metadata.name for p in on_node]
    elsewhere = core.list_namespaced_pod(sandbox_namespace, field_selector="spec.nodeName=nope")
    assert elsewhere.items == []
    not_failed = core.list_namespaced_pod(sandbox_namespace, field_selector="status.phase!=Failed")
    assert [p.metadata.name for p in not_failed.items] == ["pinned"]


def test_lists_page_with_limit_and_continue(sandbox_api, sandbox_namespace):
    core = client.CoreV1Api(sandbox_api)
    names = [f"cm-{i:02d}" for i in range(7)]
    for name in names:
        core.create_namespaced_config_map(sandbox_namespace, {"metadata": {"name": name}})
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = core.list_namespaced_config_map(sandbox_namespace, limit=3, _continue=token)
        seen += [i.metadata.name for i in page.items]
        pages += 1
        token = page.metadata._continue
        if not token:
            break
        assert page.metadata.remaining_item_count >= 0
    assert [s for s in seen if s.startswith("cm-")] == names
    assert pages >= 3


def test_a_malformed_continue_token_is_a_bad_request(sandbox_api, sandbox_namespace):
    core = client.CoreV1Api(sandbox_api)
    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map(sandbox_namespace, limit=1, _continue="garbage!")
    assert err.value.status == 400


def test_kubectl_prints_server_side_tables(sandbox, sandbox_namespace):
    sandbox.kubectl(
        "create", "deployment", "tbl", "--image=nginx:1.25", "-n", sandbox_namespace, check=True
    )
    out = sandbox.kubectl(
        "get", "deployments", "-o", "wide", "-n", sandbox_namespace, check=True
    ).stdout
    header = out.splitlines()[0].split()
    assert header == [
        "NAME",
        "READY",
        "UP-TO-DATE",
        "AVAILABLE",
        "AGE",
        "CONTAINERS",
        "IMAGES",
        "SELECTOR",
    ]
    assert "nginx:1.25" in out
    nodes = sandbox.kubectl("get", "nodes", check=True).stdout.splitlines()[0].split()
    assert nodes == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]


def test_kubectl_lists_across_namespaces_with_a_namespace_column(sandbox, sandbox_namespace):
    sandbox.kubectl("create", "configmap", "everywhere", "-n", sandbox_namespace, check=True)
    out = sandbox.kubectl("get", "configmaps", "-A", "-l", "!nothing", check=True).stdout
    assert out.splitlines()[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert any(line.split()[:2] == [sandbox_namespace, "everywhere"] for line in out.splitlines())


def test_kubectl_reads_jsonpath_and_yaml(sandbox, sandbox_namespace):
    sandbox.kubectl(
        "create", "configmap", "jp", "--from-literal=k=v", "-n", sandbox_namespace, check=True
    )
    out = sandbox.kubectl(
        "get", "configmap", "jp", "-n", sandbox_namespace, "-o", "jsonpath={.data.k}", check=True
    ).stdout
    assert out == "v"
    yaml_out = sandbox.kubectl(
        "get", "configmap", "jp", "-n", sandbox_namespace, "-o", "yaml", check=True
    ).stdout
    assert "kind: ConfigMap" in yaml_out
    assert "resourceVersion:" in yaml_out
