"""Services really route with the process runtime: LoadBalancer external IPs and cluster IPs
are loopback addresses the sandbox listens on, forwarding to ready endpoints round robin."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import urllib.request

import pytest
from kubernetes import client

from sandbox.kubelet.runtimemap import RuntimeMap
from sandbox.network import proxy
from sandbox.testing import running_cluster, until, wait_for
from tests.sandbox.process_support import STANDIN, logs, process_sandbox, unique

HTTP_READY = {"httpGet": {"path": "/readyz", "port": 8080}, "periodSeconds": 1,
              "failureThreshold": 1}  # fmt: skip


@pytest.fixture(scope="module")
def sbx(tmp_path_factory):
    proc = process_sandbox(tmp_path_factory.mktemp("network-sandbox"))
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


@pytest.fixture
def pns(papi):
    name = unique("net")
    core = client.CoreV1Api(papi)
    core.create_namespace({"metadata": {"name": name}})
    yield name
    core.delete_namespace(name)


def _deploy(papi, ns: str, name: str, replicas: int, service_type: str = "LoadBalancer") -> None:
    labels = {"app": name}
    container = {
        "name": "web",
        "image": STANDIN,
        "ports": [{"containerPort": 8080}],
        "readinessProbe": HTTP_READY,
    }
    client.AppsV1Api(papi).create_namespaced_deployment(
        ns,
        {
            "metadata": {"name": name},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
            },
        },
    )
    client.CoreV1Api(papi).create_namespaced_service(
        ns,
        {
            "metadata": {"name": name},
            "spec": {
                "type": service_type,
                "selector": labels,
                "ports": [{"port": 80, "targetPort": 8080}],
            },
        },
    )


def _ready_ips(papi, ns: str, name: str) -> list[str]:
    try:
        ep = client.CoreV1Api(papi).read_namespaced_endpoints(name, ns)
    except client.ApiException:
        return []
    return sorted(a.ip for s in ep.subsets or [] for a in s.addresses or [])


def _external_ip(papi, ns: str, name: str) -> str:
    def ip():
        svc = client.CoreV1Api(papi).read_namespaced_service(name, ns)
        ingress = (svc.status.load_balancer or client.V1LoadBalancerStatus()).ingress or []
        return ingress[0].ip if ingress else None

    return wait_for(ip, "an external IP")


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.read().decode()


def _pods(papi, ns: str, app: str) -> list:
    return client.CoreV1Api(papi).list_namespaced_pod(ns, label_selector=f"app={app}").items


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_curl_through_the_load_balancer_ip_reaches_every_ready_pod(papi, pns):
    _deploy(papi, pns, "hello", replicas=2)
    external = _external_ip(papi, pns, "hello")
    assert external.startswith("127.")
    wait_for(lambda: len(_ready_ips(papi, pns, "hello")) == 2, "two ready endpoints")
    names = {p.metadata.name for p in _pods(papi, pns, "hello")}
    answers = [
        subprocess.run(
            ["curl", "-sS", "--max-time", "5", f"http://{external}/"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for _ in range(4)
    ]
    # round robin: each pod answers every other request
    assert {a.strip().removeprefix("pod=") for a in answers} == names
    assert answers[0] == answers[2]
    assert answers[1] == answers[3]
    cluster_ip = client.CoreV1Api(papi).read_namespaced_service("hello", pns).spec.cluster_ip
    assert cluster_ip.startswith("127.")
    assert _get(f"http://{cluster_ip}:80/").removeprefix("pod=").strip() in names


def test_a_pod_failing_readiness_gets_no_more_traffic(papi, pns):
    _deploy(papi, pns, "split", replicas=2, service_type="ClusterIP")
    wait_for(lambda: len(_ready_ips(papi, pns, "split")) == 2, "two ready endpoints")
    sick, healthy = _pods(papi, pns, "split")
    _get(f"http://{sick.status.pod_ip}:8080/fail-ready")
    wait_for(
        lambda: _ready_ips(papi, pns, "split") == [healthy.status.pod_ip], "one ready endpoint"
    )
    cluster_ip = client.CoreV1Api(papi).read_namespaced_service("split", pns).spec.cluster_ip
    answers = {_get(f"http://{cluster_ip}/").strip() for _ in range(6)}
    assert answers == {f"pod={healthy.metadata.name}"}
    assert "request / 200" not in logs(papi, pns, sick.metadata.name).split("fail-ready")[-1]


def test_a_service_without_ready_endpoints_refuses_connections(papi, pns):
    _deploy(papi, pns, "empty", replicas=0)
    external = _external_ip(papi, pns, "empty")
    with pytest.raises(OSError):
        _get(f"http://{external}/")


def test_pods_and_services_proxy_reach_the_program_through_the_api_server(sbx, papi, pns):
    _deploy(papi, pns, "prox", replicas=1, service_type="ClusterIP")
    wait_for(lambda: len(_ready_ips(papi, pns, "prox")) == 1, "a ready endpoint")
    pod = _pods(papi, pns, "prox")[0].metadata.name
    status, body, _ = sbx.request(
        "GET", f"/api/v1/namespaces/{pns}/pods/{pod}:8080/proxy/hello?x=1", raw=True
    )
    assert (status, body.decode()) == (200, f"pod={pod}\n")
    assert "request /hello?x=1 200" in logs(papi, pns, pod)
    status, body, _ = sbx.request(
        "GET", f"/api/v1/namespaces/{pns}/services/prox:80/proxy/", raw=True
    )
    assert (status, body.decode()) == (200, f"pod={pod}\n")
    status, body, _ = sbx.request(
        "POST", f"/api/v1/namespaces/{pns}/pods/{pod}/proxy/", token=sbx.readonly_token
    )
    assert status == 403


def test_a_simulated_pod_answers_metrics_through_the_pod_proxy(sbx, papi, pns):
    pod = {
        "metadata": {"name": "sim", "labels": {"model": "pets"}},
        "spec": {"containers": [{"name": "m", "image": "nginx:1.27",
                                 "ports": [{"containerPort": 8080}]}]},
    }  # fmt: skip
    client.CoreV1Api(papi).create_namespaced_pod(pns, pod)
    wait_for(
        lambda: client.CoreV1Api(papi).read_namespaced_pod("sim", pns).status.phase == "Running",
        "the simulated pod running",
    )
    status, body, headers = sbx.request(
        "GET", f"/api/v1/namespaces/{pns}/pods/sim/proxy/metrics", raw=True
    )
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert 'inference_requests_total{code="200",endpoint="predict",model_name="pets"' in (
        body.decode()
    )
    status, body, _ = sbx.request("GET", f"/api/v1/namespaces/{pns}/pods/sim/proxy/healthz")
    assert status == 503
    assert "simulated" in body["message"]


def test_a_privileged_port_it_may_not_bind_is_served_at_an_offset_with_an_event(monkeypatch):
    """As root every port binds, so the refusal an unprivileged user gets is played here."""
    real_listen = proxy.listen

    async def unprivileged_listen(host, port, backends, relay):
        if port < 1024:
            raise PermissionError(13, "Permission denied")
        return await real_listen(host, port, backends, relay)

    monkeypatch.setattr(proxy, "listen", unprivileged_listen)

    async def scenario():
        async with running_cluster(nodes=1, runtime_map=RuntimeMap()) as cluster:
            cluster.api.create(
                "services",
                {
                    "metadata": {"name": "web", "namespace": "default"},
                    "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
                },
            )
            address = await until(
                lambda: cluster.network.address_of("default", "web", 80), "the listener"
            )
            events = await until(
                lambda: [
                    e
                    for e in cluster.api.list("events", "default")
                    if e["reason"] == "PrivilegedPort"
                ],
                "the PrivilegedPort event",
            )
            return address, events[0]

    (host, port), event = asyncio.run(scenario())
    assert host.startswith("127.")
    assert port == 8080
    assert event["type"] == "Warning"
    assert f"cannot listen on {host}:80" in event["message"]
    assert "net.ipv4.ip_unprivileged_port_start=80" in event["message"]
    assert f"listening on {host}:8080 instead" in event["message"]


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_the_classic_gke_walk_through_works_with_kubectl_and_curl(sbx, pns):
    image = "us-docker.pkg.dev/google-samples/containers/gke/hello-app:2.0"
    sbx.kubectl("-n", pns, "create", "deployment", "hello-server", f"--image={image}", check=True)
    sbx.kubectl(
        "-n", pns, "expose", "deployment", "hello-server", "--type", "LoadBalancer",
        "--port", "80", "--target-port", "8080", check=True,
    )  # fmt: skip
    sbx.kubectl("-n", pns, "rollout", "status", "deployment/hello-server", "--timeout=60s",
                check=True)  # fmt: skip
    external = wait_for(
        lambda: sbx.kubectl(
            "-n", pns, "get", "service", "hello-server",
            "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}",
        ).stdout,
        "EXTERNAL-IP",
    )  # fmt: skip
    answer = wait_for(
        lambda: subprocess.run(
            ["curl", "-sS", "--max-time", "5", f"http://{external}/"],
            capture_output=True, text=True,
        ).stdout,
        "an answer",
    )  # fmt: skip
    lines = answer.splitlines()
    assert lines[:2] == ["Hello, world!", "Version: 2.0.0"]
    assert lines[2].startswith("Hostname: hello-server-")
