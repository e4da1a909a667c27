"""The pods/proxy and services/proxy subresources: a request to
`/api/v1/namespaces/NS/pods/[SCHEME:]NAME[:PORT]/proxy/PATH` reaches the pod's port through the
API server, as `kubectl get --raw` and the control plane's metrics scraper use it.

Pods of the process runtime (loopback pod IPs) are really reached. A simulated pod has no
process to reach: for `/metrics` the proxy answers with the sandbox's simulated Prometheus
text for the pod (what kubelet/prometheus.py writes from the usage model); any other path is a
503 saying why. A Service is reached through one of its ready endpoints, round robin.
"""

from __future__ import annotations

import ipaddress
import itertools

import aiohttp
from aiohttp import web

from sandbox.machinery.errors import ApiError

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "authorization",
    "host",
    "content-length",
}
_LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
_turns = itertools.count()
PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _split(name: str) -> tuple[str, str, str]:
    parts = name.split(":")
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    if len(parts) == 2:
        return "http", parts[0], parts[1]
    return "http", name, ""


def _reachable(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip) in _LOOPBACK
    except ValueError:
        return False


def _unavailable(message: str) -> ApiError:
    return ApiError(503, "ServiceUnavailable", message)


def _container_port(pod: dict, port: str) -> int:
    containers = (pod.get("spec") or {}).get("containers") or []
    declared = [p for c in containers for p in c.get("ports") or []]
    if not port:
        if not declared:
            raise ApiError.bad_request(f"pod {pod['metadata']['name']} has no container ports")
        return int(declared[0]["containerPort"])
    if port.isdigit():
        return int(port)
    for p in declared:
        if p.get("name") == port:
            return int(p["containerPort"])
    raise ApiError.bad_request(f"no such port {port!r} on pod {pod['metadata']['name']}")


async def serve(request: web.Request, cluster, kind: str, ns: str, name: str, tail: list[str]):
    scheme, name, port = _split(name)
    path = "/" + "/".join(tail)
    if request.path.endswith("/") and tail:
        path += "/"
    api = cluster.api
    if kind == "pods":
        pod = api.get("pods", ns, name)
        if pod is None:
            raise ApiError.not_found("pods", name)
        return await _to_pod(request, cluster, pod, scheme, _container_port(pod, port), path)
    svc = api.get("services", ns, name)
    if svc is None:
        raise ApiError.not_found("services", name)
    ports = (svc.get("spec") or {}).get("ports") or []
    chosen = None
    for sp in ports:
        if not port or sp.get("name") == port or str(sp.get("port")) == port:
            chosen = sp
            break
    if chosen is None:
        raise ApiError.bad_request(f"no such port {port!r} on service {name}")
    endpoints = api.get("endpoints", ns, name) or {}
    candidates = []
    for subset in endpoints.get("subsets") or []:
        target = next(
            (
                p.get("port")
                for p in subset.get("ports") or []
                if p.get("name", "") == chosen.get("name", "") or len(ports) == 1
            ),
            None,
        )
        for address in subset.get("addresses") or []:
            if target is not None:
                candidates.append((address, int(target)))
    if not candidates:
        raise _unavailable(f'no endpoints available for service "{name}"')
    address, target = candidates[next(_turns) % len(candidates)]
    ref = address.get("targetRef") or {}
    pod = api.get("pods", ns, ref.get("name", "")) if ref.get("kind") == "Pod" else None
    if pod is None:
        pod = {"metadata": {"name": address["ip"]}, "status": {"podIP": address["ip"]}}
    return await _to_pod(request, cluster, pod, scheme, target, path)


async def _to_pod(
    request: web.Request, cluster, pod: dict, scheme: str, port: int, path: str
) -> web.StreamResponse:
    ip = (pod.get("status") or {}).get("podIP")
    if not ip:
        raise _unavailable(f"pod {pod['metadata']['name']} has no IP yet")
    if not _reachable(ip):
        if path == "/metrics" and request.method == "GET" and cluster.metrics is not None:
            text = cluster.metrics.prometheus_text(pod)
            return web.Response(body=text.encode(), headers={"Content-Type": PROMETHEUS_TYPE})
        raise _unavailable(
            f"error trying to reach service: pod {pod['metadata']['name']} is simulated "
            f"({ip} is not a real address): only GET /metrics answers, from the sandbox's "
            "usage model"
        )
    url = f"{scheme}://{ip}:{port}{path}"
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
    body = await request.read()
    timeout = aiohttp.ClientTimeout(total=60)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as session,
            session.request(
                request.method,
                url,
                params=request.query,
                headers=headers,
                data=body or None,
                allow_redirects=False,
                ssl=False,
            ) as upstream,
        ):
            payload = await upstream.read()
            out = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP}
            return web.Response(status=upstream.status, body=payload, headers=out)
    except aiohttp.ClientError as exc:
        raise _unavailable(f"error trying to reach service: dial tcp {ip}:{port}: {exc}") from None
    except TimeoutError:
        raise _unavailable(f"error trying to reach service: {url}: timeout") from None
