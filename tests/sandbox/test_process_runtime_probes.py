"""Probes of process pods are really executed, and their usage is really measured."""

from __future__ import annotations

import urllib.request

import pytest
from kubernetes import client

from sandbox.machinery.quantity import quantity_bytes
from sandbox.testing import wait_for
from tests.sandbox.process_support import (
    STANDIN,
    container_status,
    get_pod,
    logs,
    process_sandbox,
    standin_pod,
    unique,
    wait_running,
)


@pytest.fixture(scope="module")
def sbx(tmp_path_factory):
    proc = process_sandbox(
        tmp_path_factory.mktemp("probe-sandbox"), config={"process_sample_seconds": 0.2}
    )
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
    name = unique("probe")
    core = client.CoreV1Api(papi)
    core.create_namespace({"metadata": {"name": name}})
    yield name
    core.delete_namespace(name)


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.status


def _endpoints(papi, ns: str, name: str) -> tuple[list[str], list[str]]:
    try:
        ep = client.CoreV1Api(papi).read_namespaced_endpoints(name, ns)
    except client.ApiException:
        return [], []
    ready = [a.ip for s in ep.subsets or [] for a in s.addresses or []]
    unready = [a.ip for s in ep.subsets or [] for a in s.not_ready_addresses or []]
    return ready, unready


def _events(papi, ns: str, pod: str, reason: str) -> list:
    return [
        e
        for e in client.CoreV1Api(papi).list_namespaced_event(ns).items
        if e.involved_object.name == pod and e.reason == reason
    ]


HTTP_READY = {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 1,
              "failureThreshold": 1}  # fmt: skip


def test_a_failing_readiness_probe_takes_the_pod_out_of_its_service_endpoints(papi, pns):
    core = client.CoreV1Api(papi)
    core.create_namespaced_pod(
        pns, standin_pod("web", labels={"app": "web"}, container={"readinessProbe": HTTP_READY})
    )
    core.create_namespaced_service(
        pns,
        {
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
        },
    )
    ip = wait_running(papi, pns, "web")["status"]["podIP"]
    wait_for(lambda: _endpoints(papi, pns, "web")[0] == [ip], "the ready pod in the endpoints")
    assert container_status(papi, pns, "web")["ready"] is True
    assert _get(f"http://{ip}:8080/fail-ready") == 200
    wait_for(lambda: _endpoints(papi, pns, "web") == ([], [ip]), "the pod out of the endpoints")
    assert container_status(papi, pns, "web")["ready"] is False
    wanted = "Readiness probe failed: HTTP probe failed with statuscode: 503"
    wait_for(
        lambda: any(e.message == wanted for e in _events(papi, pns, "web", "Unhealthy")),
        "an Unhealthy event with the probe's answer",
    )


def test_a_failing_liveness_probe_restarts_the_container(papi, pns):
    liveness = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1,
                "initialDelaySeconds": 1, "failureThreshold": 2}  # fmt: skip
    client.CoreV1Api(papi).create_namespaced_pod(
        pns, standin_pod("live", container={"livenessProbe": liveness})
    )
    ip = wait_running(papi, pns, "live")["status"]["podIP"]
    wait_for(lambda: "listening on" in logs(papi, pns, "live"), "the process listening")
    assert _get(f"http://{ip}:8080/fail-live") == 200
    status = wait_for(
        lambda: (
            (s := container_status(papi, pns, "live")).get("restartCount", 0) >= 1
            and "running" in (s.get("state") or {})
            and s
        ),
        "a restart after the liveness failure",
    )
    assert status["lastState"]["terminated"]["exitCode"] == 0  # it exits on SIGTERM
    killing = wait_for(lambda: _events(papi, pns, "live", "Killing"), "a Killing event")[0]
    assert killing.message == "Container main failed liveness probe, will be restarted"
    # the new process answers its liveness probe again
    wait_for(lambda: "listening on" in logs(papi, pns, "live"), "the new process listening")
    assert _get(f"http://{ip}:8080/healthz") == 200


def test_tcp_and_exec_probes_gate_readiness(papi, pns, tmp_path):
    flag = tmp_path / "ready"
    core = client.CoreV1Api(papi)
    exec_probe = {"exec": {"command": ["test", "-e", str(flag)]}, "periodSeconds": 1}
    core.create_namespaced_pod(pns, standin_pod("exec", container={"readinessProbe": exec_probe}))
    tcp_probe = {"tcpSocket": {"port": 8080}, "periodSeconds": 1, "failureThreshold": 1}
    core.create_namespaced_pod(
        pns, standin_pod("tcp", "--no-listen", container={"readinessProbe": tcp_probe})
    )
    wait_running(papi, pns, "exec")
    wait_for(lambda: _events(papi, pns, "exec", "Unhealthy"), "the exec probe failing")
    assert container_status(papi, pns, "exec")["ready"] is False
    flag.write_text("")
    wait_for(lambda: container_status(papi, pns, "exec").get("ready"), "ready once the file exists")
    event = wait_for(lambda: _events(papi, pns, "tcp", "Unhealthy"), "the tcp probe failing")[0]
    assert event.message.startswith("Readiness probe failed: dial tcp 127.")
    assert container_status(papi, pns, "tcp")["ready"] is False


def test_metrics_show_the_memory_the_process_really_holds(sbx, papi, pns):
    client.CoreV1Api(papi).create_namespaced_pod(pns, standin_pod("holder", "--hold-mib", "64"))
    wait_running(papi, pns, "holder")
    path = f"/apis/metrics.k8s.io/v1beta1/namespaces/{pns}/pods/holder"

    def memory() -> int:
        status, body, _ = sbx.request("GET", path)
        return quantity_bytes(body["containers"][0]["usage"]["memory"]) if status == 200 else 0

    assert wait_for(lambda: memory() >= 64 * 2**20, "the held memory in metrics.k8s.io")


def test_a_process_over_its_memory_limit_is_oom_killed(papi, pns):
    limits = {"resources": {"limits": {"memory": "40Mi"}}}
    client.CoreV1Api(papi).create_namespaced_pod(
        pns, standin_pod("greedy", "--hold-mib", "80", restartPolicy="Never", container=limits)
    )
    status = wait_for(
        lambda: (container_status(papi, pns, "greedy").get("state") or {}).get("terminated"),
        "the container to be killed",
    )
    assert status["reason"] == "OOMKilled"
    assert status["exitCode"] == 137
    assert get_pod(papi, pns, "greedy")["status"]["phase"] == "Failed"


def test_real_cpu_load_drives_an_hpa_scale_up(papi, pns):
    labels = {"app": "busy"}
    container = {
        "name": "main",
        "image": STANDIN,
        "args": ["--burn", "0.15", "--no-listen"],
        "resources": {"requests": {"cpu": "20m"}},
    }
    client.AppsV1Api(papi).create_namespaced_deployment(
        pns,
        {
            "metadata": {"name": "busy"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
            },
        },
    )
    client.AutoscalingV2Api(papi).create_namespaced_horizontal_pod_autoscaler(
        pns,
        {
            "metadata": {"name": "busy"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "busy"},
                "minReplicas": 1,
                "maxReplicas": 2,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 100},
                        },
                    }
                ],
            },
        },
    )
    hpa = wait_for(
        lambda: (h := client.AutoscalingV2Api(papi).read_namespaced_horizontal_pod_autoscaler(
            "busy", pns)).status.desired_replicas == 2 and h,
        "the HPA to scale up on measured CPU",
        timeout=60,
    )  # fmt: skip
    # ~150m used against a 20m request: the utilization the HPA saw is far above its target
    assert hpa.status.current_metrics[0].resource.current.average_utilization > 200
