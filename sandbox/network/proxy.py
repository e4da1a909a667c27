"""kube-proxy and the cloud load balancer, on loopback addresses.

For every Service with a loopback cluster IP or load-balancer ingress IP, the sandbox listens on
that address and each TCP Service port, and forwards every connection to the ready endpoints of
the port (round robin). Only endpoints on the loopback network are reachable: pods of the
process runtime; a Service whose pods are all simulated resets its connections.

Ports below 1024 need root (or CAP_NET_BIND_SERVICE, or the sysctl
net.ipv4.ip_unprivileged_port_start lowered). Where the sandbox may not bind one, it listens on
the port plus `privileged_port_offset` instead and says so in a `PrivilegedPort` event.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from typing import Any

from sandbox.machinery.base import Controller
from sandbox.network.forwarder import Backends, Listener, Relay, listen

log = logging.getLogger(__name__)

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
COMPONENT = "kube-proxy"


def _loopback(ip: str | None) -> bool:
    try:
        return bool(ip) and ipaddress.ip_address(ip) in LOOPBACK
    except ValueError:
        return False


class _Listener:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.bound_port: int | None = None
        self.backends = Backends()
        self.server: Listener | None = None
        self.task: asyncio.Task | None = None

    def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.server is not None:
            self.server.close()


class ServiceProxy(Controller):
    name = "service-proxy"

    def __init__(self, cluster: Any) -> None:
        super().__init__(cluster)
        # (namespace, name) -> {(service IP, service port): listener}
        self.listeners: dict[tuple[str, str], dict[tuple[str, int], _Listener]] = {}
        self.relay: Relay | None = None

    def setup(self) -> None:
        self.watch_objects("services")
        self.watch_objects("endpoints")

    def initial_keys(self):
        return [
            (s["metadata"]["namespace"], s["metadata"]["name"]) for s in self.api.list("services")
        ]

    def address_of(self, ns: str, name: str, port: int) -> tuple[str, int] | None:
        """Where the sandbox really listens for a Service port (for docs, tests, benches)."""
        for (host, svc_port), listener in self.listeners.get((ns, name), {}).items():
            if svc_port == port and listener.bound_port is not None:
                return host, listener.bound_port
        return None

    def reconcile(self, key: tuple[str, str]) -> None:
        svc = self.api.get("services", *key)
        wanted: dict[tuple[str, int], dict] = {}
        if svc is not None and not svc["metadata"].get("deletionTimestamp"):
            spec = svc.get("spec") or {}
            ips = [ip for ip in spec.get("clusterIPs") or [spec.get("clusterIP")] if _loopback(ip)]
            lb = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
            ips += [i["ip"] for i in lb if _loopback(i.get("ip")) and i["ip"] not in ips]
            for ip in ips:
                for port in spec.get("ports") or []:
                    if (port.get("protocol") or "TCP") == "TCP" and port.get("port"):
                        wanted[(ip, int(port["port"]))] = port
        current = self.listeners.setdefault(key, {})
        for address in [a for a in current if a not in wanted]:
            current.pop(address).close()
        endpoints = self.api.get("endpoints", *key) if wanted else None
        for address, port in wanted.items():
            listener = current.get(address)
            if listener is None:
                listener = current[address] = _Listener(*address)
                listener.task = asyncio.get_running_loop().create_task(
                    self._bind(svc, listener), name=f"listen-{address[0]}:{address[1]}"
                )
            listener.backends.set(backends_for(endpoints, port, len(spec.get("ports") or [])))
        if not current:
            del self.listeners[key]

    async def _bind(self, svc: dict, listener: _Listener) -> None:
        host, port = listener.host, listener.port
        if self.relay is None:
            self.relay = Relay()
        try:
            listener.server = await listen(host, port, listener.backends, self.relay)
            listener.bound_port = port
            return
        except PermissionError:
            pass
        except OSError as exc:
            self._event(svc, "FailedToListen", f"cannot listen on {host}:{port}: {exc.strerror}")
            return
        offset = int(self.config.privileged_port_offset)
        try:
            listener.server = await listen(host, port + offset, listener.backends, self.relay)
        except OSError as exc:
            self._event(
                svc,
                "FailedToListen",
                f"cannot listen on {host}:{port} (a privileged port) nor on {host}:"
                f"{port + offset}: {exc.strerror}",
            )
            return
        listener.bound_port = port + offset
        self._event(
            svc,
            "PrivilegedPort",
            f"cannot listen on {host}:{port}: ports below 1024 need root, CAP_NET_BIND_SERVICE "
            f"or sysctl net.ipv4.ip_unprivileged_port_start={port}; listening on "
            f"{host}:{port + offset} instead (config privileged_port_offset={offset})",
        )

    def _event(self, svc: dict, reason: str, message: str) -> None:
        if self.api.get("services", svc["metadata"]["namespace"], svc["metadata"]["name"]):
            self.api.record_event(
                svc, reason=reason, message=message, type="Warning", component=COMPONENT
            )

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            for listeners in self.listeners.values():
                for listener in listeners.values():
                    listener.close()
            self.listeners.clear()
            if self.relay is not None:
                self.relay.stop()
                self.relay = None


def backends_for(endpoints: dict | None, port: dict, port_count: int) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for subset in (endpoints or {}).get("subsets") or []:
        target = None
        for ep_port in subset.get("ports") or []:
            if ep_port.get("name", "") == port.get("name", "") or port_count == 1:
                target = ep_port.get("port")
                break
        if target is None:
            continue
        out += [
            (a["ip"], int(target)) for a in subset.get("addresses") or [] if _loopback(a.get("ip"))
        ]
    return out
