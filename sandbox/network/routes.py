"""HTTP routing tables built from Ingresses and HTTPRoutes, as GKE's load balancers apply them.

Ingress: rules by host (exact, or `*.example.com` for one label), then paths: Exact before
Prefix, longer before shorter, Prefix matching whole path elements (`/v1` matches `/v1` and
`/v1/x`, not `/v12`); GKE's ImplementationSpecific `/x/*` is a prefix. No match: the
defaultBackend, else 404.

HTTPRoute: hostnames, then rules whose matches (path PathPrefix/Exact/RegularExpression,
headers Exact/RegularExpression, query parameters, method; all of one match, any match of a
rule) hold; precedence as the Gateway API orders it (Exact path, then longer prefix, then more
header matches, then more query matches). A matching rule picks among its backendRefs by
weight with smooth weighted round robin, so shares are exact over every cycle of requests
(80/20 is 4 of every 5). Cookie-based splits use a header match on `Cookie` with a regular
expression, as on GKE.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Backend:
    namespace: str
    service: str
    port: int | str  # Service port number or name


@dataclass
class WeightedChoice:
    """Smooth weighted round robin (as nginx does): deterministic, exact shares per cycle."""

    backends: list[tuple[Backend, int]]
    _current: list[int] = field(default_factory=list)

    def pick(self) -> Backend | None:
        live = [(b, w) for b, w in self.backends if w > 0]
        if not live:
            return None
        if len(self._current) != len(self.backends):
            self._current = [0] * len(self.backends)
        total = 0
        best = -1
        for i, (_, weight) in enumerate(self.backends):
            if weight <= 0:
                continue
            self._current[i] += weight
            total += weight
            if best < 0 or self._current[i] > self._current[best]:
                best = i
        self._current[best] -= total
        return self.backends[best][0]


def host_matches(pattern: str, host: str) -> bool:
    if not pattern:
        return True
    host = host.split(":", 1)[0].lower()
    pattern = pattern.lower()
    if pattern.startswith("*."):
        suffix = pattern[1:]
        return host.endswith(suffix) and "." not in host[: -len(suffix)] and host != suffix[1:]
    return host == pattern


def prefix_matches(prefix: str, path: str) -> bool:
    prefix = prefix.rstrip("/")
    return not prefix or path == prefix or path.startswith(prefix + "/")


# -- Ingress ------------------------------------------------------------------------------


@dataclass
class IngressPath:
    kind: str  # Exact or Prefix
    path: str
    backend: Backend


@dataclass
class IngressTable:
    rules: list[tuple[str, list[IngressPath]]]
    default: Backend | None

    def route(self, host: str, path: str) -> Backend | None:
        for pattern, paths in self.rules:
            if not host_matches(pattern, host):
                continue
            for entry in paths:
                if entry.kind == "Exact" and path == entry.path:
                    return entry.backend
            for entry in paths:
                if entry.kind == "Prefix" and prefix_matches(entry.path, path):
                    return entry.backend
        return self.default


def ingress_backend(ns: str, backend: dict | None) -> Backend | None:
    service = (backend or {}).get("service") or {}
    if not service.get("name"):
        return None
    port = service.get("port") or {}
    return Backend(ns, service["name"], port.get("number") or port.get("name") or 80)


def ingress_table(ingress: dict) -> IngressTable:
    ns = ingress["metadata"].get("namespace") or ""
    spec = ingress.get("spec") or {}
    rules = []
    for rule in spec.get("rules") or []:
        paths = []
        for item in (rule.get("http") or {}).get("paths") or []:
            backend = ingress_backend(ns, item.get("backend"))
            if backend is None:
                continue
            path = item.get("path") or "/"
            kind = item.get("pathType") or "ImplementationSpecific"
            if kind == "ImplementationSpecific":
                kind, path = "Prefix", path.removesuffix("*")
            paths.append(IngressPath(kind, path, backend))
        paths.sort(key=lambda p: (p.kind != "Exact", -len(p.path.rstrip("/"))))
        rules.append((rule.get("host") or "", paths))
    # specific hosts before the catch-all rule
    rules.sort(key=lambda r: (not r[0], r[0].startswith("*.")))
    return IngressTable(rules, ingress_backend(ns, spec.get("defaultBackend")))


# -- HTTPRoute ----------------------------------------------------------------------------


@dataclass
class RouteMatch:
    path_type: str = "PathPrefix"
    path: str = "/"
    headers: list[tuple[str, str, str]] = field(default_factory=list)  # (type, name, value)
    query: list[tuple[str, str, str]] = field(default_factory=list)
    method: str | None = None

    def holds(self, method: str, path: str, headers, query) -> bool:
        if self.method and method != self.method:
            return False
        if self.path_type == "Exact" and path != self.path:
            return False
        if self.path_type == "PathPrefix" and not prefix_matches(self.path, path):
            return False
        if self.path_type == "RegularExpression" and not re.fullmatch(self.path, path):
            return False
        for kind, name, value in self.headers:
            if not _value_matches(kind, value, headers.get(name)):
                return False
        return all(_value_matches(k, v, query.get(n)) for k, n, v in self.query)

    def precedence(self) -> tuple:
        return (
            self.path_type != "Exact",
            -len(self.path) if self.path_type == "PathPrefix" else 0,
            self.method is None,
            -len(self.headers),
            -len(self.query),
        )


def _value_matches(kind: str, wanted: str, actual: str | None) -> bool:
    if actual is None:
        return False
    if kind == "RegularExpression":
        return re.search(wanted, actual) is not None
    return actual == wanted


@dataclass
class RouteRule:
    matches: list[RouteMatch]
    choice: WeightedChoice


@dataclass
class RouteTable:
    hostnames: list[str]
    rules: list[RouteRule]

    def route(self, method: str, host: str, path: str, headers, query) -> Backend | None:
        if self.hostnames and not any(host_matches(h, host) for h in self.hostnames):
            return None
        candidates = []
        for order, rule in enumerate(self.rules):
            for match in rule.matches:
                if match.holds(method, path, headers, query):
                    candidates.append((match.precedence(), order, rule))
        if not candidates:
            return None
        return min(candidates, key=lambda c: (c[0], c[1]))[2].choice.pick()


def route_table(route: dict) -> RouteTable:
    ns = route["metadata"].get("namespace") or ""
    spec = route.get("spec") or {}
    rules = []
    for rule in spec.get("rules") or []:
        matches = []
        for m in rule.get("matches") or [{}]:
            path = m.get("path") or {}
            matches.append(
                RouteMatch(
                    path_type=path.get("type") or "PathPrefix",
                    path=path.get("value") or "/",
                    headers=[
                        (h.get("type") or "Exact", h.get("name", ""), h.get("value", ""))
                        for h in m.get("headers") or []
                    ],
                    query=[
                        (q.get("type") or "Exact", q.get("name", ""), q.get("value", ""))
                        for q in m.get("queryParams") or []
                    ],
                    method=m.get("method"),
                )
            )
        backends = [
            (
                Backend(ref.get("namespace") or ns, ref["name"], ref.get("port") or 80),
                int(ref.get("weight", 1)),
            )
            for ref in rule.get("backendRefs") or []
            if ref.get("name") and (ref.get("kind") or "Service") == "Service"
        ]
        rules.append(RouteRule(matches, WeightedChoice(backends)))
    return RouteTable(list(spec.get("hostnames") or []), rules)
