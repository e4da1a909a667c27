"""Status of Gateways' listeners and HTTPRoutes' parents, as GKE's Gateway controller writes it."""

from __future__ import annotations

from typing import Any

from sandbox.machinery.util import rfc3339

CONTROLLER_NAME = "networking.gke.io/gateway"


def route_parents(api: Any, route: dict, gw_ns: str, gw_name: str) -> list[dict]:
    """The route's status.parents with this Gateway's entry as GKE's controller writes it."""
    generation = route["metadata"].get("generation", 1)
    parents = [
        p
        for p in (route.get("status") or {}).get("parents") or []
        if not (
            p.get("parentRef", {}).get("name") == gw_name
            and p.get("controllerName") == CONTROLLER_NAME
        )
    ]
    previous = next(
        (
            p
            for p in (route.get("status") or {}).get("parents") or []
            if p.get("parentRef", {}).get("name") == gw_name
        ),
        None,
    )
    missing = [
        ref["name"]
        for rule in (route.get("spec") or {}).get("rules") or []
        for ref in rule.get("backendRefs") or []
        if api.get("services", ref.get("namespace") or gw_ns, ref.get("name", "")) is None
    ]
    accepted = conditions(previous, generation, ["Accepted"])
    resolved = conditions(previous, generation, ["ResolvedRefs"], ok=not missing)
    if missing:
        resolved[0]["reason"] = "BackendNotFound"
        resolved[0]["message"] = f"services not found: {', '.join(sorted(set(missing)))}"
    parents.append(
        {
            "parentRef": {
                "group": "gateway.networking.k8s.io",
                "kind": "Gateway",
                "name": gw_name,
                "namespace": gw_ns,
            },
            "controllerName": CONTROLLER_NAME,
            "conditions": accepted + resolved,
        }
    )
    return parents


def attaches(route: dict, gw_name: str, gw_ns: str, listener: str | None, port: int) -> bool:
    route_ns = route["metadata"].get("namespace") or ""
    for ref in (route.get("spec") or {}).get("parentRefs") or []:
        if ref.get("name") != gw_name or (ref.get("namespace") or route_ns) != gw_ns:
            continue
        if ref.get("sectionName") and ref["sectionName"] != listener:
            continue
        if ref.get("port") and int(ref["port"]) != port:
            continue
        return True
    return False


def listener_status(gateway: dict, name: str) -> dict | None:
    for listener in (gateway.get("status") or {}).get("listeners") or []:
        if listener.get("name") == name:
            return listener
    return None


def conditions(previous: dict | None, generation: int, types: list[str], ok: bool = True) -> list:
    """True conditions of these types, keeping lastTransitionTime while nothing changes."""
    before = {c.get("type"): c for c in (previous or {}).get("conditions") or []}
    out = []
    for kind in types:
        status = "True" if ok else "False"
        old = before.get(kind) or {}
        out.append(
            {
                "type": kind,
                "status": status,
                "reason": kind if ok else "Invalid",
                "message": "",
                "observedGeneration": generation,
                "lastTransitionTime": old.get("lastTransitionTime")
                if old.get("status") == status
                else rfc3339(),
            }
        )
    return out
