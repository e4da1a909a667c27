"""Services: ClusterIP/NodePort allocation, LoadBalancer addresses, and Endpoints.

`ServiceController` does what the API server's allocators and the cloud's service controller
do (a ClusterIP from 127.96.0.0/12, NodePorts from 30000-32767, an external IP from
127.128.0.0/12 for LoadBalancers after a short provisioning delay). `EndpointsController`
keeps each selector Service's Endpoints in step with its pods: ready pods under `addresses`,
the others under `notReadyAddresses`, terminating pods dropped.
"""

from __future__ import annotations

import ipaddress
import logging
import random
from typing import Any

from sandbox.machinery.base import Controller
from sandbox.machinery.cache import Caches
from sandbox.machinery.util import deepcopy, now, pod_is_ready, rfc3339

log = logging.getLogger(__name__)

# Both on the loopback network, which routes to this machine on Linux: with the process runtime
# the sandbox really listens on these addresses and forwards to the Services' pods
# (sandbox.network). 127.96.0.0/12 mirrors kubeadm's default 10.96.0.0/12.
SERVICE_CIDR = ipaddress.ip_network("127.96.0.0/12")
LB_CIDR = ipaddress.ip_network("127.128.0.0/12")
NODE_PORTS = range(30000, 32768)
_RESERVED = {str(SERVICE_CIDR.network_address + 1), str(SERVICE_CIDR.network_address + 10)}


class ServiceController(Controller):
    name = "service"

    def __init__(self, cluster: Any) -> None:
        super().__init__(cluster)
        # Not seeded: sandboxes side by side must not draw the same loopback addresses.
        self._rng = random.Random()
        self.cluster_ips: dict[str, tuple[str, str]] = {}
        self.node_ports: dict[int, tuple[str, str]] = {}
        self.lb_ips: dict[str, tuple[str, str]] = {}
        self._lb_ready: dict[tuple[str, str], float] = {}

    def setup(self) -> None:
        for svc in self.api.list("services"):
            self._remember(svc)
        self.watch("services", self._on_service)

    def initial_keys(self):
        return [
            (s["metadata"]["namespace"], s["metadata"]["name"]) for s in self.api.list("services")
        ]

    def _on_service(self, event_type: str, obj: dict, old: dict | None) -> None:
        key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
        if event_type == "DELETED":
            self._release(key)
            return
        self._remember(obj)
        self.enqueue(key)

    def _remember(self, svc: dict) -> None:
        key = (svc["metadata"]["namespace"], svc["metadata"]["name"])
        spec = svc.get("spec") or {}
        for ip in spec.get("clusterIPs") or [spec.get("clusterIP")]:
            if ip and ip != "None":
                self.cluster_ips[ip] = key
        for port in spec.get("ports") or []:
            if port.get("nodePort"):
                self.node_ports[int(port["nodePort"])] = key
        for ingress in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
            if ingress.get("ip"):
                self.lb_ips[ingress["ip"]] = key

    def _release(self, key: tuple[str, str]) -> None:
        for table in (self.cluster_ips, self.node_ports, self.lb_ips):
            for item in [k for k, owner in table.items() if owner == key]:
                del table[item]
        self._lb_ready.pop(key, None)

    def reconcile(self, key: tuple[str, str]) -> None:
        svc = self.api.get("services", *key)
        if svc is None or svc["metadata"].get("deletionTimestamp"):
            return
        svc = deepcopy(svc)
        spec = svc.setdefault("spec", {})
        svc_type = spec.get("type") or "ClusterIP"
        changed = False
        if svc_type != "ExternalName" and not spec.get("clusterIP"):
            ip = self._allocate(self.cluster_ips, SERVICE_CIDR, key, reserved=_RESERVED)
            spec["clusterIP"] = ip
            spec["clusterIPs"] = [ip]
            changed = True
        if svc_type in ("NodePort", "LoadBalancer"):
            for port in spec.get("ports") or []:
                if not port.get("nodePort"):
                    port["nodePort"] = self._allocate_port(key)
                    changed = True
        if changed:
            svc = deepcopy(self.api.update("services", svc))
        if svc_type == "LoadBalancer":
            self._ensure_load_balancer(key, svc)
        elif ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress"):
            for ip in [ip for ip, owner in self.lb_ips.items() if owner == key]:
                del self.lb_ips[ip]
            svc["status"]["loadBalancer"] = {}
            self.api.update_status("services", svc)

    def _ensure_load_balancer(self, key: tuple[str, str], svc: dict) -> None:
        if ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress"):
            return
        ready_at = self._lb_ready.get(key)
        if ready_at is None:
            ready_at = self._lb_ready[key] = now() + self.config.load_balancer_delay_seconds
            self.api.record_event(
                svc,
                reason="EnsuringLoadBalancer",
                message="Ensuring load balancer",
                component="service-controller",
            )
        if now() < ready_at:
            self.requeue_after(key, ready_at - now())
            return
        ip = self._allocate(self.lb_ips, LB_CIDR, key)
        svc.setdefault("status", {})["loadBalancer"] = {"ingress": [{"ip": ip, "ipMode": "VIP"}]}
        self.api.update_status("services", svc)
        self._lb_ready.pop(key, None)
        self.api.record_event(
            svc,
            reason="EnsuredLoadBalancer",
            message="Ensured load balancer",
            component="service-controller",
        )

    def _allocate(
        self, table: dict, network: Any, key: tuple[str, str], reserved: set[str] = frozenset()
    ) -> str:
        size = network.num_addresses - 2
        if len(table) >= size - len(reserved):
            raise RuntimeError(f"no free addresses left in {network}")
        while True:
            ip = str(network.network_address + 1 + self._rng.randrange(size))
            if ip not in table and ip not in reserved:
                table[ip] = key
                return ip

    def _allocate_port(self, key: tuple[str, str]) -> int:
        if len(self.node_ports) >= len(NODE_PORTS):
            raise RuntimeError("no free NodePorts left in 30000-32767")
        while True:
            port = self._rng.choice(NODE_PORTS)
            if port not in self.node_ports:
                self.node_ports[port] = key
                return port


class EndpointsController(Controller):
    name = "endpoints"

    def __init__(self, cluster: Any, caches: Caches) -> None:
        super().__init__(cluster)
        self.caches = caches

    def setup(self) -> None:
        # (namespace, label key, label value) -> names of Services selecting on that pair, so a
        # pod event only looks at the Services that could select it.
        self._selecting: dict[tuple[str, str, str], set[str]] = {}
        for svc in self.api.list("services"):
            self._index_selector(svc, add=True)
        self.watch("services", self._on_service)
        self.watch("pods", self._on_pod)

    def initial_keys(self):
        return list(self.caches.services.objects)

    def _index_selector(self, svc: dict, *, add: bool) -> None:
        ns, name = svc["metadata"].get("namespace") or "", svc["metadata"]["name"]
        for k, v in ((svc.get("spec") or {}).get("selector") or {}).items():
            names = self._selecting.setdefault((ns, k, v), set())
            if add:
                names.add(name)
            else:
                names.discard(name)
                if not names:
                    del self._selecting[(ns, k, v)]

    def _on_service(self, event_type: str, obj: dict, old: dict | None) -> None:
        if old is not None:
            self._index_selector(old, add=False)
        self._index_selector(obj, add=event_type != "DELETED")
        self.enqueue((obj["metadata"]["namespace"], obj["metadata"]["name"]))

    def _on_pod(self, event_type: str, obj: dict, old: dict | None) -> None:
        if (
            old is not None
            and event_type == "MODIFIED"
            and _endpoint_view(old) == _endpoint_view(obj)
        ):
            return
        ns = obj["metadata"].get("namespace") or ""
        candidates: set[str] = set()
        for pod in (obj, old) if old is not None else (obj,):
            for k, v in (pod["metadata"].get("labels") or {}).items():
                candidates |= self._selecting.get((ns, k, v), set())
        for name in candidates:
            svc = self.caches.services.get(ns, name)
            selector = ((svc or {}).get("spec") or {}).get("selector")
            if selector and (
                _selects(selector, obj) or (old is not None and _selects(selector, old))
            ):
                self.enqueue((ns, name))

    def reconcile(self, key: tuple[str, str]) -> None:
        ns, name = key
        svc = self.caches.services.get(ns, name)
        current = self.api.get("endpoints", ns, name)
        if svc is None:
            if current is not None and _managed(current):
                self._delete(ns, name)
            return
        selector = (svc.get("spec") or {}).get("selector")
        if not selector:
            return  # endpoints of selector-less services are the user's to manage
        subsets = self._subsets(svc, ns, selector)
        desired: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {
                "name": name,
                "namespace": ns,
                "labels": dict(svc["metadata"].get("labels") or {}),
            },
        }
        if subsets:
            desired["subsets"] = subsets
        if current is None:
            desired["metadata"]["annotations"] = {
                "endpoints.kubernetes.io/last-change-trigger-time": rfc3339()
            }
            self.api.create("endpoints", desired)
            return
        if (
            current.get("subsets") == desired.get("subsets")
            and (current["metadata"].get("labels") or {}) == desired["metadata"]["labels"]
        ):
            return
        updated = deepcopy(current)
        updated["metadata"]["labels"] = desired["metadata"]["labels"]
        updated["metadata"].setdefault("annotations", {})[
            "endpoints.kubernetes.io/last-change-trigger-time"
        ] = rfc3339()
        updated.pop("subsets", None)
        if subsets:
            updated["subsets"] = subsets
        self.api.update("endpoints", updated)

    def _subsets(self, svc: dict, ns: str, selector: dict) -> list[dict]:
        spec = svc.get("spec") or {}
        publish_unready = bool(spec.get("publishNotReadyAddresses"))
        groups: dict[tuple, dict[str, list[dict]]] = {}
        for pod in self.caches.pods_with_labels(ns, selector):
            status = pod.get("status") or {}
            if not status.get("podIP") or pod["metadata"].get("deletionTimestamp"):
                continue
            if status.get("phase") in ("Succeeded", "Failed"):
                continue
            ports = _resolve_ports(spec.get("ports") or [], pod)
            if spec.get("ports") and not ports:
                continue
            address = {
                "ip": status["podIP"],
                "nodeName": pod["spec"].get("nodeName"),
                "targetRef": {
                    "kind": "Pod",
                    "namespace": ns,
                    "name": pod["metadata"]["name"],
                    "uid": pod["metadata"]["uid"],
                },
            }
            group = groups.setdefault(
                tuple(tuple(sorted(p.items())) for p in ports), {"ready": [], "unready": []}
            )
            group["ready" if publish_unready or pod_is_ready(pod) else "unready"].append(address)
        subsets = []
        for ports_key, group in sorted(groups.items()):
            subset: dict[str, Any] = {}
            if group["ready"]:
                subset["addresses"] = sorted(group["ready"], key=_ip_key)
            if group["unready"]:
                subset["notReadyAddresses"] = sorted(group["unready"], key=_ip_key)
            if ports_key:
                subset["ports"] = [dict(p) for p in ports_key]
            subsets.append(subset)
        return subsets

    def _delete(self, ns: str, name: str) -> None:
        try:
            self.api.delete("endpoints", ns, name)
        except Exception as exc:
            if getattr(exc, "code", None) != 404:
                raise


def _selects(selector: dict, pod: dict) -> bool:
    labels = pod["metadata"].get("labels") or {}
    return all(labels.get(k) == v for k, v in selector.items())


def _managed(endpoints: dict) -> bool:
    return "endpoints.kubernetes.io/last-change-trigger-time" in (
        endpoints["metadata"].get("annotations") or {}
    )


def _resolve_ports(service_ports: list[dict], pod: dict) -> list[dict]:
    out = []
    for sp in service_ports:
        target = sp.get("targetPort", sp.get("port"))
        if isinstance(target, str) and not target.isdigit():
            number = None
            for container in pod["spec"].get("containers") or []:
                for cp in container.get("ports") or []:
                    if cp.get("name") == target:
                        number = cp.get("containerPort")
            if number is None:
                continue
        else:
            number = int(target)
        port = {"port": number, "protocol": sp.get("protocol", "TCP")}
        if sp.get("name"):
            port["name"] = sp["name"]
        if sp.get("appProtocol"):
            port["appProtocol"] = sp["appProtocol"]
        out.append(port)
    return out


def _endpoint_view(pod: dict) -> tuple:
    status = pod.get("status") or {}
    return (
        repr(pod["metadata"].get("labels")),
        status.get("podIP"),
        status.get("phase"),
        pod_is_ready(pod),
        pod["metadata"].get("deletionTimestamp"),
        (pod.get("spec") or {}).get("nodeName"),
    )


def _ip_key(address: dict) -> tuple[int, ...]:
    return tuple(int(part) for part in address["ip"].split("."))
