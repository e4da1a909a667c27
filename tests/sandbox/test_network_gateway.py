"""Ingress path fan-out and HTTPRoute weighted, header and cookie routing, served by the
sandbox's local L7 gateway with their status filled in as GKE's controllers fill it."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections import Counter

import pytest
from kubernetes import client

from sandbox.network.routes import Backend, RouteMatch, WeightedChoice, ingress_table
from sandbox.testing import wait_for
from tests.sandbox.process_support import STANDIN, process_sandbox, unique

GATEWAY_API = ("gateway.networking.k8s.io", "v1")


@pytest.fixture(scope="module")
def sbx(tmp_path_factory):
    proc = process_sandbox(tmp_path_factory.mktemp("gateway-sandbox"))
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def papi(sbx):
    api = sbx.api()
    yield api
    api.close()


@pytest.fixture(scope="module")
def versions(papi):
    """Namespace with Services v1 and v2, one ready stand-in pod each."""
    ns = unique("gw")
    core = client.CoreV1Api(papi)
    core.create_namespace({"metadata": {"name": ns}})
    for version in ("v1", "v2"):
        labels = {"app": "pets", "version": version}
        core.create_namespaced_pod(
            ns,
            {
                "metadata": {"name": f"pets-{version}", "labels": labels},
                "spec": {"containers": [{
                    "name": "web", "image": STANDIN, "args": ["--quiet"],
                    "ports": [{"containerPort": 8080}],
                    "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
                }]},
            },
        )  # fmt: skip
        core.create_namespaced_service(
            ns,
            {
                "metadata": {"name": f"pets-{version}"},
                "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]},
            },
        )
    for version in ("v1", "v2"):
        wait_for(
            lambda v=version: [
                a
                for s in core.read_namespaced_endpoints(f"pets-{v}", ns).subsets or []
                for a in s.addresses or []
            ],
            f"pets-{version} ready",
        )
    yield ns
    core.delete_namespace(ns)


def _get(url: str, headers: dict | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def _serving(url: str) -> bool:
    try:
        return _get(url)[0] == 200
    except urllib.error.URLError:
        return False  # the listener is still being bound


def test_an_ingress_fans_out_by_path_and_gets_its_address(papi, versions):
    ns = versions
    paths = [
        {"path": f"/{v}", "pathType": "Prefix",
         "backend": {"service": {"name": f"pets-{v}", "port": {"number": 80}}}}
        for v in ("v1", "v2")
    ]  # fmt: skip
    net = client.NetworkingV1Api(papi)
    net.create_namespaced_ingress(
        ns, {"metadata": {"name": "ab"}, "spec": {"rules": [{"http": {"paths": paths}}]}}
    )
    ip = wait_for(
        lambda: (net.read_namespaced_ingress("ab", ns).status.load_balancer.ingress or [None])[0],
        "the Ingress address",
    ).ip
    assert ip.startswith("127.")
    wait_for(lambda: _serving(f"http://{ip}/v1/predict"), "the gateway serving")
    assert _get(f"http://{ip}/v1/predict") == (200, "pod=pets-v1\n")
    assert _get(f"http://{ip}/v2") == (200, "pod=pets-v2\n")
    assert _get(f"http://{ip}/v12") == (404, "default backend - 404")
    events = client.CoreV1Api(papi).list_namespaced_event(ns).items
    assert any(e.reason == "Sync" and e.message == f"IP is now {ip}" for e in events)


def test_an_httproute_splits_by_weight_header_and_cookie(papi, versions):
    ns = versions
    custom = client.CustomObjectsApi(papi)
    custom.create_namespaced_custom_object(*GATEWAY_API, ns, "gateways", {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": "external"},
        "spec": {"gatewayClassName": "gke-l7-global-external-managed",
                 "listeners": [{"name": "http", "protocol": "HTTP", "port": 80}]},
    })  # fmt: skip
    custom.create_namespaced_custom_object(*GATEWAY_API, ns, "httproutes", {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": "split"},
        "spec": {
            "parentRefs": [{"name": "external"}],
            "rules": [
                {"backendRefs": [{"name": "pets-v1", "port": 80, "weight": 80},
                                 {"name": "pets-v2", "port": 80, "weight": 20}]},
                {"matches": [{"headers": [{"name": "X-Canary", "value": "yes"}]}],
                 "backendRefs": [{"name": "pets-v2", "port": 80}]},
                {"matches": [{"headers": [{"name": "Cookie", "type": "RegularExpression",
                                           "value": "(^|; )variant=b(;|$)"}]}],
                 "backendRefs": [{"name": "pets-v2", "port": 80}]},
            ],
        },
    })  # fmt: skip

    def gateway_status():
        gw = custom.get_namespaced_custom_object(*GATEWAY_API, ns, "gateways", "external")
        status = gw.get("status") or {}
        programmed = any(
            c["type"] == "Programmed" and c["status"] == "True"
            for c in status.get("conditions") or []
        )
        return programmed and status

    status = wait_for(gateway_status, "the Gateway programmed")
    ip = status["addresses"][0]["value"]
    assert status["listeners"][0]["attachedRoutes"] == 1
    route = custom.get_namespaced_custom_object(*GATEWAY_API, ns, "httproutes", "split")
    parent = route["status"]["parents"][0]
    assert parent["controllerName"] == "networking.gke.io/gateway"
    assert {c["type"]: c["status"] for c in parent["conditions"]} == {
        "Accepted": "True",
        "ResolvedRefs": "True",
    }
    wait_for(lambda: _serving(f"http://{ip}/"), "the gateway serving")
    shares = Counter(_get(f"http://{ip}/predict")[1] for _ in range(50))
    assert shares == {"pod=pets-v1\n": 40, "pod=pets-v2\n": 10}
    assert {_get(f"http://{ip}/", {"X-Canary": "yes"})[1] for _ in range(5)} == {"pod=pets-v2\n"}
    cookie = {"Cookie": "session=1; variant=b"}
    assert {_get(f"http://{ip}/", cookie)[1] for _ in range(5)} == {"pod=pets-v2\n"}


def test_weighted_choice_gives_exact_shares_every_cycle():
    a, b = Backend("ns", "a", 80), Backend("ns", "b", 80)
    choice = WeightedChoice([(a, 80), (b, 20)])
    picks = [choice.pick() for _ in range(2000)]
    assert picks.count(a) == 1600
    assert all(picks[i : i + 5].count(b) == 1 for i in range(0, 2000, 5))
    assert WeightedChoice([(a, 0)]).pick() is None


def test_prefix_paths_match_whole_elements_and_exact_paths_win():
    ingress = {
        "metadata": {"namespace": "ns"},
        "spec": {"rules": [{"http": {"paths": [
            {"path": "/v1", "pathType": "Prefix",
             "backend": {"service": {"name": "prefix", "port": {"number": 80}}}},
            {"path": "/v1/exact", "pathType": "Exact",
             "backend": {"service": {"name": "exact", "port": {"number": 80}}}},
        ]}}]},
    }  # fmt: skip
    table = ingress_table(ingress)
    assert table.route("h", "/v1/exact").service == "exact"
    assert table.route("h", "/v1/exact/more").service == "prefix"
    assert table.route("h", "/v1").service == "prefix"
    assert table.route("h", "/v10") is None
    assert RouteMatch(path="/api").holds("GET", "/api/x", {}, {})
    assert not RouteMatch(path="/api", method="POST").holds("GET", "/api", {}, {})
