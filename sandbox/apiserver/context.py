"""What one API request is about, and how the server reads and answers it: the request
context (resource, version, namespace, name, subresource and the query options), body decoding
(JSON, YAML, Kubernetes protobuf), and JSON/Status responses."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml
from aiohttp import web

from sandbox.apiserver import protobuf
from sandbox.machinery.errors import ApiError
from sandbox.machinery.resources import ResourceType

TABLE_MARK = "as=Table"


@dataclass(frozen=True)
class User:
    name: str
    readonly: bool

    @property
    def groups(self) -> list[str]:
        base = ["system:authenticated"]
        return base if self.readonly else ["system:masters", *base]


def json_response(
    body: Any,
    status: int = 200,
    headers: dict | None = None,
    content_type: str = "application/json",
) -> web.Response:
    data = (
        body
        if isinstance(body, bytes)
        else json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    )
    resp = web.Response(body=data, status=status)
    resp.headers["Content-Type"] = content_type
    for k, v in (headers or {}).items():
        resp.headers.add(k, v)
    return resp


def status_response(err: ApiError) -> web.Response:
    return json_response(err.status(), err.code)


def success_status(rt: ResourceType, obj: dict) -> dict:
    details = {
        "name": obj["metadata"]["name"],
        "kind": rt.plural,
        "uid": obj["metadata"].get("uid", ""),
    }
    if rt.group:
        details["group"] = rt.group
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    }


def not_found_path() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


class Ctx:
    """What one resource request is about."""

    __slots__ = ("name", "ns", "request", "rt", "sub", "version")

    def __init__(self, request, rt, version, ns, name, sub) -> None:
        self.request = request
        self.rt = rt
        self.version = version
        self.ns = ns
        self.name = name
        self.sub = sub

    @property
    def content_type(self) -> str:
        return self.request.headers.get("Content-Type", "application/json").split(";")[0].strip()

    @property
    def wants_table(self) -> bool:
        accept = self.request.headers.get("Accept", "")
        first = accept.split(",")[0]
        return TABLE_MARK in first.replace(" ", "") and "meta.k8s.io" in first

    @property
    def include_object(self) -> str:
        value = self.request.query.get("includeObject", "Metadata")
        return value if value in ("None", "Metadata", "Object") else "Metadata"

    @property
    def dry_run(self) -> bool:
        values = self.request.query.getall("dryRun", [])
        for v in values:
            if v != "All":
                raise ApiError.bad_request(
                    f'dryRun: Unsupported value: "{v}": supported values: "All"'
                )
        return bool(values)

    @property
    def field_validation(self) -> str:
        value = self.request.query.get("fieldValidation", "Warn") or "Warn"
        if value not in ("Ignore", "Warn", "Strict"):
            raise ApiError.bad_request(
                f'fieldValidation: Unsupported value: "{value}": supported values: '
                '"Ignore", "Strict", "Warn"'
            )
        return value


async def read_body(ctx: Ctx) -> Any:
    ctype = ctx.content_type
    raw = await ctx.request.read()
    if not raw:
        raise ApiError.bad_request("the request body is empty")
    if ctype == protobuf.CONTENT_TYPE:
        return protobuf.decode(raw)
    try:
        if "yaml" in ctype:
            return yaml.safe_load(raw)
        return json.loads(raw)
    except (ValueError, yaml.YAMLError) as err:
        raise ApiError.bad_request(f"the request body could not be decoded: {err}") from None
