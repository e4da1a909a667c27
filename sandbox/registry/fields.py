"""Field-level rules shared by the validators: names, labels, ports, and the Causes list that
becomes a 422 Invalid."""

from __future__ import annotations

import re
from typing import Any

from sandbox.machinery.errors import (
    invalid_value,
    required,
)
from sandbox.machinery.resources import ResourceType

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")

MSG_LABEL = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
MSG_SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
MSG_DNS1035 = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
MSG_LABEL_VALUE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
MSG_QUALIFIED = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used "
    "for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)

# ---- semantic validation ----


class Causes(list):
    def add(self, cause: dict) -> None:
        self.append(cause)


def name_rule(rt: ResourceType) -> tuple[re.Pattern, str, int]:
    if rt.key in ("namespaces",):
        return DNS1123_LABEL, MSG_LABEL, 63
    if rt.key in ("services",):
        return _DNS1035_LABEL, MSG_DNS1035, 63
    if rt.key in ("jobs.batch",):
        return _DNS1123_SUBDOMAIN, MSG_SUBDOMAIN, 63
    return _DNS1123_SUBDOMAIN, MSG_SUBDOMAIN, 253


_PATH_SEGMENT_ONLY = {
    "horizontalpodautoscalers.autoscaling",
    "events",
    "nodes",
    "httproutes.gateway.networking.k8s.io",
    "gateways.gateway.networking.k8s.io",
}


def validate_meta(rt: ResourceType, obj: dict, c: Causes) -> None:
    meta = obj.get("metadata") or {}
    name = meta.get("name")
    if not name:
        c.add(required("metadata.name", "name or generateName is required"))
    elif rt.key in _PATH_SEGMENT_ONLY:
        if name in (".", "..") or "/" in name or "%" in name:
            c.add(invalid_value("metadata.name", name, 'may not contain "/" or "%"'))
    else:
        regex, msg, max_len = name_rule(rt)
        if len(name) > max_len:
            c.add(
                invalid_value("metadata.name", name, f"must be no more than {max_len} characters")
            )
        if not regex.match(name):
            c.add(invalid_value("metadata.name", name, msg))
    if rt.namespaced and not meta.get("namespace"):
        c.add(required("metadata.namespace"))
    validate_labels(meta.get("labels"), "metadata.labels", c)
    annotations = meta.get("annotations") or {}
    total = sum(len(k) + len(str(v)) for k, v in annotations.items())
    if total > 256 * 1024:
        c.add(invalid_value("metadata.annotations", "", "Too long: must have at most 262144 bytes"))


def validate_label_key(key: str, path: str, c: Causes) -> None:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS1123_SUBDOMAIN.match(prefix)):
        c.add(invalid_value(path, key, "prefix part " + MSG_SUBDOMAIN))
    if not name or len(name) > 63 or not _QUALIFIED_NAME.match(name):
        c.add(invalid_value(path, key, MSG_QUALIFIED))


def validate_labels(labels: Any, path: str, c: Causes) -> None:
    if not isinstance(labels, dict):
        return
    for k, v in labels.items():
        validate_label_key(k, path, c)
        if not isinstance(v, str) or len(v) > 63 or not _LABEL_VALUE.match(v):
            detail = (
                "must be no more than 63 characters"
                if isinstance(v, str) and len(v) > 63
                else MSG_LABEL_VALUE
            )
            c.add(invalid_value(path, v, detail))


def port_range(value: Any, path: str, c: Causes) -> None:
    if not isinstance(value, int) or not 1 <= value <= 65535:
        c.add(invalid_value(path, value, "must be between 1 and 65535, inclusive"))


def non_negative(spec: dict, field: str, path: str, c: Causes) -> None:
    value = spec.get(field)
    if value is not None and (not isinstance(value, int) or value < 0):
        c.add(invalid_value(f"{path}.{field}", value, "must be greater than or equal to 0"))


def go_map(d: dict) -> str:
    return "map[string]string{" + ", ".join(f'"{k}":"{v}"' for k, v in sorted(d.items())) + "}"


def immutable(spec: dict, old_spec: dict, field: str, path: str, c: Causes) -> None:
    if field in old_spec and spec.get(field) != old_spec.get(field):
        c.add(invalid_value(path, spec.get(field), "field is immutable"))
