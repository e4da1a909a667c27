"""The last lines of pods nobody was following, kept when the pods go: a real watcher (in this
process, whose pod hook is the one DeploymentsConfig.ready registered), the session's real
Celery worker reading the logs, and a sandbox of this module's own whose pods take three
seconds to terminate (the shared one kills them at once; real clusters give 30 s)."""

from __future__ import annotations

import json
import threading
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client

from controlplane.asgi import application
from controlplane.broadcast import BroadcastLoop
from controlplane.live.cache import live_cache
from controlplane.live.watcher import Watcher
from deployments.logs.store import StreamRef, kept_lines
from sandbox.testing import SandboxProcess
from tests.fixtures.controlplane import kubectl_json, wait_for

from .logs_support import make_pod, script_logs, wait_for_log

pytestmark = pytest.mark.django_db(transaction=True)

LINES = [f'level=info msg="step {i}" loss={1 / i:.3f}' for i in range(1, 31)]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    proc = SandboxProcess(
        tmp_path_factory.mktemp("kept-sandbox"),
        nodes=1,
        gpu_nodes=0,
        config={"termination_seconds": 3.0, "termination_max_seconds": 5.0},
    )
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def watching(sandbox_cluster, celery_worker):
    watcher = Watcher(
        cluster_source=lambda: {sandbox_cluster.name: sandbox_cluster.connection()},
        cache=live_cache(),
        publisher=BroadcastLoop(),
        kinds=["pods"],
        poll_interval=0.2,
        watch_timeout=5,
    )
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(
            lambda: live_cache().meta(sandbox_cluster.name, "pods").get("synced") == "1",
            what="the watcher to sync pods",
        )
        yield celery_worker
    finally:
        stop.set()
        thread.join(15)


def _download(client, cluster, namespace, pod, container="app"):
    return client.get(
        f"/api/v1/clusters/{cluster.name}/namespaces/{namespace}/pods/{pod}/log/",
        {"container": container, "timestamps": "true"},
    )


def _kept_download(client, cluster, namespace, pod, container="app") -> str:
    """The download once it answers from the kept lines, and the pod's end is recorded."""

    def served():
        response = _download(client, cluster, namespace, pod, container)
        if response.status_code != 200 or response.get("X-Log-Source") != "kept":
            return None
        _lines, meta = kept_lines(stream=StreamRef(cluster.name, namespace, pod, container))
        return meta.get("state") == "ended" and response.content.decode()

    return wait_for(served, timeout=30, interval=0.3, what=f"kept lines of {pod}/{container}")


def _websocket_backlog(client, cluster, namespace, pod) -> tuple[str, list[str]]:
    """What the live viewer's websocket sends first for the pod: (state, "ts text" lines)."""
    cookie = (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())
    headers = [(b"host", b"127.0.0.1"), (b"origin", b"http://127.0.0.1"), cookie]
    sub = {
        "cluster": cluster.name,
        "kind": "logs",
        "namespace": namespace,
        "pod": pod,
        "container": "app",
    }

    async def backlog():
        ws = WebsocketCommunicator(application, "/ws/live/", headers=headers)
        connected, _ = await ws.connect()
        assert connected
        await ws.send_json_to({"subscribe": sub})
        try:
            while True:
                message = await ws.receive_json_from(timeout=20)
                if message.get("type") == "logs.backlog":
                    return message
        finally:
            await ws.disconnect()

    message = async_to_sync(backlog)()
    return message["state"], [f"{ts} {text}" for _cursor, ts, text in message["lines"]]


def _texts(body: str) -> list[str]:
    return [line.partition(" ")[2] for line in body.splitlines()]


def test_a_pod_nobody_viewed_keeps_its_last_lines_after_it_is_deleted(
    sandbox, sandbox_cluster, kube_namespace, watching, make_user, api_client_for
):
    rule = script_logs(
        sandbox, kube_namespace, startupLogLines=LINES, logLines=[], logLinesPerSecond=0
    )
    try:
        pod = make_pod(sandbox, kube_namespace)
        wait_for_log(sandbox, kube_namespace, pod, "app", "step 30")
        deleted = sandbox.kubectl("delete", "pod", "-n", kube_namespace, pod, "--wait=true")
        assert deleted.returncode == 0, deleted.stderr
    finally:
        sandbox.script(f"behaviors/{rule}", method="DELETE")
    user = make_user(role="viewer", cluster=sandbox_cluster)
    body = _kept_download(api_client_for(user), sandbox_cluster, kube_namespace, pod)
    texts = _texts(body)
    assert texts[: len(LINES)] == LINES
    # Read while it terminated: the SIGTERM it got is among its last lines.
    assert any("received SIGTERM" in text for text in texts)
    assert all(line.split(" ", 1)[0].endswith("Z") for line in body.splitlines())
    client = Client()
    client.force_login(user)
    html = client.get(f"/c/{sandbox_cluster.name}/ns/{kube_namespace}/pods/{pod}/logs/")
    html = html.content.decode()
    assert '<option value="app" selected>' in html
    assert f"Pod {pod} is gone: deleted at" in html
    assert f"Showing the {len(texts)} kept lines." in html
    assert _websocket_backlog(client, sandbox_cluster, kube_namespace, pod) == (
        "ended",
        body.splitlines(),
    )
    # Termination is a run of pod events (deletionTimestamp, container states): one read.
    assert watching.log().count(f"/{pod} container app (pod deleting)") == 1


def test_a_finished_jobs_pod_removed_by_its_ttl_keeps_its_lines(
    sandbox, sandbox_cluster, kube_namespace, watching, make_user, api_client_for
):
    rule = script_logs(
        sandbox,
        kube_namespace,
        startupLogLines=["epoch 1 loss=0.9", "epoch 2 loss=0.5", "saved model"],
        logLines=[],
        logLinesPerSecond=0,
        runSeconds=1,
    )
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "train", "namespace": kube_namespace},
        "spec": {
            "ttlSecondsAfterFinished": 1,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "train", "image": "example/train:1"}],
                }
            },
        },
    }
    try:
        created = sandbox.kubectl("apply", "-f", "-", input=json.dumps(job))
        assert created.returncode == 0, created.stderr
        pods = wait_for(
            lambda: kubectl_json(
                sandbox, "get", "pods", "-n", kube_namespace, "-l", "job-name=train"
            )["items"],
            what="the job's pod",
        )
        pod = pods[0]["metadata"]["name"]
        wait_for(
            lambda: not kubectl_json(sandbox, "get", "pods", "-n", kube_namespace)["items"],
            timeout=30,
            what="the job and its pod to be removed by the TTL",
        )
    finally:
        sandbox.script(f"behaviors/{rule}", method="DELETE")
    user = make_user(role="viewer", cluster=sandbox_cluster)
    body = _kept_download(api_client_for(user), sandbox_cluster, kube_namespace, pod, "train")
    assert _texts(body) == ["epoch 1 loss=0.9", "epoch 2 loss=0.5", "saved model", _DONE]


_DONE = 'level=info msg="done, exiting"'


def test_a_crashed_containers_previous_instance_is_kept_after_its_pod_is_deleted(
    sandbox, sandbox_cluster, kube_namespace, watching, make_user, api_client_for
):
    rule = script_logs(
        sandbox,
        kube_namespace,
        logLines=["working"],
        logLinesPerSecond=5,
        crashAfterSeconds=1.5,
    )
    try:
        pod = make_pod(sandbox, kube_namespace)
        stream = StreamRef(sandbox_cluster.name, kube_namespace, pod, "app")
        # The first instance's lines are read as "previous" once it has restarted.
        wait_for(
            lambda: any("restarts=0" in line[2] for line in kept_lines(stream=stream)[0]),
            timeout=40,
            what="the first instance's lines kept",
        )
        deleted = sandbox.kubectl("delete", "pod", "-n", kube_namespace, pod, "--wait=true")
        assert deleted.returncode == 0, deleted.stderr
    finally:
        sandbox.script(f"behaviors/{rule}", method="DELETE")
    user = make_user(role="viewer", cluster=sandbox_cluster)
    body = _kept_download(api_client_for(user), sandbox_cluster, kube_namespace, pod)
    texts = _texts(body)
    starts = [t for t in texts if 'msg="starting app"' in t]
    assert starts[0].endswith("restarts=0")
    assert len(starts) >= 2, "the first instance and a later one"
    assert any("fatal error, exiting" in t for t in texts), "the crashed instance's last line"
    # Each instance was read more than once (restart, deletion): no line is kept twice.
    assert len(body.splitlines()) == len(set(body.splitlines()))


def test_a_pod_gone_before_its_lines_were_read_is_recorded_not_dropped(
    sandbox_cluster, kube_namespace, caplog
):
    from deployments.logs.keep import pod_log_keep

    pod = f"gone-{uuid.uuid4().hex[:6]}"
    with caplog.at_level("WARNING", logger="deployments.logs.keep"):
        result = pod_log_keep(
            cluster=sandbox_cluster.name,
            namespace=kube_namespace,
            pod=pod,
            uid=str(uuid.uuid4()),
            container="app",
            previous=False,
            gone=False,
            why="pod deleting",
        )
    assert result == "unread"
    assert f"no lines could be read of sandbox/{kube_namespace}/{pod} container app" in caplog.text
    lines, meta = kept_lines(stream=StreamRef(sandbox_cluster.name, kube_namespace, pod, "app"))
    assert lines == []
    assert meta["state"] == "ended"
    assert meta["reason"].startswith("pod deleted; no lines could be read")
