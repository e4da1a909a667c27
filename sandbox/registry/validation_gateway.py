"""Gateway API HTTPRoute (gateway.networking.k8s.io/v1) validation: the rules that the CRD's
OpenAPI schema and CEL expressions make a real API server enforce (limits on lists, enums,
weights, a port for Service backends, absolute paths, header names), reported per field."""

from __future__ import annotations

import re

from sandbox.machinery.errors import duplicate, invalid_value, required, unsupported
from sandbox.registry.fields import Causes

MAX_PARENT_REFS = 32
MAX_HOSTNAMES = 16
MAX_RULES = 16
MAX_MATCHES = 64
MAX_BACKEND_REFS = 16
MAX_WEIGHT = 1_000_000
PATH_TYPES = ["Exact", "PathPrefix", "RegularExpression"]
HEADER_TYPES = ["Exact", "RegularExpression"]
FILTER_TYPES = {
    "RequestHeaderModifier": "requestHeaderModifier",
    "ResponseHeaderModifier": "responseHeaderModifier",
    "RequestMirror": "requestMirror",
    "RequestRedirect": "requestRedirect",
    "URLRewrite": "urlRewrite",
    "ExtensionRef": "extensionRef",
}
# RFC 7230 token characters, the CRD's pattern for header names.
HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$")


def _too_many(c: Causes, path: str, items: list, limit: int) -> bool:
    if len(items) > limit:
        c.add(invalid_value(path, len(items), f"must have at most {limit} items"))
        return True
    return False


def _headers(headers: list, path: str, c: Causes) -> None:
    seen: set[str] = set()
    for k, header in enumerate(headers):
        where = f"{path}[{k}]"
        kind = header.get("type", "Exact")
        if kind not in HEADER_TYPES:
            c.add(unsupported(f"{where}.type", kind, HEADER_TYPES))
        name = header.get("name")
        if not name:
            c.add(required(f"{where}.name"))
        elif not HEADER_NAME.match(name):
            c.add(invalid_value(f"{where}.name", name, "must be a valid HTTP header name"))
        elif name.lower() in seen:
            c.add(duplicate(f"{where}.name", name))
        else:
            seen.add(name.lower())
        value = header.get("value")
        if value is None or value == "":
            c.add(required(f"{where}.value"))
        elif len(value) > 4096:
            c.add(invalid_value(f"{where}.value", value[:20], "may not be longer than 4096"))


def _match(match: dict, path: str, c: Causes) -> None:
    p = match.get("path")
    if p is not None:
        kind = p.get("type", "PathPrefix")
        value = p.get("value", "/")
        if kind not in PATH_TYPES:
            c.add(unsupported(f"{path}.path.type", kind, PATH_TYPES))
        elif kind != "RegularExpression" and not str(value).startswith("/"):
            c.add(invalid_value(f"{path}.path.value", value, "value must be an absolute path"))
    _headers(match.get("headers") or [], f"{path}.headers", c)


def _filters(filters: list, path: str, c: Causes) -> None:
    for k, flt in enumerate(filters):
        where = f"{path}[{k}]"
        kind = flt.get("type")
        if kind not in FILTER_TYPES:
            c.add(unsupported(f"{where}.type", kind, list(FILTER_TYPES)))
        elif flt.get(FILTER_TYPES[kind]) is None:
            c.add(
                required(
                    f"{where}.{FILTER_TYPES[kind]}",
                    f"filter.{FILTER_TYPES[kind]} must be specified for {kind} filter.type",
                )
            )


def _backend(ref: dict, path: str, c: Causes) -> None:
    if not ref.get("name"):
        c.add(required(f"{path}.name"))
    kind = ref.get("kind", "Service")
    if kind == "Service" and ref.get("group", "") == "" and ref.get("port") is None:
        c.add(required(f"{path}.port", "Must have port for Service reference"))
    port = ref.get("port")
    if port is not None and (not isinstance(port, int) or not 1 <= port <= 65535):
        c.add(invalid_value(f"{path}.port", port, "must be between 1 and 65535, inclusive"))
    weight = ref.get("weight", 1)
    if not isinstance(weight, int) or isinstance(weight, bool) or not 0 <= weight <= MAX_WEIGHT:
        c.add(
            invalid_value(
                f"{path}.weight", weight, f"must be between 0 and {MAX_WEIGHT}, inclusive"
            )
        )
    _filters(ref.get("filters") or [], f"{path}.filters", c)


def httproute(obj: dict, old: dict | None, c: Causes) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        c.add(required("spec"))
        return
    parents = spec.get("parentRefs") or []
    if not _too_many(c, "spec.parentRefs", parents, MAX_PARENT_REFS):
        for i, ref in enumerate(parents):
            if not ref.get("name"):
                c.add(required(f"spec.parentRefs[{i}].name"))
    _too_many(c, "spec.hostnames", spec.get("hostnames") or [], MAX_HOSTNAMES)
    rules = spec.get("rules") or []
    if _too_many(c, "spec.rules", rules, MAX_RULES):
        return
    for i, rule in enumerate(rules):
        where = f"spec.rules[{i}]"
        matches = rule.get("matches") or []
        if not _too_many(c, f"{where}.matches", matches, MAX_MATCHES):
            for j, match in enumerate(matches):
                _match(match, f"{where}.matches[{j}]", c)
        refs = rule.get("backendRefs") or []
        if not _too_many(c, f"{where}.backendRefs", refs, MAX_BACKEND_REFS):
            for j, ref in enumerate(refs):
                _backend(ref, f"{where}.backendRefs[{j}]", c)
        _filters(rule.get("filters") or [], f"{where}.filters", c)
