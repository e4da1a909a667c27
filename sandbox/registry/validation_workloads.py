"""Validation of workloads: pod specs and containers, Pods, Deployments, ReplicaSets, Jobs."""

from __future__ import annotations

from typing import Any

from sandbox.machinery.errors import (
    ApiError,
    duplicate,
    forbidden_field,
    invalid_value,
    required,
    unsupported,
)
from sandbox.machinery.quantity import parse_quantity
from sandbox.registry.fields import (
    DNS1123_LABEL,
    MSG_LABEL,
    Causes,
    go_map,
    immutable,
    non_negative,
    port_range,
    validate_labels,
)


def _validate_container(ct: dict, path: str, c: Causes, names: set, volumes: set) -> None:
    name = ct.get("name")
    if not name:
        c.add(required(f"{path}.name"))
    else:
        if not DNS1123_LABEL.match(name) or len(name) > 63:
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
        port_range(port.get("containerPort"), f"{path}.ports[{i}].containerPort", c)
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
    validate_labels(spec.get("nodeSelector"), f"{path}.nodeSelector", c)


def selector_and_template(spec: dict, c: Causes, kind_word: str) -> None:
    from sandbox.machinery.selectors import label_matcher

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
                go_map(labels),
                "`selector` does not match template `labels`",
            )
        )


def _int_or_percent(value: Any) -> tuple[float, bool] | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value), False
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        return float(value[:-1]), True
    return None


def deployment(obj: dict, old: dict | None, c: Causes) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        c.add(required("spec"))
        return
    non_negative(spec, "replicas", "spec", c)
    non_negative(spec, "revisionHistoryLimit", "spec", c)
    non_negative(spec, "minReadySeconds", "spec", c)
    selector_and_template(spec, c, "deployment")
    tpl = spec.get("template") or {}
    validate_labels((tpl.get("metadata") or {}).get("labels"), "spec.template.metadata.labels", c)
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
        immutable(spec, old.get("spec") or {}, "selector", "spec.selector", c)


def replicaset(obj: dict, old: dict | None, c: Causes) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        c.add(required("spec"))
        return
    non_negative(spec, "replicas", "spec", c)
    selector_and_template(spec, c, "replicaset")
    tpl = spec.get("template") or {}
    validate_pod_spec(tpl.get("spec"), "spec.template.spec", c, restart=("Always",))
    if old is not None:
        immutable(spec, old.get("spec") or {}, "selector", "spec.selector", c)


def job(obj: dict, old: dict | None, c: Causes) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        c.add(required("spec"))
        return
    for field in ("parallelism", "completions", "backoffLimit"):
        non_negative(spec, field, "spec", c)
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
        immutable(spec, old_spec, "selector", "spec.selector", c)
        immutable(spec, old_spec, "completions", "spec.completions", c)
        if spec.get("template") != old_spec.get("template"):
            c.add(invalid_value("spec.template", "", "field is immutable"))


def pod(obj: dict, old: dict | None, c: Causes) -> None:
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
