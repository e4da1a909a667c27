"""list_then_watch against a scripted HTTP API server: the exact requests it makes and when.

The sandbox tests exercise the loop end to end; here a small server plays back chosen
responses so each rule (resume from the last resourceVersion, relist on 410 as a status and
as an ERROR event, back-off, prompt stop) is checked on its own.
"""

import json
import queue
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from controlplane.kube.connection import ClusterConnection
from controlplane.kube.watch import list_objects, list_then_watch


def pod(name, rv):
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": str(rv)}}


class ScriptedApi:
    """Lists come from `pages`; each watch request takes the next script from `watches`.

    A watch script is a list of events (dicts, sent as JSON lines), optionally ending with
    "hang" (keep the connection open until the test ends) or an int status to answer with.
    """

    def __init__(self):
        self.pages: list[dict] = []
        self.watches: queue.Queue = queue.Queue()
        self.requests: list[dict] = []
        self.release = threading.Event()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
                api.requests.append(query)
                if query.get("watch"):
                    api.serve_watch(self)
                else:
                    api.serve_list(self, query)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.conn = ClusterConnection(
            key=f"fake-{uuid.uuid4().hex}:x", server=f"http://127.0.0.1:{self.server.server_port}"
        )

    def serve_list(self, handler, query):
        index = int(query.get("continue") or 0)
        page = self.pages[index] if index < len(self.pages) else self.pages[-1]
        self._send_json(handler, 200, page)

    def serve_watch(self, handler):
        try:
            script = self.watches.get(timeout=10)
        except queue.Empty:
            script = ["hang"]
        if script and isinstance(script[-1], int):
            self._send_json(
                handler,
                script[-1],
                {"kind": "Status", "code": script[-1], "reason": "Expired", "message": "too old"},
            )
            return
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        for item in script:
            if item == "hang":
                self.release.wait(30)
                break
            line = json.dumps(item).encode() + b"\n"
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            handler.wfile.flush()
        handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()

    @staticmethod
    def _send_json(handler, status, body):
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def api():
    server = ScriptedApi()
    yield server
    server.close()


class Recorder:
    def __init__(self):
        self.calls: list[tuple] = []
        self.changed = threading.Condition()

    def on_event(self, event_type, obj):
        self._add(("event", event_type, obj["metadata"]["name"]))

    def on_relist(self, objects, rv):
        self._add(("relist", sorted(o["metadata"]["name"] for o in objects), rv))

    def on_bookmark(self, rv):
        self._add(("bookmark", rv))

    def on_error(self, exc):
        self._add(("error", type(exc).__name__))

    def _add(self, call):
        with self.changed:
            self.calls.append(call)
            self.changed.notify_all()

    def wait_for(self, predicate, timeout=10):
        with self.changed:
            assert self.changed.wait_for(lambda: predicate(self.calls), timeout), self.calls


def run_loop(api, recorder, **kwargs):
    stop = threading.Event()
    thread = threading.Thread(
        target=list_then_watch,
        args=(api.conn,),
        kwargs={
            "kind": "pods",
            "on_event": recorder.on_event,
            "on_relist": recorder.on_relist,
            "on_bookmark": recorder.on_bookmark,
            "on_error": recorder.on_error,
            "stop": stop,
            "timeout_seconds": 30,
            "backoff_base": 0.01,
            "backoff_cap": 0.05,
            **kwargs,
        },
        daemon=True,
    )
    thread.start()
    return stop, thread


def wait_until(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def watch_requests(api):
    return [r for r in api.requests if r.get("watch")]


def test_it_lists_every_page_then_watches_from_the_lists_version_with_bookmarks(api):
    api.pages = [
        {"items": [pod("a", 1)], "metadata": {"continue": "1", "resourceVersion": "10"}},
        {"items": [pod("b", 2)], "metadata": {"resourceVersion": "10"}},
    ]
    api.watches.put([{"type": "ADDED", "object": pod("c", 11)}, "hang"])
    recorder = Recorder()
    stop, thread = run_loop(api, recorder, page_size=1)
    recorder.wait_for(lambda calls: ("event", "ADDED", "c") in calls)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert recorder.calls[0] == ("relist", ["a", "b"], "10")
    first_watch = watch_requests(api)[0]
    assert first_watch["resourceVersion"] == "10"
    assert first_watch["allowWatchBookmarks"] == "true"
    assert first_watch["timeoutSeconds"] == "30"


def test_it_resumes_from_the_last_version_seen_when_a_watch_ends_cleanly(api):
    api.pages = [{"items": [], "metadata": {"resourceVersion": "5"}}]
    api.watches.put(
        [
            {"type": "ADDED", "object": pod("a", 6)},
            {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "9"}}},
        ]
    )
    api.watches.put([{"type": "MODIFIED", "object": pod("a", 12)}])
    api.watches.put(["hang"])
    recorder = Recorder()
    stop, thread = run_loop(api, recorder)
    recorder.wait_for(lambda calls: ("event", "MODIFIED", "a") in calls)
    wait_until(lambda: len(watch_requests(api)) >= 3)
    stop.set()
    thread.join(5)
    assert [r["resourceVersion"] for r in watch_requests(api)[:3]] == ["5", "9", "12"]
    assert [c for c in recorder.calls if c[0] == "relist"] == [("relist", [], "5")]
    assert ("bookmark", "9") in recorder.calls


@pytest.mark.parametrize(
    "expiry",
    [
        pytest.param(
            [{"type": "ERROR", "object": {"code": 410, "message": "too old"}}], id="error-event"
        ),
        pytest.param([410], id="http-status"),
    ],
)
def test_it_relists_when_the_version_has_expired(api, expiry):
    api.pages = [{"items": [pod("a", 3)], "metadata": {"resourceVersion": "3"}}]
    api.watches.put(expiry)
    api.watches.put(["hang"])
    recorder = Recorder()
    stop, thread = run_loop(api, recorder)
    recorder.wait_for(lambda calls: len([c for c in calls if c[0] == "relist"]) == 2)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert ("error", "Gone") in recorder.calls
    lists = [r for r in api.requests if not r.get("watch")]
    assert len(lists) == 2


def test_it_backs_off_and_recovers_while_the_server_is_unreachable():
    # Port 9 on localhost: nothing listens, so every connection is refused.
    conn = ClusterConnection(key=f"down-{uuid.uuid4().hex}:x", server="http://127.0.0.1:9")
    recorder = Recorder()
    stop = threading.Event()
    thread = threading.Thread(
        target=list_then_watch,
        args=(conn,),
        kwargs={
            "kind": "pods",
            "on_event": recorder.on_event,
            "on_relist": recorder.on_relist,
            "on_error": recorder.on_error,
            "stop": stop,
            "backoff_base": 0.01,
            "backoff_cap": 0.02,
        },
        daemon=True,
    )
    thread.start()
    recorder.wait_for(lambda calls: len(calls) >= 3)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert set(recorder.calls) == {("error", "Unavailable")}


def test_stopping_interrupts_a_watch_that_is_waiting_for_the_server(api):
    api.pages = [{"items": [], "metadata": {"resourceVersion": "1"}}]
    api.watches.put(["hang"])
    recorder = Recorder()
    stop, thread = run_loop(api, recorder)
    wait_until(lambda: len(watch_requests(api)) == 1)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()


def test_a_failing_callback_ends_the_loop_with_its_error(api):
    from controlplane.kube.watch import CallbackError

    api.pages = [{"items": [pod("a", 1)], "metadata": {"resourceVersion": "1"}}]

    def broken(objects, rv):
        raise ConnectionError("redis down")

    with pytest.raises(CallbackError, match="redis down"):
        list_then_watch(
            api.conn,
            kind="pods",
            on_event=lambda *a: None,
            on_relist=broken,
            stop=threading.Event(),
        )


def test_list_objects_rejects_unknown_kinds(api):
    with pytest.raises(ValueError, match="kind must be one of"):
        list_objects(api.conn, kind="secrets")
