"""The watcher's Redis cache: atomic relists, guarded writes, what pages may trust."""

import uuid

import pytest
from django.core.management import CommandError, call_command

from controlplane.broadcast import group_name
from controlplane.live.cache import CacheLost, LiveCache, cached_objects, redis_client


def obj(name, rv, namespace="ns", **extra):
    metadata = {"name": name, "namespace": namespace, "resourceVersion": str(rv)}
    return {"metadata": {**metadata, **extra}}


@pytest.fixture
def cache(settings):
    settings.REDIS_PREFIX = f"{settings.REDIS_PREFIX}-c{uuid.uuid4().hex[:8]}"
    live = LiveCache(redis_client(), settings.REDIS_PREFIX)
    live.heartbeat(30, {"pid": 0})
    yield live
    keys = list(live.client.scan_iter(match=f"{settings.REDIS_PREFIX}:*"))
    if keys:
        live.client.delete(*keys)


def names(cache, namespace=None):
    objects = cached_objects(cluster_name="c", kind="pods", namespace=namespace)
    return None if objects is None else [o["metadata"]["name"] for o in objects]


def test_a_relist_replaces_the_whole_state_and_never_expires(cache):
    cache.replace("c", "pods", [obj("a", 1), obj("b", 2)], "2")
    old, new, _ = cache.replace("c", "pods", [obj("b", 3), obj("c", 4, namespace="other")], "4")
    assert set(old) == {"ns/a", "ns/b"}
    assert set(new) == {"ns/b", "other/c"}
    assert names(cache) == ["b", "c"]
    assert names(cache, namespace="other") == ["c"]
    assert cache.client.ttl(cache.objects_key("c", "pods")) == -1
    assert cache.meta("c", "pods")["resource_version"] == "4"


def test_an_empty_relist_leaves_an_empty_synced_cache(cache):
    cache.replace("c", "pods", [obj("a", 1)], "1")
    cache.replace("c", "pods", [], "5")
    assert names(cache) == []


def test_events_update_objects_and_drop_what_pages_never_show(cache):
    _, _, list_id = cache.replace("c", "pods", [obj("a", 1)], "1")
    big = obj(
        "b",
        2,
        managedFields=[{"manager": "kubectl"}],
        annotations={"kubectl.kubernetes.io/last-applied-configuration": "{...}", "x": "y"},
    )
    stored = cache.apply("c", "pods", "ADDED", big, list_id=list_id)
    assert "managedFields" not in stored["metadata"]
    assert stored["metadata"]["annotations"] == {"x": "y"}
    cache.apply("c", "pods", "DELETED", obj("a", 3), list_id=list_id)
    assert names(cache) == ["b"]
    meta = cache.meta("c", "pods")
    assert (meta["resource_version"], meta["count"]) == ("3", "1")


def test_writes_against_a_cache_that_lost_its_list_are_refused(cache):
    _, _, list_id = cache.replace("c", "pods", [obj("a", 1)], "1")
    cache.client.delete(cache.meta_key("c", "pods"), cache.objects_key("c", "pods"))
    with pytest.raises(CacheLost):
        cache.apply("c", "pods", "ADDED", obj("b", 2), list_id=list_id)
    with pytest.raises(CacheLost):
        cache.watch_opened("c", "pods", list_id=list_id)
    with pytest.raises(CacheLost):
        cache.bookmark("c", "pods", "9", list_id=list_id)
    assert not cache.client.exists(cache.objects_key("c", "pods"))


def test_pages_do_not_trust_an_unsynced_cache_or_one_without_a_live_watcher(cache):
    assert names(cache) is None
    cache.replace("c", "pods", [obj("a", 1)], "1")
    assert names(cache) == ["a"]
    cache.record_error("c", "pods", "Unavailable: the API server is unreachable")
    assert names(cache) is None
    cache.replace("c", "pods", [obj("a", 1)], "1")
    cache.client.delete(cache.heartbeat_key)
    assert names(cache) is None


def test_the_watch_command_names_unknown_kinds():
    with pytest.raises(CommandError, match=r"unknown kind.*secrets"):
        call_command("watch", kinds="pods,secrets")


class RecordingPublisher:
    def __init__(self):
        self.sent = []

    def send(self, *, group, message):
        self.sent.append((group, message["event"]))


def stream_for(cache, publisher):
    from controlplane.kube.connection import ClusterConnection
    from controlplane.live.watcher import Stream

    conn = ClusterConnection(key="c:x", server="https://203.0.113.1")
    return Stream(
        cluster="c",
        conn=conn,
        kind="pods",
        cache=cache,
        publisher=publisher,
        watch_timeout=5,
        backoff_cap=1,
    )


def relist(stream, objects, resource_version):
    """What list_then_watch does with the stream's callbacks for one list."""
    stream._on_list_start()
    for o in objects:
        stream._on_listed(o)
    stream._on_relist([], resource_version)


def test_a_relist_publishes_exactly_what_changed(cache):
    publisher = RecordingPublisher()
    stream = stream_for(cache, publisher)
    relist(stream, [obj("a", 1), obj("b", 2)], "2")
    publisher.sent.clear()
    relist(stream, [obj("a", 1), obj("b", 3), obj("c", 4)], "4")
    assert sorted(publisher.sent) == sorted(
        [
            (group_name("kube", "c", "pods"), "MODIFIED"),
            (group_name("kube", "c", "pods", "ns"), "MODIFIED"),
            (group_name("kube", "c", "pods"), "ADDED"),
            (group_name("kube", "c", "pods", "ns"), "ADDED"),
            (group_name("kube", "c", "pods"), "SYNCED"),
        ]
    )


def test_a_large_relist_is_announced_once_per_group(cache):
    publisher = RecordingPublisher()
    stream = stream_for(cache, publisher)
    many = [obj(f"p{i}", i, namespace=f"ns{i % 3}") for i in range(500)]
    relist(stream, many, "500")
    assert sorted(publisher.sent) == sorted(
        [
            (group_name("kube", "c", "pods"), "SYNCED"),
            (group_name("kube", "c", "pods", "ns0"), "SYNCED"),
            (group_name("kube", "c", "pods", "ns1"), "SYNCED"),
            (group_name("kube", "c", "pods", "ns2"), "SYNCED"),
        ]
    )
