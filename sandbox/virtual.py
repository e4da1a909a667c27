"""Resources the API server answers without storing anything: access reviews
(authorization.k8s.io), who-am-I reviews (authentication.k8s.io) and metrics.k8s.io from the
controllers' usage model."""

from __future__ import annotations

from aiohttp import web

from sandbox.context import Ctx, User, json_response, read_body
from sandbox.errors import ApiError
from sandbox.selectors import label_matcher


async def serve(cluster, ctx: Ctx, verb: str) -> web.Response:
    if ctx.rt.group == "authorization.k8s.io":
        return await _access_review(ctx)
    if ctx.rt.group == "authentication.k8s.io":
        return await _who_am_i(ctx)
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


def _metrics_table(items: list[dict], *, pods: bool) -> dict:
    """The metrics server's Table: usage summed over a pod's containers, and the window."""
    from sandbox.fields import parse_quantity

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
    obj = cluster.store.get(res, m["metadata"].get("namespace"), m["metadata"]["name"])
    return obj or m
