"""A TCP forwarder: each accepted connection is joined to one backend, chosen round robin.

Protocol-level (no streams): bytes go from one transport straight to the other, and reading
pauses on one side while the other side's write buffer is full, so a slow peer cannot make
the sandbox buffer without bound. Half-closes are passed on (an HTTP/1.0 client that shuts
down its sending side still gets its answer). A backend that refuses is skipped for the next
one; with no backend left the client's connection is reset, as kube-proxy's REJECT does.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import struct

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0


class Backends:
    """The ready endpoints of one Service port, updated in place as they change."""

    def __init__(self) -> None:
        self.addresses: list[tuple[str, int]] = []
        self._counter = itertools.count()

    def set(self, addresses: list[tuple[str, int]]) -> None:
        self.addresses = addresses

    def order(self) -> list[tuple[str, int]]:
        """Every backend, starting from the next one in the rotation."""
        current = self.addresses
        if not current:
            return []
        start = next(self._counter) % len(current)
        return current[start:] + current[:start]


class _Pipe(asyncio.Protocol):
    """One side of a forwarded connection."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: _Pipe | None = None
        self.pending: list[bytes] = []
        self.eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        peer = self.peer
        if peer is None or peer.transport is None:
            self.pending.append(data)
            return
        peer.transport.write(data)

    def eof_received(self) -> bool:
        peer = self.peer
        if peer is None or peer.transport is None:
            self.eof = True
        elif peer.transport.can_write_eof():
            peer.transport.write_eof()
        return True  # keep the other direction open until the peer closes too

    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        peer = self.peer
        if peer is not None and peer.transport is not None:
            peer.transport.close()
        self.peer = None

    def join(self, peer: _Pipe) -> None:
        """Start forwarding both ways, flushing what arrived before the peer was there."""
        self.peer, peer.peer = peer, self
        assert peer.transport is not None
        for data in self.pending:
            peer.transport.write(data)
        self.pending.clear()
        if self.eof and peer.transport.can_write_eof():
            peer.transport.write_eof()


class _Client(_Pipe):
    def __init__(self, backends: Backends) -> None:
        super().__init__()
        self.backends = backends

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        for host, port in self.backends.order():
            if self.transport is None or self.transport.is_closing():
                return
            try:
                _, upstream = await asyncio.wait_for(
                    loop.create_connection(_Pipe, host, port), CONNECT_TIMEOUT
                )
            except (OSError, TimeoutError):
                continue
            if self.transport.is_closing():
                upstream.transport.close()
                return
            self.join(upstream)
            upstream.join(self)
            return
        _reset(self.transport)


def _reset(transport: asyncio.Transport | None) -> None:
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # SO_LINGER 0: close with RST, so the client sees a refused service at once
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def listen(host: str, port: int, backends: Backends) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: _Client(backends), host, port, reuse_address=True, backlog=1024
    )
