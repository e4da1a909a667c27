"""PATCH flavours: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and strategic merge patch
with the merge keys and directives of the real API ($patch, $setElementOrder,
$deleteFromPrimitiveList, $retainKeys)."""

from __future__ import annotations

import copy
from typing import Any

from sandbox.apiserver import schema
from sandbox.machinery.errors import ApiError

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
SUPPORTED = (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH, "application/apply-patch+cbor")


# ---- JSON patch ----


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError.bad_request(
            f"the server rejected our request due to an error in our "
            f'request: invalid JSON pointer "{path}"'
        )
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _container_and_key(doc: Any, parts: list[str], op: str) -> tuple[Any, str]:
    cur = doc
    for p in parts[:-1]:
        if isinstance(cur, dict):
            if p not in cur:
                raise ApiError(
                    422,
                    "Invalid",
                    f"jsonpatch {op} operation does not apply: doc is "
                    f"missing path: /{'/'.join(parts)}",
                )
            cur = cur[p]
        elif isinstance(cur, list):
            try:
                cur = cur[int(p)]
            except (ValueError, IndexError):
                raise ApiError(
                    422,
                    "Invalid",
                    f"jsonpatch {op} operation does not apply: doc is "
                    f"missing path: /{'/'.join(parts)}",
                ) from None
        else:
            raise ApiError(
                422,
                "Invalid",
                f"jsonpatch {op} operation does not apply: doc is missing path: /{'/'.join(parts)}",
            )
    return cur, parts[-1]


def _get(doc: Any, path: str) -> Any:
    cur = doc
    for p in _pointer(path):
        try:
            cur = cur[int(p)] if isinstance(cur, list) else cur[p]
        except (KeyError, IndexError, ValueError, TypeError):
            raise ApiError(
                422, "Invalid", f"jsonpatch operation does not apply: doc is missing path: {path}"
            ) from None
    return cur


def _add(doc: Any, path: str, value: Any) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent, key = _container_and_key(doc, parts, "add")
    if isinstance(parent, list):
        if key == "-":
            parent.append(value)
        else:
            try:
                idx = int(key)
            except ValueError:
                raise ApiError(
                    422, "Invalid", f"jsonpatch add operation: invalid index {key}"
                ) from None
            if not 0 <= idx <= len(parent):
                raise ApiError(
                    422,
                    "Invalid",
                    f"jsonpatch add operation does not apply: index {idx} out of bounds",
                )
            parent.insert(idx, value)
    elif isinstance(parent, dict):
        parent[key] = value
    else:
        raise ApiError(
            422, "Invalid", f"jsonpatch add operation does not apply: doc is missing path: {path}"
        )
    return doc


def _remove(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    parent, key = _container_and_key(doc, parts, "remove")
    try:
        if isinstance(parent, list):
            parent.pop(int(key))
        else:
            del parent[key]
    except (KeyError, IndexError, ValueError, TypeError):
        raise ApiError(
            422,
            "Invalid",
            f"jsonpatch remove operation does not apply: doc is missing path: {path}",
        ) from None
    return doc


def _json_type(value: Any) -> str:
    """The JSON type name Go's encoding/json uses in "cannot unmarshal X into ..." errors."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return {dict: "object", list: "array", str: "string"}.get(type(value), "value")


def _check_json_patch_shape(ops: Any, field_validation: str) -> None:
    """Refuse a body that is not a list of objects with the API server's decoding errors.

    Under Strict and Warn the server decodes into []handlers.jsonPatchOp first; under Ignore
    only into jsonpatch.Patch ([]Operation, each a map).
    """
    if field_validation == "Ignore":
        prefix, list_type, item_type = "", "jsonpatch.Patch", "jsonpatch.Operation"
    else:
        prefix = "error decoding patch: "
        list_type, item_type = "[]handlers.jsonPatchOp", "handlers.jsonPatchOp"
    if not isinstance(ops, list):
        raise ApiError.bad_request(
            f"{prefix}json: cannot unmarshal {_json_type(ops)} into Go value of type {list_type}"
        )
    for op in ops:
        if not isinstance(op, dict) and op is not None:
            raise ApiError.bad_request(
                f"{prefix}json: cannot unmarshal {_json_type(op)} into Go value of type {item_type}"
            )


def json_patch(doc: Any, ops: Any, field_validation: str = "Warn") -> Any:
    if ops is None:
        return copy.deepcopy(doc)  # JSON null decodes to an empty patch, as in Go
    _check_json_patch_shape(ops, field_validation)
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise ApiError.bad_request(f"invalid JSON patch operation: {op!r}")
        kind, path = op["op"], op["path"]
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            doc = _remove(doc, path)
        elif kind == "replace":
            _get(doc, path)
            doc = _remove(doc, path) if _pointer(path) else doc
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif kind == "move":
            value = _get(doc, op["from"])
            doc = _remove(doc, op["from"])
            doc = _add(doc, path, value)
        elif kind == "copy":
            doc = _add(doc, path, copy.deepcopy(_get(doc, op["from"])))
        elif kind == "test":
            if _get(doc, path) != op.get("value"):
                raise ApiError(422, "Invalid", f"testing value {path} failed")
        else:
            raise ApiError.bad_request(f'Unexpected kind: "{kind}"')
    return doc


# ---- JSON merge patch ----


def merge_patch(doc: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(doc) if isinstance(doc, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


# ---- strategic merge patch ----


def _sub_model(model: str | None, field: str) -> tuple[str | None, str | None]:
    """(form of the field's type, model name of the field or of its list/dict items)."""
    if model is None:
        return None, None
    flds = schema.fields(model)
    if not flds or field not in flds:
        return None, None
    form, inner = schema.parse(flds[field])
    if form in ("list", "dict"):
        inner_form, inner_name = schema.parse(inner)
        return form, inner_name if inner_form == "model" else None
    return form, inner if form == "model" else None


def strategic_merge(doc: Any, patch: Any, model: str | None) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    out = dict(doc) if isinstance(doc, dict) else {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if (
            key in ("$patch", "$retainKeys")
            or key.startswith("$setElementOrder/")
            or key.startswith("$deleteFromPrimitiveList/")
        ):
            continue
        if value is None:
            out.pop(key, None)
            continue
        form, sub = _sub_model(model, key)
        merge_key = schema.MERGE_KEYS.get((model or "", key))
        if isinstance(value, list):
            if merge_key is None:
                out[key] = [_strip_directives(v) for v in value]
            elif merge_key == "":
                merged = list(out.get(key) or [])
                merged.extend(v for v in value if v not in merged)
                out[key] = merged
            else:
                out[key] = _merge_list(out.get(key) or [], value, merge_key, sub)
            order = patch.get(f"$setElementOrder/{key}")
            if order and merge_key:
                out[key] = _reorder(out[key], order, merge_key)
        elif isinstance(value, dict):
            if form == "model" or form is None or form == "dict":
                merged = (
                    strategic_merge(out.get(key), value, sub if form != "dict" else None)
                    if form != "dict" or sub is None
                    else _merge_map_of_models(out.get(key), value, sub)
                )
                if merged is None:
                    out.pop(key, None)
                else:
                    out[key] = merged
            else:
                out[key] = copy.deepcopy(value)
        else:
            out[key] = value
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            out[field] = [v for v in out.get(field) or [] if v not in value]
    if isinstance(retain, list):
        for key in list(out):
            if key not in retain:
                del out[key]
    return out


def _merge_map_of_models(doc: Any, patch: dict, model: str) -> dict:
    out = dict(doc) if isinstance(doc, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = strategic_merge(out.get(k), v, model)
    return out


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    return copy.deepcopy(value)


def _merge_list(current: list, patch: list, key: str, model: str | None) -> list:
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return [
            _strip_directives(p)
            for p in patch
            if not (isinstance(p, dict) and p.get("$patch") == "replace")
        ]
    out = [copy.deepcopy(c) for c in current]
    index = {c.get(key): i for i, c in enumerate(out) if isinstance(c, dict)}
    deletions: set = set()
    for item in patch:
        if not isinstance(item, dict):
            raise ApiError.bad_request(
                f"the strategic merge patch list item {item!r} is not an object with "
                f"merge key {key}"
            )
        if key not in item:
            raise ApiError.bad_request(f"map: {item} does not contain declared merge key: {key}")
        k = item[key]
        if item.get("$patch") == "delete":
            deletions.add(k)
            continue
        if k in index:
            out[index[k]] = strategic_merge(out[index[k]], item, model)
        else:
            index[k] = len(out)
            out.append(strategic_merge(None, item, model))
    if deletions:
        out = [c for c in out if not (isinstance(c, dict) and c.get(key) in deletions)]
    return out


def _reorder(items: list, order: list, key: str) -> list:
    rank = {o.get(key): i for i, o in enumerate(order) if isinstance(o, dict)}
    ordered = sorted(
        (i for i in items if isinstance(i, dict) and i.get(key) in rank),
        key=lambda i: rank[i.get(key)],
    )
    rest = [i for i in items if not (isinstance(i, dict) and i.get(key) in rank)]
    return ordered + rest


def apply(
    content_type: str,
    current: dict,
    body: Any,
    model: str | None,
    *,
    field_validation: str = "Warn",
) -> dict:
    """The patched object; raises ApiError for malformed patches or unsupported types."""
    if content_type == JSON_PATCH:
        result = json_patch(current, body, field_validation)
    elif content_type in (MERGE_PATCH, APPLY_PATCH):
        if not isinstance(body, dict):
            raise ApiError.bad_request("merge patch must be a JSON object")
        result = merge_patch(current, body)
    elif content_type == STRATEGIC_PATCH:
        if not isinstance(body, dict):
            raise ApiError.bad_request("strategic merge patch must be a JSON object")
        if model is None:
            # the real server refuses strategic merge for kinds without Go structs (CRDs)
            raise ApiError(
                415,
                "UnsupportedMediaType",
                "strategic merge patch is not supported for this resource; use "
                "application/merge-patch+json",
            )
        result = strategic_merge(current, body, model)
    else:
        raise ApiError(
            415,
            "UnsupportedMediaType",
            f"the body of the request was in an unknown format - accepted media types "
            f"include: {', '.join(SUPPORTED)}",
        )
    if not isinstance(result, dict):
        raise ApiError.bad_request("the patch did not result in an object")
    return result
