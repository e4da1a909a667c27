"""Validation like the real API server: decoding checks at the HTTP edge (types, unknown
fields) and per-kind semantic validation on every write (422 Invalid with field causes)."""

from __future__ import annotations

import re
from typing import Any

from sandbox import schema
from sandbox.errors import (
    ApiError,
    duplicate,
    forbidden_field,
    invalid_value,
    required,
    unsupported,
)
from sandbox.resources import ResourceType

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_QUANTITY = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+|E[+-]?\d+|[KMGTPE]i|[numkMGTPE])?$")
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")

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

# ---- quantities ----

_SUFFIX = {
    "n": 1e-9,
    "u": 1e-6,
    "m": 1e-3,
    "": 1.0,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}


def parse_quantity(value: Any) -> float:
    """A resource.Quantity as a float ('500m' -> 0.5, '1Gi' -> 1073741824.0)."""
    if isinstance(value, bool):
        raise ValueError(f"not a quantity: {value!r}")
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    m = _QUANTITY.match(text)
    if not m:
        raise ValueError(
            f"quantities must match the regular expression "
            f"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {text!r}"
        )
    number, suffix = m.group(1), m.group(2) or ""
    sign = -1.0 if text.startswith("-") else 1.0
    if suffix[:1] in ("e", "E") and len(suffix) > 1:
        return sign * float(number + suffix)
    return sign * float(number) * _SUFFIX[suffix]


# ---- decoding: types and unknown fields ----

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


# ---- semantic validation ----


class Causes(list):
    def add(self, cause: dict) -> None:
        self.append(cause)


def _name_rule(rt: ResourceType) -> tuple[re.Pattern, str, int]:
    if rt.key in ("namespaces",):
        return _DNS1123_LABEL, MSG_LABEL, 63
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


def _validate_meta(rt: ResourceType, obj: dict, c: Causes) -> None:
    meta = obj.get("metadata") or {}
    name = meta.get("name")
    if not name:
        c.add(required("metadata.name", "name or generateName is required"))
    elif rt.key in _PATH_SEGMENT_ONLY:
        if name in (".", "..") or "/" in name or "%" in name:
            c.add(invalid_value("metadata.name", name, 'may not contain "/" or "%"'))
    else:
        regex, msg, max_len = _name_rule(rt)
        if len(name) > max_len:
            c.add(
                invalid_value("metadata.name", name, f"must be no more than {max_len} characters")
            )
        if not regex.match(name):
            c.add(invalid_value("metadata.name", name, msg))
    if rt.namespaced and not meta.get("namespace"):
        c.add(required("metadata.namespace"))
    _validate_labels(meta.get("labels"), "metadata.labels", c)
    annotations = meta.get("annotations") or {}
    total = sum(len(k) + len(str(v)) for k, v in annotations.items())
    if total > 256 * 1024:
        c.add(invalid_value("metadata.annotations", "", "Too long: must have at most 262144 bytes"))


def _validate_label_key(key: str, path: str, c: Causes) -> None:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS1123_SUBDOMAIN.match(prefix)):
        c.add(invalid_value(path, key, "prefix part " + MSG_SUBDOMAIN))
    if not name or len(name) > 63 or not _QUALIFIED_NAME.match(name):
        c.add(invalid_value(path, key, MSG_QUALIFIED))


def _validate_labels(labels: Any, path: str, c: Causes) -> None:
    if not isinstance(labels, dict):
        return
    for k, v in labels.items():
        _validate_label_key(k, path, c)
        if not isinstance(v, str) or len(v) > 63 or not _LABEL_VALUE.match(v):
            detail = (
                "must be no more than 63 characters"
                if isinstance(v, str) and len(v) > 63
                else MSG_LABEL_VALUE
            )
            c.add(invalid_value(path, v, detail))


def _port_range(value: Any, path: str, c: Causes) -> None:
    if not isinstance(value, int) or not 1 <= value <= 65535:
        c.add(invalid_value(path, value, "must be between 1 and 65535, inclusive"))


def _validate_container(ct: dict, path: str, c: Causes, names: set, volumes: set) -> None:
    name = ct.get("name")
    if not name:
        c.add(required(f"{path}.name"))
    else:
        if not _DNS1123_LABEL.match(name) or len(name) > 63:
            c.add(invalid_value(f"{path}.name", name, MSG_LABEL))
        if name in names:
            c.add(duplicate(f"{path}.name", name))
        names.add(name)
    if not ct.get("image"):
        c.add(required(f"{path}.image"))
    policy = ct.get("imagePullPolicy")
    if policy is not None and policy not in ("Always", "IfNotPresent", "Never"):
        c.add(unsupported(f"{path}.imagePullPolicy", policy, ["Always", "IfNotPresent", "Never"]))
    port_names: set[str] = set()
    for i, port in enumerate(ct.get("ports") or []):
        _port_range(port.get("containerPort"), f"{path}.ports[{i}].containerPort", c)
        proto = port.get("protocol", "TCP")
        if proto not in ("TCP", "UDP", "SCTP"):
            c.add(unsupported(f"{path}.ports[{i}].protocol", proto, ["SCTP", "TCP", "UDP"]))
        pname = port.get("name")
        if pname:
            if pname in port_names:
                c.add(duplicate(f"{path}.ports[{i}].name", pname))
            port_names.add(pname)
    for i, env in enumerate(ct.get("env") or []):
        if not env.get("name"):
            c.add(required(f"{path}.env[{i}].name"))
    for i, mount in enumerate(ct.get("volumeMounts") or []):
        if not mount.get("name"):
            c.add(required(f"{path}.volumeMounts[{i}].name"))
        elif mount["name"] not in volumes:
            c.add(
                {
                    "reason": "FieldValueNotFound",
                    "field": f"{path}.volumeMounts[{i}].name",
                    "message": f'Not found: "{mount["name"]}"',
                }
            )
        if not mount.get("mountPath"):
            c.add(required(f"{path}.volumeMounts[{i}].mountPath"))
    res = ct.get("resources") or {}
    parsed: dict[str, dict[str, float]] = {}
    for kind in ("limits", "requests"):
        parsed[kind] = {}
        for rname, qty in (res.get(kind) or {}).items():
            try:
                parsed[kind][rname] = parse_quantity(qty)
            except ValueError:
                c.add(
                    invalid_value(
                        f"{path}.resources.{kind}[{rname}]",
                        qty,
                        "must match the regex ^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$",
                    )
                )
                continue
            if parsed[kind][rname] < 0:
                c.add(
                    invalid_value(
                        f"{path}.resources.{kind}[{rname}]",
                        qty,
                        "must be greater than or equal to 0",
                    )
                )
    for rname, req in parsed["requests"].items():
        lim = parsed["limits"].get(rname)
        if lim is not None and req > lim:
            c.add(
                invalid_value(
                    f"{path}.resources.requests",
                    res["requests"][rname],
                    f"must be less than or equal to {rname} limit of {res['limits'][rname]}",
                )
            )
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        p = ct.get(probe)
        if isinstance(p, dict):
            handlers = [h for h in ("exec", "httpGet", "tcpSocket", "grpc") if p.get(h)]
            if not handlers:
                c.add(required(f"{path}.{probe}", "must specify a handler type"))
            elif len(handlers) > 1:
                c.add(
                    forbidden_field(
                        f"{path}.{probe}.{handlers[1]}", "may not specify more than 1 handler type"
                    )
                )


def validate_pod_spec(spec: Any, path: str, c: Causes, *, restart: tuple[str, ...] | None = None):
    if not isinstance(spec, dict):
        c.add(required(path))
        return
    volumes: set[str] = set()
    for i, vol in enumerate(spec.get("volumes") or []):
        vname = vol.get("name")
        if not vname:
            c.add(required(f"{path}.volumes[{i}].name"))
        elif vname in volumes:
            c.add(duplicate(f"{path}.volumes[{i}].name", vname))
        else:
            volumes.add(vname)
    containers = spec.get("containers")
    if not containers:
        c.add(required(f"{path}.containers"))
    names: set[str] = set()
    for i, ct in enumerate(containers or []):
        _validate_container(ct, f"{path}.containers[{i}]", c, names, volumes)
    for i, ct in enumerate(spec.get("initContainers") or []):
        _validate_container(ct, f"{path}.initContainers[{i}]", c, names, volumes)
    policy = spec.get("restartPolicy")
    allowed = restart or ("Always", "OnFailure", "Never")
    if policy not in allowed:
        if policy is None:
            c.add(
                required(
                    f"{path}.restartPolicy", "valid values: " + ", ".join(f'"{a}"' for a in allowed)
                )
            )
        else:
            c.add(unsupported(f"{path}.restartPolicy", policy, list(allowed)))
    dns = spec.get("dnsPolicy")
    if dns is not None and dns not in (
        "ClusterFirstWithHostNet",
        "ClusterFirst",
        "Default",
        "None",
    ):
        c.add(
            unsupported(
                f"{path}.dnsPolicy",
                dns,
                ["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"],
            )
        )
    grace = spec.get("terminationGracePeriodSeconds")
    if isinstance(grace, int) and grace < 0:
        c.add(
            invalid_value(
                f"{path}.terminationGracePeriodSeconds", grace, "must be greater than or equal to 0"
            )
        )
    for i, tol in enumerate(spec.get("tolerations") or []):
        op = tol.get("operator", "Equal")
        if op not in ("Equal", "Exists"):
            c.add(unsupported(f"{path}.tolerations[{i}].operator", op, ["Equal", "Exists"]))
        eff = tol.get("effect")
        if eff and eff not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            c.add(
                unsupported(
                    f"{path}.tolerations[{i}].effect",
                    eff,
                    ["NoExecute", "NoSchedule", "PreferNoSchedule"],
                )
            )
    _validate_labels(spec.get("nodeSelector"), f"{path}.nodeSelector", c)


def _non_negative(spec: dict, field: str, path: str, c: Causes) -> None:
    value = spec.get(field)
    if value is not None and (not isinstance(value, int) or value < 0):
        c.add(invalid_value(f"{path}.{field}", value, "must be greater than or equal to 0"))


def _go_map(d: dict) -> str:
    return "map[string]string{" + ", ".join(f'"{k}":"{v}"' for k, v in sorted(d.items())) + "}"


def _selector_and_template(spec: dict, c: Causes, kind_word: str) -> None:
    from sandbox.selectors import label_matcher

    sel = spec.get("selector")
    if not sel:
        c.add(required("spec.selector"))
        return
    if not sel.get("matchLabels") and not sel.get("matchExpressions"):
        c.add(invalid_value("spec.selector", "", f"empty selector is invalid for {kind_word}"))
        return
    tpl = spec.get("template") or {}
    labels = (tpl.get("metadata") or {}).get("labels") or {}
    try:
        matches = label_matcher(sel)({"metadata": {"labels": labels}})
    except ApiError as err:
        c.add(invalid_value("spec.selector", "", err.message))
        return
    if not matches:
        c.add(
            invalid_value(
                "spec.template.metadata.labels",
                _go_map(labels),
                "`selector` does not match template `labels`",
            )
        )


def _int_or_percent(value: Any) -> tuple[float, bool] | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value), False
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        return float(value[:-1]), True
    return None


def _deployment(obj: dict, old: dict | None, c: Causes) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        c.add(required("spec"))
        return
    _non_negative(spec, "replicas", "spec", c)
    _non_negative(spec, "revisionHistoryLimit", "spec", c)
    _non_negative(spec, "minReadySeconds", "spec", c)
    _selector_and_template(spec, c, "deployment")
    tpl = spec.get("template") or {}
    _validate_labels((tpl.get("metadata") or {}).get("labels"), "spec.template.metadata.labels", c)
    validate_pod_spec(tpl.get("spec"), "spec.template.spec", c, restart=("Always",))
    strategy = spec.get("strategy") or {}
    stype = strategy.get("type")
    if stype not in ("RollingUpdate", "Recreate"):
        c.add(unsupported("spec.strategy.type", stype, ["Recreate", "RollingUpdate"]))
    elif stype == "Recreate" and strategy.get("rollingUpdate"):
        c.add(
            forbidden_field(
                "spec.strategy.rollingUpdate",
                "may not be specified when strategy `type` is 'Recreate'",
            )
        )
    elif stype == "RollingUpdate":
        ru = strategy.get("rollingUpdate") or {}
        parsed = {}
        for field in ("maxUnavailable", "maxSurge"):
            value = ru.get(field)
            p = _int_or_percent(value)
            path = f"spec.strategy.rollingUpdate.{field}"
            if p is None:
                c.add(
                    invalid_value(
                        path,
                        value,
                        "a valid percent string must be a numeric string "
                        "followed by an ending '%' (e.g. '1%',  or '93%', regex used "
                        "for validation is '[0-9]+%')",
                    )
                )
                continue
            if p[0] < 0:
                c.add(invalid_value(path, value, "must be greater than or equal to 0"))
            if p[1] and p[0] > 100 and field == "maxUnavailable":
                c.add(invalid_value(path, value, "must not be greater than 100%"))
            parsed[field] = p[0]
        if parsed.get("maxUnavailable") == 0 and parsed.get("maxSurge") == 0:
            c.add(
                invalid_value(
                    "spec.strategy.rollingUpdate.maxUnavailable",
                    ru.get("maxUnavailable"),
                    "may not be 0 when `maxSurge` is 0",
                )
            )
    pds = spec.get("progressDeadlineSeconds")
    if isinstance(pds, int) and pds <= spec.get("minReadySeconds", 0):
        c.add(
            invalid_value(
                "spec.progressDeadlineSeconds", pds, "must be greater than minReadySeconds"
            )
        )
    if old is not None:
        _immutable(spec, old.get("spec") or {}, "selector", "spec.selector", c)


def _replicaset(obj: dict, old: dict | None, c: Causes) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        c.add(required("spec"))
        return
    _non_negative(spec, "replicas", "spec", c)
    _selector_and_template(spec, c, "replicaset")
    tpl = spec.get("template") or {}
    validate_pod_spec(tpl.get("spec"), "spec.template.spec", c, restart=("Always",))
    if old is not None:
        _immutable(spec, old.get("spec") or {}, "selector", "spec.selector", c)


def _immutable(spec: dict, old_spec: dict, field: str, path: str, c: Causes) -> None:
    if field in old_spec and spec.get(field) != old_spec.get(field):
        c.add(invalid_value(path, spec.get(field), "field is immutable"))


def _job(obj: dict, old: dict | None, c: Causes) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        c.add(required("spec"))
        return
    for field in ("parallelism", "completions", "backoffLimit"):
        _non_negative(spec, field, "spec", c)
    ads = spec.get("activeDeadlineSeconds")
    if ads is not None and (not isinstance(ads, int) or ads <= 0):
        c.add(invalid_value("spec.activeDeadlineSeconds", ads, "must be greater than 0"))
    mode = spec.get("completionMode")
    if mode not in (None, "NonIndexed", "Indexed"):
        c.add(unsupported("spec.completionMode", mode, ["Indexed", "NonIndexed"]))
    tpl = spec.get("template")
    if not isinstance(tpl, dict):
        c.add(required("spec.template"))
        return
    validate_pod_spec(tpl.get("spec"), "spec.template.spec", c, restart=("OnFailure", "Never"))
    if old is not None:
        old_spec = old.get("spec") or {}
        _immutable(spec, old_spec, "selector", "spec.selector", c)
        _immutable(spec, old_spec, "completions", "spec.completions", c)
        if spec.get("template") != old_spec.get("template"):
            c.add(invalid_value("spec.template", "", "field is immutable"))


def _pod(obj: dict, old: dict | None, c: Causes) -> None:
    spec = obj.get("spec")
    validate_pod_spec(spec, "spec", c)
    if old is not None and isinstance(spec, dict):
        old_spec = old.get("spec") or {}
        # only images (and a few fields) of a pod may change in place
        mutable = {
            "activeDeadlineSeconds",
            "tolerations",
            "terminationGracePeriodSeconds",
            "schedulingGates",
        }
        strip_images = _without_images(spec, mutable)
        if strip_images != _without_images(old_spec, mutable):
            c.add(
                forbidden_field(
                    "spec",
                    "pod updates may not change fields other than "
                    "`spec.containers[*].image`,`spec.initContainers[*].image`,"
                    "`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
                    "additions to existing tolerations),"
                    "`spec.terminationGracePeriodSeconds` (allow it to be set to "
                    "1 if it was previously negative)",
                )
            )


def _without_images(spec: dict, mutable: set) -> dict:
    out = {k: v for k, v in spec.items() if k not in mutable and k != "nodeName"}
    for key in ("containers", "initContainers"):
        if key in out:
            out[key] = [{k: v for k, v in ct.items() if k != "image"} for ct in out[key] or []]
    return out


_SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]


def _service(obj: dict, old: dict | None, c: Causes) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        c.add(required("spec"))
        return
    stype = spec.get("type", "ClusterIP")
    if stype not in _SERVICE_TYPES:
        c.add(unsupported("spec.type", stype, _SERVICE_TYPES))
    ports = spec.get("ports") or []
    if not ports and stype != "ExternalName" and spec.get("clusterIP") != "None":
        c.add(required("spec.ports"))
    names: set[str] = set()
    seen: set[tuple] = set()
    for i, port in enumerate(ports):
        path = f"spec.ports[{i}]"
        pname = port.get("name")
        if len(ports) > 1 and not pname:
            c.add(required(f"{path}.name"))
        if pname:
            if pname in names:
                c.add(duplicate(f"{path}.name", pname))
            names.add(pname)
        _port_range(port.get("port"), f"{path}.port", c)
        proto = port.get("protocol", "TCP")
        if proto not in ("TCP", "UDP", "SCTP"):
            c.add(unsupported(f"{path}.protocol", proto, ["SCTP", "TCP", "UDP"]))
        key = (port.get("port"), proto)
        if key in seen:
            c.add(duplicate(f"{path}", f"{port.get('port')}/{proto}"))
        seen.add(key)
        target = port.get("targetPort")
        if isinstance(target, int) and not 1 <= target <= 65535:
            c.add(
                invalid_value(
                    f"{path}.targetPort", target, "must be between 1 and 65535, inclusive"
                )
            )
        node_port = port.get("nodePort")
        if node_port is not None and stype == "ClusterIP":
            c.add(forbidden_field(f"{path}.nodePort", "may not be used when `type` is 'ClusterIP'"))
    _validate_labels(spec.get("selector"), "spec.selector", c)
    affinity = spec.get("sessionAffinity", "None")
    if affinity not in ("None", "ClientIP"):
        c.add(unsupported("spec.sessionAffinity", affinity, ["ClientIP", "None"]))
    if old is not None:
        old_ip = (old.get("spec") or {}).get("clusterIP")
        if old_ip and spec.get("clusterIP") not in (None, old_ip) and stype != "ExternalName":
            c.add(
                invalid_value(
                    "spec.clusterIPs[0]", spec.get("clusterIP"), "may not change once set"
                )
            )


_METRIC_TYPES = ["ContainerResource", "External", "Object", "Pods", "Resource"]


def _target(target: Any, path: str, c: Causes) -> None:
    if not isinstance(target, dict):
        c.add(required(path, "must specify a metric target"))
        return
    ttype = target.get("type")
    if ttype not in ("Utilization", "Value", "AverageValue"):
        c.add(unsupported(f"{path}.type", ttype, ["AverageValue", "Utilization", "Value"]))
        return
    field = {"Utilization": "averageUtilization", "Value": "value", "AverageValue": "averageValue"}[
        ttype
    ]
    if target.get(field) is None:
        c.add(required(f"{path}.{field}", f"must set {field} when type is {ttype}"))
    elif field == "averageUtilization" and target[field] < 1:
        c.add(invalid_value(f"{path}.averageUtilization", target[field], "must be greater than 0"))


def _hpa(obj: dict, old: dict | None, c: Causes) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        c.add(required("spec"))
        return
    ref = spec.get("scaleTargetRef") or {}
    if not ref.get("kind"):
        c.add(required("spec.scaleTargetRef.kind"))
    if not ref.get("name"):
        c.add(required("spec.scaleTargetRef.name"))
    min_r = spec.get("minReplicas", 1)
    max_r = spec.get("maxReplicas")
    if isinstance(min_r, int) and min_r < 1:
        c.add(invalid_value("spec.minReplicas", min_r, "must be greater than or equal to 1"))
    if max_r is None:
        c.add(required("spec.maxReplicas"))
    elif isinstance(max_r, int):
        if max_r < 1:
            c.add(invalid_value("spec.maxReplicas", max_r, "must be greater than 0"))
        elif isinstance(min_r, int) and max_r < min_r:
            c.add(
                invalid_value(
                    "spec.maxReplicas", max_r, "must be greater than or equal to `minReplicas`"
                )
            )
    for i, metric in enumerate(spec.get("metrics") or []):
        path = f"spec.metrics[{i}]"
        mtype = metric.get("type")
        if mtype not in _METRIC_TYPES:
            c.add(unsupported(f"{path}.type", mtype, _METRIC_TYPES))
            continue
        field = {
            "Resource": "resource",
            "Pods": "pods",
            "Object": "object",
            "External": "external",
            "ContainerResource": "containerResource",
        }[mtype]
        source = metric.get(field)
        if not isinstance(source, dict):
            c.add(
                required(
                    f"{path}.{field}",
                    f"must populate information for the given metric source (type {mtype})",
                )
            )
            continue
        if mtype in ("Resource", "ContainerResource") and not source.get("name"):
            c.add(required(f"{path}.{field}.name", "must specify a resource name"))
        if mtype in ("Pods", "Object", "External") and not (source.get("metric") or {}).get("name"):
            c.add(required(f"{path}.{field}.metric.name", "must specify a metric name"))
        if mtype == "Object" and not (source.get("describedObject") or {}).get("name"):
            c.add(required(f"{path}.object.describedObject.name"))
        _target(source.get("target"), f"{path}.{field}.target", c)


_PATH_TYPES = ["Exact", "ImplementationSpecific", "Prefix"]


def _backend(backend: Any, path: str, c: Causes) -> None:
    if not isinstance(backend, dict):
        c.add(required(path))
        return
    svc = backend.get("service")
    if svc is None and backend.get("resource") is None:
        c.add(invalid_value(path, "", "one backend (`service` or `resource`) must be specified"))
        return
    if isinstance(svc, dict):
        if not svc.get("name"):
            c.add(required(f"{path}.service.name"))
        port = svc.get("port") or {}
        if "number" not in port and "name" not in port:
            c.add(required(f"{path}.service.port", "port name or number is required"))


def _ingress(obj: dict, old: dict | None, c: Causes) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        c.add(required("spec"))
        return
    if spec.get("defaultBackend") is not None:
        _backend(spec["defaultBackend"], "spec.defaultBackend", c)
    rules = spec.get("rules") or []
    if not rules and spec.get("defaultBackend") is None:
        c.add(invalid_value("spec", "", "either `defaultBackend` or `rules` must be specified"))
    for i, rule in enumerate(rules):
        http = rule.get("http")
        if http is None:
            continue
        for j, p in enumerate(http.get("paths") or []):
            path = f"spec.rules[{i}].http.paths[{j}]"
            ptype = p.get("pathType")
            if ptype is None:
                c.add(required(f"{path}.pathType", "pathType must be specified"))
            elif ptype not in _PATH_TYPES:
                c.add(unsupported(f"{path}.pathType", ptype, _PATH_TYPES))
            value = p.get("path")
            if ptype in ("Exact", "Prefix") and not (value or "").startswith("/"):
                c.add(invalid_value(f"{path}.path", value, "must be an absolute path"))
            _backend(p.get("backend"), f"{path}.backend", c)


def _data_keys(obj: dict, c: Causes) -> None:
    for field in ("data", "binaryData"):
        for key in obj.get(field) or {}:
            if not _CONFIG_KEY.match(key) or len(key) > 253:
                c.add(
                    invalid_value(
                        f"{field}[{key}]",
                        key,
                        "a valid config key must consist of "
                        "alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  "
                        "or 'KEY_NAME',  or 'key-name', regex used for validation is "
                        "'[-._a-zA-Z0-9]+')",
                    )
                )


def _secret(obj: dict, old: dict | None, c: Causes) -> None:
    import base64
    import binascii

    _data_keys(obj, c)
    for key, value in (obj.get("data") or {}).items():
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError, TypeError):
            c.add(
                invalid_value(f"data[{key}]", "<secret contents redacted>", "illegal base64 data")
            )
    if old is not None and obj.get("type") != old.get("type"):
        c.add(invalid_value("type", obj.get("type"), "field is immutable"))


def _configmap(obj: dict, old: dict | None, c: Causes) -> None:
    _data_keys(obj, c)


def _event(obj: dict, old: dict | None, c: Causes) -> None:
    involved = obj.get("involvedObject") or {}
    meta_ns = (obj.get("metadata") or {}).get("namespace")
    if involved.get("namespace") and involved["namespace"] != meta_ns:
        c.add(
            invalid_value(
                "involvedObject.namespace", involved["namespace"], "does not match event.namespace"
            )
        )


_VALIDATORS = {
    "deployments.apps": _deployment,
    "replicasets.apps": _replicaset,
    "jobs.batch": _job,
    "pods": _pod,
    "services": _service,
    "horizontalpodautoscalers.autoscaling": _hpa,
    "ingresses.networking.k8s.io": _ingress,
    "secrets": _secret,
    "configmaps": _configmap,
    "events": _event,
}


def validate(rt: ResourceType, obj: dict, old: dict | None) -> None:
    """Raise 422 Invalid listing every bad field, as the real server does."""
    c = Causes()
    _validate_meta(rt, obj, c)
    fn = _VALIDATORS.get(rt.key)
    if fn is not None:
        fn(obj, old, c)
    if c:
        name = (obj.get("metadata") or {}).get("name", "")
        raise ApiError.invalid(rt.kind, name, list(c), rt.group)


def validate_status(rt: ResourceType, obj: dict) -> None:
    status = obj.get("status")
    if status is not None and not isinstance(status, dict):
        raise ApiError.invalid(
            rt.kind,
            obj["metadata"]["name"],
            [invalid_value("status", status, "must be an object")],
            rt.group,
        )
    if isinstance(status, dict):
        c = Causes()
        for field in ("replicas", "readyReplicas", "availableReplicas", "updatedReplicas"):
            value = status.get(field)
            if value is not None and (not isinstance(value, int) or value < 0):
                c.add(invalid_value(f"status.{field}", value, "must be greater than or equal to 0"))
        if c:
            raise ApiError.invalid(rt.kind, obj["metadata"]["name"], list(c), rt.group)
