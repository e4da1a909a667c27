"""The HTTP API server: authentication, routing, and the REST verbs: writes go through the
registry, lists and gets read storage's cached serializations."""

from __future__ import annotations

import asyncio
import json
import logging
from bisect import bisect_right
from typing import Any

from aiohttp import web

from sandbox.apiserver import (
    conversion,
    decoding,
    discovery,
    openapi,
    openapi_proto,
    patch,
    podlogs,
    protobuf,
    proxy,
    tables,
    virtual,
    watch,
)
from sandbox.apiserver.context import (
    Ctx,
    User,
    dumps,
    escape,
    json_response,
    not_found_path,
    read_body,
    status_response,
    success_status,
)
from sandbox.machinery.errors import REASONS, ApiError
from sandbox.machinery.resources import BY_PATH, ResourceType
from sandbox.machinery.selectors import (
    field_equalities,
    field_matcher,
    label_matcher,
    selector_string,
)
from sandbox.storage.entry import Entry
from sandbox.storage.paging import decode_continue, encode_continue

log = logging.getLogger(__name__)

MAX_BODY = 3 * 1024 * 1024
# the official Python client's VersionApi asks for /version/ (trailing slash)
PUBLIC_PATHS = {"/version", "/version/", "/healthz", "/livez", "/readyz"}
CLUSTER: web.AppKey = web.AppKey("sandbox.cluster", object)


@web.middleware
async def _auth_middleware(request: web.Request, handler):
    cluster = request.app[CLUSTER]
    try:
        if request.path not in PUBLIC_PATHS:
            header = request.headers.get("Authorization", "")
            token = header[7:].strip() if header[:7].lower() == "bearer " else None
            user = cluster.user_for_token(token) if token else None
            if user is None:
                raise ApiError(401, "Unauthorized", "Unauthorized")
            request["user"] = user
            if (
                user.readonly
                and request.method not in ("GET", "HEAD", "OPTIONS")
                and not (request.path.startswith(("/api/", "/apis/")))
            ):
                raise ApiError.forbidden(
                    f'forbidden: User "{user.name}" cannot {request.method.lower()} path '
                    f'"{request.path}"'
                )
        return await handler(request)
    except ApiError as err:
        return status_response(err)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        # aiohttp's own refusals (unknown path, body too large, bad method) as Status objects
        message = {
            404: "the server could not find the requested resource",
            405: "the server does not allow this method on the requested resource",
            413: f"Request entity too large: limit is {MAX_BODY}",
        }.get(exc.status, exc.reason)
        return status_response(ApiError(exc.status, _reason(exc.status, exc.reason), message))
    except Exception as exc:  # the real server answers 500 with a Status, and logs the cause
        log.exception("internal error serving %s %s", request.method, request.path_qs)
        return status_response(
            ApiError(500, "InternalError", f"Internal error occurred: {type(exc).__name__}: {exc}")
        )


# API Priority and Fairness identifiers, sent on every response as an APF-enabled
# kube-apiserver does. Some clients (controller-runtime, Flux, cert-manager) probe for them to
# turn their own rate limiter off; client-go and kubectl do not (kubernetes/kubernetes#111880 is
# open), so kubectl still pages a 30,000-pod list at its default 5 requests/s.
_APF_HEADERS = {
    "X-Kubernetes-PF-FlowSchema-UID": "6e4f1f4a-9a8e-4c3e-8f63-5a9c3d2b1a01",
    "X-Kubernetes-PF-PriorityLevel-UID": "0c1f0d4b-2b7a-4a8e-9d53-8f3e7c2d1b02",
}


async def _apf_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(_APF_HEADERS)


def make_app(cluster) -> web.Application:
    app = web.Application(middlewares=[_auth_middleware], client_max_size=MAX_BODY)
    app.on_response_prepare.append(_apf_headers)
    app[CLUSTER] = cluster
    api = ApiHandlers(cluster)
    app.router.add_get("/version", api.version)
    app.router.add_get("/version/", api.version)
    for path in ("/healthz", "/livez", "/readyz"):
        app.router.add_get(path, api.health)
    app.router.add_get("/openapi/v2", api.openapi_v2)
    app.router.add_get("/openapi/v3", api.openapi_v3_index)
    app.router.add_get("/openapi/v3/{path:.+}", api.openapi_v3)
    app.router.add_route("*", "/api", api.dispatch)
    app.router.add_route("*", "/api/{tail:.*}", api.dispatch)
    app.router.add_route("*", "/apis", api.dispatch)
    app.router.add_route("*", "/apis/{tail:.*}", api.dispatch)
    return app


def _bool(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")


class ApiHandlers:
    def __init__(self, cluster) -> None:
        self.cluster = cluster
        self.api = cluster.api
        self.storage = cluster.storage

    # ---- non-resource endpoints ----

    async def version(self, request: web.Request) -> web.Response:
        return json_response(discovery.version())

    async def health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def openapi_v2(self, request: web.Request) -> web.Response:
        # kubectl's validation asks for protobuf only; other clients get JSON
        if openapi_proto.wants_protobuf(request.headers.get("Accept", "")):
            return json_response(
                openapi_proto.v2_document(), content_type=openapi_proto.CONTENT_TYPE
            )
        return json_response(openapi.v2_document())

    async def openapi_v3_index(self, request: web.Request) -> web.Response:
        return json_response(openapi.v3_index())

    async def openapi_v3(self, request: web.Request) -> web.Response:
        doc = openapi.v3_for_path(request.match_info["path"])
        if doc is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return json_response(
            doc, headers={"Cache-Control": "public, immutable"} if "hash" in request.query else None
        )

    # ---- routing ----

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        accept = request.headers.get("Accept", "")
        if parts[0] == "api":
            if len(parts) == 1:
                if discovery.wants_aggregated(accept):
                    return json_response(
                        discovery.aggregated(core=True), content_type=discovery.AGGREGATED_V2
                    )
                return json_response(discovery.api_versions(request.host))
            group, version, rest = "", parts[1], parts[2:]
        else:
            if len(parts) == 1:
                if discovery.wants_aggregated(accept):
                    return json_response(
                        discovery.aggregated(core=False), content_type=discovery.AGGREGATED_V2
                    )
                return json_response(discovery.api_group_list())
            if len(parts) == 2:
                found = discovery.api_group(parts[1])
                if found is None:
                    raise not_found_path()
                return json_response(found)
            group, version, rest = parts[1], parts[2], parts[3:]
        if not rest:
            found = discovery.resource_list(group, version)
            if found is None:
                raise not_found_path()
            return json_response(found)
        return await self._resource(request, group, version, rest)

    async def _resource(
        self, request: web.Request, group: str, version: str, rest: list[str]
    ) -> web.StreamResponse:
        watch_path = False
        if rest[0] == "watch":
            watch_path, rest = True, rest[1:]
        ns: str | None = None
        if (
            len(rest) >= 3
            and rest[0] == "namespaces"
            and (group, version, rest[2]) in BY_PATH
            and BY_PATH[(group, version, rest[2])].namespaced
        ):
            ns, rest = rest[1], rest[2:]
        if len(rest) >= 3 and rest[2] == "proxy" and group == "" and ns is not None:
            return await self._proxy(request, ns, rest)
        if not rest or len(rest) > 3:
            raise not_found_path()
        rt = BY_PATH.get((group, version, rest[0]))
        if rt is None:
            raise not_found_path()
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if rt.namespaced and name is not None and ns is None:
            raise not_found_path()
        if sub is not None and rt.subresource(sub) is None:
            raise not_found_path()
        method = request.method
        verb = {
            "GET": "get" if name else "list",
            "HEAD": "get",
            "POST": "create",
            "PUT": "update",
            "PATCH": "patch",
            "DELETE": "delete" if name else "deletecollection",
        }.get(method)
        if verb is None:
            raise ApiError.method_not_allowed()
        if verb == "list" and (watch_path or _bool(request.query.get("watch"))):
            verb = "watch"
        if sub == "log" and verb != "get":
            raise ApiError.method_not_allowed()
        if sub == "eviction":
            if verb != "create":
                raise ApiError.method_not_allowed()
        elif verb == "create" and name is not None:
            raise ApiError.method_not_allowed()
        allowed_verbs = rt.subresource(sub).verbs if sub else rt.verbs
        check_verb = "list" if verb == "watch" and "watch" not in allowed_verbs else verb
        if check_verb not in allowed_verbs:
            raise ApiError.method_not_allowed()
        self._authorize(request["user"], verb, rt, ns, name, sub)
        ctx = Ctx(request, rt, version, ns, name, sub)
        if not rt.stored:
            return await virtual.serve(self.cluster, ctx, verb)
        if sub == "log":
            return await self._stream(podlogs.serve(request, self.cluster, ns or "", name or ""))
        if sub == "scale":
            return await self._scale(ctx, verb)
        if sub == "eviction":
            return await self._evict(ctx)
        handler = {
            "get": self._get,
            "list": self._list,
            "watch": self._watch,
            "create": self._create,
            "update": self._update,
            "patch": self._patch,
            "delete": self._delete,
            "deletecollection": self._delete_collection,
        }[verb]
        return await handler(ctx)

    async def _proxy(self, request: web.Request, ns: str, rest: list[str]) -> web.StreamResponse:
        rt = BY_PATH.get(("", "v1", rest[0]))
        if rt is None or rt.subresource("proxy") is None:
            raise not_found_path()
        verb = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update",
                "PATCH": "patch", "DELETE": "delete"}.get(request.method)  # fmt: skip
        if verb is None:
            raise ApiError.method_not_allowed()
        self._authorize(request["user"], verb, rt, ns, rest[1], "proxy")
        return await proxy.serve(request, self.cluster, rest[0], ns, rest[1], rest[3:])

    async def _stream(self, handler):
        """Run a long-lived stream handler where Cluster.stop() can end it promptly."""
        task = asyncio.current_task()
        streams = self.cluster.streams
        streams.add(task)
        try:
            return await handler
        finally:
            streams.discard(task)

    def _authorize(
        self,
        user: User,
        verb: str,
        rt: ResourceType,
        ns: str | None,
        name: str | None,
        sub: str | None,
    ) -> None:
        if not user.readonly or verb in ("get", "list", "watch"):
            return
        if rt.key in (
            "selfsubjectaccessreviews.authorization.k8s.io",
            "selfsubjectreviews.authentication.k8s.io",
        ):
            return  # every authenticated user may ask who it is and what it may do
        resource = f"{rt.plural}/{sub}" if sub else rt.plural
        subject = f'{rt.key} "{name}"' if name else rt.key
        where = f'in the namespace "{ns}"' if ns else "at the cluster scope"
        details: dict = {"kind": rt.plural}
        if name:
            details["name"] = name
        if rt.group:
            details["group"] = rt.group
        raise ApiError.forbidden(
            f'{subject} is forbidden: User "{user.name}" cannot {verb} resource "{resource}" '
            f'in API group "{rt.group}" {where}',
            details,
        )

    # ---- reads ----

    def _view(self, ctx: Ctx, obj: dict) -> dict:
        return conversion.to_version(ctx.rt, ctx.version, obj)

    def _respond_obj(
        self, ctx: Ctx, obj: dict, status: int = 200, warnings: list[str] | None = None
    ) -> web.Response:
        headers = {}
        body = self._view(ctx, obj)
        if ctx.wants_table:
            entry = Entry(body)
            data = tables.table_bytes(
                ctx.rt,
                [entry],
                resource_version=self.storage.resource_version,
                include_object=ctx.include_object,
            )
            return json_response(data, status)
        resp = json_response(body, status, headers)
        for w in warnings or ():
            resp.headers.add("Warning", f'299 - "{escape(w)}"')
        return resp

    async def _get(self, ctx: Ctx) -> web.Response:
        entry = self.storage.get_entry(ctx.rt.key, ctx.ns, ctx.name)
        if entry is None:
            raise ApiError.not_found(ctx.rt, ctx.name)
        if ctx.wants_table:
            return self._respond_obj(ctx, entry.obj)
        if conversion.needs_conversion(ctx.rt, ctx.version):
            return json_response(self._view(ctx, entry.obj))
        return json_response(entry.raw)

    def _matchers(self, ctx: Ctx):
        q = ctx.request.query
        return (
            label_matcher(q.get("labelSelector")),
            field_matcher(ctx.rt.plural, ctx.rt.key, q.get("fieldSelector")),
        )

    def _candidate_keys(self, ctx: Ctx) -> tuple[list[tuple[str, str]], bool]:
        """Keys to scan, narrowed through the node index when the field selector allows it."""
        fields = field_equalities(ctx.request.query.get("fieldSelector"))
        if ctx.rt.key == "pods" and fields.get("spec.nodeName"):
            keys = sorted(
                (p["metadata"]["namespace"], p["metadata"]["name"])
                for p in self.api.pods_on_node(fields["spec.nodeName"])
                if not ctx.ns or p["metadata"]["namespace"] == ctx.ns
            )
            return keys, True
        if fields.get("metadata.name") and (ctx.ns or not ctx.rt.namespaced):
            key = ((ctx.ns or ""), fields["metadata.name"])
            ok = self.storage.get_entry(ctx.rt.key, ctx.ns, fields["metadata.name"]) is not None
            return ([key] if ok else []), True
        return self.storage.sorted_keys(ctx.rt.key, ctx.ns if ctx.rt.namespaced else None), False

    async def _list(self, ctx: Ctx) -> web.Response:
        q = ctx.request.query
        label_m, field_m = self._matchers(ctx)
        keys, narrowed = self._candidate_keys(ctx)
        limit_s = q.get("limit")
        try:
            limit = int(limit_s) if limit_s else 0
        except ValueError:
            raise ApiError.bad_request(f"invalid limit: {limit_s!r}") from None
        start = 0
        cont = q.get("continue")
        if cont:
            token_rv, last = decode_continue(cont)
            if token_rv < self.storage.compacted_rv:
                raise _continue_expired(token_rv, last, self.storage.resource_version)
            start = bisect_right(keys, last)
        entry_at = self.storage.entry_at
        key = ctx.rt.key
        selected: list[Entry] = []
        next_token = None
        filtered = bool(q.get("labelSelector") or q.get("fieldSelector"))
        i = start
        n = len(keys)
        while i < n:
            ns_key, name = keys[i]
            i += 1
            entry = entry_at(key, ns_key, name)
            if entry is None:
                continue
            obj = entry.obj
            if filtered and not (label_m(obj) and field_m(obj)):
                continue
            selected.append(entry)
            if limit and len(selected) >= limit:
                if i < n:
                    next_token = encode_continue(self.storage.resource_version, keys[i - 1])
                break
        remaining = None
        if next_token and not filtered and not narrowed:
            remaining = n - i
        rv = self.storage.resource_version
        if ctx.wants_table:
            objects = None
            if conversion.needs_conversion(ctx.rt, ctx.version):
                objects = [self._view(ctx, e.obj) for e in selected]
            return json_response(
                tables.table_bytes(
                    ctx.rt,
                    selected,
                    resource_version=rv,
                    continue_token=next_token,
                    remaining=remaining,
                    include_object=ctx.include_object,
                    objects=objects,
                )
            )
        meta: dict = {"resourceVersion": str(rv)}
        if next_token:
            meta["continue"] = next_token
            if remaining is not None:
                meta["remainingItemCount"] = remaining
        if conversion.needs_conversion(ctx.rt, ctx.version):
            items = b",".join(dumps(self._view(ctx, e.obj)) for e in selected)
        else:
            items = b",".join(e.raw for e in selected)
        head = {
            "kind": f"{ctx.rt.kind}List",
            "apiVersion": ctx.rt.api_version(ctx.version),
            "metadata": meta,
        }
        body = dumps(head)[:-1] + b',"items":[' + items + b"]}"
        return json_response(body)

    async def _watch(self, ctx: Ctx) -> web.StreamResponse:
        label_m, field_m = self._matchers(ctx)
        interval = float(
            getattr(self.cluster.config, "watch_bookmark_interval", watch.DEFAULT_BOOKMARK_INTERVAL)
            or watch.DEFAULT_BOOKMARK_INTERVAL
        )
        return await self._stream(
            watch.serve(
                ctx.request,
                self.storage,
                ctx.rt,
                ctx.version,
                ctx.ns if ctx.rt.namespaced else None,
                label_m,
                field_m,
                table=ctx.wants_table,
                include_object=ctx.include_object,
                bookmark_interval=interval,
            )
        )

    # ---- writes ----

    def _decode(self, ctx: Ctx, obj: Any, *, expect_kind: str | None = None) -> list[str]:
        """Type/unknown-field checks per fieldValidation; returns warnings."""
        if not isinstance(obj, dict):
            raise ApiError.bad_request(f"the body must be a {ctx.rt.kind} object")
        kind = expect_kind or ctx.rt.kind
        api_version = ctx.rt.api_version(ctx.version)
        if obj.get("kind") and obj["kind"] != kind:
            raise ApiError.bad_request(
                f"the kind in the data ({obj['kind']}) does not match the expected kind ({kind})"
                if expect_kind
                else f"the server rejected our request due to an error in our request: "
                f'kind "{obj["kind"]}" does not match "{kind}"'
            )
        if obj.get("apiVersion") and obj["apiVersion"] != api_version and not expect_kind:
            raise ApiError.bad_request(
                f"the API version in the data ({obj['apiVersion']}) does not match the expected "
                f"API version ({api_version})"
            )
        if expect_kind:
            return []
        unknown = decoding.decode(ctx.rt, ctx.version, obj)
        mode = ctx.field_validation
        if unknown and mode == "Strict":
            raise decoding.unknown_field_error(unknown)
        if unknown and mode == "Warn":
            return [f'unknown field "{p}"' for p in unknown]
        return []

    def _check_namespace(self, ctx: Ctx, obj: dict) -> None:
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise ApiError.bad_request("metadata must be an object")
        if ctx.rt.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and body_ns != ctx.ns:
                raise ApiError.bad_request(
                    "the namespace of the provided object does not match the namespace sent on "
                    "the request"
                )
            meta["namespace"] = ctx.ns
        if ctx.name is not None and meta.get("name") and meta["name"] != ctx.name:
            raise ApiError.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL "
                f"({ctx.name})"
            )
        if ctx.name is not None and not meta.get("name"):
            meta["name"] = ctx.name

    async def _create(self, ctx: Ctx) -> web.Response:
        body = await read_body(ctx)
        warnings = self._decode(ctx, body)
        self._check_namespace(ctx, body)
        if not ctx.ns and ctx.rt.namespaced:
            raise not_found_path()
        obj = conversion.from_version(ctx.rt, ctx.version, body, None)
        created = self.api.create(ctx.rt.key, obj, dry_run=ctx.dry_run)
        return self._respond_obj(ctx, created, 201, warnings)

    async def _update(self, ctx: Ctx) -> web.Response:
        body = await read_body(ctx)
        warnings = self._decode(ctx, body)
        self._check_namespace(ctx, body)
        current = self.api.get(ctx.rt.key, ctx.ns, ctx.name)
        if current is None:
            raise ApiError.not_found(ctx.rt, ctx.name)
        obj = conversion.from_version(ctx.rt, ctx.version, body, current)
        if ctx.sub == "status" or (ctx.sub == "finalize"):
            result = self.api.update_status(ctx.rt.key, obj, dry_run=ctx.dry_run)
        else:
            result = self.api.update(ctx.rt.key, obj, dry_run=ctx.dry_run)
        return self._respond_obj(ctx, result, 200, warnings)

    async def _patch(self, ctx: Ctx) -> web.Response:
        body = await read_body(ctx)
        ctype = ctx.content_type
        current = self.api.get(ctx.rt.key, ctx.ns, ctx.name)
        if current is None:
            if ctype == patch.APPLY_PATCH and ctx.sub is None:
                if not ctx.request.query.get("fieldManager"):
                    raise ApiError.bad_request("PATCH /apply requires fieldManager to be set")
                warnings = self._decode(ctx, body)
                self._check_namespace(ctx, body)
                obj = conversion.from_version(ctx.rt, ctx.version, body, None)
                created = self.api.create(ctx.rt.key, obj, dry_run=ctx.dry_run)
                return self._respond_obj(ctx, created, 201, warnings)
            raise ApiError.not_found(ctx.rt, ctx.name)
        view = self._view(ctx, current)
        if ctype == patch.APPLY_PATCH and isinstance(body, dict):
            body = {k: v for k, v in body.items() if k not in ("status",)}
        patched = patch.apply(
            ctype, view, body, ctx.rt.model_for(ctx.version), field_validation=ctx.field_validation
        )
        warnings = self._decode(ctx, patched)
        self._check_namespace(ctx, patched)
        obj = conversion.from_version(ctx.rt, ctx.version, patched, current)
        if ctx.sub == "status":
            result = self.api.update_status(ctx.rt.key, obj, dry_run=ctx.dry_run)
        else:
            result = self.api.update(ctx.rt.key, obj, dry_run=ctx.dry_run)
        return self._respond_obj(ctx, result, 200, warnings)

    async def _delete_options(self, ctx: Ctx) -> dict:
        q = ctx.request.query
        opts: dict = {}
        raw = await ctx.request.read()
        if raw.startswith(protobuf.MAGIC):
            body = protobuf.decode(raw)
        elif raw.strip():
            try:
                body = json.loads(raw)
            except ValueError as err:
                raise ApiError.bad_request(f"invalid DeleteOptions: {err}") from None
        if raw.strip() and isinstance(body, dict):
            opts.update(body)
        if q.get("propagationPolicy"):
            opts["propagationPolicy"] = q["propagationPolicy"]
        if q.get("gracePeriodSeconds"):
            try:
                opts["gracePeriodSeconds"] = int(q["gracePeriodSeconds"])
            except ValueError:
                raise ApiError.bad_request("invalid gracePeriodSeconds") from None
        if q.get("orphanDependents"):
            opts["orphanDependents"] = _bool(q["orphanDependents"])
        if "orphanDependents" in opts and "propagationPolicy" not in opts:
            opts["propagationPolicy"] = "Orphan" if opts["orphanDependents"] else "Background"
        dry = opts.get("dryRun") or []
        if dry and dry != ["All"]:
            raise ApiError.bad_request(
                f'dryRun: Unsupported value: "{dry[0]}": supported values: "All"'
            )
        opts["dry"] = ctx.dry_run or dry == ["All"]
        return opts

    def _delete_one(self, ctx: Ctx, name: str, opts: dict) -> tuple[dict, bool]:
        result = self.api.delete(
            ctx.rt.key,
            ctx.ns,
            name,
            propagation=opts.get("propagationPolicy"),
            grace_period_seconds=opts.get("gracePeriodSeconds"),
            dry_run=opts["dry"],
            preconditions=opts.get("preconditions"),
        )
        still_there = self.api.get(ctx.rt.key, ctx.ns, name) is not None and not opts["dry"]
        return result, still_there

    async def _delete(self, ctx: Ctx) -> web.Response:
        opts = await self._delete_options(ctx)
        result, pending = self._delete_one(ctx, ctx.name, opts)
        # like the real handler: 202 only for the legacy orphanDependents=false on an object
        # that is not gone yet; namespaces, graceful pods and foreground deletion answer 200
        status = 202 if pending and opts.get("orphanDependents") is False else 200
        if pending or ctx.rt.key in ("pods", "services", "namespaces"):
            return json_response(self._view(ctx, result), status)
        return json_response(success_status(ctx.rt, result), status)

    async def _delete_collection(self, ctx: Ctx) -> web.Response:
        opts = await self._delete_options(ctx)
        label_m, field_m = self._matchers(ctx)
        victims = [
            e.obj
            for e in self.storage.iter_entries(ctx.rt.key, ctx.ns)
            if label_m(e.obj) and field_m(e.obj)
        ]
        deleted = []
        for obj in victims:
            try:
                result, _ = self._delete_one(ctx, obj["metadata"]["name"], opts)
            except ApiError as err:
                if err.code == 404:
                    continue
                raise
            deleted.append(self._view(ctx, result))
        return json_response(
            {
                "kind": f"{ctx.rt.kind}List",
                "apiVersion": ctx.rt.api_version(ctx.version),
                "metadata": {"resourceVersion": str(self.storage.resource_version)},
                "items": deleted,
            }
        )

    # ---- subresources ----

    def _scale_of(self, ctx: Ctx, obj: dict) -> dict:
        meta = obj["metadata"]
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: meta[k]
                for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                if k in meta
            },
            "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
            "status": {
                "replicas": (obj.get("status") or {}).get("replicas", 0),
                "selector": selector_string((obj.get("spec") or {}).get("selector")),
            },
        }

    async def _scale(self, ctx: Ctx, verb: str) -> web.Response:
        current = self.api.get(ctx.rt.key, ctx.ns, ctx.name)
        if current is None:
            raise ApiError.not_found(ctx.rt, ctx.name)
        scale = self._scale_of(ctx, current)
        if verb == "get":
            return json_response(scale)
        body = await read_body(ctx)
        if verb == "patch":
            new_scale = patch.apply(
                ctx.content_type, scale, body, "V1Scale", field_validation=ctx.field_validation
            )
        else:
            if isinstance(body, dict):
                self._decode(ctx, body, expect_kind="Scale")
            new_scale = body
        if not isinstance(new_scale, dict):
            raise ApiError.bad_request("the body must be a Scale object")
        replicas = (new_scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            from sandbox.machinery.errors import invalid_value

            raise ApiError.invalid(
                "Scale",
                ctx.name,
                [invalid_value("spec.replicas", replicas, "must be greater than or equal to 0")],
                "autoscaling",
            )
        rv = (new_scale.get("metadata") or {}).get("resourceVersion")
        if rv and rv != current["metadata"]["resourceVersion"]:
            raise ApiError.conflict(ctx.rt, ctx.name)
        new = dict(current)
        new["spec"] = dict(current.get("spec") or {}, replicas=replicas)
        result = self.api.update(ctx.rt.key, new, dry_run=ctx.dry_run)
        return json_response(self._scale_of(ctx, result))

    async def _evict(self, ctx: Ctx) -> web.Response:
        body = await read_body(ctx)
        if not isinstance(body, dict):
            raise ApiError.bad_request("the body must be an Eviction object")
        opts = body.get("deleteOptions") or {}
        dry = ctx.dry_run or (opts.get("dryRun") or []) == ["All"]
        self.api.delete(
            "pods",
            ctx.ns,
            ctx.name,
            grace_period_seconds=opts.get("gracePeriodSeconds"),
            propagation=opts.get("propagationPolicy"),
            dry_run=dry,
            preconditions=opts.get("preconditions"),
        )
        return json_response(
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "code": 201,
            },
            201,
        )

    # ---- virtual resources ----


def _continue_expired(token_rv: int, last: tuple[str, str], now_rv: int) -> ApiError:
    """410 for a continue token older than the kept history, as etcd compaction causes; like
    the real server it offers a token that continues inconsistently from the same key."""
    err = ApiError.expired(
        "The provided continue parameter is too old to display a consistent list result. You "
        "can start a new list without the continue parameter, or use the continue token in this "
        "response to retrieve the remainder of the results. Continuing with the provided token "
        "results in an inconsistent list - objects that were created, modified, or deleted "
        "between the time the first chunk was returned and now may show up in the list."
    )
    err.list_continue = encode_continue(now_rv, last)
    return err


def _reason(code: int, fallback: str) -> str:
    return REASONS.get(code, {413: "RequestEntityTooLarge"}.get(code, fallback.replace(" ", "")))


__all__ = ["CLUSTER", "User", "make_app", "status_response"]
