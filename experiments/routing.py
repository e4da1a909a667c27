"""The routing object an experiment owns, built from its variants and the traffic split.

    fanout    networking.k8s.io/v1 Ingress: one Prefix path per variant (/<variant>), as in the
              classic two-Deployments-behind-an-Ingress setup; clients choose a path.
    weighted  gateway.networking.k8s.io/v1 HTTPRoute: one rule whose backendRefs carry the
              weights, attached to the Gateway named by EXPERIMENTS_GATEWAY_NAME.
    sticky    the weighted HTTPRoute, plus per variant a rule matching its cookie, and each
              weighted backend sets that cookie on its responses, so a user keeps the variant
              the split first gave them.

Every variant is also reachable directly: its path (fan-out) or the header
`<EXPERIMENTS_VARIANT_HEADER>: <variant>` (HTTPRoutes), so people can try one by hand.
The object is named after the experiment and labelled with it, so kubectl shows its owner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings

EXPERIMENT_LABEL = "experiments.mlcp.io/name"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"


@dataclass(frozen=True)
class Backend:
    variant: str
    service: str
    port: int
    weight: int


def route_kind(routing: str) -> str:
    return "Ingress" if routing == "fanout" else "HTTPRoute"


def _metadata(*, name: str, namespace: str) -> dict:
    return {
        "name": name,
        "namespace": namespace,
        "labels": {EXPERIMENT_LABEL: name, MANAGED_BY_LABEL: "mlcp"},
    }


def cookie_name(experiment: str) -> str:
    return f"{settings.EXPERIMENTS_COOKIE_PREFIX}{experiment}"


def ingress(*, name: str, namespace: str, backends: Sequence[Backend]) -> dict:
    """Paths /<variant>; a variant given no traffic (paused, aborted, concluded) is served by
    the backend that now takes it all, so its path keeps answering."""
    serving = [b for b in backends if b.weight > 0]
    sole = serving[0] if len(serving) == 1 else None
    paths = []
    for backend in backends:
        target = sole or backend
        paths.append(
            {
                "path": f"/{backend.variant}",
                "pathType": "Prefix",
                "backend": {"service": {"name": target.service, "port": {"number": target.port}}},
            }
        )
    spec: dict = {"rules": [{"http": {"paths": paths}}]}
    if settings.EXPERIMENTS_INGRESS_CLASS:
        spec["ingressClassName"] = settings.EXPERIMENTS_INGRESS_CLASS
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": _metadata(name=name, namespace=namespace),
        "spec": spec,
    }


def _parent_ref(namespace: str) -> dict:
    ref = {
        "group": "gateway.networking.k8s.io",
        "kind": "Gateway",
        "name": settings.EXPERIMENTS_GATEWAY_NAME,
    }
    if settings.EXPERIMENTS_GATEWAY_NAMESPACE:
        ref["namespace"] = settings.EXPERIMENTS_GATEWAY_NAMESPACE
    return ref


def _backend_ref(backend: Backend, *, weight: int, filters: list | None = None) -> dict:
    ref = {"kind": "Service", "name": backend.service, "port": backend.port, "weight": weight}
    if filters:
        ref["filters"] = filters
    return ref


def _pin_rule(backend: Backend) -> dict:
    header = {
        "type": "Exact",
        "name": settings.EXPERIMENTS_VARIANT_HEADER,
        "value": backend.variant,
    }
    return {
        "matches": [{"path": {"type": "PathPrefix", "value": "/"}, "headers": [header]}],
        "backendRefs": [_backend_ref(backend, weight=1)],
    }


def _cookie_rule(experiment: str, backend: Backend) -> dict:
    # Gateway API has no cookie match of its own; the Cookie header is matched instead. Names
    # are DNS labels (letters, digits, '-'), which stand for themselves in a regular expression.
    pattern = rf"(^|.*;\s*){cookie_name(experiment)}={backend.variant}(;.*|$)"
    header = {"type": "RegularExpression", "name": "Cookie", "value": pattern}
    return {
        "matches": [{"path": {"type": "PathPrefix", "value": "/"}, "headers": [header]}],
        "backendRefs": [_backend_ref(backend, weight=1)],
    }


def _set_cookie(experiment: str, backend: Backend) -> list:
    value = f"{cookie_name(experiment)}={backend.variant}; Path=/; SameSite=Lax"
    return [
        {
            "type": "ResponseHeaderModifier",
            "responseHeaderModifier": {"add": [{"name": "Set-Cookie", "value": value}]},
        }
    ]


def http_route(*, name: str, namespace: str, backends: Sequence[Backend], sticky: bool) -> dict:
    rules = [_pin_rule(b) for b in backends]
    if sticky:
        # A user's cookie decides only while their variant still gets traffic; once it gets
        # none (paused, aborted, concluded) the weighted rule below takes them.
        rules += [_cookie_rule(name, b) for b in backends if b.weight > 0]
    weighted = [
        _backend_ref(b, weight=b.weight, filters=_set_cookie(name, b) if sticky else None)
        for b in backends
    ]
    rules.append(
        {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}], "backendRefs": weighted}
    )
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": _metadata(name=name, namespace=namespace),
        "spec": {"parentRefs": [_parent_ref(namespace)], "rules": rules},
    }


def route_object(*, routing: str, name: str, namespace: str, backends: Sequence[Backend]) -> dict:
    if routing == "fanout":
        return ingress(name=name, namespace=namespace, backends=backends)
    return http_route(name=name, namespace=namespace, backends=backends, sticky=routing == "sticky")
