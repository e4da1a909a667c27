"""The process runtime: images the runtime map names run as real local processes."""

from __future__ import annotations

import base64
import signal
import urllib.request

import pytest
from kubernetes import client

from sandbox.testing import wait_for
from tests.sandbox.process_support import (
    STANDIN,
    container_status,
    get_pod,
    logs,
    pid_alive,
    pid_from_log,
    process_sandbox,
    standin_pod,
    unique,
    wait_running,
)


@pytest.fixture(scope="module")
def sbx(tmp_path_factory):
    proc = process_sandbox(tmp_path_factory.mktemp("process-sandbox"))
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
    name = unique("proc")
    core = client.CoreV1Api(papi)
    core.create_namespace({"metadata": {"name": name}})
    yield name
    core.delete_namespace(name)


def test_a_process_pod_runs_with_its_env_on_its_own_loopback_address(papi, pns):
    core = client.CoreV1Api(papi)
    core.create_namespaced_config_map(
        pns, {"metadata": {"name": "cfg"}, "data": {"mode": "fast", "level": "debug"}}
    )
    core.create_namespaced_secret(
        pns,
        {"metadata": {"name": "creds"}, "data": {"token": base64.b64encode(b"s3cret").decode()}},
    )
    env = [
        {"name": "GREETING", "value": "hello"},
        {"name": "SHOUT", "value": "$(GREETING) world"},
        {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "mode"}}},
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
        {"name": "MY_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "MY_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
    ]
    names = ["SHOUT", "MODE", "TOKEN", "MY_IP", "MY_NAME", "CFG_level", "HOST"]
    for name in ("one", "two"):
        core.create_namespaced_pod(
            pns,
            standin_pod(
                name,
                "--print-env",
                *names,
                container={
                    "env": env,
                    "envFrom": [{"prefix": "CFG_", "configMapRef": {"name": "cfg"}}],
                },
            ),
        )
    pods = [wait_running(papi, pns, name) for name in ("one", "two")]
    ips = [p["status"]["podIP"] for p in pods]
    assert all(ip.startswith("127.") for ip in ips)
    assert ips[0] != ips[1]
    text = wait_for(lambda: "listening" in logs(papi, pns, "one") and logs(papi, pns, "one"), "log")
    wait_for(lambda: "listening" in logs(papi, pns, "two"), "the second pod listening")
    assert "env SHOUT=hello world" in text
    assert "env MODE=fast" in text
    assert "env TOKEN=s3cret" in text
    assert f"env MY_IP={ips[0]}" in text
    assert "env MY_NAME=one" in text
    assert "env CFG_level=debug" in text
    assert f"env HOST={ips[0]}" in text
    assert "a line on stderr" in text
    # both listen on the same container port, each on its own address
    for name, ip in zip(("one", "two"), ips, strict=True):
        with urllib.request.urlopen(f"http://{ip}:8080/", timeout=5) as resp:
            assert resp.read().decode() == f"pod={name}\n"
    assert container_status(papi, pns, "one")["containerID"].startswith("process://")


def test_a_crashing_program_goes_into_crash_loop_back_off_with_its_previous_log(papi, pns):
    client.CoreV1Api(papi).create_namespaced_pod(
        pns, standin_pod("crash", "--exit-after", "0.2", "--exit-code", "3", "--no-listen")
    )
    status = wait_for(
        lambda: (
            (s := container_status(papi, pns, "crash"))
            and s.get("restartCount", 0) >= 2
            and (s.get("state") or {}).get("waiting", {}).get("reason") == "CrashLoopBackOff"
            and s
        ),
        "CrashLoopBackOff",
    )
    last = status["lastState"]["terminated"]
    assert last["exitCode"] == 3
    assert last["reason"] == "Error"
    previous = logs(papi, pns, "crash", previous=True)
    assert "exiting with 3" in previous
    assert "standin pid=" in previous


def test_a_job_pod_that_exits_zero_completes_the_job(papi, pns):
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "train"},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "trainer",
                            "image": STANDIN,
                            "args": ["--exit-after", "0.1", "--no-listen"],
                        }
                    ],
                }
            },
        },
    }
    batch = client.BatchV1Api(papi)
    batch.create_namespaced_job(pns, job)
    wait_for(
        lambda: (batch.read_namespaced_job("train", pns).status.succeeded or 0) == 1,
        "the job to complete",
    )


def test_deletion_sends_sigterm_and_kills_after_the_grace_period(papi, pns, tmp_path):
    record = tmp_path / "signals"
    core = client.CoreV1Api(papi)
    core.create_namespaced_pod(
        pns,
        standin_pod(
            "stubborn",
            "--ignore-term",
            "--record",
            str(record),
            terminationGracePeriodSeconds=3,
        ),
    )
    wait_running(papi, pns, "stubborn")
    pid = pid_from_log(papi, pns, "stubborn")
    core.delete_namespaced_pod("stubborn", pns)
    wait_for(lambda: record.exists() and "SIGTERM" in record.read_text(), "SIGTERM delivered")
    # it ignores SIGTERM: the pod stays Terminating and the process lives on for now
    assert get_pod(papi, pns, "stubborn") is not None
    assert pid_alive(pid)
    wait_for(lambda: get_pod(papi, pns, "stubborn") is None, "the pod to go after its grace")
    assert not pid_alive(pid)


def test_a_program_that_exits_on_sigterm_ends_its_pod_before_the_grace_period(papi, pns):
    core = client.CoreV1Api(papi)
    core.create_namespaced_pod(pns, standin_pod("polite", terminationGracePeriodSeconds=600))
    wait_running(papi, pns, "polite")
    pid = pid_from_log(papi, pns, "polite")
    core.delete_namespaced_pod("polite", pns)
    wait_for(lambda: get_pod(papi, pns, "polite") is None, "the pod to go once its process exits")
    assert not pid_alive(pid)


def test_nothing_is_left_running_after_the_sandbox_stops_or_is_killed(tmp_path):
    for how in ("stop", "kill"):
        proc = process_sandbox(tmp_path / how).start()
        api = proc.api()
        try:
            client.CoreV1Api(api).create_namespaced_pod(
                "default", standin_pod("orphan", "--grandchild", "--ignore-term")
            )
            wait_running(api, "default", "orphan")
            pid = pid_from_log(api, "default", "orphan")
            child = pid_from_log(api, "default", "orphan", "grandchild pid=")
            assert pid_alive(pid)
            assert pid_alive(child)
            if how == "kill":
                proc.proc.send_signal(signal.SIGKILL)
            proc.stop()
            wait_for(lambda: not pid_alive(pid) and not pid_alive(child), f"no orphans ({how})")  # noqa: B023
        finally:
            api.close()
            proc.stop()


def test_the_process_pod_cap_leaves_further_pods_pending_with_an_event(tmp_path):
    proc = process_sandbox(tmp_path, config={"process_pod_limit": 1}).start()
    api = proc.api()
    core = client.CoreV1Api(api)
    try:
        core.create_namespaced_pod("default", standin_pod("first"))
        wait_running(api, "default", "first")
        core.create_namespaced_pod("default", standin_pod("second"))
        event = wait_for(
            lambda: [
                e
                for e in core.list_namespaced_event("default").items
                if e.involved_object.name == "second" and e.reason == "ProcessPodLimit"
            ],
            "the cap's event",
        )[0]
        assert "at most 1 process pods" in event.message
        assert "default/first" in event.message
        assert event.type == "Warning"
        assert get_pod(api, "default", "second")["status"]["phase"] == "Pending"
        core.delete_namespaced_pod("first", "default")
        wait_running(api, "default", "second")
    finally:
        api.close()
        proc.stop()


def test_kubectl_logs_follow_streams_a_process_until_it_exits(sbx, papi, pns):
    client.CoreV1Api(papi).create_namespaced_pod(
        pns,
        standin_pod("brief", "--exit-after", "1.5", "--exit-code", "0", "--no-listen",
                    restartPolicy="Never"),
    )  # fmt: skip
    wait_running(papi, pns, "brief")
    followed = sbx.kubectl("-n", pns, "logs", "-f", "brief", timeout=60)
    assert followed.returncode == 0
    assert followed.stdout.startswith("standin pid=")
    # the stream ended when the process did, with its last line
    assert followed.stdout.rstrip().endswith("exiting with 0")
