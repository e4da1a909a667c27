"""Decoding checks at the HTTP edge, as the real server's JSON decoder makes them: value types
(a 400 naming the Go struct field) and unknown fields (removed; under fieldValidation=Strict a
400 `strict decoding error: unknown field "..."`), driven by the official client's models."""

from __future__ import annotations

import re
from typing import Any

from sandbox.apiserver import schema
from sandbox.machinery.errors import ApiError
from sandbox.machinery.resources import ResourceType

# Dict[str, str] / str fields that hold resource.Quantity values (numbers are accepted there)
_QUANTITY_FIELDS = {
    "limits",
    "requests",
    "capacity",
    "allocatable",
    "hard",
    "used",
    "sizeLimit",
    "averageValue",
    "value",
    "storage",
    "cpu",
    "memory",
}

_GO_TYPES = {
    "str": "string",
    "int": "int32",
    "bool": "bool",
    "float": "float64",
    "datetime": "v1.Time",
    "date": "string",
}


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


class _Decoder:
    def __init__(self, rt: ResourceType, version: str) -> None:
        self.rt = rt
        self.version = version
        self.unknown: list[str] = []

    def type_error(self, value: Any, parent_model: str, path: str, go_type: str) -> ApiError:
        kind = self.rt.kind
        return ApiError.bad_request(
            f'{kind} in version "{self.version}" cannot be handled as a {kind}: json: cannot '
            f"unmarshal {_json_kind(value)} into Go struct field "
            f"{schema.go_type_name(parent_model)}.{path} of type {go_type}"
        )

    def walk_model(self, obj: dict, model: str, path: str) -> None:
        flds = schema.fields(model)
        if flds is None:
            return
        for key in list(obj):
            sub = f"{path}.{key}" if path else key
            typ = flds.get(key)
            if typ is None:
                self.unknown.append(sub)
                del obj[key]  # the real decoder drops what it does not know
                continue
            value = obj[key]
            if value is None:
                continue
            checked = self.walk_value(value, typ, model, sub, key)
            if checked is not value:
                obj[key] = checked

    def walk_value(self, value: Any, typ: str, parent: str, path: str, field: str) -> Any:
        form, inner = schema.parse(typ)
        go_path = re.sub(r"\[\d+\]", "", path)
        if form == "model":
            if not isinstance(value, dict):
                raise self.type_error(value, parent, go_path, f"v1.{schema.go_type_name(inner)}")
            self.walk_model(value, inner, path)
        elif form == "list":
            if not isinstance(value, list):
                raise self.type_error(value, parent, go_path, "[]" + _go(inner))
            for i, item in enumerate(value):
                if item is None:
                    continue
                checked = self.walk_value(item, inner, parent, f"{path}[{i}]", field)
                if checked is not item:
                    value[i] = checked
        elif form == "dict":
            if not isinstance(value, dict):
                raise self.type_error(value, parent, go_path, "map[string]" + _go(inner))
            for k, item in list(value.items()):
                if item is None:
                    continue
                checked = self.walk_value(item, inner, parent, f"{path}[{k}]", field)
                if checked is not item:
                    value[k] = checked
        else:
            return self.check_primitive(value, inner, parent, go_path, field)
        return value

    def check_primitive(self, value: Any, typ: str, parent: str, path: str, field: str) -> Any:
        if typ == "object":
            return value
        if typ == "bytes":  # []byte travels as base64 text in JSON
            if isinstance(value, str):
                return value
            raise self.type_error(value, parent, path, "[]uint8")
        if typ == "str":
            if isinstance(value, str):
                return value
            if (
                field in _QUANTITY_FIELDS
                and isinstance(value, int | float)
                and not isinstance(value, bool)
            ):
                return _canonical_number(value)
            raise self.type_error(value, parent, path, "string")
        if typ == "int":
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise self.type_error(value, parent, path, "int32")
        if typ == "float":
            if isinstance(value, int | float) and not isinstance(value, bool):
                return value
            raise self.type_error(value, parent, path, "float64")
        if typ == "bool":
            if isinstance(value, bool):
                return value
            raise self.type_error(value, parent, path, "bool")
        if typ in ("datetime", "date"):
            if isinstance(value, str):
                return value
            raise self.type_error(value, parent, path, _GO_TYPES[typ])
        return value


def _go(typ: str) -> str:
    form, inner = schema.parse(typ)
    if form == "model":
        return "v1." + schema.go_type_name(inner)
    if form == "list":
        return "[]" + _go(inner)
    if form == "dict":
        return "map[string]" + _go(inner)
    return _GO_TYPES.get(inner, "interface {}")


def _canonical_number(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def decode(rt: ResourceType, version: str, obj: dict) -> list[str]:
    """Check value types (400 on mismatch) and remove unknown fields, returning their paths."""
    model = rt.model_for(version)
    if model is None:
        return []
    decoder = _Decoder(rt, version)
    decoder.walk_model(obj, model, "")
    return decoder.unknown


def unknown_field_error(paths: list[str]) -> ApiError:
    return ApiError.bad_request(
        "strict decoding error: " + ", ".join(f'unknown field "{p}"' for p in paths)
    )
