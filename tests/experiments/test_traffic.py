"""Requests really split as an experiment declares: a sandbox with the process runtime runs
stand-in serving pods, and its local L7 gateway serves the routing objects the experiment wrote
(the Ingress, the HTTPRoute on the Gateway named by EXPERIMENTS_GATEWAY_NAME)."""

import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from kubernetes import client

from controlplane.clusters.services import cluster_register_sandbox
from sandbox.testing import wait_for
from tests.sandbox.process_support import STANDIN, process_sandbox, unique

from .helpers import finished

pytestmark = [pytest.mark.django_db(transaction=True)]
GATEWAY_API = ("gateway.networking.k8s.io", "v1")


@pytest.fixture(scope="module")
def proc_sandbox(tmp_path_factory):
    proc = process_sandbox(tmp_path_factory.mktemp("experiments-traffic"))
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def setup(proc_sandbox, make_user, api_client_for, settings):
    cluster = cluster_register_sandbox(name="proc", path=Path(proc_sandbox.kubeconfig))
    api = proc_sandbox.api()
    core = client.CoreV1Api(api)
    ns = unique("exp")
    core.create_namespace({"metadata": {"name": ns}})
    for name in ("model-a", "model-b"):
        core.create_namespaced_pod(
            ns,
            {
                "metadata": {"name": name, "labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": STANDIN,
                            "args": ["--quiet"],
                            "ports": [{"containerPort": 8080}],
                            "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
                        }
                    ]
                },
            },
        )
        core.create_namespaced_service(
            ns,
            {
                "metadata": {"name": name},
                "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]},
            },
        )
    for name in ("model-a", "model-b"):
        wait_for(
            lambda n=name: [
                a
                for s in core.read_namespaced_endpoints(n, ns).subsets or []
                for a in s.addresses or []
            ],
            f"{name} ready",
        )
    client.CustomObjectsApi(api).create_namespaced_custom_object(
        *GATEWAY_API,
        ns,
        "gateways",
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "Gateway",
            "metadata": {"name": settings.EXPERIMENTS_GATEWAY_NAME},
            "spec": {
                "gatewayClassName": "gke-l7-global-external-managed",
                "listeners": [{"name": "http", "protocol": "HTTP", "port": 80}],
            },
        },
    )
    engineer = api_client_for(make_user("mle", role="engineer", cluster=cluster))
    yield engineer, api, ns
    core.delete_namespace(ns)
    api.close()


def get(url: str, headers: dict | None = None) -> tuple[int, str, dict]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.read().decode(), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(), dict(err.headers)


def serving(url: str) -> bool:
    try:
        return get(url)[0] == 200
    except urllib.error.URLError:
        return False


def start(engineer, ns, routing, weights) -> None:
    url = f"/api/v1/clusters/proc/namespaces/{ns}/experiments/"
    body = {
        "name": "ab",
        "routing": routing,
        "primary_metric": "conversion",
        "variants": [
            {"name": "a", "deployment": "model-a", "service": "model-a", "weight": weights[0],
             "control": True},
            {"name": "b", "deployment": "model-b", "service": "model-b", "weight": weights[1]},
        ],
    }  # fmt: skip
    finished(engineer, engineer.post(url, body, format="json"))
    finished(engineer, engineer.post(f"{url}ab/start/"))


def gateway_address(api, ns, name) -> str:
    def programmed():
        gw = client.CustomObjectsApi(api).get_namespaced_custom_object(
            *GATEWAY_API, ns, "gateways", name
        )
        status = gw.get("status") or {}
        attached = sum(lst.get("attachedRoutes", 0) for lst in status.get("listeners") or [])
        return attached and status["addresses"][0]["value"]

    return wait_for(programmed, "the Gateway programmed with the experiment's route")


def test_a_weighted_experiment_splits_requests_in_its_declared_proportions(setup, settings):
    engineer, api, ns = setup
    start(engineer, ns, "weighted", (80, 20))
    ip = gateway_address(api, ns, settings.EXPERIMENTS_GATEWAY_NAME)
    wait_for(lambda: serving(f"http://{ip}/"), "the gateway serving")
    shares = Counter(get(f"http://{ip}/predict")[1] for _ in range(100))
    assert shares == {"pod=model-a\n": 80, "pod=model-b\n": 20}
    # Each variant can be tried by hand with the pin header.
    pinned = {get(f"http://{ip}/predict", {"x-variant": "b"})[1] for _ in range(5)}
    assert pinned == {"pod=model-b\n"}


def test_a_sticky_experiment_keeps_a_user_on_the_variant_their_cookie_names(setup, settings):
    engineer, api, ns = setup
    start(engineer, ns, "sticky", (50, 50))
    ip = gateway_address(api, ns, settings.EXPERIMENTS_GATEWAY_NAME)
    wait_for(lambda: serving(f"http://{ip}/"), "the gateway serving")
    cookie = {"Cookie": "session=7; mlcp-exp-ab=b"}
    assert {get(f"http://{ip}/", cookie)[1] for _ in range(10)} == {"pod=model-b\n"}
    cookie = {"Cookie": "mlcp-exp-ab=a"}
    assert {get(f"http://{ip}/", cookie)[1] for _ in range(10)} == {"pod=model-a\n"}


def test_a_fanout_experiment_serves_each_variant_on_its_path(setup):
    engineer, api, ns = setup
    start(engineer, ns, "fanout", (50, 50))
    net = client.NetworkingV1Api(api)
    ip = wait_for(
        lambda: (net.read_namespaced_ingress("ab", ns).status.load_balancer.ingress or [None])[0],
        "the Ingress address",
    ).ip
    wait_for(lambda: serving(f"http://{ip}/a"), "the gateway serving")
    assert get(f"http://{ip}/a/predict")[1] == "pod=model-a\n"
    assert get(f"http://{ip}/b/predict")[1] == "pod=model-b\n"
