"""The watcher's cache of cluster objects in Redis, and the selector pages read it through.

Layout (P = settings.REDIS_PREFIX):
  P:live:objs:{cluster}:{kind}  hash  "namespace/name" -> compact JSON ("/name" when cluster-scoped;
                                      what is kept of each kind: controlplane.live.compact)
  P:live:contrib:{cluster}:{kind} hash "namespace/name" -> the object's counters in the tallies
  P:live:tally:{cluster}:{kind} hash  counter -> total over the cached objects (live.tallies)
  P:live:order:{cluster}:{kind} zset  "namespace/name" by time (events only: newest first reads)
  P:live:meta:{cluster}:{kind}  hash  resource_version, synced ("1"/"0"), synced_at,
                                      last_event_at, last_bookmark_at, watch_open_at, count,
                                      errors, last_error, last_error_at
  P:live:heartbeat              str   the watcher process is alive (expires if it dies)

A relist builds the new hash under a temporary key and swaps it in with RENAME inside the same
MULTI that updates the meta, so readers see either the old complete state or the new complete
state, never a mixture. Readers fetch objects and meta in one MULTI for the same reason. An
event updates the object, its counters in the tallies and its place in the order in one Lua
script, so the tallies always equal the sum over the objects cached.
"""

import json
import time

import redis
from django.conf import settings

from .compact import compact, encode
from .tallies import contributions, encode_contributions, event_score

CHUNK = 1000
# Kinds whose newest objects pages read without reading them all.
ORDERED_KINDS = ("events",)

# One object as the cache stores it: its compact JSON, its counters (encode_contributions) and
# its time in the order index (None: the kind has no order).
Entry = tuple[str, str, float | None]


_clients: dict[str, redis.Redis] = {}


class CacheLost(Exception):
    """The cache no longer holds the list this writer made (Redis restarted or was flushed).

    Writers then list again: applying an event to a cache that lost its base would leave a
    partial state that looks complete.
    """


# Each write checks, atomically, that the cache still holds the writer's list (its list_id).
# KEYS: objects, meta, contributions, tallies, order. ARGV: list_id, event type, field, JSON,
# resourceVersion, time, the object's counters ("name\tvalue\t..."), its order score or "".
# Counter values are non-negative integers sent as text, so they never pass through a Lua number.
_APPLY = """
if redis.call('HGET', KEYS[2], 'list_id') ~= ARGV[1] then return -1 end
local function add(text, sign)
  for name, value in string.gmatch(text, '([^\t]+)\t([^\t]+)') do
    if redis.call('HINCRBY', KEYS[4], name, sign .. value) == 0 then
      redis.call('HDEL', KEYS[4], name)
    end
  end
end
local field = ARGV[3]
local old = redis.call('HGET', KEYS[3], field)
if old then
  add(old, '-')
  redis.call('HDEL', KEYS[3], field)
end
if ARGV[2] == 'DELETED' then
  redis.call('HDEL', KEYS[1], field)
  redis.call('ZREM', KEYS[5], field)
else
  redis.call('HSET', KEYS[1], field, ARGV[4])
  if ARGV[7] ~= '' then
    add(ARGV[7], '')
    redis.call('HSET', KEYS[3], field, ARGV[7])
  end
  if ARGV[8] ~= '' then redis.call('ZADD', KEYS[5], ARGV[8], field) end
end
local count = redis.call('HLEN', KEYS[1])
redis.call('HSET', KEYS[2], 'resource_version', ARGV[5], 'last_event_at', ARGV[6], 'count', count)
return count
"""
# Every field of a hash whose name matches ARGV[1], as a flat name/value list, in one step.
_SCAN_NAMESPACE = """
local result = {}
local cursor = '0'
repeat
  local page = redis.call('HSCAN', KEYS[1], cursor, 'MATCH', ARGV[1], 'COUNT', 1000)
  cursor = page[1]
  for i = 1, #page[2] do result[#result + 1] = page[2][i] end
until cursor == '0'
return result
"""
# The newest ARGV[1] objects by the order index KEYS[1], from the objects hash KEYS[2].
_NEWEST = """
local keys = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #keys == 0 then return {} end
return redis.call('HMGET', KEYS[2], unpack(keys))
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


class LiveCache:
    def __init__(self, client: redis.Redis, prefix: str):
        self.client = client
        self.prefix = prefix

    # Keys ----------------------------------------------------------------------------------

    def objects_key(self, cluster: str, kind: str) -> str:
        return f"{self.prefix}:live:objs:{cluster}:{kind}"

    def meta_key(self, cluster: str, kind: str) -> str:
        return f"{self.prefix}:live:meta:{cluster}:{kind}"

    def contrib_key(self, cluster: str, kind: str) -> str:
        return f"{self.prefix}:live:contrib:{cluster}:{kind}"

    def tally_key(self, cluster: str, kind: str) -> str:
        return f"{self.prefix}:live:tally:{cluster}:{kind}"

    def order_key(self, cluster: str, kind: str) -> str:
        return f"{self.prefix}:live:order:{cluster}:{kind}"

    def keys(self, cluster: str, kind: str) -> list[str]:
        """objects, meta, contributions, tallies, order (the order _APPLY takes them in)."""
        return [
            self.objects_key(cluster, kind),
            self.meta_key(cluster, kind),
            self.contrib_key(cluster, kind),
            self.tally_key(cluster, kind),
            self.order_key(cluster, kind),
        ]

    @property
    def heartbeat_key(self) -> str:
        return f"{self.prefix}:live:heartbeat"

    # Writes (the watcher) -----------------------------------------------------------------

    @staticmethod
    def entry(kind: str, obj: dict) -> tuple[str, Entry]:
        """(key, what the cache stores) for one object as the API server sent it.

        The watcher applies this to each listed object as its page arrives, so it never holds
        a whole list of full objects.
        """
        stored = compact(kind, obj)
        score = event_score(stored) if kind in ORDERED_KINDS else None
        counters = encode_contributions(contributions(kind, stored))
        return object_key(stored), (encode(stored), counters, score)

    def replace(
        self, cluster: str, kind: str, objects: list[dict], resource_version: str
    ) -> tuple[dict[str, str], dict[str, str], str]:
        """Make the cache equal `objects` (a fresh list), atomically.

        Returns (old objects, new objects, list_id): the id later writes must present. (The
        watcher builds its lists with relist(), which holds neither.)
        """
        old = self.client.hgetall(self.objects_key(cluster, kind))
        builder = self.relist(cluster, kind)
        new = {}
        for obj in objects:
            key, entry = self.entry(kind, obj)
            builder.add_entry(key, entry)
            new[key] = entry[0]
        return old, new, builder.commit(resource_version).list_id

    def relist(self, cluster: str, kind: str):
        """A RelistBuilder: objects go to Redis as they are added, and commit() swaps them in."""
        from .relist import RelistBuilder

        return RelistBuilder(self, cluster, kind)

    def apply(self, cluster: str, kind: str, event_type: str, obj: dict, *, list_id: str) -> dict:
        """Record one watch event; returns the object as stored (or deleted).

        Raises CacheLost when the cache no longer holds the list `list_id` names.
        """
        stored = compact(kind, obj)
        rv = (stored.get("metadata") or {}).get("resourceVersion", "")
        deleted = event_type == "DELETED"
        counters = "" if deleted else encode_contributions(contributions(kind, stored))
        score = event_score(stored) if kind in ORDERED_KINDS and not deleted else None
        result = self.client.eval(
            _APPLY,
            5,
            *self.keys(cluster, kind),
            list_id,
            event_type,
            object_key(stored),
            "" if deleted else encode(stored),
            rv,
            time.time(),
            counters,
            "" if score is None else repr(score),
        )
        if result == -1:
            raise CacheLost(f"the cache of {cluster}/{kind} lost its list")
        return stored

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
        self.client.delete(*self.keys(cluster, kind))

    def heartbeat(self, ttl: float, info: dict) -> None:
        self.client.set(self.heartbeat_key, json.dumps(info), ex=max(1, int(ttl)))

    # Reads (pages) -----------------------------------------------------------------------

    def meta(self, cluster: str, kind: str) -> dict:
        return self.client.hgetall(self.meta_key(cluster, kind))

    def heartbeat_info(self) -> dict | None:
        raw = self.client.get(self.heartbeat_key)
        return json.loads(raw) if raw else None

    def snapshot(
        self, cluster: str, kind: str, namespace: str | None = None
    ) -> tuple[dict[str, str], dict, bool]:
        """(objects by key, meta, watcher alive) read atomically; only `namespace`'s objects
        when given (selected inside Redis, so a namespace's page does not fetch the cluster)."""
        with self.client.pipeline(transaction=True) as tx:
            if namespace:
                tx.eval(_SCAN_NAMESPACE, 1, self.objects_key(cluster, kind), f"{namespace}/*")
            else:
                tx.hgetall(self.objects_key(cluster, kind))
            tx.hgetall(self.meta_key(cluster, kind))
            tx.exists(self.heartbeat_key)
            objects, meta, alive = tx.execute()
        if namespace:
            objects = dict(zip(objects[::2], objects[1::2], strict=True))
        return objects, meta, bool(alive)

    def tallies(self, cluster: str, kind: str) -> tuple[dict[str, int], dict, bool]:
        """(the kind's tallies, meta, watcher alive) read atomically."""
        with self.client.pipeline(transaction=True) as tx:
            tx.hgetall(self.tally_key(cluster, kind))
            tx.hgetall(self.meta_key(cluster, kind))
            tx.exists(self.heartbeat_key)
            tallies, meta, alive = tx.execute()
        return {k: int(v) for k, v in tallies.items()}, meta, bool(alive)

    def newest(self, cluster: str, kind: str, limit: int) -> tuple[list[str], dict, bool]:
        """(the `limit` newest objects of an ordered kind, newest first, meta, watcher alive)."""
        with self.client.pipeline(transaction=True) as tx:
            tx.eval(
                _NEWEST, 2, self.order_key(cluster, kind), self.objects_key(cluster, kind), limit
            )
            tx.hgetall(self.meta_key(cluster, kind))
            tx.exists(self.heartbeat_key)
            raws, meta, alive = tx.execute()
        return [raw for raw in raws if raw], meta, bool(alive)


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
    objects, meta, alive = live_cache().snapshot(cluster_name, kind, namespace)
    if not alive or meta.get("synced") != "1":
        return None, meta
    return [json.loads(objects[key]) for key in sorted(objects)], meta


def cached_raw(
    *, cluster_name: str, kind: str, namespace: str | None = None
) -> tuple[dict[str, str] | None, dict]:
    """cached_snapshot's objects still encoded (key -> JSON, in key order), for readers that
    keep what they made of each object and decode only those that changed."""
    objects, meta, alive = live_cache().snapshot(cluster_name, kind, namespace)
    if not alive or meta.get("synced") != "1":
        return None, meta
    return {key: objects[key] for key in sorted(objects)}, meta


def cached_tallies(*, cluster_name: str, kind: str) -> tuple[dict[str, int] | None, dict]:
    """(the kind's tallies (controlplane.live.tallies) or None when the cache can't be
    trusted, meta)."""
    tallies, meta, alive = live_cache().tallies(cluster_name, kind)
    if not alive or meta.get("synced") != "1":
        return None, meta
    return tallies, meta


def cached_newest(*, cluster_name: str, kind: str, limit: int) -> tuple[list[dict] | None, dict]:
    """(the newest `limit` objects of an ordered kind (ORDERED_KINDS), newest first, or None
    when the cache can't be trusted, meta)."""
    raws, meta, alive = live_cache().newest(cluster_name, kind, limit)
    if not alive or meta.get("synced") != "1":
        return None, meta
    return [json.loads(raw) for raw in raws], meta


def cached_objects(
    *, cluster_name: str, kind: str, namespace: str | None = None
) -> list[dict] | None:
    """Current objects of a kind from the watcher's cache; None when it can't be trusted.

    None means the watcher has not synced this (cluster, kind), lost its watch, or is not
    running (its heartbeat expired): callers then list through the kube layer and say so.
    """
    return cached_snapshot(cluster_name=cluster_name, kind=kind, namespace=namespace)[0]
