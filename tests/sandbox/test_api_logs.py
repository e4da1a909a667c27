"""The pods/log subresource: tailLines, sinceSeconds, timestamps, limitBytes, previous,
container choice and follow streams, through kubectl and the official client."""

from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from sandbox.testing import wait_for

LINES = [f"line {i}" for i in range(1, 6)]


def make_pod(core, ns: str, name: str, containers: tuple[str, ...] = ("main",)) -> None:
    core.create_namespaced_pod(
        ns,
        {
            "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"containers": [{"name": c, "image": "logger:1"} for c in containers]},
        },
    )


def running(core, ns: str, name: str):
    def check():
        pod = core.read_namespaced_pod(name, ns)
        return pod.status.phase == "Running" and pod

    return wait_for(check, f"pod {name} to run")


@pytest.fixture
def logging_pod(sandbox, sandbox_api, sandbox_namespace):
    sandbox.script(
        "behaviors", {"match": {"namespace": sandbox_namespace}, "startupLogLines": LINES}
    )
    core = client.CoreV1Api(sandbox_api)
    make_pod(core, sandbox_namespace, "talker")
    running(core, sandbox_namespace, "talker")
    wait_for(
        lambda: "line 5" in core.read_namespaced_pod_log("talker", sandbox_namespace),
        "the startup lines",
    )
    return core, sandbox_namespace


def test_logs_return_the_lines_in_order(logging_pod):
    core, ns = logging_pod
    text = core.read_namespaced_pod_log("talker", ns)
    ours = [line for line in text.splitlines() if line.startswith("line ")]
    assert ours == LINES


def test_tail_lines_returns_the_last_lines(sandbox, logging_pod):
    _, ns = logging_pod
    out = sandbox.kubectl("logs", "talker", "-n", ns, "--tail=2", check=True).stdout
    assert len(out.splitlines()) == 2


def test_timestamps_prefix_each_line(logging_pod):
    core, ns = logging_pod
    text = core.read_namespaced_pod_log("talker", ns, timestamps=True, tail_lines=1)
    stamp, _, _ = text.partition(" ")
    assert stamp.endswith("Z")
    assert stamp[4] == "-"
    assert "T" in stamp


def test_limit_bytes_truncates_the_output(logging_pod):
    core, ns = logging_pod
    assert core.read_namespaced_pod_log("talker", ns, limit_bytes=4) == "line"


def test_since_seconds_drops_older_lines(logging_pod):
    core, ns = logging_pod
    assert "line 1" in core.read_namespaced_pod_log("talker", ns, since_seconds=3600)


def test_a_pod_with_two_containers_needs_a_container_name(sandbox, sandbox_api, logging_pod):
    core, ns = logging_pod
    make_pod(core, ns, "pair", ("web", "sidecar"))
    running(core, ns, "pair")
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod_log("pair", ns)
    assert err.value.status == 400
    assert "a container name must be specified for pod pair, choose one of: [web sidecar]" in (
        err.value.body
    )
    out = sandbox.kubectl("logs", "pair", "-c", "sidecar", "-n", ns, check=True).stdout
    assert "line 1" in out.splitlines()
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod_log("pair", ns, container="nope")
    assert "container nope is not valid for pod pair" in err.value.body


def test_previous_reads_the_log_of_the_restarted_container(sandbox, sandbox_api, sandbox_namespace):
    sandbox.script(
        "behaviors",
        {
            "match": {"namespace": sandbox_namespace},
            "startupLogLines": ["starting", "crashing"],
            "runSeconds": 0.2,
            "exitCode": 1,
        },
    )
    core = client.CoreV1Api(sandbox_api)
    make_pod(core, sandbox_namespace, "crasher")
    with pytest.raises(ApiException):
        core.read_namespaced_pod_log("crasher", sandbox_namespace, previous=True)
    wait_for(
        lambda: (
            (
                core.read_namespaced_pod("crasher", sandbox_namespace).status.container_statuses
                or [None]
            )[0]
            and core.read_namespaced_pod("crasher", sandbox_namespace)
            .status.container_statuses[0]
            .restart_count
            >= 1
        ),
        "a restart",
    )
    out = sandbox.kubectl(
        "logs", "crasher", "--previous", "-n", sandbox_namespace, check=True
    ).stdout
    lines = out.splitlines()
    assert lines.index("starting") < lines.index("crashing")


def test_follow_streams_until_the_container_ends(sandbox, sandbox_api, sandbox_namespace):
    sandbox.script(
        "behaviors",
        {
            "match": {"namespace": sandbox_namespace},
            "logLines": ["tick"],
            "logLinesPerSecond": 20,
            "runSeconds": 1.0,
            "exitCode": 0,
        },
    )
    core = client.CoreV1Api(sandbox_api)
    core.create_namespaced_pod(
        sandbox_namespace,
        {
            "metadata": {"name": "ticker"},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "t:1"}]},
        },
    )
    running(core, sandbox_namespace, "ticker")
    resp = core.read_namespaced_pod_log(
        "ticker", sandbox_namespace, follow=True, _preload_content=False
    )
    lines = []
    for chunk in resp.stream(1024):
        lines += chunk.decode().splitlines()
    resp.release_conn()
    assert lines.count("tick") >= 2
    final = core.read_namespaced_pod("ticker", sandbox_namespace)
    assert final.status.container_statuses[0].state.terminated is not None


def test_kubectl_logs_follow_for_a_deployment(sandbox, sandbox_namespace):
    sandbox.script(
        "behaviors",
        {
            "match": {"namespace": sandbox_namespace},
            "startupLogLines": ["ready"],
            "runSeconds": 1.0,
            "exitCode": 0,
        },
    )
    ns = ["-n", sandbox_namespace]
    sandbox.kubectl("create", "job", "once", "--image=t:1", *ns, check=True)
    core = client.CoreV1Api(sandbox.api())
    wait_for(
        lambda: any(
            p.status.phase == "Running"
            for p in core.list_namespaced_pod(
                sandbox_namespace, label_selector="job-name=once"
            ).items
        ),
        "the job's pod to run",
    )
    out = sandbox.kubectl("logs", "-f", "job/once", *ns, timeout=30, check=True).stdout
    assert "ready" in out.splitlines()


def test_since_time_skips_lines_written_before_it(sandbox, logging_pod):
    _, ns = logging_pod
    path = f"/api/v1/namespaces/{ns}/pods/talker/log?sinceTime=2999-01-01T00:00:00Z"
    status, body, _ = sandbox.request("GET", path, raw=True)
    assert status == 200
    assert body == b""
    status, body, _ = sandbox.request(
        "GET", f"/api/v1/namespaces/{ns}/pods/talker/log?sinceTime=2000-01-01T00:00:00Z", raw=True
    )
    assert b"line 1" in body


def test_the_sandbox_counts_follow_requests_per_container_opened_and_open(sandbox, logging_pod):
    core, ns = logging_pod

    def follows():
        items = sandbox.script("log-follows", method="GET")["items"]
        return [i for i in items if i["namespace"] == ns and i["pod"] == "talker"]

    assert follows() == []
    response = core.read_namespaced_pod_log(
        "talker", ns, follow=True, _preload_content=False, _request_timeout=(5, 30)
    )
    try:
        response.read(1)
        assert wait_for(
            lambda: (
                follows()
                == [{"namespace": ns, "pod": "talker", "container": "main", "opened": 1, "open": 1}]
            ),
            "the open follow to be counted",
        )
    finally:
        response.close()
    assert wait_for(
        lambda: follows()[0]["open"] == 0, "the closed follow to be counted as closed", timeout=15
    )
    assert follows()[0]["opened"] == 1
