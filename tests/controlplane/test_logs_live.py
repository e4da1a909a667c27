"""The "logs" kind of the live websocket against the sandbox, through the full ASGI stack and
the real Redis channel layer: follow, tail, previous, container switch, one upstream stream
for many viewers, reconnect-and-resume, restarts, kept lines of a deleted pod, refusals."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client

from controlplane.asgi import application
from controlplane.audit.models import AuditEvent
from tests.fixtures.controlplane import wait_for

from .logs_support import kubectl_logs, make_pod, script_logs, wait_for_log

pytestmark = pytest.mark.django_db(transaction=True)

HEADERS = [(b"host", b"127.0.0.1"), (b"origin", b"http://127.0.0.1")]


@pytest.fixture(autouse=True)
def short_linger(settings):
    settings.LOGS_LINGER_SECONDS = 1


def _cookie(user) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


class Viewer:
    """One browser tab: a websocket that keeps every message and the lines it has shown."""

    def __init__(self, cookie):
        self.ws = WebsocketCommunicator(application, "/ws/live/", headers=[*HEADERS, cookie])
        self.messages: list[dict] = []
        self.cursor: int | None = None
        self.shown: list[list] = []  # [cursor, ts, text] in the order shown, duplicates dropped

    async def open(self):
        connected, _ = await self.ws.connect()
        assert connected

    async def send(self, message: dict):
        await self.ws.send_json_to(message)

    async def until(self, predicate, timeout: float = 20.0) -> dict:
        """Read messages until one satisfies `predicate`; returns it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"no matching message; last ones: {self.messages[-5:]}")
            try:
                message = await self.ws.receive_json_from(timeout=remaining)
            except TimeoutError:
                raise AssertionError(
                    f"no matching message; last ones: {self.messages[-3:]}"
                ) from None
            self.messages.append(message)
            self._show(message)
            if predicate(message):
                return message

    async def seen(self, predicate, timeout: float = 20.0) -> dict:
        """Like until(), but a matching message already received counts too."""
        for message in self.messages:
            if predicate(message):
                return message
        return await self.until(predicate, timeout)

    def _show(self, message: dict):
        # The protocol's rule: a line whose cursor the page already has is not shown again.
        if message.get("type") in ("logs.backlog", "logs.lines"):
            for line in message["lines"]:
                if self.cursor is None or line[0] > self.cursor:
                    self.shown.append(line)
                    self.cursor = line[0]

    def texts(self) -> list[str]:
        return [line[2] for line in self.shown]

    async def close(self):
        await self.ws.disconnect()


def _sub(cluster, namespace, pod, container="app", **extra) -> dict:
    return {
        "cluster": cluster.name,
        "kind": "logs",
        "namespace": namespace,
        "pod": pod,
        "container": container,
        **extra,
    }


def _is(kind):
    return lambda m: m.get("type") == kind


def _follows(sandbox, namespace, pod):
    items = sandbox.script("log-follows", method="GET")["items"]
    return [i for i in items if i["namespace"] == namespace and i["pod"] == pod]


@pytest.fixture
def chatty(sandbox, kube_namespace):
    """Containers in the namespace log 'tick N' ten times a second after three startup lines."""
    rule = script_logs(
        sandbox,
        kube_namespace,
        startupLogLines=["boot 1", "boot 2", "boot 3"],
        logLines=[f"tick {i}" for i in range(1, 100_000)],
        logLinesPerSecond=10,
    )
    yield
    sandbox.script(f"behaviors/{rule}", method="DELETE")


def test_a_viewer_gets_the_tail_it_asked_for_then_follows_live_lines_in_batches(
    sandbox, sandbox_cluster, kube_namespace, chatty, make_user
):
    pod = make_pod(sandbox, kube_namespace)
    wait_for_log(sandbox, kube_namespace, pod, "app", "tick 5")
    cookie = _cookie(make_user(role="viewer", cluster=sandbox_cluster))

    async def scenario():
        viewer = Viewer(cookie)
        await viewer.open()
        await viewer.send({"subscribe": _sub(sandbox_cluster, kube_namespace, pod, tail_lines=2)})
        await viewer.until(_is("subscribed"))
        backlog = await viewer.until(_is("logs.backlog"))
        await viewer.until(lambda m: m.get("type") == "logs.lines" and viewer.cursor > 25)
        await viewer.close()
        return backlog, viewer

    backlog, viewer = async_to_sync(scenario)()
    assert len(backlog["lines"]) == 2
    assert backlog["stream"] == {
        "cluster": sandbox_cluster.name,
        "namespace": kube_namespace,
        "pod": pod,
        "container": "app",
    }
    texts = viewer.texts()
    ticks = [int(t.split()[1]) for t in texts if t.startswith("tick ")]
    assert ticks == list(range(ticks[0], ticks[0] + len(ticks))), "in order, none lost"
    # Every line carries the API server's timestamp (the page strips it when asked to).
    assert all(line[1].endswith("Z") and "T" in line[1] for line in viewer.shown)
    cursors = [line[0] for line in viewer.shown]
    assert cursors == list(range(cursors[0], cursors[0] + len(cursors)))


def test_many_viewers_of_one_container_share_one_upstream_stream_closed_after_they_leave(
    sandbox, sandbox_cluster, kube_namespace, chatty, make_user
):
    pod = make_pod(sandbox, kube_namespace)
    wait_for_log(sandbox, kube_namespace, pod, "app", "tick 2")
    cookies = [_cookie(make_user(role="viewer", cluster=sandbox_cluster)) for _ in range(2)]

    async def scenario():
        viewers = [Viewer(cookies[i % 2]) for i in range(6)]
        for viewer in viewers:
            await viewer.open()
            await viewer.send({"subscribe": _sub(sandbox_cluster, kube_namespace, pod)})
            await viewer.until(_is("logs.backlog"))
        target = max(v.cursor or 0 for v in viewers) + 5
        for viewer in viewers:
            await viewer.until(lambda m, v=viewer: (v.cursor or 0) >= target)
        for viewer in viewers:
            await viewer.close()
        return viewers

    viewers = async_to_sync(scenario)()
    counted = _follows(sandbox, kube_namespace, pod)
    assert [(c["container"], c["opened"]) for c in counted] == [("app", 1)]
    last = min(v.cursor for v in viewers)
    common = [v.shown[[line[0] for line in v.shown].index(last)] for v in viewers]
    assert all(line == common[0] for line in common), "every viewer saw the same numbered line"
    # Linger is 1 s here: the upstream follow closes soon after the last viewer left.
    wait_for(
        lambda: _follows(sandbox, kube_namespace, pod)[0]["open"] == 0,
        timeout=30,
        what="the upstream follow to close after its viewers left",
    )


def test_a_reconnecting_viewer_resumes_after_its_cursor_without_duplicates_or_gaps(
    sandbox, sandbox_cluster, kube_namespace, chatty, make_user
):
    pod = make_pod(sandbox, kube_namespace)
    wait_for_log(sandbox, kube_namespace, pod, "app", "tick 2")
    cookie = _cookie(make_user(role="viewer", cluster=sandbox_cluster))

    async def scenario():
        first = Viewer(cookie)
        await first.open()
        await first.send({"subscribe": _sub(sandbox_cluster, kube_namespace, pod)})
        await first.until(_is("logs.backlog"))
        await first.until(lambda m: (first.cursor or 0) >= 10)
        await first.close()  # the network drops
        await asyncio.sleep(1.0)  # lines keep coming meanwhile
        second = Viewer(cookie)
        second.cursor, second.shown = first.cursor, list(first.shown)
        await second.open()
        sub = _sub(sandbox_cluster, kube_namespace, pod, cursor=first.cursor)
        await second.send({"subscribe": sub})
        backlog = await second.until(_is("logs.backlog"))
        await second.until(lambda m: (second.cursor or 0) >= first.cursor + 15)
        await second.close()
        return first.cursor, backlog, second

    cursor, backlog, viewer = async_to_sync(scenario)()
    assert backlog["lines"], "the lines written while away come back"
    assert backlog["lines"][0][0] == cursor + 1
    assert backlog["missed"] == 0
    cursors = [line[0] for line in viewer.shown]
    assert cursors == list(range(cursors[0], cursors[0] + len(cursors)))
    assert len(viewer.texts()) == len(set(viewer.texts())), "no line shown twice"


def test_switching_containers_and_the_previous_instance_of_a_crashed_one(
    sandbox, sandbox_cluster, kube_namespace, make_user
):
    crash = script_logs(
        sandbox,
        kube_namespace,
        container="app",
        startupLogLines=["app up"],
        logLines=[],
        logLinesPerSecond=0,
        crashAfterSeconds=0.5,
    )
    steady = script_logs(
        sandbox,
        kube_namespace,
        container="sidecar",
        startupLogLines=["sidecar up"],
        logLines=["sidecar tick"],
        logLinesPerSecond=5,
    )
    try:
        pod = make_pod(sandbox, kube_namespace, containers=("app", "sidecar"))
        wait_for(
            lambda: (
                sandbox.kubectl(
                    "logs", "-n", kube_namespace, pod, "-c", "app", "--previous"
                ).returncode
                == 0
            ),
            what="a previous instance of the crashing container",
        )
        previous = kubectl_logs(sandbox, kube_namespace, pod, "-c", "app", "--previous")
        cookie = _cookie(make_user(role="viewer", cluster=sandbox_cluster))

        async def scenario():
            viewer = Viewer(cookie)
            await viewer.open()
            sub = _sub(sandbox_cluster, kube_namespace, pod, container="app", previous=True)
            await viewer.send({"subscribe": sub})
            old = await viewer.until(_is("logs.backlog"))
            await viewer.send({"unsubscribe": sub})
            await viewer.until(_is("unsubscribed"))
            side = _sub(sandbox_cluster, kube_namespace, pod, container="sidecar")
            await viewer.send({"subscribe": side})
            now = await viewer.until(_is("logs.backlog"))
            last = max(line[0] for line in now["lines"])
            # Live lines, past what the backlog held (an overlap is ignored by cursor).
            live = await viewer.until(
                lambda m: m.get("type") == "logs.lines" and m["lines"][-1][0] > last
            )
            await viewer.close()
            return old, now, live, last

        old, now, live, last = async_to_sync(scenario)()
    finally:
        sandbox.script(f"behaviors/{crash}", method="DELETE")
        sandbox.script(f"behaviors/{steady}", method="DELETE")
    assert old["previous"] is True
    assert [line[2] for line in old["lines"]] == previous.splitlines()
    assert "app up" in [line[2] for line in old["lines"]]
    assert now["stream"]["container"] == "sidecar"
    assert "sidecar up" in [line[2] for line in now["lines"]]
    assert live["stream"]["container"] == "sidecar"
    assert {line[2] for line in live["lines"] if line[0] > last} == {"sidecar tick"}


def test_a_restarted_container_is_followed_into_its_new_instance(
    sandbox, sandbox_cluster, kube_namespace, make_user
):
    rule = script_logs(
        sandbox,
        kube_namespace,
        logLines=["working"],
        logLinesPerSecond=10,
        crashAfterSeconds=1.5,
    )
    try:
        pod = make_pod(sandbox, kube_namespace)
        wait_for_log(sandbox, kube_namespace, pod, "app", "working")
        cookie = _cookie(make_user(role="viewer", cluster=sandbox_cluster))

        async def scenario():
            viewer = Viewer(cookie)
            await viewer.open()
            await viewer.send({"subscribe": _sub(sandbox_cluster, kube_namespace, pod)})
            await viewer.until(_is("logs.backlog"))
            # The kubelet's startup line names the restart count of each instance.
            await viewer.until(lambda m: any("restarts=2" in t for t in viewer.texts()), timeout=40)
            await viewer.close()
            return viewer

        viewer = async_to_sync(scenario)()
    finally:
        sandbox.script(f"behaviors/{rule}", method="DELETE")
    texts = viewer.texts()
    assert any("fatal error, exiting" in t for t in texts), "the crashed instance's last line"
    assert [t for t in texts if "starting app" in t][-2:] == [
        t for t in texts if "restarts=1" in t or "restarts=2" in t
    ][-2:]


def test_the_lines_of_a_deleted_pod_are_kept_and_shown_with_when_it_went(
    sandbox, sandbox_cluster, kube_namespace, chatty, make_user, api_client_for
):
    pod = make_pod(sandbox, kube_namespace)
    wait_for_log(sandbox, kube_namespace, pod, "app", "tick 2")
    user = make_user(role="viewer", cluster=sandbox_cluster)
    cookie = _cookie(user)

    async def watch_it_go():
        viewer = Viewer(cookie)
        await viewer.open()
        await viewer.send({"subscribe": _sub(sandbox_cluster, kube_namespace, pod)})
        await viewer.until(_is("logs.backlog"))
        await viewer.until(lambda m: (viewer.cursor or 0) >= 6)
        deleted = await asyncio.to_thread(
            sandbox.kubectl, "delete", "pod", "-n", kube_namespace, pod, "--wait=true"
        )
        assert deleted.returncode == 0, deleted.stderr
        ended = await viewer.until(
            lambda m: m.get("type") == "logs.status" and m["state"] == "ended"
        )
        await viewer.close()
        return viewer, ended

    seen, ended = async_to_sync(watch_it_go)()
    assert ended["detail"] == "pod deleted"
    assert ended["ended_at"]

    async def come_back():
        viewer = Viewer(cookie)
        await viewer.open()
        await viewer.send({"subscribe": _sub(sandbox_cluster, kube_namespace, pod)})
        backlog = await viewer.until(_is("logs.backlog"))
        await viewer.close()
        return backlog

    backlog = async_to_sync(come_back)()
    assert backlog["state"] == "ended"
    assert backlog["ended_at"] == ended["ended_at"]
    assert [line[2] for line in backlog["lines"]][: len(seen.texts())] == seen.texts()
    assert any("SIGTERM" in line[2] for line in backlog["lines"])
    download = api_client_for(user).get(
        f"/api/v1/clusters/{sandbox_cluster.name}/namespaces/{kube_namespace}/pods/{pod}/log/",
        {"container": "app", "timestamps": "true"},
    )
    assert download.status_code == 200
    assert download["X-Log-Source"] == "kept"
    assert download.content.decode().splitlines() == [
        f"{ts} {text}" for _seq, ts, text in backlog["lines"]
    ]
    client = Client()
    client.force_login(user)
    page = client.get(f"/c/{sandbox_cluster.name}/ns/{kube_namespace}/pods/{pod}/logs/")
    html = page.content.decode()
    assert '<option value="app" selected>' in html, "the kept container is offered"
    assert f"Pod {pod} is gone: deleted at" in html
    assert f"Showing the {len(backlog['lines'])} kept lines." in html


def test_a_deployments_logs_follow_its_pods_as_one_is_replaced(
    sandbox, sandbox_cluster, kube_namespace, chatty, make_user, tmp_path
):
    from tests.fixtures.controlplane import kubectl_json, make_deployment

    make_deployment(sandbox, kube_namespace, tmp_path, name="web", replicas=2)

    def pods():
        items = kubectl_json(sandbox, "get", "pods", "-n", kube_namespace)["items"]
        running = [p for p in items if p["status"].get("phase") == "Running"]
        return len(running) == 2 and sorted(p["metadata"]["name"] for p in running)

    first_pods = wait_for(pods, what="two running pods")
    cookie = _cookie(make_user(role="viewer", cluster=sandbox_cluster))
    sub = {
        "cluster": sandbox_cluster.name,
        "kind": "logs",
        "namespace": kube_namespace,
        "deployment": "web",
        "tail_lines": 3,
    }

    async def scenario():
        viewer = Viewer(cookie)
        await viewer.open()
        await viewer.send({"subscribe": sub})
        await viewer.until(_is("subscribed"))
        backlog = await viewer.until(lambda m: m.get("type") == "logs.workload_backlog")
        gone = first_pods[0]
        deleted = await asyncio.to_thread(
            sandbox.kubectl, "delete", "pod", "-n", kube_namespace, gone, "--wait=false"
        )
        assert deleted.returncode == 0, deleted.stderr
        joined = await viewer.until(
            lambda m: (
                m.get("type") == "logs.workload_backlog"
                and all(s["pod"] not in first_pods for s in m["streams"])
            ),
            timeout=30,
        )
        replacement = joined["streams"][0]["pod"]
        await viewer.until(
            lambda m: m.get("type") == "logs.lines" and m["stream"]["pod"] == replacement
        )
        ended = await viewer.seen(
            lambda m: (
                m.get("type") == "logs.status"
                and m["stream"]["pod"] == gone
                and m["state"] == "ended"
            ),
            timeout=30,
        )
        await viewer.close()
        return backlog, joined, ended

    backlog, joined, ended = async_to_sync(scenario)()
    assert sorted(s["pod"] for s in backlog["streams"]) == first_pods
    assert len(backlog["lines"]) == 6, "three lines of each pod"
    stamps = [line[0] for line in backlog["lines"]]
    assert stamps == sorted(stamps), "interleaved in time order"
    assert {line[1] for line in backlog["lines"]} == set(first_pods)
    assert all(line[2] == "model" for line in backlog["lines"])
    assert joined["lines"], "the new pod's first lines"
    assert ended["detail"] == "pod deleted"


def test_refused_subscriptions_say_why_and_are_audited_once(
    sandbox, sandbox_cluster, kube_namespace, make_user
):
    narrow = make_user(role="viewer", cluster=sandbox_cluster, namespaces=["elsewhere"])
    viewer_user = make_user(role="viewer", cluster=sandbox_cluster)
    sandbox_cluster.logs_for_viewers = False
    sandbox_cluster.save()
    sub = _sub(sandbox_cluster, kube_namespace, "some-pod")

    async def scenario(cookie, times):
        viewer = Viewer(cookie)
        await viewer.open()
        answers = []
        for _ in range(times):
            await viewer.send({"subscribe": sub})
            answers.append(await viewer.until(lambda m: m.get("type") in ("error", "subscribed")))
        await viewer.close()
        return answers

    narrowed = async_to_sync(scenario)(_cookie(narrow), 1)
    kept_out = async_to_sync(scenario)(_cookie(viewer_user), 3)
    assert narrowed[0]["type"] == "error"
    assert f"namespace {kube_namespace}" in narrowed[0]["error"]
    assert [a["type"] for a in kept_out] == ["error"] * 3
    assert "keeps logs from viewers" in kept_out[0]["error"]
    audits = AuditEvent.objects.filter(actor=viewer_user, kind="pods/log", status="refused")
    assert audits.count() == 1
    assert audits.get().verb == "watch"


def test_bad_log_subscriptions_are_refused_naming_the_field(sandbox_cluster, make_user):
    cookie = _cookie(make_user(role="viewer", cluster=sandbox_cluster))
    cases = [
        ({"pod": "p"}, "subscription.container"),
        ({"pod": "p", "container": "c", "deployment": "d"}, "subscription.pod"),
        ({"pod": "p", "container": "c", "tail_lines": -1}, "subscription.tail_lines"),
        ({"pod": "p", "container": "c", "cursor": "x"}, "subscription.cursor"),
        ({"pod": "Bad_Name", "container": "c"}, "subscription.pod"),
        ({"deployment": "d", "containers": "app"}, "subscription.containers"),
    ]

    async def scenario():
        viewer = Viewer(cookie)
        await viewer.open()
        answers = []
        for extra, _field in cases:
            request = {"cluster": sandbox_cluster.name, "kind": "logs", "namespace": "ns", **extra}
            await viewer.send({"subscribe": request})
            answers.append(await viewer.until(_is("error")))
        await viewer.close()
        return answers

    answers = async_to_sync(scenario)()
    for (_extra, field), answer in zip(cases, answers, strict=True):
        assert answer["error"].startswith(field), answer


def test_a_stream_the_api_server_ends_is_reopened_from_its_last_timestamp_without_repeats(
    sandbox, sandbox_cluster, kube_namespace, make_user, settings
):
    # A follow that hears nothing for a second is treated as closed by the server.
    settings.LOGS_FOLLOW_READ_TIMEOUT = 1
    rule = script_logs(
        sandbox,
        kube_namespace,
        startupLogLines=["same words", "same words", "same words"],
        logLines=[f"slow {i}" for i in range(1, 1000)],
        logLinesPerSecond=0.4,
    )
    try:
        pod = make_pod(sandbox, kube_namespace)
        wait_for_log(sandbox, kube_namespace, pod, "app", "same words")
        cookie = _cookie(make_user(role="viewer", cluster=sandbox_cluster))

        async def scenario():
            viewer = Viewer(cookie)
            await viewer.open()
            await viewer.send({"subscribe": _sub(sandbox_cluster, kube_namespace, pod)})
            await viewer.until(_is("logs.backlog"))
            deadline = asyncio.get_running_loop().time() + 30
            while (await asyncio.to_thread(_follows, sandbox, kube_namespace, pod))[0][
                "opened"
            ] < 3:
                assert asyncio.get_running_loop().time() < deadline, "the follow was not reopened"
                await asyncio.sleep(0.2)
            # And a line written after those reopenings still arrives, once.
            seen = len([t for t in viewer.texts() if t.startswith("slow ")])
            await viewer.until(
                lambda m: len([t for t in viewer.texts() if t.startswith("slow ")]) > seen,
                timeout=30,
            )
            await viewer.close()
            return viewer

        viewer = async_to_sync(scenario)()
    finally:
        sandbox.script(f"behaviors/{rule}", method="DELETE")
    texts = viewer.texts()
    assert texts.count("same words") == 3, "lines at one instant are neither lost nor repeated"
    slow = [t for t in texts if t.startswith("slow ")]
    assert slow == [f"slow {i}" for i in range(1, len(slow) + 1)]
    cursors = [line[0] for line in viewer.shown]
    assert cursors == list(range(cursors[0], cursors[0] + len(cursors)))


def test_a_flood_is_cut_to_the_rate_limit_and_the_viewer_told_how_many_lines_it_missed(
    sandbox, sandbox_cluster, kube_namespace, make_user, settings
):
    settings.LOGS_MAX_LINES_PER_SECOND = 20
    rule = script_logs(sandbox, kube_namespace, logLines=["flood"], logLinesPerSecond=200)
    try:
        pod = make_pod(sandbox, kube_namespace)
        wait_for_log(sandbox, kube_namespace, pod, "app", "flood")
        cookie = _cookie(make_user(role="viewer", cluster=sandbox_cluster))

        async def scenario():
            viewer = Viewer(cookie)
            await viewer.open()
            await viewer.send({"subscribe": _sub(sandbox_cluster, kube_namespace, pod)})
            await viewer.until(_is("logs.backlog"))
            note = await viewer.until(_is("logs.dropped"), timeout=20)
            await viewer.close()
            return viewer, note

        viewer, note = async_to_sync(scenario)()
    finally:
        sandbox.script(f"behaviors/{rule}", method="DELETE")
    assert note["count"] > 0
    assert f"{note['count']} lines dropped" in note["detail"]
    live = [line for m in viewer.messages if m["type"] == "logs.lines" for line in m["lines"]]
    assert live
    assert note["from"] > live[0][0]


def test_a_jobs_logs_follow_its_pod_tagged_with_pod_and_container(
    sandbox, sandbox_cluster, kube_namespace, make_user
):
    rule = script_logs(
        sandbox,
        kube_namespace,
        startupLogLines=["epoch 1 loss=0.9", "epoch 2 loss=0.5"],
        logLines=[],
        logLinesPerSecond=0,
        runSeconds=30,
    )
    try:
        created = sandbox.kubectl(
            "create", "job", "train", "--image=example/train:1", "-n", kube_namespace
        )
        assert created.returncode == 0, created.stderr
        cookie = _cookie(make_user(role="viewer", cluster=sandbox_cluster))
        sub = {
            "cluster": sandbox_cluster.name,
            "kind": "logs",
            "namespace": kube_namespace,
            "job": "train",
        }

        async def scenario():
            viewer = Viewer(cookie)
            await viewer.open()
            await viewer.send({"subscribe": sub})
            backlog = await viewer.until(
                lambda m: m.get("type") == "logs.workload_backlog" and m["lines"], timeout=30
            )
            await viewer.close()
            return backlog

        backlog = async_to_sync(scenario)()
    finally:
        sandbox.script(f"behaviors/{rule}", method="DELETE")
    assert [s["container"] for s in backlog["streams"]] == ["train"]
    pod = backlog["streams"][0]["pod"]
    assert pod.startswith("train-")
    assert [line[4] for line in backlog["lines"]][:2] == ["epoch 1 loss=0.9", "epoch 2 loss=0.5"]
    assert {(line[1], line[2]) for line in backlog["lines"]} == {(pod, "train")}


def test_a_follower_that_fails_is_started_again_and_the_viewer_keeps_getting_lines(
    sandbox, sandbox_cluster, kube_namespace, chatty, make_user, monkeypatch
):
    from deployments.logs import follower

    real = follower.pod_get
    failures = []

    def flaky(conn, *, namespace, name):
        if not failures:
            failures.append(name)
            raise RuntimeError("a bug or an outage the follower did not expect")
        return real(conn, namespace=namespace, name=name)

    monkeypatch.setattr(follower, "pod_get", flaky)
    pod = make_pod(sandbox, kube_namespace)
    wait_for_log(sandbox, kube_namespace, pod, "app", "tick 2")
    cookie = _cookie(make_user(role="viewer", cluster=sandbox_cluster))

    async def scenario():
        viewer = Viewer(cookie)
        await viewer.open()
        await viewer.send({"subscribe": _sub(sandbox_cluster, kube_namespace, pod)})
        await viewer.until(_is("logs.backlog"))
        await viewer.until(lambda m: m.get("type") == "logs.lines", timeout=30)
        await viewer.close()

    async_to_sync(scenario)()
    assert failures == [pod]
    assert _follows(sandbox, kube_namespace, pod)[0]["opened"] == 1
