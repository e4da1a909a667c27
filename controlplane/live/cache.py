"""The watcher's cache of cluster objects in Redis, and the selector pages read it through.

Layout (P = settings.REDIS_PREFIX):
  P:live:objs:{cluster}:{kind}  hash  "namespace/name" -> trimmed JSON ("/name" when cluster-scoped)
  P:live:meta:{cluster}:{kind}  hash  resource_version, synced ("1"/"0"), synced_at,
                                      last_event_at, last_bookmark_at, watch_open_at, count,
                                      errors, last_error, last_error_at
  P:live:heartbeat              str   the watcher process is alive (expires if it dies)

A relist builds the new hash under a temporary key and swaps it in with RENAME inside the same
MULTI that updates the meta, so readers see either the old complete state or the new complete
state, never a mixture. Readers fetch objects and meta in one MULTI for the same reason.
"""

import json
import time
import uuid

import redis
from django.conf import settings

_CHUNK = 1000
_DROPPED_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)

_clients: dict[str, redis.Redis] = {}


class CacheLost(Exception):
    """The cache no longer holds the list this writer made (Redis restarted or was flushed).

    Writers then list again: applying an event to a cache that lost its base would leave a
    partial state that looks complete.
    """


# Each write checks, atomically, that the cache still holds the writer's list (its list_id).
_APPLY = """
if redis.call('HGET', KEYS[2], 'list_id') ~= ARGV[1] then return -1 end
if ARGV[2] == 'DELETED' then
  redis.call('HDEL', KEYS[1], ARGV[3])
else
  redis.call('HSET', KEYS[1], ARGV[3], ARGV[4])
end
local count = redis.call('HLEN', KEYS[1])
redis.call('HSET', KEYS[2], 'resource_version', ARGV[5], 'last_event_at', ARGV[6], 'count', count)
return count
"""
_TOUCH = """
if redis.call('HGET', KEYS[1], 'list_id') ~= ARGV[1] then return -1 end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
"""


def redis_client(url: str | None = None) -> redis.Redis:
    """A shared client per URL; short timeouts so a dead Redis fails fast instead of hanging."""
    url = url or settings.REDIS_URL
    client = _clients.get(url)
    if client is None:
        client = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=2,
            socket_timeout=5,
            health_check_interval=10,
        )
        _clients[url] = client
    return client


def object_key(obj: dict) -> str:
    metadata = obj.get("metadata") or {}
    return f"{metadata.get('namespace') or ''}/{metadata.get('name', '')}"


def trim(obj: dict) -> dict:
    """Drop what no page shows and what can be large: managedFields, last-applied copies."""
    metadata = dict(obj.get("metadata") or {})
    metadata.pop("managedFields", None)
    annotations = metadata.get("annotations")
    if annotations and any(name in annotations for name in _DROPPED_ANNOTATIONS):
        metadata["annotations"] = {
            k: v for k, v in annotations.items() if k not in _DROPPED_ANNOTATIONS
        }
    trimmed = dict(obj)
    trimmed["metadata"] = metadata
    return trimmed


class LiveCache:
    def __init__(self, client: redis.Redis, prefix: str):
        self.client = client
        self.prefix = prefix

    # Keys ----------------------------------------------------------------------------------

    def objects_key(self, cluster: str, kind: str) -> str:
        return f"{self.prefix}:live:objs:{cluster}:{kind}"

    def meta_key(self, cluster: str, kind: str) -> str:
        return f"{self.prefix}:live:meta:{cluster}:{kind}"

    @property
    def heartbeat_key(self) -> str:
        return f"{self.prefix}:live:heartbeat"

    # Writes (the watcher) -----------------------------------------------------------------

    def replace(
        self, cluster: str, kind: str, objects: list[dict], resource_version: str
    ) -> tuple[dict[str, str], dict[str, str], str]:
        """Make the cache equal `objects` (a fresh list), atomically.

        Returns (old objects, new objects, list_id): the id later writes must present.
        """
        objs_key = self.objects_key(cluster, kind)
        old = self.client.hgetall(objs_key)
        list_id = uuid.uuid4().hex
        temp_key = f"{objs_key}:relist:{list_id}"
        encoded = {object_key(obj): json.dumps(trim(obj), separators=(",", ":")) for obj in objects}
        items = list(encoded.items())
        pipe = self.client.pipeline(transaction=False)
        for start in range(0, len(items), _CHUNK):
            pipe.hset(temp_key, mapping=dict(items[start : start + _CHUNK]))
        # If the watcher dies mid-build, the orphan disappears by itself.
        pipe.expire(temp_key, 600)
        pipe.execute()
        now = time.time()
        with self.client.pipeline(transaction=True) as tx:
            if items:
                tx.rename(temp_key, objs_key)
                tx.persist(objs_key)
            else:
                tx.delete(objs_key)
            tx.hset(
                self.meta_key(cluster, kind),
                mapping={
                    "resource_version": resource_version,
                    "synced": "1",
                    "synced_at": now,
                    "count": len(items),
                    "list_id": list_id,
                },
            )
            tx.execute()
        return old, encoded, list_id

    def apply(self, cluster: str, kind: str, event_type: str, obj: dict, *, list_id: str) -> dict:
        """Record one watch event; returns the trimmed object stored (or deleted).

        Raises CacheLost when the cache no longer holds the list `list_id` names.
        """
        trimmed = trim(obj)
        rv = (trimmed.get("metadata") or {}).get("resourceVersion", "")
        result = self.client.eval(
            _APPLY,
            2,
            self.objects_key(cluster, kind),
            self.meta_key(cluster, kind),
            list_id,
            event_type,
            object_key(trimmed),
            json.dumps(trimmed, separators=(",", ":")),
            rv,
            time.time(),
        )
        if result == -1:
            raise CacheLost(f"the cache of {cluster}/{kind} lost its list")
        return trimmed

    def _touch(self, cluster: str, kind: str, list_id: str, fields: dict) -> None:
        args = [list_id]
        for name, value in fields.items():
            args += [name, value]
        if self.client.eval(_TOUCH, 1, self.meta_key(cluster, kind), *args) == -1:
            raise CacheLost(f"the cache of {cluster}/{kind} lost its list")

    def bookmark(self, cluster: str, kind: str, resource_version: str, *, list_id: str) -> None:
        self._touch(
            cluster,
            kind,
            list_id,
            {"resource_version": resource_version, "last_bookmark_at": time.time()},
        )

    def watch_opened(self, cluster: str, kind: str, *, list_id: str) -> None:
        # A watch resumed from the cache's resourceVersion: the cache is current again.
        self._touch(cluster, kind, list_id, {"synced": "1", "watch_open_at": time.time()})

    def mark_unsynced(self, cluster: str, kind: str) -> None:
        self.client.hset(self.meta_key(cluster, kind), "synced", "0")

    def record_error(self, cluster: str, kind: str, error: str) -> None:
        meta_key = self.meta_key(cluster, kind)
        with self.client.pipeline(transaction=True) as tx:
            tx.hincrby(meta_key, "errors", 1)
            tx.hset(
                meta_key,
                mapping={"last_error": error[:500], "last_error_at": time.time(), "synced": "0"},
            )
            tx.execute()

    def forget(self, cluster: str, kind: str) -> None:
        self.client.delete(self.objects_key(cluster, kind), self.meta_key(cluster, kind))

    def heartbeat(self, ttl: float, info: dict) -> None:
        self.client.set(self.heartbeat_key, json.dumps(info), ex=max(1, int(ttl)))

    # Reads (pages) -----------------------------------------------------------------------

    def meta(self, cluster: str, kind: str) -> dict:
        return self.client.hgetall(self.meta_key(cluster, kind))

    def heartbeat_info(self) -> dict | None:
        raw = self.client.get(self.heartbeat_key)
        return json.loads(raw) if raw else None

    def snapshot(self, cluster: str, kind: str) -> tuple[dict[str, str], dict, bool]:
        """(objects by key, meta, watcher alive) read atomically."""
        with self.client.pipeline(transaction=True) as tx:
            tx.hgetall(self.objects_key(cluster, kind))
            tx.hgetall(self.meta_key(cluster, kind))
            tx.exists(self.heartbeat_key)
            objects, meta, alive = tx.execute()
        return objects, meta, bool(alive)


def cached_object(
    *, cluster_name: str, kind: str, namespace: str, name: str
) -> tuple[dict | None, bool]:
    """(the object or None, whether the cache can be trusted to say it is absent).

    One HGET, for requests that only need to know whether an object exists.
    """
    cache = live_cache()
    with cache.client.pipeline(transaction=True) as tx:
        tx.hget(cache.objects_key(cluster_name, kind), f"{namespace}/{name}")
        tx.hget(cache.meta_key(cluster_name, kind), "synced")
        tx.exists(cache.heartbeat_key)
        raw, synced, alive = tx.execute()
    return (json.loads(raw) if raw else None), bool(alive) and synced == "1"


def live_cache() -> LiveCache:
    return LiveCache(redis_client(), settings.REDIS_PREFIX)


def cached_snapshot(
    *, cluster_name: str, kind: str, namespace: str | None = None
) -> tuple[list[dict] | None, dict]:
    """(objects or None when the cache can't be trusted, meta). See cached_objects."""
    objects, meta, alive = live_cache().snapshot(cluster_name, kind)
    if not alive or meta.get("synced") != "1":
        return None, meta
    prefix = f"{namespace}/" if namespace else None
    result = [
        json.loads(raw) for key, raw in objects.items() if prefix is None or key.startswith(prefix)
    ]
    result.sort(key=object_key)
    return result, meta


def cached_objects(
    *, cluster_name: str, kind: str, namespace: str | None = None
) -> list[dict] | None:
    """Current objects of a kind from the watcher's cache; None when it can't be trusted.

    None means the watcher has not synced this (cluster, kind), lost its watch, or is not
    running (its heartbeat expired): callers then list through the kube layer and say so.
    """
    return cached_snapshot(cluster_name=cluster_name, kind=kind, namespace=namespace)[0]
