"""The L7 load balancers GKE's Ingress and Gateway controllers make, as local HTTP gateways.

Each Ingress gets a loopback address (from 127.144.0.0/12) in `status.loadBalancer.ingress`
and an HTTP listener on port 80 there; each Gateway gets one in `status.addresses`, listening
on every HTTP listener's port, with the HTTPRoutes of its namespace that name it as parent.
A request is routed by routes.py to a Service port, then to one of its ready endpoints (round
robin) and forwarded; no route is GKE's `default backend - 404`, a Service without ready
endpoints a 503. Status is filled as GKE's controllers fill it: Gateway conditions Accepted and
Programmed, listeners with their attached routes, HTTPRoute parents Accepted and ResolvedRefs.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import logging
import random
from typing import Any

import aiohttp
from aiohttp import web

from sandbox.machinery.base import Controller
from sandbox.machinery.util import deepcopy
from sandbox.network.gatewaystatus import attaches, conditions, listener_status, route_parents
from sandbox.network.proxy import backends_for
from sandbox.network.routes import Backend, ingress_table, route_table

log = logging.getLogger(__name__)

GATEWAY_CIDR = ipaddress.ip_network("127.144.0.0/12")
INGRESSES = "ingresses.networking.k8s.io"
GATEWAYS = "gateways.gateway.networking.k8s.io"
ROUTES = "httproutes.gateway.networking.k8s.io"
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
}


class GatewayController(Controller):
    name = "l7-gateway"

    def __init__(self, cluster: Any) -> None:
        super().__init__(cluster)
        self.addresses: dict[tuple[str, str, str], str] = {}  # (kind, ns, name) -> ip
        self.sites: dict[tuple[str, int], web.AppRunner] = {}
        self.bound: dict[tuple[str, int], int] = {}  # (ip, port) -> port really listened on
        self.tables: dict[tuple[str, int], list[Any]] = {}
        self._owners: dict[tuple[str, int], tuple[str, str, str]] = {}
        self._turns: dict[tuple, itertools.count] = {}
        self._rng = random.Random()
        self._route_tables: dict[str, tuple[Any, Any]] = {}  # route uid -> (generation, table)
        self.session: aiohttp.ClientSession | None = None

    def setup(self) -> None:
        self.watch(INGRESSES, lambda e, o, old: self.enqueue(("ingress", *_key(o))))
        self.watch(GATEWAYS, lambda e, o, old: self.enqueue(("gateway", *_key(o))))
        self.watch(ROUTES, self._on_route)

    def _on_route(self, event_type: str, obj: dict, old: dict | None) -> None:
        if event_type == "DELETED":
            self._route_tables.pop(obj["metadata"].get("uid"), None)
        for route in (obj, old):
            for ref in ((route or {}).get("spec") or {}).get("parentRefs") or []:
                ns = ref.get("namespace") or route["metadata"].get("namespace") or ""
                self.enqueue(("gateway", ns, ref.get("name", "")))

    def initial_keys(self):
        keys = [("ingress", *_key(o)) for o in self.api.list(INGRESSES)]
        return keys + [("gateway", *_key(o)) for o in self.api.list(GATEWAYS)]

    # -- reconcile -------------------------------------------------------------------------

    def reconcile(self, key: tuple[str, str, str]) -> None:
        kind, ns, name = key
        obj = self.api.get(INGRESSES if kind == "ingress" else GATEWAYS, ns, name)
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            self._release(key)
            return
        ip = self._address(key, obj)
        if kind == "ingress":
            self._serve(key, ip, {80: [ingress_table(obj)]})
            self._ingress_status(obj, ip)
        else:
            self._gateway(key, obj, ip)

    def _address(self, key: tuple[str, str, str], obj: dict) -> str:
        if key in self.addresses:
            return self.addresses[key]
        status = obj.get("status") or {}
        known = [i.get("ip") for i in (status.get("loadBalancer") or {}).get("ingress") or []]
        known += [a.get("value") for a in status.get("addresses") or []]
        taken = set(self.addresses.values())
        for ip in known:
            if ip and ipaddress.ip_address(ip) in GATEWAY_CIDR and ip not in taken:
                self.addresses[key] = ip
                return ip
        # random, so that sandboxes side by side do not draw the same address
        while True:
            ip = str(GATEWAY_CIDR.network_address + 1 + self._rng.randrange(2**20 - 2))
            if ip not in taken:
                self.addresses[key] = ip
                return ip

    def _serve(self, key: tuple[str, str, str], ip: str, tables: dict[int, list[Any]]) -> None:
        for address in [a for a, owner in self._owners.items() if owner == key]:
            if address[1] not in tables:
                self._stop_site(address)
        for port, table in tables.items():
            address = (ip, port)
            self.tables[address] = table
            self._owners[address] = key
            if address not in self.sites:
                self.sites[address] = None  # type: ignore[assignment]  # binding
                asyncio.get_running_loop().create_task(self._start_site(key, address))

    def _release(self, key: tuple[str, str, str]) -> None:
        for address in [a for a, owner in self._owners.items() if owner == key]:
            self._stop_site(address)
        self.addresses.pop(key, None)

    def _stop_site(self, address: tuple[str, int]) -> None:
        self._owners.pop(address, None)
        self.tables.pop(address, None)
        self.bound.pop(address, None)
        runner = self.sites.pop(address, None)
        if runner is not None:
            asyncio.get_running_loop().create_task(runner.cleanup())

    async def _start_site(self, key: tuple[str, str, str], address: tuple[str, int]) -> None:
        ip, port = address
        app = web.Application(client_max_size=64 * 2**20)
        app.router.add_route("*", "/{tail:.*}", lambda request: self._handle(address, request))
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        offset = int(self.config.privileged_port_offset)
        for candidate in (port, port + offset):
            try:
                await web.TCPSite(runner, ip, candidate, reuse_address=True).start()
            except PermissionError:
                continue
            except OSError as exc:
                self._event(key, "FailedToListen", f"cannot listen on {ip}:{candidate}: {exc}")
                await runner.cleanup()
                self.sites.pop(address, None)
                return
            if self._owners.get(address) != key:
                await runner.cleanup()  # deleted while binding
                return
            self.sites[address], self.bound[address] = runner, candidate
            if candidate != port:
                self._event(
                    key,
                    "PrivilegedPort",
                    f"cannot listen on {ip}:{port}: ports below 1024 need root, "
                    f"CAP_NET_BIND_SERVICE or sysctl net.ipv4.ip_unprivileged_port_start={port}; "
                    f"listening on {ip}:{candidate} instead (config privileged_port_offset)",
                )
            return
        await runner.cleanup()
        self.sites.pop(address, None)

    def _event(self, key: tuple[str, str, str], reason: str, message: str) -> None:
        kind, ns, name = key
        obj = self.api.get(INGRESSES if kind == "ingress" else GATEWAYS, ns, name)
        if obj is not None:
            self.api.record_event(
                obj, reason=reason, message=message, type="Warning", component=self.name
            )

    # -- status ----------------------------------------------------------------------------

    def _ingress_status(self, ingress: dict, ip: str) -> None:
        wanted = {"loadBalancer": {"ingress": [{"ip": ip}]}}
        if (ingress.get("status") or {}) != wanted:
            updated = deepcopy(ingress)
            updated["status"] = wanted
            self.api.update_status(INGRESSES, updated)
            self.api.record_event(
                ingress,
                reason="Sync",
                message=f"IP is now {ip}",
                component="loadbalancer-controller",
            )

    def _gateway(self, key: tuple[str, str, str], gateway: dict, ip: str) -> None:
        ns, name = key[1], key[2]
        routes = [
            r
            for r in self.api.list(ROUTES, ns)
            if any(
                p.get("name") == name and (p.get("namespace") or ns) == ns
                for p in (r.get("spec") or {}).get("parentRefs") or []
            )
            and not r["metadata"].get("deletionTimestamp")
        ]
        routes.sort(key=lambda r: (r["metadata"].get("creationTimestamp", ""), _key(r)))
        listeners = [
            li
            for li in (gateway.get("spec") or {}).get("listeners") or []
            if (li.get("protocol") or "HTTP") == "HTTP"
        ]
        tables: dict[int, list[Any]] = {}
        attached: dict[str, int] = {}
        for listener in listeners:
            port = int(listener.get("port") or 80)
            mine = [r for r in routes if attaches(r, name, ns, listener.get("name"), port)]
            attached[listener.get("name", "")] = len(mine)
            tables.setdefault(port, []).extend(self._route_table(r) for r in mine)
        self._serve(key, ip, tables)
        generation = gateway["metadata"].get("generation", 1)
        status = {
            "addresses": [{"type": "IPAddress", "value": ip}],
            "conditions": conditions(gateway.get("status"), generation, ["Accepted", "Programmed"]),
            "listeners": [
                {
                    "name": li.get("name", ""),
                    "attachedRoutes": attached.get(li.get("name", ""), 0),
                    "supportedKinds": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}],
                    "conditions": conditions(
                        listener_status(gateway, li.get("name", "")),
                        generation,
                        ["Accepted", "Programmed", "ResolvedRefs"],
                    ),
                }
                for li in listeners
            ],
        }
        if (gateway.get("status") or {}) != status:
            updated = deepcopy(gateway)
            updated["status"] = status
            self.api.update_status(GATEWAYS, updated)
        for route in routes:
            self._route_status(route, ns, name)

    def _route_table(self, route: dict) -> Any:
        """The route's table, kept while the route is unchanged so that weighted choices keep
        their place in the cycle (status writes re-run this reconcile)."""
        uid, version = route["metadata"].get("uid"), route["metadata"].get("generation")
        cached = self._route_tables.get(uid)
        if cached is None or cached[0] != version:
            cached = self._route_tables[uid] = (version, route_table(route))
        return cached[1]

    def _route_status(self, route: dict, gw_ns: str, gw_name: str) -> None:
        parents = route_parents(self.api, route, gw_ns, gw_name)
        if (route.get("status") or {}).get("parents") != parents:
            updated = deepcopy(route)
            updated["status"] = {"parents": parents}
            self.api.update_status(ROUTES, updated)

    # -- requests --------------------------------------------------------------------------

    async def _handle(self, address: tuple[str, int], request: web.Request) -> web.StreamResponse:
        backend = None
        for table in self.tables.get(address) or []:
            if hasattr(table, "hostnames"):
                backend = table.route(
                    request.method, request.host, request.path, request.headers, request.query
                )
            else:
                backend = table.route(request.host, request.path)
            if backend is not None:
                break
        if backend is None:
            return web.Response(status=404, text="default backend - 404")
        target = self._endpoint(backend)
        if target is None:
            return web.Response(status=503, text="no healthy upstream")
        if self.session is None:
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0), auto_decompress=False
            )
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        forwarded = request.headers.get("X-Forwarded-For")
        client = request.remote or ""
        headers["X-Forwarded-For"] = f"{forwarded}, {client}" if forwarded else client
        headers["X-Forwarded-Proto"] = "http"
        headers["Via"] = "1.1 sandbox"
        body = await request.read()
        url = f"http://{target[0]}:{target[1]}{request.rel_url}"
        try:
            async with self.session.request(
                request.method,
                url,
                headers=headers,
                data=body or None,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=300),
            ) as upstream:
                payload = await upstream.read()
                out = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP}
                return web.Response(status=upstream.status, body=payload, headers=out)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return web.Response(status=502, text=f"upstream {target[0]}:{target[1]}: {exc}")

    def _endpoint(self, backend: Backend) -> tuple[str, int] | None:
        svc = self.api.get("services", backend.namespace, backend.service)
        if svc is None:
            return None
        ports = (svc.get("spec") or {}).get("ports") or []
        port = next(
            (p for p in ports if p.get("port") == backend.port or p.get("name") == backend.port),
            None,
        )
        if port is None:
            return None
        endpoints = self.api.get("endpoints", backend.namespace, backend.service)
        targets = backends_for(endpoints, port, len(ports))
        if not targets:
            return None
        turn = self._turns.setdefault(
            (backend.namespace, backend.service, backend.port), itertools.count()
        )
        return targets[next(turn) % len(targets)]

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            for runner in list(self.sites.values()):
                if runner is not None:
                    await runner.cleanup()
            self.sites.clear()
            if self.session is not None:
                await self.session.close()


def _key(obj: dict) -> tuple[str, str]:
    return obj["metadata"].get("namespace") or "", obj["metadata"]["name"]
