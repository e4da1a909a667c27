"""The pods/log subresource: what the kubelet serves for a container's log, read from the
cluster's LogBook (follow streams end when the container terminates, restarts or the pod goes)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from aiohttp import web

from sandbox.machinery.errors import ApiError


def _rfc3339nano(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond * 1000:09d}Z"


def _parse_time(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        raise ApiError.bad_request(f"sinceTime: invalid value {value!r}") from None


def _int_param(query, name: str) -> int | None:
    value = query.get(name)
    if value in (None, ""):
        return None
    try:
        n = int(value)
    except ValueError:
        raise ApiError.bad_request(f"{name}: invalid value {value!r}") from None
    if n < 0 or (name in ("sinceSeconds", "limitBytes") and n == 0):
        raise ApiError.invalid(
            "PodLogOptions",
            "",
            [
                {
                    "reason": "FieldValueInvalid",
                    "field": name,
                    "message": f"Invalid value: {n}: must be greater than 0",
                }
            ],
        )
    return n


def _container_state(pod: dict, container: str) -> dict:
    status = pod.get("status") or {}
    for cs in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
        if cs.get("name") == container:
            return cs
    return {}


async def serve(request, cluster, ns: str, name: str):
    """GET pods/NAME/log with the options of the real kubelet-backed endpoint."""
    api, book = cluster.api, cluster.logs
    pod = api.get("pods", ns, name)
    if pod is None:
        raise ApiError.not_found("pods", name)
    q = request.query
    spec = pod.get("spec") or {}
    names = [c.get("name") for c in spec.get("containers") or []]
    init_names = [c.get("name") for c in spec.get("initContainers") or []]
    container = q.get("container")
    if not container:
        if len(names) != 1:
            msg = (
                f"a container name must be specified for pod {name}, choose one of: "
                f"[{' '.join(names)}]"
            )
            if init_names:
                msg += f" or one of the init containers: [{' '.join(init_names)}]"
            raise ApiError.bad_request(msg)
        container = names[0]
    elif container not in names and container not in init_names:
        raise ApiError.bad_request(f"container {container} is not valid for pod {name}")
    previous = q.get("previous", "").lower() in ("true", "1")
    follow = q.get("follow", "").lower() in ("true", "1")
    timestamps = q.get("timestamps", "").lower() in ("true", "1")
    tail = _int_param(q, "tailLines")
    since_seconds = _int_param(q, "sinceSeconds")
    limit = _int_param(q, "limitBytes")
    since_time = _parse_time(q["sinceTime"]) if q.get("sinceTime") else None
    if since_seconds is not None:
        since_time = datetime.fromtimestamp(datetime.now(UTC).timestamp() - since_seconds, UTC)
    lines = book.lines(ns, name, container, previous=previous)
    if lines is None:
        raise ApiError.bad_request(
            f'previous terminated container "{container}" in pod "{name}" not found'
        )
    state = _container_state(pod, container).get("state") or {}
    if not lines and not previous and "waiting" in state:
        reason = state["waiting"].get("reason") or "ContainerCreating"
        raise ApiError.bad_request(
            f'container "{container}" in pod "{name}" is waiting to start: {reason}'
        )
    if (
        not lines
        and not previous
        and not state
        and (pod.get("status") or {}).get("phase") == "Pending"
    ):
        raise ApiError.bad_request(
            f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating'
        )
    seq = book.seq(ns, name, container)

    def select(items: list) -> list:
        if since_time is not None:
            items = [item for item in items if item[0] >= since_time]
        if tail is not None:
            items = items[-tail:] if tail else []
        return items

    def render(items: list) -> bytes:
        if timestamps:
            return "".join(f"{_rfc3339nano(ts)} {line}\n" for ts, line in items).encode()
        return "".join(f"{line}\n" for _, line in items).encode()

    first = render(select(lines))
    budget = limit
    if budget is not None:
        first = first[:budget]
        budget -= len(first)
    if not follow or previous:
        return web.Response(body=first, content_type="text/plain")
    resp = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    waker = book.waker(ns, name)
    request["sandbox.log.uid"] = pod["metadata"].get("uid")
    book.follow_opened(ns, name, container)
    try:
        if first:
            await resp.write(first)
        while budget is None or budget > 0:
            waker.clear()
            new, seq_now = book.since_seq(ns, name, container, seq)
            if seq_now < 0:
                break  # the container restarted: this instance's log is complete
            seq = seq_now
            if new:
                chunk = render(new)
                if budget is not None:
                    chunk = chunk[:budget]
                    budget -= len(chunk)
                await resp.write(chunk)
                continue
            stopping = getattr(cluster, "stopping", None)
            if stopping is not None and stopping.is_set():
                break  # the server is stopping: end the stream cleanly
            pod = api.get("pods", ns, name)
            if pod is None or pod["metadata"].get("uid") != _uid(request, pod):
                break
            cs = _container_state(pod, container)
            if "terminated" in (cs.get("state") or {}):
                break
            try:
                await asyncio.wait_for(waker.wait(), timeout=5.0)
            except TimeoutError:
                transport = request.transport
                if transport is None or transport.is_closing():
                    break
    except ConnectionResetError:
        pass  # the reader went away; nothing left to deliver
    finally:
        book.drop_waker(ns, name, waker)
        book.follow_closed(ns, name, container)
    return resp


def _uid(request, pod: dict) -> str:
    # the uid of the pod the stream started on: a recreated pod of the same name ends it
    key = "sandbox.log.uid"
    if key not in request:
        request[key] = pod["metadata"].get("uid")
    return request[key]
