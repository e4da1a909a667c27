"""The watcher against the sandbox: the cache always ends equal to a fresh list.

Each test runs the watcher in this process, in threads, with its own Redis key prefix, and
compares the cache with a list made independently of it, after normal changes, an API server
restart, a forced 410 Gone, a Redis restart, and clusters coming and going in the database.
"""

import asyncio
import base64
import json
import queue
import socket
import threading
import uuid
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
import redis
from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer

from controlplane.broadcast import BroadcastLoop, group_name
from controlplane.kube.connection import ClusterConnection
from controlplane.kube.watch import list_objects
from controlplane.live.cache import LiveCache, cached_objects, object_key, redis_client
from controlplane.live.watcher import Watcher, clusters_from_db
from sandbox.testing import SandboxProcess
from tests.fixtures.controlplane import wait_for

KINDS = ["namespaces", "pods", "deployments"]


# Helpers -------------------------------------------------------------------------------------


def connection(sandbox, server: str | None = None) -> ClusterConnection:
    ca = base64.b64encode(Path(sandbox.ca_file).read_bytes()).decode()
    return ClusterConnection(
        key=f"t{uuid.uuid4().hex[:8]}:x",
        server=server or sandbox.url,
        token=sandbox.admin_token,
        ca_data=ca,
    )


def kube(sandbox, method: str, path: str, body: dict | None = None) -> dict:
    """A direct API call to the sandbox, independent of the code under test."""
    status, payload, _headers = sandbox.request(method, path, body)
    assert status < 400, f"{method} {path}: {status} {payload}"
    return payload


def make_namespace(sandbox) -> str:
    name = f"w-{uuid.uuid4().hex[:8]}"
    kube(sandbox, "POST", "/api/v1/namespaces", {"metadata": {"name": name}})
    return name


def make_pod(sandbox, namespace: str, name: str | None = None) -> str:
    name = name or f"p-{uuid.uuid4().hex[:6]}"
    kube(
        sandbox,
        "POST",
        f"/api/v1/namespaces/{namespace}/pods",
        {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}},
    )
    return name


def delete_pod(sandbox, namespace: str, name: str) -> None:
    kube(sandbox, "DELETE", f"/api/v1/namespaces/{namespace}/pods/{name}?gracePeriodSeconds=0")


def cache_equals_fresh_list(cache: LiveCache, cluster: str, conn, kind: str) -> bool:
    fresh, _rv = list_objects(conn, kind=kind)
    expected = {object_key(o): o["metadata"]["resourceVersion"] for o in fresh}
    stored = cache.client.hgetall(cache.objects_key(cluster, kind))
    actual = {key: json.loads(raw)["metadata"]["resourceVersion"] for key, raw in stored.items()}
    return actual == expected and cache.meta(cluster, kind).get("synced") == "1"


def cached_names(cache: LiveCache, cluster: str, kind: str, namespace: str) -> set[str]:
    keys = cache.client.hkeys(cache.objects_key(cluster, kind))
    return {key.split("/", 1)[1] for key in keys if key.startswith(f"{namespace}/")}


@pytest.fixture
def prefix(settings):
    """A Redis prefix of this test's own, also used by cached_objects()."""
    value = f"{settings.REDIS_PREFIX}-w{uuid.uuid4().hex[:8]}"
    settings.REDIS_PREFIX = value
    yield value
    client = redis_client()
    keys = list(client.scan_iter(match=f"{value}:*", count=1000))
    if keys:
        client.delete(*keys)


@contextmanager
def running_watcher(*, cluster_source, cache: LiveCache, publisher=None, kinds=KINDS):
    own_publisher = publisher is None
    publisher = publisher or BroadcastLoop()
    watcher = Watcher(
        cluster_source=cluster_source,
        cache=cache,
        publisher=publisher,
        kinds=kinds,
        poll_interval=0.2,
        watch_timeout=5,
        backoff_cap=0.5,
    )
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield watcher
    finally:
        stop.set()
        thread.join(20)
        if own_publisher:
            publisher.close()
    assert not thread.is_alive(), "the watcher did not stop"


# Normal operation ----------------------------------------------------------------------------


class GroupListener:
    """Collects what the channel layer delivers to a group, from a loop of its own."""

    def __init__(self, group: str):
        self.group = group
        self.messages: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._joined = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()
        assert self._joined.wait(10), "could not join the group"

    async def _run(self):
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(self.group, channel)
        self._joined.set()
        try:
            while not self._stop.is_set():
                try:
                    self.messages.put(await asyncio.wait_for(layer.receive(channel), 0.5))
                except TimeoutError:
                    continue
        finally:
            await layer.group_discard(self.group, channel)

    def next_event(self, timeout: float = 30) -> dict:
        return self.messages.get(timeout=timeout)

    def close(self):
        self._stop.set()
        self._thread.join(10)


def test_the_cache_follows_changes_and_every_change_is_published(sandbox, prefix):
    conn = connection(sandbox)
    cache = LiveCache(redis_client(), prefix)
    namespace = make_namespace(sandbox)
    listener = GroupListener(group_name("kube", "sb", "pods", namespace))
    try:
        with running_watcher(cluster_source=lambda: {"sb": conn}, cache=cache):
            wait_for(lambda: cache_equals_fresh_list(cache, "sb", conn, "pods"), what="sync")
            pod = make_pod(sandbox, namespace)
            added = listener.next_event()
            assert (added["event"], added["object"]["metadata"]["name"]) == ("ADDED", pod)
            assert added["kind"] == "pods"
            assert "managedFields" not in added["object"]["metadata"]
            wait_for(lambda: pod in cached_names(cache, "sb", "pods", namespace), what="cached")
            delete_pod(sandbox, namespace, pod)
            wait_for(lambda: listener.next_event()["event"] == "DELETED", what="DELETED")
            for kind in KINDS:
                wait_for(
                    lambda kind=kind: cache_equals_fresh_list(cache, "sb", conn, kind),
                    what=f"{kind} cache equal to a fresh list",
                )
    finally:
        listener.close()


def test_pages_trust_the_cache_only_while_the_watcher_keeps_it(sandbox, prefix):
    conn = connection(sandbox)
    cache = LiveCache(redis_client(), prefix)
    assert cached_objects(cluster_name="sb", kind="namespaces") is None
    with running_watcher(cluster_source=lambda: {"sb": conn}, cache=cache):
        names = wait_for(
            lambda: cached_objects(cluster_name="sb", kind="namespaces"), what="synced cache"
        )
        assert "default" in {ns["metadata"]["name"] for ns in names}
        health = wait_for(cache.heartbeat_info, what="heartbeat")
        assert health["clusters"] == ["sb"]
    # Stopped: the cache is no longer vouched for, so pages fall back to live lists.
    assert cached_objects(cluster_name="sb", kind="namespaces") is None


def test_it_follows_clusters_added_and_removed_in_the_database(sandbox, prefix, transactional_db):
    from controlplane.clusters.models import Cluster
    from controlplane.clusters.services import cluster_register_sandbox

    cache = LiveCache(redis_client(), prefix)
    with running_watcher(cluster_source=clusters_from_db, cache=cache, kinds=["namespaces"]):
        cluster = cluster_register_sandbox(name="added-later", path=Path(sandbox.kubeconfig))
        wait_for(
            lambda: cache.meta("added-later", "namespaces").get("synced") == "1",
            what="the new cluster synced",
        )
        Cluster.objects.filter(pk=cluster.pk).delete()
        wait_for(
            lambda: not cache.client.exists(cache.meta_key("added-later", "namespaces")),
            what="the removed cluster's cache dropped",
        )


def test_it_reconnects_when_a_clusters_credentials_change(
    sandbox, prefix, transactional_db, tmp_path
):
    from controlplane.clusters.services import cluster_register_sandbox

    good = Path(sandbox.kubeconfig)
    bad = tmp_path / "kubeconfig-bad"
    bad.write_text(good.read_text().replace(sandbox.admin_token, "not-the-token"))
    cache = LiveCache(redis_client(), prefix)
    cluster_register_sandbox(name="rotating", path=good)
    with running_watcher(cluster_source=clusters_from_db, cache=cache, kinds=["namespaces"]):
        wait_for(lambda: cache.meta("rotating", "namespaces").get("synced") == "1", what="sync")
        cluster_register_sandbox(name="rotating", path=bad)
        wait_for(
            lambda: (
                cache.meta("rotating", "namespaces")
                .get("last_error", "")
                .startswith("Unauthorized")
            ),
            what="the new, wrong credentials in use",
        )
        assert cached_objects(cluster_name="rotating", kind="namespaces") is None
        cluster_register_sandbox(name="rotating", path=good)
        wait_for(
            lambda: cached_objects(cluster_name="rotating", kind="namespaces"),
            what="synced again with the right credentials",
        )


# Recovery ------------------------------------------------------------------------------------


def test_it_recovers_after_the_api_server_restarts(fresh_sandbox, prefix):
    conn = connection(fresh_sandbox)
    cache = LiveCache(redis_client(), prefix)
    namespace = make_namespace(fresh_sandbox)
    before = make_pod(fresh_sandbox, namespace)
    with running_watcher(cluster_source=lambda: {"sb": conn}, cache=cache):
        wait_for(lambda: before in cached_names(cache, "sb", "pods", namespace), what="sync")
        fresh_sandbox.restart()
        after = make_pod(fresh_sandbox, namespace)
        delete_pod(fresh_sandbox, namespace, before)
        wait_for(
            lambda: cached_names(cache, "sb", "pods", namespace) == {after},
            timeout=60,
            what="changes after the restart in the cache",
        )
        for kind in KINDS:
            wait_for(
                lambda kind=kind: cache_equals_fresh_list(cache, "sb", conn, kind),
                what=f"{kind} cache equal to a fresh list",
            )


class CuttableProxy:
    """A TCP proxy to the API server whose connections the test can cut and restore."""

    def __init__(self, upstream_port: int):
        self.upstream = ("127.0.0.1", upstream_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = threading.Event()
        self.open.set()
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open.is_set():
                client.close()
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self.lock:
                self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source, target):
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cut(self):
        self.open.clear()
        with self.lock:
            for sock in self.sockets:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            self.sockets.clear()

    def restore(self):
        self.open.set()

    def close(self):
        self.cut()
        self.listener.close()


@pytest.fixture
def small_history_sandbox(tmp_path):
    """A sandbox whose watch history keeps only 30 events, so a short gap means 410 Gone."""
    process = SandboxProcess(
        tmp_path / "sandbox", nodes=2, gpu_nodes=0, config={"watch_history_size": 30}
    )
    process.start()
    try:
        yield process
    finally:
        process.stop()


def test_it_relists_after_a_410_and_ends_equal_to_a_fresh_list(small_history_sandbox, prefix):
    sandbox = small_history_sandbox
    proxy = CuttableProxy(int(sandbox.url.rsplit(":", 1)[1]))
    conn = connection(sandbox, server=f"https://127.0.0.1:{proxy.port}")
    cache = LiveCache(redis_client(), prefix)
    namespace = make_namespace(sandbox)
    doomed = [make_pod(sandbox, namespace) for _ in range(3)]
    try:
        with running_watcher(cluster_source=lambda: {"sb": conn}, cache=cache):
            wait_for(
                lambda: cached_names(cache, "sb", "pods", namespace) == set(doomed),
                what="sync",
            )
            proxy.cut()
            # More changes than the history holds, while the watcher can't see them.
            created = {make_pod(sandbox, namespace) for _ in range(12)}
            for name in doomed:
                delete_pod(sandbox, namespace, name)
            proxy.restore()
            wait_for(
                lambda: cached_names(cache, "sb", "pods", namespace) == created,
                timeout=60,
                what="the cache after the gap",
            )
            for kind in KINDS:
                wait_for(
                    lambda kind=kind: cache_equals_fresh_list(cache, "sb", conn, kind),
                    what=f"{kind} cache equal to a fresh list",
                )
            assert cache.meta("sb", "pods")["last_error"].startswith("Gone")
    finally:
        proxy.close()


def test_it_rebuilds_the_cache_after_redis_restarts(sandbox, private_redis, prefix):
    conn = connection(sandbox)
    cache = LiveCache(
        redis.Redis.from_url(
            private_redis.url, decode_responses=True, socket_timeout=2, socket_connect_timeout=1
        ),
        prefix,
    )
    publisher = BroadcastLoop(layer=RedisChannelLayer(hosts=[private_redis.url], prefix=prefix))
    namespace = make_namespace(sandbox)
    first = make_pod(sandbox, namespace)
    try:
        with running_watcher(cluster_source=lambda: {"sb": conn}, cache=cache, publisher=publisher):
            wait_for(lambda: first in cached_names(cache, "sb", "pods", namespace), what="sync")
            private_redis.stop()
            # A change while Redis is down: the watcher cannot store it now, must not lose it.
            second = make_pod(sandbox, namespace)
            private_redis.start()

            def rebuilt():
                try:
                    return cached_names(cache, "sb", "pods", namespace) == {first, second}
                except redis.RedisError:
                    return False

            wait_for(rebuilt, timeout=60, what="the cache rebuilt after the Redis restart")
            for kind in KINDS:
                wait_for(
                    lambda kind=kind: cache_equals_fresh_list(cache, "sb", conn, kind),
                    what=f"{kind} cache equal to a fresh list",
                )
    finally:
        publisher.close()
