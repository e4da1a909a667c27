"""Keeping the last lines of a pod nobody was following when it went (a crashed replica's last
instance, a finished Job's pod, a replica a rollout deleted): the task side.

The watcher's pod hook (keep_hook.py) enqueues `pod_log_keep` on the transitions after which
Kubernetes drops a log: a container restarted (its previous instance goes at the next
restart), a container terminated or its pod finished (the pod may be removed at any time), a
pod is being deleted (its containers live for the grace period), a pod is gone. The task reads
the tail (the last LOGS_BUFFER_LINES lines, timestamps on) and adds it to the same Redis
stream a follower writes (store.py), after the lines it already holds, so the viewer, the
download (X-Log-Source: kept) and the websocket serve it unchanged and it expires the same.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from celery import shared_task
from django.conf import settings

from controlplane.clusters.models import Cluster
from controlplane.kube.errors import BadRequest, KubeError, NotFound, Unavailable
from controlplane.kube.logs import LogOptions, pod_get, pod_log_read

from .dedupe import Deduper, split_line
from .keep_hook import TASK_NAME
from .store import StreamRef, _redis, decode_meta

log = logging.getLogger(__name__)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _expire(tx, stream: StreamRef) -> None:
    for part in ("meta", "lines"):
        tx.expire(stream.key(part), settings.LOGS_RETENTION_SECONDS)
    tx.sadd(stream.pod_key, stream.container)
    tx.expire(stream.pod_key, settings.LOGS_RETENTION_SECONDS)


def kept_lines_add(*, stream: StreamRef, body: bytes, state: str, reason: str) -> int:
    """Append the lines of `body` (a pods/log response with timestamps) that come after what
    the stream holds; keep the last LOGS_BUFFER_LINES within LOGS_KEPT_BYTES. Returns how
    many lines were added."""
    r = _redis()
    meta = decode_meta(r.hgetall(stream.key("meta")))
    dedupe = Deduper(meta.get("last_ts", ""), json.loads(meta.get("last_texts") or "[]"))
    fresh = []
    for raw in body.split(b"\n"):
        if not raw:
            continue
        ts, text = split_line(raw)
        if dedupe.accept(ts, text):
            fresh.append((ts, text))
    fresh = fresh[-settings.LOGS_BUFFER_LINES :]
    fields = {"primed": "1"}
    if meta.get("state") not in ("following", "ended"):
        fields.update(state=state, reason=reason)
    with r.pipeline(transaction=True) as tx:
        if fresh:
            last = int(meta.get("seq") or 0) + len(fresh)
            first = last - len(fresh) + 1
            tx.hincrby(stream.key("meta"), "seq", len(fresh))
            tx.zadd(
                stream.key("lines"),
                {
                    json.dumps([first + i, ts, text]): first + i
                    for i, (ts, text) in enumerate(fresh)
                },
            )
            tx.zremrangebyrank(stream.key("lines"), 0, -(settings.LOGS_BUFFER_LINES + 1))
            fields.update(last_ts=dedupe.last_ts, last_texts=json.dumps(dedupe.at_last[-1000:]))
        tx.hset(stream.key("meta"), mapping=fields)
        _expire(tx, stream)
        tx.execute()
    if fresh:
        _keep_within_bytes(stream)
    return len(fresh)


def _keep_within_bytes(stream: StreamRef) -> None:
    r = _redis()
    raw = r.zrange(stream.key("lines"), 0, -1)
    total = 0
    for index in range(len(raw) - 1, -1, -1):
        total += len(raw[index])
        if total > settings.LOGS_KEPT_BYTES:
            r.zremrangebyrank(stream.key("lines"), 0, index)
            return


def kept_stream_end(*, stream: StreamRef, reason: str) -> None:
    """The pod is gone: the stream says so (once: a follower may have said it first)."""
    r = _redis()
    meta = decode_meta(r.hgetall(stream.key("meta")))
    with r.pipeline(transaction=True) as tx:
        if meta.get("state") != "ended":
            tx.hset(
                stream.key("meta"),
                mapping={"state": "ended", "reason": reason, "ended_at": _now_iso(), "primed": 1},
            )
        _expire(tx, stream)
        tx.execute()


def _unread(stream: StreamRef, why: str, *, gone: bool) -> str:
    """Never a silent drop: the log says which container lost its lines and why, and a
    gone pod's page says no lines could be read."""
    lines = _redis().zcard(stream.key("lines"))
    log.warning(
        "kept logs: no lines could be read of %s/%s/%s container %s (%s); %d lines kept before",
        stream.cluster,
        stream.namespace,
        stream.pod,
        stream.container,
        why,
        lines,
    )
    if gone:
        kept_stream_end(stream=stream, reason=f"pod deleted; no lines could be read: {why}")
    return "unread"


def pod_log_keep(
    *,
    cluster: str,
    namespace: str,
    pod: str,
    uid: str,
    container: str,
    previous: bool,
    gone: bool,
    why: str,
) -> str:
    """Keep the tail of one container instance of one pod (see the module docstring)."""
    stream = StreamRef(cluster, namespace, pod, container)
    r = _redis()
    if r.exists(stream.key("lease")):
        # A follower has this stream: it keeps every line itself, and marks the pod's end.
        return "followed"
    if gone:
        if r.zcard(stream.key("lines")):
            kept_stream_end(stream=stream, reason="pod deleted")
            return "ended"
        return _unread(stream, "the pod was deleted before its lines were read", gone=True)
    try:
        conn = Cluster.objects.get(name=cluster).connection()
    except Cluster.DoesNotExist:
        log.warning("kept logs: no cluster named %s; not keeping %s/%s", cluster, namespace, pod)
        return "no-cluster"
    try:
        current = pod_get(conn, namespace=namespace, name=pod)
    except NotFound:
        current = None
    if current is None or (current.get("metadata") or {}).get("uid") != uid:
        return _unread(stream, "the pod was gone when its lines were to be read", gone=True)
    options = LogOptions(
        container=container,
        previous=previous,
        timestamps=True,
        tail_lines=settings.LOGS_BUFFER_LINES,
    )
    try:
        body = pod_log_read(conn, namespace=namespace, pod=pod, options=options)
    except (NotFound, BadRequest) as exc:
        return _unread(stream, f"{type(exc).__name__}: {exc}", gone=False)
    state = "restarted" if previous else "terminated"
    added = kept_lines_add(stream=stream, body=body, state=state, reason=f"kept: {why}")
    log.info(
        "kept logs: %d lines of %s/%s/%s container %s%s (%s)",
        added,
        cluster,
        namespace,
        pod,
        container,
        " (previous instance)" if previous else "",
        why,
    )
    return "kept"


@shared_task(
    name=TASK_NAME,
    ignore_result=True,
    autoretry_for=(Unavailable,),
    retry_backoff=2,
    max_retries=3,
)
def pod_log_keep_task(**kwargs) -> str:
    try:
        return pod_log_keep(**kwargs)
    except Unavailable:
        raise
    except KubeError as exc:
        # Forbidden, Unauthorized, ...: not worth retrying, and never silent.
        log.warning("kept logs: cannot read %s: %s: %s", kwargs, type(exc).__name__, exc)
        return "error"
