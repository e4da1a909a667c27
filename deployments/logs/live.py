"""The "logs" kind of the live websocket: parse, authorize, group, and on join send the
backlog and keep the shared upstream stream alive (see the package's protocol in README and
deployments/logs/__init__.py)."""

from __future__ import annotations

import asyncio
import hashlib
import logging

from django.http import Http404

from controlplane.broadcast import group_name
from controlplane.clusters.selectors import cluster_get
from controlplane.kube.errors import KubeError
from controlplane.kube.logs import LogOptions, parse_timestamp, pod_log_read
from controlplane.live.streams import StreamKind, stream_kind_register
from controlplane.live.subscriptions import SubscriptionRefused

from .access import LogsRefused, logs_check
from .dedupe import split_line
from .options import subscription_parse
from .selectors import pod_containers, workload_pods
from .store import StreamRef, backlog_select, cluster_load, viewer_meta
from .upstream import Hub

log = logging.getLogger(__name__)

# How often an aggregated subscription looks for pods that joined its workload.
WORKLOAD_POLL_SECONDS = 2.0
# Streams one aggregated subscription follows at most (pods x containers).
MAX_WORKLOAD_STREAMS = 64

# Aggregated subscriptions of this process: (channel, group) -> their pod-watching task.
_workloads: dict[tuple[str, str], asyncio.Future] = {}


def parse(request) -> dict:
    subscription = subscription_parse(request)
    if "pod" in subscription and not subscription["container"]:
        raise ValueError("subscription.container: a container name is required")
    return subscription


def _target(subscription: dict) -> tuple[str, str]:
    for kind in ("pod", "deployment", "job"):
        if subscription.get(kind):
            return kind, subscription[kind]
    raise ValueError("subscription.pod: give exactly one of pod, deployment or job")


def authorize(*, user, subscription: dict, audit: bool) -> None:
    try:
        cluster = cluster_get(name=subscription["cluster"])
    except Http404:
        raise SubscriptionRefused(f"no cluster named {subscription['cluster']!r}") from None
    _kind, name = _target(subscription)
    try:
        logs_check(
            user=user,
            cluster=cluster,
            namespace=subscription["namespace"],
            name=name,
            verb="watch",
            audit=audit,
            once=True,
        )
    except LogsRefused as exc:
        raise SubscriptionRefused(str(exc)) from None


def _stream(subscription: dict) -> StreamRef:
    return StreamRef(
        subscription["cluster"],
        subscription["namespace"],
        subscription["pod"],
        subscription["container"],
    )


def group(subscription: dict) -> str:
    kind, name = _target(subscription)
    if kind == "pod":
        if subscription["previous"]:
            # Nothing is published for a terminated instance: its log comes once, on join.
            return group_name("logs-previous", *_stream(subscription).describe().values())
        return _stream(subscription).group
    containers = ",".join(subscription.get("containers") or [])
    return group_name(
        "logs-workload", subscription["cluster"], subscription["namespace"], kind, name, containers
    )


def _viewer(channel_name: str, subscription: dict) -> str:
    """The id a socket's subscription is counted under among a stream's viewers."""
    if "pod" in subscription:
        return channel_name
    digest = hashlib.sha256(group(subscription).encode()).hexdigest()[:16]
    return f"{channel_name}#{digest}"


async def joined(*, subscription: dict, channel_name: str, send) -> None:
    if "pod" not in subscription:
        hub = Hub.get()
        key = (channel_name, group(subscription))
        old = _workloads.pop(key, None)
        if old is not None:
            old.cancel()
        _workloads[key] = hub.spawn(
            lambda: _follow_workload(
                hub, subscription, channel_name, _viewer(channel_name, subscription)
            )
        )
        return
    if subscription["previous"]:
        await send(await _previous_backlog(subscription))
        return
    hub = Hub.get()
    stream = _stream(subscription)
    backlog = await hub.call(
        _join_stream(
            hub,
            stream,
            _viewer(channel_name, subscription),
            tail_lines=subscription["tail_lines"],
            cursor=subscription["cursor"],
        )
    )
    await send(backlog)


async def left(*, subscription: dict, channel_name: str) -> None:
    hub = Hub.get()
    if "pod" in subscription:
        if not subscription["previous"]:
            await hub.call(hub.viewer_leave(_stream(subscription), channel_name))
        return
    task = _workloads.pop((channel_name, group(subscription)), None)
    if task is not None:
        task.cancel()


async def _join_stream(
    hub: Hub, stream: StreamRef, viewer: str, *, tail_lines: int | None, cursor: int | None
) -> dict:
    """Runs on the hub's loop: count the viewer in, then what it missed or asked for."""
    await hub.viewer_join(stream, viewer)
    meta = await hub.wait_primed(stream)
    lines = await hub.lines(stream)
    chosen = backlog_select(lines=lines, tail_lines=tail_lines, cursor=cursor)
    missed = 0
    if cursor is not None and lines and lines[0][0] > cursor + 1:
        # Older than the kept lines: the viewer was away too long to get all of them back.
        missed = lines[0][0] - cursor - 1
    return {
        "type": "logs.backlog",
        "stream": stream.describe(),
        "lines": chosen,
        "missed": missed,
        **viewer_meta(meta),
    }


async def _previous_backlog(subscription: dict) -> dict:
    stream = _stream(subscription)

    def read() -> bytes:
        cluster = cluster_load(stream.cluster)
        options = LogOptions(
            container=stream.container,
            previous=True,
            timestamps=True,
            tail_lines=subscription["tail_lines"],
        )
        return pod_log_read(
            cluster.connection(), namespace=stream.namespace, pod=stream.pod, options=options
        )

    base = {"type": "logs.backlog", "stream": stream.describe(), "previous": True}
    try:
        raw = await asyncio.to_thread(read)
    except KubeError as exc:
        return {**base, "lines": [], "state": "error", "reason": str(exc)}
    lines = [
        [i, *split_line(line)] for i, line in enumerate(raw.split(b"\n")[:-1] if raw else [], 1)
    ]
    return {**base, "lines": lines, "state": "previous", "reason": "", "missed": 0}


def _wanted(pod: dict, containers: list[str] | None) -> list[str]:
    names = pod_containers(pod)
    wanted = names["containers"] + [c for c in names["init_containers"] if containers]
    return [c for c in wanted if not containers or c in containers]


async def _follow_workload(hub: Hub, subscription: dict, channel_name: str, viewer: str) -> None:
    """Runs on the hub's loop for one aggregated subscription: follows each pod of the workload
    as it appears (joining the socket to that stream's group and sending its backlog)."""
    kind, name = _target(subscription)
    cursors = subscription.get("cursors") or {}
    joined_streams: list[StreamRef] = []
    first = True
    try:
        cluster = await asyncio.to_thread(cluster_load, subscription["cluster"])
        while True:
            try:
                pods = await asyncio.to_thread(
                    workload_pods,
                    cluster=cluster,
                    namespace=subscription["namespace"],
                    kind=kind,
                    name=name,
                )
            except KubeError as exc:
                log.warning("pods of %s %s: %s", kind, name, exc)
                pods = []
            new = []
            for pod in pods:
                for container in _wanted(pod, subscription.get("containers")):
                    stream = StreamRef(
                        cluster.name, subscription["namespace"], pod["metadata"]["name"], container
                    )
                    if stream not in joined_streams and len(joined_streams) < MAX_WORKLOAD_STREAMS:
                        joined_streams.append(stream)
                        new.append(stream)
            if new or first:
                await _join_workload_streams(hub, new, channel_name, viewer, subscription, cursors)
            first = False
            await asyncio.sleep(WORKLOAD_POLL_SECONDS)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("following the pods of %s %s failed", kind, name)
    finally:
        for stream in joined_streams:
            await hub.layer.group_discard(stream.group, channel_name)
            await hub.viewer_leave(stream, viewer)


async def _join_workload_streams(
    hub: Hub,
    streams: list[StreamRef],
    channel_name: str,
    viewer: str,
    subscription: dict,
    cursors: dict,
) -> None:
    for stream in streams:
        await hub.layer.group_add(stream.group, channel_name)
    backlogs = await asyncio.gather(
        *(
            _join_stream(
                hub,
                stream,
                viewer,
                tail_lines=subscription["tail_lines"],
                cursor=cursors.get(f"{stream.pod}/{stream.container}"),
            )
            for stream in streams
        )
    )
    # One message, interleaved in time order, each line tagged with its pod and container.
    lines = sorted(
        (
            [line[1], stream["pod"], stream["container"], line[0], line[2]]
            for backlog in backlogs
            for stream in (backlog["stream"],)
            for line in backlog["lines"]
        ),
        key=lambda item: _sort_key(item[0]),
    )
    await hub.send_to(
        channel_name,
        {
            "type": "logs.workload_backlog",
            "workload": {"kind": _target(subscription)[0], "name": _target(subscription)[1]},
            "streams": [
                {
                    **backlog["stream"],
                    **{k: backlog[k] for k in ("state", "seq", "ended_at", "reason")},
                }
                for backlog in backlogs
            ],
            "lines": [[ts, pod, container, seq, text] for ts, pod, container, seq, text in lines],
        },
    )


def _sort_key(ts: str) -> int:
    try:
        return parse_timestamp(ts)
    except ValueError:
        return 0


_STATE_FIELDS = ("state", "seq", "ended_at", "reason")

LOGS_KIND = StreamKind(
    name="logs", parse=parse, authorize=authorize, group=group, joined=joined, left=left
)


def register() -> None:
    """Called from DeploymentsConfig.ready(): the live websocket learns the "logs" kind."""
    stream_kind_register(LOGS_KIND)
