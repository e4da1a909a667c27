"""The simulated kubelet against the real sandbox: lifecycle, back-offs, logs, termination."""

from __future__ import annotations

import ipaddress

from kubernetes import client

from sandbox.testing import wait_for
from tests.sandbox.ctl_support import condition, events, ok, script

NAMESPACE_PREFIX = "kubelet"


def _pod(name, image="nginx:1.25", *, restart_policy="Always", **container):
    return {
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "restartPolicy": restart_policy,
            "containers": [{"name": "app", "image": image, **container}],
        },
    }


def _core(api):
    return client.CoreV1Api(api)


def _read(api, ns, name):
    return _core(api).read_namespaced_pod(name, ns)


def _container(api, ns, name):
    statuses = _read(api, ns, name).status.container_statuses
    return statuses[0] if statuses else None


def test_a_pod_runs_with_an_ip_from_its_nodes_pod_cidr_and_becomes_ready(api, ns):
    # A tag no other test uses, so the node really pulls it.
    image = f"ghcr.io/acme/web:{ns}"
    _core(api).create_namespaced_pod(ns, _pod("web", image, ports=[{"containerPort": 8080}]))

    pod = wait_for(
        lambda: (lambda p: condition(p, "Ready") and condition(p, "Ready").status == "True" and p)(
            _read(api, ns, "web")
        ),
        "the pod to be ready",
    )

    node = _core(api).read_node(pod.spec.node_name)
    assert ipaddress.ip_address(pod.status.pod_ip) in ipaddress.ip_network(node.spec.pod_cidr)
    internal = [a.address for a in node.status.addresses if a.type == "InternalIP"]
    assert pod.status.host_ip == internal[0]
    assert pod.status.phase == "Running"
    status = pod.status.container_statuses[0]
    assert status.ready
    assert status.started
    assert status.restart_count == 0
    assert status.container_id.startswith("containerd://")
    assert status.image == image
    assert "@sha256:" in status.image_id
    assert status.state.running.started_at is not None
    for cond_type in ("Initialized", "ContainersReady", "PodScheduled"):
        assert condition(pod, cond_type).status == "True"
    reasons = [e.reason for e in events(api, ns, name="web")]
    for reason in ("Scheduled", "Pulling", "Pulled", "Created", "Started"):
        assert reason in reasons


def test_a_crashing_container_goes_into_crash_loop_back_off_and_keeps_its_previous_log(
    sandbox, api, ns
):
    script(
        api,
        "POST",
        "behaviors",
        {
            "match": {"namespace": ns, "pod": "crasher"},
            "crashAfterSeconds": 0.05,
            "startupLogLines": ["loading model", "fatal: out of memory"],
            "logLines": [],
        },
    )
    _core(api).create_namespaced_pod(ns, _pod("crasher"))

    def in_back_off():
        status = _container(api, ns, "crasher")
        waiting = status and status.state.waiting
        return (
            waiting
            and waiting.reason == "CrashLoopBackOff"
            and status.restart_count >= 1
            and status
        )

    status = wait_for(in_back_off, "CrashLoopBackOff")

    assert "back-off" in status.state.waiting.message
    assert status.last_state.terminated.exit_code == 1
    assert status.last_state.terminated.reason == "Error"
    assert _read(api, ns, "crasher").status.phase == "Running"
    assert events(api, ns, name="crasher", reason="BackOff")[0].type == "Warning"
    previous = ok(sandbox.kubectl("logs", "-n", ns, "crasher", "--previous")).stdout
    assert "fatal: out of memory" in previous


def test_an_image_the_registry_lacks_ends_in_image_pull_back_off(api, ns):
    script(api, "POST", "registry", {"missingImages": ["registry.invalid/*"]})
    _core(api).create_namespaced_pod(ns, _pod("missing", image="registry.invalid/model:v9"))

    def backing_off():
        status = _container(api, ns, "missing")
        waiting = status and status.state.waiting
        return waiting and waiting.reason == "ImagePullBackOff" and waiting

    waiting = wait_for(backing_off, "ImagePullBackOff")

    assert waiting.message == 'Back-off pulling image "registry.invalid/model:v9"'
    assert _read(api, ns, "missing").status.phase == "Pending"
    messages = [e.message for e in events(api, ns, name="missing", reason="Failed")]
    assert "Error: ErrImagePull" in messages
    assert any(m.startswith('Failed to pull image "registry.invalid/model:v9"') for m in messages)


def test_a_pod_with_restart_policy_never_fails_with_its_exit_code(api, ns):
    script(
        api,
        "POST",
        "behaviors",
        {"match": {"namespace": ns, "pod": "once"}, "runSeconds": 0.05, "exitCode": 3},
    )
    _core(api).create_namespaced_pod(ns, _pod("once", restart_policy="Never"))

    pod = wait_for(
        lambda: (lambda p: p.status.phase == "Failed" and p)(_read(api, ns, "once")),
        "the pod to fail",
    )

    terminated = pod.status.container_statuses[0].state.terminated
    assert (terminated.exit_code, terminated.reason) == (3, "Error")
    assert condition(pod, "Ready").reason == "PodCompleted"


def test_readiness_waits_for_the_probes_initial_delay(api, ns):
    probe = {"httpGet": {"path": "/healthz", "port": 8080}, "initialDelaySeconds": 1}
    _core(api).create_namespaced_pod(ns, _pod("slow", readinessProbe=probe))

    status = wait_for(
        lambda: (lambda s: s and s.state.running and s)(_container(api, ns, "slow")), "running"
    )
    assert status.ready is False
    assert condition(_read(api, ns, "slow"), "Ready").reason == "ContainersNotReady"

    wait_for(lambda: _container(api, ns, "slow").ready, "the container to become ready")


def test_containers_write_logs_that_kubectl_logs_reads(sandbox, api, ns):
    script(
        api,
        "POST",
        "behaviors",
        {
            "match": {"namespace": ns, "pod": "chatty"},
            "startupLogLines": ["model loaded"],
            "logLines": ["served request"],
            "logLinesPerSecond": 50,
        },
    )
    _core(api).create_namespaced_pod(ns, _pod("chatty"))
    wait_for(lambda: _read(api, ns, "chatty").status.phase == "Running", "the pod to run")

    out = wait_for(
        lambda: (lambda r: r.stdout.count("served request") >= 3 and r.stdout)(
            sandbox.kubectl("logs", "-n", ns, "chatty")
        ),
        "log lines",
    )

    assert out.splitlines()[0] == "model loaded"


def test_deleting_a_pod_stops_its_containers_and_removes_it(sandbox, api, ns):
    _core(api).create_namespaced_pod(ns, _pod("doomed"))
    wait_for(lambda: _read(api, ns, "doomed").status.phase == "Running", "the pod to run")

    ok(sandbox.kubectl("delete", "pod", "-n", ns, "doomed", "--wait=true", "--timeout=30s"))

    assert not [p for p in _core(api).list_namespaced_pod(ns).items if p.metadata.name == "doomed"]
    (killing,) = events(api, ns, name="doomed", reason="Killing")
    assert killing.message == "Stopping container app"


def test_init_containers_run_to_completion_one_after_the_other_before_the_app(api, ns):
    pod = _pod("staged")
    pod["spec"]["initContainers"] = [
        {"name": "fetch-weights", "image": "google/cloud-sdk:slim"},
        {"name": "warm-cache", "image": "busybox"},
    ]
    _core(api).create_namespaced_pod(ns, pod)

    def initializing():
        p = _read(api, ns, "staged")
        cond = condition(p, "Initialized")
        return cond is not None and cond.status == "False" and p

    early = wait_for(initializing, "the pod to be initializing")
    assert early.status.phase == "Pending"
    assert early.status.container_statuses[0].state.waiting.reason == "PodInitializing"

    running = wait_for(
        lambda: (lambda p: p.status.phase == "Running" and p)(_read(api, ns, "staged")), "the app"
    )
    inits = running.status.init_container_statuses
    assert [s.name for s in inits] == ["fetch-weights", "warm-cache"]
    assert all(s.state.terminated.reason == "Completed" for s in inits)
    assert inits[0].state.terminated.finished_at <= inits[1].state.terminated.started_at
    assert condition(running, "Initialized").status == "True"


def test_a_failing_init_container_fails_a_pod_that_never_restarts(api, ns):
    script(
        api,
        "POST",
        "behaviors",
        {
            "match": {"namespace": ns, "container": "migrate"},
            "runSeconds": 0.05,
            "exitCode": 2,
        },
    )
    pod = _pod("blocked", restart_policy="Never")
    pod["spec"]["initContainers"] = [{"name": "migrate", "image": "busybox"}]
    _core(api).create_namespaced_pod(ns, pod)

    failed = wait_for(
        lambda: (lambda p: p.status.phase == "Failed" and p)(_read(api, ns, "blocked")), "Failed"
    )

    assert failed.status.init_container_statuses[0].state.terminated.exit_code == 2
    assert failed.status.container_statuses[0].state.waiting.reason == "PodInitializing"
