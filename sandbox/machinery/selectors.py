"""Label and field selectors, parsed once into matcher functions.

Label selectors follow the Kubernetes grammar (=, ==, !=, in, notin, exists, !exists) and also
accept the structured LabelSelector form (matchLabels / matchExpressions). Field selectors
support the fields a real API server supports for each kind; any other field is a 400 error
worded like the real one.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sandbox.machinery.errors import ApiError

Matcher = Callable[[dict], bool]

_TOKEN = re.compile(r"\s*(!=|==|=|!|\(|\)|,|[^\s=!(),]+)")


def _always(_obj: dict) -> bool:
    return True


def _labels(obj: dict) -> dict:
    return obj.get("metadata", {}).get("labels") or {}


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ApiError.bad_request(f"unable to parse requirement: {text!r}")
        tokens.append(m.group(1))
        pos = m.end()
    return tokens


Requirement = tuple[str, str, tuple[str, ...]]  # key, operator, values


def parse_label_selector(text: str) -> list[Requirement]:
    tokens = _tokenize(text)
    reqs: list[Requirement] = []
    i = 0

    def need(cond: bool, msg: str) -> None:
        if not cond:
            raise ApiError.bad_request(f"unable to parse requirement: {msg}")

    while i < len(tokens):
        tok = tokens[i]
        if tok == "!":
            need(i + 1 < len(tokens), "missing key after '!'")
            reqs.append((tokens[i + 1], "!", ()))
            i += 2
        else:
            key = tok
            nxt = tokens[i + 1] if i + 1 < len(tokens) else ","
            if nxt == ",":
                reqs.append((key, "exists", ()))
                i += 1
            elif nxt in ("=", "==", "!="):
                val = tokens[i + 2] if i + 2 < len(tokens) else ""
                if val in (",", ")", "("):
                    val = ""
                    i += 2
                else:
                    i += 3
                reqs.append((key, "!=" if nxt == "!=" else "=", (val,)))
            elif nxt in ("in", "notin"):
                need(i + 2 < len(tokens) and tokens[i + 2] == "(", f"expected '(' after {nxt}")
                j = i + 3
                values: list[str] = []
                while j < len(tokens) and tokens[j] != ")":
                    if tokens[j] != ",":
                        values.append(tokens[j])
                    j += 1
                need(j < len(tokens), "missing ')'")
                reqs.append((key, nxt, tuple(values)))
                i = j + 1
            else:
                raise ApiError.bad_request(
                    f"unable to parse requirement: found '{nxt}', expected: in, notin, =, ==, !=, "
                    "gt, lt"
                )
        if i < len(tokens):
            need(tokens[i] == ",", f"expected ',' but found {tokens[i]!r}")
            i += 1
    return reqs


def _requirement_matches(labels: dict, req: Requirement) -> bool:
    key, op, values = req
    if op == "exists":
        return key in labels
    if op == "!":
        return key not in labels
    if op == "=":
        return labels.get(key) == values[0]
    if op == "!=":
        return labels.get(key) != values[0]
    if op == "in":
        return key in labels and labels[key] in values
    if op == "notin":
        return labels.get(key) not in values
    raise ValueError(op)


def _from_structured(sel: dict) -> list[Requirement]:
    reqs: list[Requirement] = [(k, "=", (v,)) for k, v in (sel.get("matchLabels") or {}).items()]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expr in sel.get("matchExpressions") or []:
        op = ops.get(expr.get("operator", ""))
        if op is None:
            raise ApiError.bad_request(f"{expr.get('operator')!r} is not a valid selector operator")
        reqs.append((expr["key"], op, tuple(expr.get("values") or ())))
    return reqs


def label_matcher(selector: str | dict | None) -> Matcher:
    """A matcher for a label selector string or a structured LabelSelector dict.

    An empty structured selector matches everything, as in the real API.
    """
    if not selector:
        return _always
    reqs = (
        _from_structured(selector) if isinstance(selector, dict) else parse_label_selector(selector)
    )
    if not reqs:
        return _always
    if len(reqs) == 1 and reqs[0][1] == "=":
        key, _, (value,) = reqs[0]
        return lambda obj: _labels(obj).get(key) == value

    def match(obj: dict) -> bool:
        labels = _labels(obj)
        return all(_requirement_matches(labels, r) for r in reqs)

    return match


def selector_string(selector: dict | None) -> str:
    """The string form of a structured LabelSelector (as Scale.status.selector shows it)."""
    if not selector:
        return ""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        op = expr.get("operator")
        vals = ",".join(sorted(expr.get("values") or []))
        if op == "In":
            parts.append(f"{expr['key']} in ({vals})")
        elif op == "NotIn":
            parts.append(f"{expr['key']} notin ({vals})")
        elif op == "Exists":
            parts.append(expr["key"])
        elif op == "DoesNotExist":
            parts.append(f"!{expr['key']}")
    return ",".join(parts)


# ---- field selectors ----


def _path_getter(path: str) -> Callable[[dict], str]:
    parts = path.split(".")

    def get(obj: dict) -> str:
        cur = obj
        for p in parts:
            if not isinstance(cur, dict):
                return ""
            cur = cur.get(p)
            if cur is None:
                return ""
        if isinstance(cur, bool):
            return "true" if cur else "false"
        return str(cur)

    return get


_COMMON_FIELDS = ("metadata.name", "metadata.namespace")
_FIELDS: dict[str, tuple[str, ...]] = {
    "pods": (
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ),
    "events": (
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ),
    "nodes": ("spec.unschedulable",),
    "secrets": ("type",),
    "namespaces": ("status.phase",),
    "replicasets": ("status.replicas",),
    "jobs": ("status.successful",),
}


def field_matcher(resource_plural: str, kind_key: str, selector: str | None) -> Matcher:
    """A matcher for a field selector; unsupported fields are a 400 like the real server."""
    if not selector or not selector.strip():
        return _always
    allowed = set(_COMMON_FIELDS) | set(_FIELDS.get(resource_plural, ()))
    tests: list[tuple[Callable[[dict], str], bool, str]] = []
    for term in selector.split(","):
        term = term.strip()
        if not term:
            continue
        if "!=" in term:
            field, value = term.split("!=", 1)
            negate = True
        elif "==" in term:
            field, value = term.split("==", 1)
            negate = False
        elif "=" in term:
            field, value = term.split("=", 1)
            negate = False
        else:
            raise ApiError.bad_request(f"invalid selector: '{selector}'; can't understand '{term}'")
        field = field.strip()
        if field not in allowed:
            raise ApiError.bad_request(f"field label not supported: {field}")
        getter = _path_getter("source.component" if field == "source" else field)
        tests.append((getter, negate, value.strip()))

    def match(obj: dict) -> bool:
        return all((getter(obj) == value) != negate for getter, negate, value in tests)

    return match


def field_equalities(selector: str | None) -> dict[str, str]:
    """The field=value terms of a selector, for index lookups (e.g. spec.nodeName)."""
    out: dict[str, str] = {}
    if not selector:
        return out
    for term in selector.split(","):
        if "!=" in term or "=" not in term:
            continue
        field, _, value = term.replace("==", "=").partition("=")
        out[field.strip()] = value.strip()
    return out
