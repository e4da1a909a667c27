"""Resources the API server answers without storing anything: access reviews
(authorization.k8s.io), who-am-I reviews (authentication.k8s.io) and metrics.k8s.io from the
controllers' usage model."""

from __future__ import annotations

import hashlib
import uuid

from aiohttp import web

from sandbox.apiserver.context import Ctx, User, json_response, read_body
from sandbox.machinery.errors import ApiError
from sandbox.machinery.quantity import parse_quantity
from sandbox.machinery.selectors import label_matcher


async def serve(cluster, ctx: Ctx, verb: str) -> web.Response:
    if ctx.rt.group == "authorization.k8s.io":
        return await _access_review(ctx)
    if ctx.rt.group == "authentication.k8s.io":
        return await _who_am_i(ctx)
    if ctx.rt.group == "discovery.k8s.io":
        return _endpoint_slices(cluster, ctx)
    return await _metrics(cluster, ctx, verb)


async def _access_review(ctx: Ctx) -> web.Response:
    body = await read_body(ctx)
    if not isinstance(body, dict) or not isinstance(body.get("spec"), dict):
        raise ApiError.invalid(
            "SelfSubjectAccessReview",
            "",
            [
                {
                    "reason": "FieldValueRequired",
                    "field": "spec",
                    "message": "Required value: exactly one of nonResourceAttributes or "
                    "resourceAttributes must be specified",
                }
            ],
            "authorization.k8s.io",
        )
    user: User = ctx.request["user"]
    spec = body["spec"]
    attrs = spec.get("resourceAttributes") or spec.get("nonResourceAttributes") or {}
    verb = attrs.get("verb", "")
    read = verb in ("get", "list", "watch") or (
        "nonResourceAttributes" in spec and verb in ("get", "head")
    )
    allowed = (
        not user.readonly
        or read
        or (attrs.get("resource") == "selfsubjectaccessreviews" and verb == "create")
    )
    # like RBAC: an allowed review says why, a denied one has no reason to give
    reason = ""
    if allowed:
        reason = (
            "the sandbox admin token may do everything"
            if not user.readonly
            else "the sandbox read-only token may read"
        )
    out = {
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": spec,
        "status": {"allowed": allowed, "reason": reason},
    }
    return json_response(out, 201)


async def _who_am_i(ctx: Ctx) -> web.Response:
    await read_body(ctx)  # the review carries nothing to read, but must be well-formed
    user: User = ctx.request["user"]
    return json_response({
        "kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "status": {"userInfo": {"username": user.name, "groups": user.groups}},
    }, 201)  # fmt: skip


async def _metrics(cluster, ctx: Ctx, verb: str) -> web.Response:
    metrics = getattr(cluster, "metrics", None)
    if metrics is None:
        raise ApiError.unavailable(
            "the server is currently unable to handle the request (metrics.k8s.io is not "
            "available: the sandbox's metrics model is not running)"
        )
    label_m = label_matcher(ctx.request.query.get("labelSelector"))
    if ctx.rt.plural == "pods":
        items = metrics.pod_metrics(ctx.ns)
        kind = "PodMetrics"
    else:
        items = metrics.node_metrics()
        kind = "NodeMetrics"
    if ctx.request.query.get("labelSelector"):
        items = [m for m in items if label_m(_labels_for_metrics(cluster, ctx, m))]
    if ctx.name is not None:
        items = [m for m in items if m["metadata"]["name"] == ctx.name]
        if not items:
            raise ApiError.not_found(ctx.rt, ctx.name)
        if not ctx.wants_table:
            return json_response(items[0])
    if ctx.wants_table:
        return json_response(_metrics_table(items, pods=ctx.rt.plural == "pods"))
    return json_response(
        {
            "kind": f"{kind}List",
            "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {},
            "items": items,
        }
    )


def slices_of(endpoints: dict) -> list[dict]:
    """The EndpointSlices the endpointslice controller would keep for one Endpoints object."""
    meta = endpoints["metadata"]
    service = meta["name"]
    out = []
    for i, subset in enumerate(endpoints.get("subsets") or []):
        eps = []
        for ready, key in ((True, "addresses"), (False, "notReadyAddresses")):
            for addr in subset.get(key) or []:
                ep = {
                    "addresses": [addr.get("ip")],
                    "conditions": {"ready": ready, "serving": ready, "terminating": False},
                }
                for field in ("nodeName", "targetRef", "hostname"):
                    if addr.get(field):
                        ep[field] = addr[field]
                eps.append(ep)
        suffix = hashlib.sha256(f"{meta.get('uid')}/{i}".encode()).hexdigest()[:5]
        out.append(
            {
                "kind": "EndpointSlice",
                "apiVersion": "discovery.k8s.io/v1",
                "metadata": {
                    "name": f"{service}-{suffix}",
                    "namespace": meta.get("namespace"),
                    "uid": str(
                        uuid.UUID(
                            hashlib.md5(  # noqa: S324 - a stable id, not security
                                f"{meta.get('uid')}/{i}".encode()
                            ).hexdigest()
                        )
                    ),
                    "resourceVersion": meta.get("resourceVersion"),
                    "creationTimestamp": meta.get("creationTimestamp"),
                    "generateName": f"{service}-",
                    "labels": {
                        "kubernetes.io/service-name": service,
                        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                    },
                },
                "addressType": "IPv4",
                "endpoints": eps,
                # name, port and protocol are always set on slices (clients dereference them)
                "ports": [
                    {
                        "name": p.get("name", ""),
                        "port": p.get("port"),
                        "protocol": p.get("protocol", "TCP"),
                        **({"appProtocol": p["appProtocol"]} if "appProtocol" in p else {}),
                    }
                    for p in subset.get("ports") or []
                ],
            }
        )
    return out


def _endpoint_slices(cluster, ctx: Ctx) -> web.Response:
    label_m = label_matcher(ctx.request.query.get("labelSelector"))
    slices = [
        s for ep in cluster.api.list("endpoints", ctx.ns) for s in slices_of(ep) if label_m(s)
    ]
    if ctx.name is not None:
        slices = [s for s in slices if s["metadata"]["name"] == ctx.name]
        if not slices:
            raise ApiError.not_found(ctx.rt, ctx.name)
        if not ctx.wants_table:
            return json_response(slices[0])
    if ctx.wants_table:
        rows = []
        for s in slices:
            ports = ",".join(str(p.get("port")) for p in s["ports"]) or "<unset>"
            addrs = [a for ep in s["endpoints"] for a in ep["addresses"]]
            shown = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")
            rows.append(
                {
                    "cells": [
                        s["metadata"]["name"],
                        s["addressType"],
                        ports,
                        shown or "<unset>",
                        "",
                    ],
                    "object": {
                        "kind": "PartialObjectMetadata",
                        "apiVersion": "meta.k8s.io/v1",
                        "metadata": s["metadata"],
                    },
                }
            )
        return json_response(
            _table(
                rows,
                [
                    ("Name", "name"),
                    ("AddressType", "address type"),
                    ("Ports", "ports"),
                    ("Endpoints", "endpoints"),
                    ("Age", "age"),
                ],
            )
        )
    return json_response(
        {
            "kind": "EndpointSliceList",
            "apiVersion": "discovery.k8s.io/v1",
            "metadata": {"resourceVersion": str(cluster.api.resource_version)},
            "items": slices,
        }
    )


def _table(rows: list[dict], columns: list[tuple[str, str]]) -> dict:
    return {
        "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {},
        "columnDefinitions": [
            {"name": n, "type": "string", "format": "name" if n == "Name" else "",
             "description": d, "priority": 0} for n, d in columns],
        "rows": rows,
    }  # fmt: skip


def _metrics_table(items: list[dict], *, pods: bool) -> dict:
    """The metrics server's Table: usage summed over a pod's containers, and the window."""

    rows = []
    for m in items:
        usages = (
            [c.get("usage") or {} for c in m.get("containers") or []]
            if pods
            else [m.get("usage") or {}]
        )
        cpu = sum(parse_quantity(u.get("cpu", "0")) for u in usages)
        memory = sum(parse_quantity(u.get("memory", "0")) for u in usages)
        rows.append(
            {
                "cells": [
                    m["metadata"]["name"],
                    f"{round(cpu * 1000)}m",
                    f"{round(memory / 2**10)}Ki",
                    m.get("window", ""),
                ],
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": m["metadata"],
                },
            }
        )
    columns = [
        ("Name", "Name must be unique within a namespace."),
        ("CPU", "CPU usage"),
        ("Memory", "Memory usage"),
        ("Window", "The time window the usage was measured over"),
    ]
    return {
        "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {},
        "columnDefinitions": [
            {"name": n, "type": "string", "format": "name" if n == "Name" else "",
             "description": d, "priority": 0} for n, d in columns],
        "rows": rows,
    }  # fmt: skip


def _labels_for_metrics(cluster, ctx: Ctx, m: dict) -> dict:
    if m["metadata"].get("labels") is not None:
        return m
    res = "pods" if ctx.rt.plural == "pods" else "nodes"
    obj = cluster.api.get(res, m["metadata"].get("namespace"), m["metadata"]["name"])
    return obj or m
