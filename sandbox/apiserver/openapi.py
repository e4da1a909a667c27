"""OpenAPI v3 (per group-version) and v2 documents, built from the official client's models.

kubectl reads them to learn that the server validates fields itself (the fieldValidation
parameter on PATCH operations with x-kubernetes-group-version-kind), for `kubectl explain`,
and for the strategic-merge keys of client-side apply.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache

from sandbox.apiserver import schema
from sandbox.machinery.resources import RESOURCES, ResourceType, groups

_META_TYPES = {
    "V1ObjectMeta",
    "V1ListMeta",
    "V1LabelSelector",
    "V1LabelSelectorRequirement",
    "V1OwnerReference",
    "V1ManagedFieldsEntry",
    "V1Condition",
    "V1Status",
    "V1StatusDetails",
    "V1StatusCause",
    "V1DeleteOptions",
    "V1Preconditions",
}
_PKG = {
    "": "core",
    "apps": "apps",
    "autoscaling": "autoscaling",
    "batch": "batch",
    "networking.k8s.io": "networking",
    "authorization.k8s.io": "authorization",
    "authentication.k8s.io": "authentication",
    "discovery.k8s.io": "discovery",
    "policy": "policy",
}


def _version_of(model: str) -> tuple[str, str]:
    import re

    m = re.match(
        r"^(Core|Apps|Batch|Networking|Autoscaling|Policy|Authorization)?"
        r"(V\d+(?:(?:alpha|beta)\d+)?)(.+)$",
        model,
    )
    if not m:
        return "v1", model
    return m.group(2).lower(), m.group(3)


@cache
def _definition_names() -> dict[str, str]:
    """Model class -> OpenAPI definition name, assigning each nested model to the API group of
    the first kind that reaches it (core kinds first, as their types are shared)."""
    names: dict[str, str] = {}
    order = sorted(RESOURCES, key=lambda rt: rt.group != "")
    roots: list[tuple[str, str]] = []
    for rt in order:
        for v in rt.versions:
            model = rt.model_for(v)
            if model:
                roots.append((model, rt.group))
    roots.append(("V1Scale", "autoscaling"))
    roots.append(("V1Eviction", "policy"))
    for root, group in roots:
        stack = [root]
        while stack:
            model = stack.pop()
            if model in names:
                continue
            version, go = _version_of(model)
            if model in _META_TYPES:
                names[model] = f"io.k8s.apimachinery.pkg.apis.meta.{version}.{go}"
            else:
                names[model] = f"io.k8s.api.{_PKG.get(group, group)}.{version}.{go}"
            for typ in (schema.fields(model) or {}).values():
                form, inner = schema.parse(typ)
                while form in ("list", "dict"):
                    form, inner = schema.parse(inner)
                if form == "model" and schema.fields(inner) is not None:
                    stack.append(inner)
    return names


_PRIMS = {
    "str": {"type": "string"},
    "int": {"type": "integer", "format": "int32"},
    "float": {"type": "number", "format": "double"},
    "bool": {"type": "boolean"},
    "datetime": {"type": "string", "format": "date-time"},
    "date": {"type": "string", "format": "date"},
    "bytes": {"type": "string", "format": "byte"},
    "object": {
        "x-kubernetes-int-or-string": True,
        "anyOf": [{"type": "integer"}, {"type": "string"}],
    },
}


def _type_schema(typ: str, ref_prefix: str, used: set[str]) -> dict:
    form, inner = schema.parse(typ)
    if form == "prim":
        return dict(_PRIMS[inner])
    if form == "list":
        return {"type": "array", "items": _type_schema(inner, ref_prefix, used)}
    if form == "dict":
        return {"type": "object", "additionalProperties": _type_schema(inner, ref_prefix, used)}
    name = _definition_names().get(inner)
    if name is None:
        return {"type": "object"}
    used.add(inner)
    return {"$ref": ref_prefix + name}


def _model_schema(model: str, ref_prefix: str, used: set[str]) -> dict:
    props = {}
    for field, typ in (schema.fields(model) or {}).items():
        prop = _type_schema(typ, ref_prefix, used)
        key = schema.MERGE_KEYS.get((model, field))
        if key is not None and "$ref" not in prop:
            prop["x-kubernetes-patch-strategy"] = "merge"
            if key:
                prop["x-kubernetes-patch-merge-key"] = key
        if (model, field) in schema.RETAIN_KEYS and "$ref" in prop:
            # v3 wraps a $ref that has siblings in allOf; Swagger 2.0 puts them side by side
            if ref_prefix == "#/definitions/":
                prop["x-kubernetes-patch-strategy"] = "retainKeys"
            else:
                prop = {"allOf": [prop], "x-kubernetes-patch-strategy": "retainKeys"}
        props[field] = prop
    return {"type": "object", "properties": props}


def _gvk(rt: ResourceType, version: str, kind: str | None = None) -> dict:
    return {"group": rt.group, "version": version, "kind": kind or rt.kind}


def _query(name: str, desc: str, typ: str = "string") -> dict:
    return {
        "name": name,
        "in": "query",
        "description": desc,
        "schema": {"type": typ},
        "uniqueItems": True,
    }


_WRITE_PARAMS = [
    _query("dryRun", "When present, indicates that modifications should not be persisted."),
    _query(
        "fieldManager",
        "fieldManager is a name associated with the actor or entity that is making these changes.",
    ),
    _query(
        "fieldValidation",
        "fieldValidation instructs the server on how to handle objects in "
        "the request containing unknown or duplicate fields. Valid values "
        "are: Ignore, Warn, Strict.",
    ),
]
_LIST_PARAMS = [
    _query("labelSelector", "A selector to restrict the list of returned objects by their labels."),
    _query("fieldSelector", "A selector to restrict the list of returned objects by their fields."),
    _query("limit", "limit is a maximum number of responses to return for a list call.", "integer"),
    _query(
        "continue",
        "The continue option should be set when retrieving more results from the server.",
    ),
    _query(
        "resourceVersion",
        "resourceVersion sets a constraint on what resource versions a request may be served from.",
    ),
    _query("watch", "Watch for changes to the described resources.", "boolean"),
    _query(
        "allowWatchBookmarks",
        'allowWatchBookmarks requests watch events with type "BOOKMARK".',
        "boolean",
    ),
    _query("timeoutSeconds", "Timeout for the list/watch call.", "integer"),
]


def _body(ref: str, v3: bool) -> dict:
    if v3:
        return {"requestBody": {"content": {"*/*": {"schema": {"$ref": ref}}}, "required": True}}
    return {
        "parameters": [{"name": "body", "in": "body", "required": True, "schema": {"$ref": ref}}]
    }


def _response(ref: str, v3: bool) -> dict:
    if v3:
        return {
            "200": {
                "description": "OK",
                "content": {"application/json": {"schema": {"$ref": ref}}},
            },
            "401": {"description": "Unauthorized"},
        }
    return {
        "200": {"description": "OK", "schema": {"$ref": ref}},
        "401": {"description": "Unauthorized"},
    }


def _v2_param(param: dict) -> dict:
    # Swagger 2.0 puts a non-body parameter's type on the parameter itself
    out = {k: v for k, v in param.items() if k != "schema"}
    out["type"] = param.get("schema", {}).get("type", "string")
    return out


# what a patch operation consumes, as kube-apiserver lists it; kubectl apply computes a
# strategic merge patch from the OpenAPI v3 schema only when the operation lists that type
_PATCH_TYPES = (
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)
# kinds without Go structs (CRD-like) take no strategic merge patch
_PATCH_TYPES_SCHEMALESS = _PATCH_TYPES[:3]


def _op(
    action: str,
    op_id: str,
    gvk: dict,
    ref: str | None,
    params: list,
    v3: bool,
    body: bool = False,
    patch_types: tuple[str, ...] = _PATCH_TYPES,
) -> dict:
    op = {
        "operationId": op_id,
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk,
        "parameters": list(params) if v3 else [_v2_param(p) for p in params],
        "responses": _response(ref, v3) if ref else {"200": {"description": "OK"}},
    }
    if body and ref:
        if v3:
            op.update(_body(ref, v3))
            if action == "patch":
                op["requestBody"]["content"] = {t: {"schema": {"$ref": ref}} for t in patch_types}
        else:
            op["parameters"] = op["parameters"] + _body(ref, v3)["parameters"]
    if not v3:
        op["consumes"] = list(patch_types) if action == "patch" else ["*/*"]
        op["produces"] = ["application/json", "application/yaml"]
    return op


def _paths_for(
    rt: ResourceType, version: str, ref_prefix: str, used: set[str], v3: bool, defs: dict
) -> dict:
    prefix = f"/api/{version}" if not rt.group else f"/apis/{rt.group}/{version}"
    model = rt.model_for(version)
    gvk = _gvk(rt, version)
    op_base = f"{rt.kind}{version}"
    patch_types = _PATCH_TYPES if model else _PATCH_TYPES_SCHEMALESS
    if model:
        used.add(model)
        ref = ref_prefix + _definition_names()[model]
    else:
        ref = ref_prefix + f"{_PKG.get(rt.group, rt.group)}.{version}.{rt.kind}"
        defs[ref[len(ref_prefix) :]] = {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": True,
            "x-kubernetes-group-version-kind": [gvk],
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"$ref": ref_prefix + _definition_names()["V1ObjectMeta"]},
                "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
        }
        used.add("V1ObjectMeta")
    ns_param = {"name": "namespace", "in": "path", "required": True, "schema": {"type": "string"}}
    name_param = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
    if not v3:
        for p in (ns_param, name_param):
            p.pop("schema")
            p["type"] = "string"
    base = (
        f"{prefix}/namespaces/{{namespace}}/{rt.plural}"
        if rt.namespaced
        else f"{prefix}/{rt.plural}"
    )
    scope_params = [ns_param] if rt.namespaced else []
    paths: dict = {}
    if "list" in rt.verbs or "create" in rt.verbs:
        coll: dict = {"parameters": scope_params}
        if "list" in rt.verbs:
            coll["get"] = _op("list", f"list{op_base}", gvk, None, _LIST_PARAMS, v3)
        if "create" in rt.verbs:
            coll["post"] = _op("post", f"create{op_base}", gvk, ref, _WRITE_PARAMS, v3, True)
        if "deletecollection" in rt.verbs:
            coll["delete"] = _op(
                "deletecollection",
                f"deletecollection{op_base}",
                gvk,
                None,
                _LIST_PARAMS + _WRITE_PARAMS[:1],
                v3,
            )
        paths[base] = coll
    if "get" in rt.verbs:
        item: dict = {"parameters": [name_param, *scope_params]}
        item["get"] = _op("get", f"read{op_base}", gvk, ref, [], v3)
        if "update" in rt.verbs:
            item["put"] = _op("put", f"replace{op_base}", gvk, ref, _WRITE_PARAMS, v3, True)
        if "patch" in rt.verbs:
            item["patch"] = _op(
                "patch",
                f"patch{op_base}",
                gvk,
                ref,
                [
                    *_WRITE_PARAMS,
                    _query("force", 'Force is going to "force" Apply requests.', "boolean"),
                ],
                v3,
                True,
                patch_types,
            )
        if "delete" in rt.verbs:
            item["delete"] = _op("delete", f"delete{op_base}", gvk, None, _WRITE_PARAMS[:1], v3)
        paths[f"{base}/{{name}}"] = item
    if rt.namespaced and "list" in rt.verbs:
        paths[f"{prefix}/{rt.plural}"] = {
            "get": _op("list", f"list{op_base}ForAllNamespaces", gvk, None, _LIST_PARAMS, v3)
        }
    for sub in rt.subresources:
        if sub.name in ("log", "eviction", "finalize", "proxy"):
            continue
        if sub.name == "scale":
            sub_gvk = {"group": "autoscaling", "version": "v1", "kind": "Scale"}
            used.add("V1Scale")
            sub_ref = ref_prefix + _definition_names()["V1Scale"]
        else:
            sub_gvk, sub_ref = gvk, ref
        sub_item = {
            "parameters": [name_param, *scope_params],
            "get": _op("get", f"read{op_base}{sub.name}", sub_gvk, sub_ref, [], v3),
            "put": _op(
                "put", f"replace{op_base}{sub.name}", sub_gvk, sub_ref, _WRITE_PARAMS, v3, True
            ),
            "patch": _op(
                "patch",
                f"patch{op_base}{sub.name}",
                sub_gvk,
                sub_ref,
                _WRITE_PARAMS,
                v3,
                True,
                _PATCH_TYPES if sub.name == "scale" else patch_types,
            ),
        }
        paths[f"{base}/{{name}}/{sub.name}"] = sub_item
    return paths


def _definitions(used: set[str], ref_prefix: str, gvks: dict[str, list[dict]]) -> dict:
    names = _definition_names()
    defs: dict = {}
    pending = list(used)
    seen: set[str] = set()
    while pending:
        model = pending.pop()
        if model in seen or model not in names:
            continue
        seen.add(model)
        more: set[str] = set()
        d = _model_schema(model, ref_prefix, more)
        if model in gvks:
            d["x-kubernetes-group-version-kind"] = gvks[model]
        defs[names[model]] = d
        pending.extend(more - seen)
    return defs


def _gvks_by_model() -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {
        "V1Scale": [{"group": "autoscaling", "version": "v1", "kind": "Scale"}]
    }
    for rt in RESOURCES:
        for v in rt.versions:
            model = rt.model_for(v)
            if model:
                out.setdefault(model, []).append(_gvk(rt, v))
    return out


def _resources_in(group: str, version: str) -> list[ResourceType]:
    return [rt for rt in RESOURCES if rt.group == group and version in rt.versions]


@cache
def v3_document(group: str, version: str) -> bytes | None:
    rts = _resources_in(group, version)
    if not rts:
        return None
    prefix = "#/components/schemas/"
    used: set[str] = set()
    extra: dict = {}
    paths: dict = {}
    for rt in rts:
        paths.update(_paths_for(rt, version, prefix, used, True, extra))
    schemas = _definitions(used, prefix, _gvks_by_model())
    schemas.update(extra)
    doc = {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.37.1"},
        "paths": paths,
        "components": {"schemas": schemas},
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


@cache
def v3_index() -> bytes:
    paths = {}
    for group, versions in groups().items():
        for v in versions:
            doc = v3_document(group, v)
            if doc is None:
                continue
            digest = hashlib.sha512(doc).hexdigest()[:128].upper()
            gv = _gv_path(group, v)
            paths[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash={digest}"}
    return json.dumps({"paths": paths}, separators=(",", ":")).encode()


def v3_for_path(path: str) -> bytes | None:
    parts = path.strip("/").split("/")
    if len(parts) == 2 and parts[0] == "api":
        return v3_document("", parts[1])
    if len(parts) == 3 and parts[0] == "apis":
        return v3_document(parts[1], parts[2])
    return None


@cache
def v2_document() -> bytes:
    prefix = "#/definitions/"
    used: set[str] = set()
    extra: dict = {}
    paths: dict = {}
    for rt in RESOURCES:
        for v in rt.versions:
            paths.update(_paths_for(rt, v, prefix, used, False, extra))
    defs = _definitions(used, prefix, _gvks_by_model())
    defs.update(extra)
    doc = {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": "v1.37.1"},
        "paths": paths,
        "definitions": defs,
    }
    return json.dumps(doc, separators=(",", ":")).encode()
