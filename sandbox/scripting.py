"""What a real cluster learns from the outside world, scripted: /sandbox/v1/...

A real cluster's registry, its containers' programs, their CPU appetite and the traffic its
Services receive are not the cluster's to decide. Here tests and demos set them: which images
exist, how containers behave (run, crash, exit, log, become ready), how much CPU/memory they
use, the request load per Service, and custom metric values for HPAs. The kubelet simulation
and the usage model read the `Script` below; the HTTP routes only validate and store.
"""

from __future__ import annotations

import fnmatch
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from sandbox.machinery.quantity import millicores, quantity_bytes

PREFIX = "/sandbox/v1"


class ScriptError(ValueError):
    """Bad scripting input; `field` names the offending JSON field."""

    def __init__(self, field_path: str, message: str) -> None:
        super().__init__(f"{field_path}: {message}")
        self.field = field_path
        self.message = message


# -- matching ---------------------------------------------------------------------------------

_MATCH_FIELDS = {"namespace", "pod", "labels", "image", "container"}


def normalize_image(image: str) -> str:
    """Docker's reference normalisation: "nginx" -> "docker.io/library/nginx:latest"."""
    name, digest = ([*image.split("@", 1), ""])[:2]
    first = name.split("/", 1)[0]
    if "/" not in name:
        name = f"docker.io/library/{name}"
    elif not ("." in first or ":" in first or first == "localhost"):
        name = f"docker.io/{name}"
    if digest:
        return f"{name}@{digest}"
    if ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    return name


def _image_matches(pattern: str, image: str) -> bool:
    return any(fnmatch.fnmatchcase(form, pattern) for form in (image, normalize_image(image)))


def _validate_match(data: Any, path: str) -> dict:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ScriptError(path, "must be an object")
    for key, value in data.items():
        if key not in _MATCH_FIELDS:
            raise ScriptError(
                f"{path}.{key}", f"unknown field; expected one of {sorted(_MATCH_FIELDS)}"
            )
        if key == "labels":
            if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                raise ScriptError(f"{path}.labels", "must be an object of string values")
        elif not isinstance(value, str) or not value:
            raise ScriptError(f"{path}.{key}", "must be a non-empty string")
    return dict(data)


def matches(match: dict, pod: dict, container: dict | None = None) -> bool:
    meta = pod.get("metadata") or {}
    if "namespace" in match and meta.get("namespace") != match["namespace"]:
        return False
    if "pod" in match and not fnmatch.fnmatchcase(meta.get("name", ""), match["pod"]):
        return False
    labels = meta.get("labels") or {}
    if any(labels.get(k) != v for k, v in (match.get("labels") or {}).items()):
        return False
    if "container" in match and (container is None or container.get("name") != match["container"]):
        return False
    return not (
        "image" in match
        and (container is None or not _image_matches(match["image"], container.get("image", "")))
    )


# -- the script -------------------------------------------------------------------------------


@dataclass
class Rule:
    id: int
    match: dict
    values: dict

    def to_json(self) -> dict:
        return {"id": self.id, "match": self.match, **self.values}


@dataclass
class Behavior:
    """How a container's process behaves once started."""

    run_seconds: float | None = None  # None: runs until stopped
    exit_code: int = 0
    readiness_delay_seconds: float | None = None  # None: from the probe / config
    never_ready: bool = False
    log_lines: list[str] | None = None  # None: the default chatter
    log_lines_per_second: float | None = None
    startup_log_lines: list[str] | None = None


@dataclass
class Script:
    registry: list[str] | None = None  # None: every image exists
    missing_images: list[str] = field(default_factory=list)  # patterns the registry lacks
    behaviors: list[Rule] = field(default_factory=list)
    usage: list[Rule] = field(default_factory=list)
    loads: dict[tuple[str, str], dict] = field(default_factory=dict)
    custom_metrics: list[Rule] = field(default_factory=list)
    failed_nodes: set[str] = field(default_factory=set)
    # Called after every change, so controllers that poll (node lifecycle) react at once.
    listeners: list[Any] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def changed(self) -> None:
        for listener in self.listeners:
            listener()

    def next_id(self) -> int:
        return next(self._ids)

    def reset(self) -> None:
        self.registry = None
        self.missing_images = []
        self.behaviors.clear()
        self.usage.clear()
        self.loads.clear()
        self.custom_metrics.clear()
        self.failed_nodes.clear()

    # lookups used by the kubelet and the usage model

    def image_available(self, image: str) -> bool:
        if any(_image_matches(pattern, image) for pattern in self.missing_images):
            return False
        if self.registry is None:
            return True
        return any(_image_matches(pattern, image) for pattern in self.registry)

    def behavior_rule(self, pod: dict, container: dict) -> dict | None:
        for rule in reversed(self.behaviors):
            if matches(rule.match, pod, container):
                return rule.values
        return None

    def usage_for(self, pod: dict, container: dict) -> dict | None:
        for rule in reversed(self.usage):
            if matches(rule.match, pod, container):
                return rule.values
        return None

    def pod_metric(self, pod: dict, metric: str) -> float | None:
        ns = pod["metadata"].get("namespace")
        for rule in reversed(self.custom_metrics):
            v = rule.values
            if (
                v["metric"] == metric
                and v["namespace"] == ns
                and "object" not in v
                and matches(rule.match, pod)
            ):
                return v["value"]
        return None

    def object_metric(self, ns: str, kind: str, name: str, metric: str) -> float | None:
        for rule in reversed(self.custom_metrics):
            v = rule.values
            obj = v.get("object")
            if (
                v["metric"] == metric
                and v["namespace"] == ns
                and obj is not None
                and obj["kind"] == kind
                and obj["name"] == name
            ):
                return v["value"]
        return None

    def to_json(self) -> dict:
        return {
            "registry": {
                "images": self.registry,
                "missingImages": self.missing_images,
                "allImagesExist": self.registry is None and not self.missing_images,
            },
            "behaviors": [r.to_json() for r in self.behaviors],
            "usage": [r.to_json() for r in self.usage],
            "loads": [
                {"namespace": ns, "service": name, **load}
                for (ns, name), load in sorted(self.loads.items())
            ],
            "customMetrics": [r.to_json() for r in self.custom_metrics],
            "failedNodes": sorted(self.failed_nodes),
        }


def get_script(cluster: Any) -> Script:
    script = getattr(cluster, "script", None)
    if script is None:
        script = Script()
        cluster.script = script
    return script


def behavior_from(values: dict | None) -> Behavior:
    if not values:
        return Behavior()
    return Behavior(
        run_seconds=values.get("runSeconds"),
        exit_code=values.get("exitCode", 0),
        readiness_delay_seconds=values.get("readinessDelaySeconds"),
        never_ready=values.get("neverReady", False),
        log_lines=values.get("logLines"),
        log_lines_per_second=values.get("logLinesPerSecond"),
        startup_log_lines=values.get("startupLogLines"),
    )


# -- validation -------------------------------------------------------------------------------


def _object(data: Any, path: str = "body") -> dict:
    if not isinstance(data, dict):
        raise ScriptError(path, "must be a JSON object")
    return data


def _reject_unknown(data: dict, allowed: set[str], path: str = "") -> None:
    for key in data:
        if key not in allowed:
            prefix = f"{path}." if path else ""
            raise ScriptError(f"{prefix}{key}", f"unknown field; expected one of {sorted(allowed)}")


def _number(data: dict, key: str, *, allow_null: bool = False, minimum: float = 0) -> float | None:
    value = data.get(key)
    if value is None and allow_null:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ScriptError(key, "must be a number")
    if value < minimum:
        raise ScriptError(key, f"must be at least {minimum}")
    return float(value)


def _strings(data: dict, key: str) -> list[str]:
    value = data.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ScriptError(key, "must be a list of strings")
    return list(value)


_BEHAVIOR_FIELDS = {
    "match",
    "runSeconds",
    "exitCode",
    "crashAfterSeconds",
    "readinessDelaySeconds",
    "neverReady",
    "logLines",
    "logLinesPerSecond",
    "startupLogLines",
}


def parse_behavior(data: Any) -> tuple[dict, dict]:
    data = _object(data)
    _reject_unknown(data, _BEHAVIOR_FIELDS)
    match = _validate_match(data.get("match"), "match")
    out: dict[str, Any] = {}
    if "crashAfterSeconds" in data:
        if "runSeconds" in data:
            raise ScriptError("crashAfterSeconds", "cannot be combined with runSeconds")
        out["runSeconds"] = _number(data, "crashAfterSeconds")
        out["exitCode"] = 1
    if "runSeconds" in data:
        out["runSeconds"] = _number(data, "runSeconds", allow_null=True)
    if "exitCode" in data:
        code = data["exitCode"]
        if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code <= 255:
            raise ScriptError("exitCode", "must be an integer from 0 to 255")
        out["exitCode"] = code
    if "readinessDelaySeconds" in data:
        out["readinessDelaySeconds"] = _number(data, "readinessDelaySeconds")
    if "neverReady" in data:
        if not isinstance(data["neverReady"], bool):
            raise ScriptError("neverReady", "must be true or false")
        out["neverReady"] = data["neverReady"]
    for key in ("logLines", "startupLogLines"):
        if key in data:
            out[key] = _strings(data, key)
    if "logLinesPerSecond" in data:
        out["logLinesPerSecond"] = _number(data, "logLinesPerSecond")
    return match, out


def parse_usage(data: Any) -> tuple[dict, dict]:
    data = _object(data)
    _reject_unknown(data, {"match", "cpu", "memory"})
    match = _validate_match(data.get("match"), "match")
    if "cpu" not in data and "memory" not in data:
        raise ScriptError("cpu", "give cpu and/or memory")
    out: dict[str, Any] = {}
    if "cpu" in data:
        out["cpu"] = _quantity(data, "cpu", millicores)
    if "memory" in data:
        out["memory"] = _quantity(data, "memory", quantity_bytes)
    return match, out


def _quantity(data: dict, key: str, convert: Any) -> str:
    value = data[key]
    try:
        amount = convert(value)
    except (ValueError, TypeError) as exc:
        raise ScriptError(key, f"is not a valid quantity: {value!r}") from exc
    if amount < 0:
        raise ScriptError(key, "must not be negative")
    return str(value)


def parse_load(data: Any) -> dict:
    data = _object(data)
    _reject_unknown(
        data,
        {"requestsPerSecond", "cpuPerRequest", "latencyMilliseconds", "metricName", "errorRatio"},
    )
    if "requestsPerSecond" not in data:
        raise ScriptError("requestsPerSecond", "is required")
    out: dict[str, Any] = {"requestsPerSecond": _number(data, "requestsPerSecond")}
    if "cpuPerRequest" in data:
        out["cpuPerRequest"] = _quantity(data, "cpuPerRequest", millicores)
    if "latencyMilliseconds" in data:
        out["latencyMilliseconds"] = _number(data, "latencyMilliseconds")
    if "errorRatio" in data:
        ratio = _number(data, "errorRatio")
        if ratio > 1:
            raise ScriptError("errorRatio", "must be a fraction from 0 to 1")
        out["errorRatio"] = ratio
    if "metricName" in data:
        if not isinstance(data["metricName"], str) or not data["metricName"]:
            raise ScriptError("metricName", "must be a non-empty string")
        out["metricName"] = data["metricName"]
    return out


def parse_custom_metric(data: Any) -> tuple[dict, dict]:
    data = _object(data)
    _reject_unknown(data, {"namespace", "metric", "value", "match", "object"})
    for key in ("namespace", "metric"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise ScriptError(key, "is required and must be a non-empty string")
    value = data.get("value")
    if isinstance(value, str):
        try:
            value = float(millicores(value)) / 1000
        except ValueError as exc:
            raise ScriptError("value", f"is not a number or quantity: {data['value']!r}") from exc
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ScriptError("value", "is required and must be a number or a quantity string")
    out: dict[str, Any] = {
        "namespace": data["namespace"],
        "metric": data["metric"],
        "value": float(value),
    }
    match: dict = {}
    if "object" in data:
        if "match" in data:
            raise ScriptError("object", "give either object (Object metric) or match (Pods metric)")
        obj = _object(data["object"], "object")
        _reject_unknown(obj, {"kind", "name", "apiVersion"}, "object")
        for key in ("kind", "name"):
            if not isinstance(obj.get(key), str) or not obj[key]:
                raise ScriptError(f"object.{key}", "is required")
        out["object"] = {"kind": obj["kind"], "name": obj["name"]}
    else:
        match = _validate_match(data.get("match"), "match")
        match["namespace"] = data["namespace"]
    return match, out


# -- HTTP -------------------------------------------------------------------------------------


def _error(status: int, message: str, field_path: str | None = None) -> web.Response:
    body: dict[str, Any] = {"error": message}
    if field_path:
        body["field"] = field_path
    return web.json_response(body, status=status)


async def _json(request: web.Request) -> Any:
    try:
        return await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ScriptError("body", f"is not valid JSON: {exc}") from exc


def add_routes(app: web.Application, cluster: Any) -> None:
    script = get_script(cluster)

    def handler(fn: Any) -> Any:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                return await fn(request)
            except ScriptError as exc:
                return _error(400, str(exc), exc.field)

        return wrapped

    async def get_all(request: web.Request) -> web.Response:
        return web.json_response(script.to_json())

    async def reset(request: web.Request) -> web.Response:
        script.reset()
        script.changed()
        return web.json_response(script.to_json())

    async def get_registry(request: web.Request) -> web.Response:
        return web.json_response(script.to_json()["registry"])

    async def set_registry(request: web.Request) -> web.Response:
        data = _object(await _json(request))
        _reject_unknown(data, {"images", "missingImages"})
        if "images" not in data and "missingImages" not in data:
            raise ScriptError(
                "images", "give images (what the registry holds) and/or missingImages"
            )
        if "images" in data:
            script.registry = None if data["images"] is None else _strings(data, "images")
        if "missingImages" in data:
            script.missing_images = _strings(data, "missingImages")
        return web.json_response(script.to_json()["registry"])

    async def clear_registry(request: web.Request) -> web.Response:
        script.registry = None
        script.missing_images = []
        return web.json_response(script.to_json()["registry"])

    def rule_routes(name: str, rules: list[Rule], parse: Any) -> None:
        async def add(request: web.Request) -> web.Response:
            match, values = parse(await _json(request))
            rule = Rule(script.next_id(), match, values)
            rules.append(rule)
            return web.json_response(rule.to_json(), status=201)

        async def list_rules(request: web.Request) -> web.Response:
            return web.json_response({"items": [r.to_json() for r in rules]})

        async def clear(request: web.Request) -> web.Response:
            rules.clear()
            return web.json_response({"items": []})

        async def remove(request: web.Request) -> web.Response:
            rule_id = request.match_info["id"]
            for rule in rules:
                if str(rule.id) == rule_id:
                    rules.remove(rule)
                    return web.json_response(rule.to_json())
            return _error(404, f"{name} rule {rule_id} not found", "id")

        app.router.add_post(f"{PREFIX}/{name}", handler(add))
        app.router.add_get(f"{PREFIX}/{name}", handler(list_rules))
        app.router.add_delete(f"{PREFIX}/{name}", handler(clear))
        app.router.add_delete(f"{PREFIX}/{name}/{{id}}", handler(remove))

    async def set_load(request: web.Request) -> web.Response:
        key = (request.match_info["ns"], request.match_info["name"])
        script.loads[key] = parse_load(await _json(request))
        return web.json_response({"namespace": key[0], "service": key[1], **script.loads[key]})

    async def get_load(request: web.Request) -> web.Response:
        key = (request.match_info["ns"], request.match_info["name"])
        load = script.loads.get(key, {"requestsPerSecond": 0.0})
        return web.json_response({"namespace": key[0], "service": key[1], **load})

    async def clear_load(request: web.Request) -> web.Response:
        key = (request.match_info["ns"], request.match_info["name"])
        script.loads.pop(key, None)
        return web.json_response({"namespace": key[0], "service": key[1], "requestsPerSecond": 0.0})

    async def fail_node(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if cluster.api.get("nodes", None, name) is None:
            return _error(404, f'node "{name}" not found', "name")
        script.failed_nodes.add(name)
        script.changed()
        return web.json_response({"node": name, "failed": True})

    async def recover_node(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        script.failed_nodes.discard(name)
        script.changed()
        return web.json_response({"node": name, "failed": False})

    async def log_follows(request: web.Request) -> web.Response:
        # Follow requests of pods/log the API server has served: ever opened and open now.
        return web.json_response({"items": cluster.logs.follows()})

    app.router.add_get(f"{PREFIX}/log-follows", handler(log_follows))
    app.router.add_post(f"{PREFIX}/nodes/{{name}}/failure", handler(fail_node))
    app.router.add_delete(f"{PREFIX}/nodes/{{name}}/failure", handler(recover_node))
    app.router.add_get(f"{PREFIX}/script", handler(get_all))
    app.router.add_delete(f"{PREFIX}/script", handler(reset))
    app.router.add_post(f"{PREFIX}/reset", handler(reset))
    app.router.add_get(f"{PREFIX}/registry", handler(get_registry))
    app.router.add_post(f"{PREFIX}/registry", handler(set_registry))
    app.router.add_put(f"{PREFIX}/registry", handler(set_registry))
    app.router.add_delete(f"{PREFIX}/registry", handler(clear_registry))
    rule_routes("behaviors", script.behaviors, parse_behavior)
    rule_routes("usage", script.usage, parse_usage)
    rule_routes("custom-metrics", script.custom_metrics, parse_custom_metric)
    load_path = f"{PREFIX}/namespaces/{{ns}}/services/{{name}}/load"
    app.router.add_post(load_path, handler(set_load))
    app.router.add_put(load_path, handler(set_load))
    app.router.add_get(load_path, handler(get_load))
    app.router.add_delete(load_path, handler(clear_load))
