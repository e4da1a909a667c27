"""Pod IP allocation from each node's podCIDR, as the CNI's host-local IPAM does."""

from __future__ import annotations

import ipaddress
import random
import socket
import zlib


class NodeIPAM:
    def __init__(self) -> None:
        self._free: dict[str, list[str]] = {}
        self._used: dict[str, str] = {}  # pod uid -> ip
        self._owner: dict[str, str] = {}  # pod uid -> node

    def allocate(self, node: dict, pod_uid: str) -> str:
        if pod_uid in self._used:
            return self._used[pod_uid]
        name = node["metadata"]["name"]
        free = self._free.get(name)
        if free is None:
            free = self._free[name] = _addresses(node)
        if not free:
            raise RuntimeError(f"no free pod IPs left on node {name}")
        ip = free.pop()
        self._used[pod_uid] = ip
        self._owner[pod_uid] = name
        return ip

    def adopt(self, node: dict, pod_uid: str, ip: str) -> None:
        """A pod that already has an IP (state restored after a restart) keeps it."""
        name = node["metadata"]["name"]
        free = self._free.get(name)
        if free is None:
            free = self._free[name] = _addresses(node)
        if ip in free:
            free.remove(ip)
        self._used[pod_uid] = ip
        self._owner[pod_uid] = name

    def release(self, pod_uid: str) -> None:
        ip = self._used.pop(pod_uid, None)
        node = self._owner.pop(pod_uid, None)
        if ip is not None and node in self._free:
            # Reuse the oldest released address last, as host-local does, to avoid stale traffic.
            self._free[node].insert(0, ip)


def _addresses(node: dict) -> list[str]:
    cidr = (node.get("spec") or {}).get("podCIDR")
    if not cidr:
        # A node created by hand without a podCIDR: derive a stable private /24 from its name.
        n = zlib.crc32(node["metadata"]["name"].encode()) % 65536
        cidr = f"10.{96 + n // 256 % 32}.{n % 256}.0/24"
    network = ipaddress.ip_network(cidr, strict=False)
    hosts = [str(ip) for ip in network.hosts()][1:]  # .1 is the bridge gateway
    hosts.reverse()  # pop() hands out .2, .3, ... in order
    return hosts


class LoopbackIPAM:
    """Pod IPs for process pods: one address each on the loopback network, which routes to this
    machine on Linux, so every replica can listen on its container port without colliding.

    Addresses are drawn at random from a /12, and one where something already accepts
    connections on the pod's ports is skipped, so sandboxes running side by side (parallel
    test workers, two checkouts) do not hand out the same address and port."""

    NETWORK = ipaddress.ip_network("127.16.0.0/12")

    def __init__(self) -> None:
        self._used: dict[str, str] = {}  # pod uid -> ip
        self._taken: set[str] = set()
        self._rng = random.Random()

    def allocate(self, pod_uid: str, ports: tuple[int, ...] = ()) -> str:
        if pod_uid in self._used:
            return self._used[pod_uid]
        size = self.NETWORK.num_addresses - 2
        for _ in range(1000):
            ip = str(self.NETWORK.network_address + 1 + self._rng.randrange(size))
            if ip in self._taken or any(_listening(ip, port) for port in ports):
                continue
            self._taken.add(ip)
            self._used[pod_uid] = ip
            return ip
        raise RuntimeError(f"no free loopback pod IP found in {self.NETWORK}")

    def adopt(self, pod_uid: str, ip: str) -> None:
        self._used[pod_uid] = ip
        self._taken.add(ip)

    def release(self, pod_uid: str) -> None:
        ip = self._used.pop(pod_uid, None)
        if ip is not None:
            self._taken.discard(ip)


def _listening(ip: str, port: int) -> bool:
    """Whether something accepts connections there (loopback answers at once either way)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((ip, port)) == 0
