"""Where a log stream's lines live between the upstream follower and its viewers: Redis, under
the checkout's prefix. Per (cluster, namespace, pod, container):

  <p>:lines   sorted set: score = cursor (the line's sequence number), member = JSON
              [cursor, timestamp, text]; the last LOGS_BUFFER_LINES lines
  <p>:meta    hash: seq (last cursor), last_ts and last_texts (where a reopened follow
              resumes), primed (the first fill is in), state, ended_at, reason, restarts
  <p>:lease   which web process follows the stream upstream (SET NX PX, renewed)
  <p>:viewers sorted set: viewer id -> last heartbeat (epoch seconds)

Every key expires LOGS_RETENTION_SECONDS after the stream's last write, which is how the lines
of a deleted or restarted pod stay viewable for the retention period and then go.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import close_old_connections

from controlplane.broadcast import group_name


@dataclass(frozen=True)
class StreamRef:
    cluster: str
    namespace: str
    pod: str
    container: str

    @property
    def digest(self) -> str:
        parts = "\x00".join((self.cluster, self.namespace, self.pod, self.container))
        return hashlib.sha256(parts.encode()).hexdigest()

    def key(self, part: str) -> str:
        return f"{settings.REDIS_PREFIX}:logs:{self.digest}:{part}"

    @property
    def group(self) -> str:
        return group_name("logs", self.cluster, self.namespace, self.pod, self.container)

    @property
    def pod_key(self) -> str:
        """The set of a pod's containers that have kept lines (a deleted pod's page lists
        them)."""
        parts = "\x00".join((self.cluster, self.namespace, self.pod))
        return f"{settings.REDIS_PREFIX}:logs-pod:{hashlib.sha256(parts.encode()).hexdigest()}"

    def describe(self) -> dict:
        return {
            "cluster": self.cluster,
            "namespace": self.namespace,
            "pod": self.pod,
            "container": self.container,
        }


def decode_meta(raw: dict) -> dict:
    meta = {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in (raw or {}).items()
    }
    return meta


def decode_lines(raw: list) -> list[list]:
    return [json.loads(item) for item in raw]


def backlog_select(*, lines: list[list], tail_lines: int | None, cursor: int | None) -> list[list]:
    """What a (re)connecting viewer gets: everything after its cursor, else the last N lines."""
    if cursor is not None:
        return [line for line in lines if line[0] > cursor]
    if tail_lines is not None:
        return lines[-tail_lines:] if tail_lines else []
    return lines


def viewer_meta(meta: dict) -> dict:
    """The part of a stream's state a viewer is shown."""
    return {
        "state": meta.get("state") or "starting",
        "seq": int(meta.get("seq") or 0),
        "ended_at": meta.get("ended_at") or None,
        "reason": meta.get("reason") or "",
        "restarts": int(meta.get("restarts") or 0),
    }


_client: redis.Redis | None = None


def _redis() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5
        )
    return _client


def kept_lines(*, stream: StreamRef) -> tuple[list[list], dict]:
    """The lines Redis holds for a stream and its state (sync readers: pages, the API)."""
    with _redis().pipeline(transaction=True) as tx:
        tx.zrange(stream.key("lines"), 0, -1)
        tx.hgetall(stream.key("meta"))
        raw, meta = tx.execute()
    return decode_lines(raw), decode_meta(meta)


def kept_containers(*, cluster: str, namespace: str, pod: str) -> list[str]:
    key = StreamRef(cluster, namespace, pod, "").pod_key
    return sorted(member.decode() for member in _redis().smembers(key))


def cluster_load(name: str):
    """The Cluster row, from the hub's worker threads: they live as long as the process, so a
    connection the database dropped is replaced first rather than failing every later read."""
    from controlplane.clusters.models import Cluster

    close_old_connections()
    return Cluster.objects.get(name=name)
