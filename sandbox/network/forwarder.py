"""A TCP forwarder: each accepted connection is joined to one backend, chosen round robin.

Accepting and connecting happen on the sandbox's event loop; the bytes then move on one relay
thread of its own, a bare epoll loop (recv, send, nothing else), because per request that
costs about a third of what asyncio's transports do and keeps traffic off the API server's
loop. Reading pauses on one side while the other side's unsent bytes wait (back-pressure), and
half-closes are passed on (an HTTP/1.0 client that shuts down its sending side still gets its
answer). A backend that refuses is skipped for the next; with none left the client's
connection is reset, as kube-proxy's REJECT does.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import os
import select
import socket
import struct
import threading

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0
_CHUNK = 256 * 1024
_IN, _OUT = select.EPOLLIN | select.EPOLLRDHUP, select.EPOLLOUT


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


class _Side:
    __slots__ = ("eof", "fd", "mask", "peer", "pending", "reading", "shut_after_flush", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.peer: _Side | None = None
        self.pending = b""  # bytes still to be written to this side
        self.reading = True
        self.eof = False  # this side sent EOF
        self.shut_after_flush = False
        self.mask = _IN


class Relay:
    """Moves bytes between joined socket pairs on one thread."""

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._wake = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._epoll.register(self._wake, select.EPOLLIN)
        self._incoming: collections.deque[tuple[socket.socket, socket.socket]] = collections.deque()
        self._sides: dict[int, _Side] = {}
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="sandbox-relay", daemon=True)
        self._thread.start()

    def join(self, client: socket.socket, upstream: socket.socket) -> None:
        self._incoming.append((client, upstream))
        os.eventfd_write(self._wake, 1)

    def stop(self) -> None:
        self._stopping = True
        os.eventfd_write(self._wake, 1)
        self._thread.join(timeout=5)

    @property
    def connections(self) -> int:
        return len(self._sides) // 2

    def _run(self) -> None:
        try:
            while not self._stopping:
                for fd, events in self._epoll.poll():
                    if fd == self._wake:
                        self._accept_pairs()
                        continue
                    side = self._sides.get(fd)
                    if side is None:
                        continue
                    if events & _OUT:
                        self._flush(side)
                    if fd not in self._sides:
                        continue
                    if side.reading and events & (select.EPOLLIN | select.EPOLLHUP):
                        self._read(side)
                    elif events & select.EPOLLERR:
                        self._close(side)
                    elif events & select.EPOLLHUP and not side.pending:
                        # The socket is done both ways but its last bytes wait for the peer
                        # to take them: HUP cannot be masked, so step out of epoll until then.
                        self._epoll.unregister(fd)
                        side.mask = -1
        except Exception:
            log.exception("the relay thread stopped")
        finally:
            for side in list(self._sides.values()):
                self._close(side)
            self._epoll.close()
            os.close(self._wake)

    def _accept_pairs(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.eventfd_read(self._wake)
        while self._incoming:
            a, b = (_Side(s) for s in self._incoming.popleft())
            a.peer, b.peer = b, a
            for side in (a, b):
                side.sock.setblocking(False)
                self._sides[side.fd] = side
                self._epoll.register(side.fd, side.mask)

    def _update(self, side: _Side) -> None:
        mask = (_IN if side.reading else 0) | (_OUT if side.pending else 0)
        if mask == side.mask or side.fd not in self._sides:
            return
        if side.mask == -1:
            self._epoll.register(side.fd, mask)
        else:
            self._epoll.modify(side.fd, mask)
        side.mask = mask

    def _read(self, side: _Side) -> None:
        peer = side.peer
        try:
            data = side.sock.recv(_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(side)
            return
        if not data:
            side.eof, side.reading = True, False
            self._update(side)
            if peer.pending:
                peer.shut_after_flush = True
            else:
                with contextlib.suppress(OSError):
                    peer.sock.shutdown(socket.SHUT_WR)
            self._close_if_done(side)
            return
        try:
            sent = peer.sock.send(data) if not peer.pending else 0
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self._close(side)
            return
        if sent < len(data):
            peer.pending += data[sent:]
            side.reading = False  # back-pressure: read more once the peer has taken this
            self._update(side)
            self._update(peer)

    def _flush(self, side: _Side) -> None:
        try:
            sent = side.sock.send(side.pending)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(side)
            return
        side.pending = side.pending[sent:]
        if side.pending:
            return
        self._update(side)
        peer = side.peer
        if not peer.eof and not peer.reading:
            peer.reading = True
            self._update(peer)
        if side.shut_after_flush:
            with contextlib.suppress(OSError):
                side.sock.shutdown(socket.SHUT_WR)
        self._close_if_done(side)

    def _close_if_done(self, side: _Side) -> None:
        """Both ends have sent EOF and every byte has been passed on."""
        peer = side.peer
        if side.eof and peer.eof and not side.pending and not peer.pending:
            self._close(side)

    def _close(self, side: _Side) -> None:
        for s in (side, side.peer):
            if s is not None and self._sides.pop(s.fd, None) is not None:
                if s.mask != -1:
                    with contextlib.suppress(OSError, ValueError):
                        self._epoll.unregister(s.fd)
                s.sock.close()


async def _serve(listener: socket.socket, backends: Backends, relay: Relay) -> None:
    loop = asyncio.get_running_loop()
    connecting: set[asyncio.Task] = set()
    try:
        while True:
            client, _ = await loop.sock_accept(listener)
            task = loop.create_task(_connect(client, backends, relay))
            connecting.add(task)
            task.add_done_callback(connecting.discard)
    finally:
        for task in connecting:
            task.cancel()


async def _connect(client: socket.socket, backends: Backends, relay: Relay) -> None:
    loop = asyncio.get_running_loop()
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for address in backends.order():
        upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        upstream.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(upstream, address), CONNECT_TIMEOUT)
        except (OSError, TimeoutError):
            upstream.close()
            continue
        except asyncio.CancelledError:
            upstream.close()
            client.close()
            raise
        upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        relay.join(client, upstream)
        return
    # SO_LINGER 0: close with RST, so the client sees a refused service at once
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()


class Listener:
    """A listening socket whose connections go to `backends`; close() stops it."""

    def __init__(self, sock: socket.socket, task: asyncio.Task) -> None:
        self.sock, self.task = sock, task

    def close(self) -> None:
        self.task.cancel()
        self.sock.close()


async def listen(host: str, port: int, backends: Backends, relay: Relay) -> Listener:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    task = asyncio.get_running_loop().create_task(
        _serve(sock, backends, relay), name=f"forward-{host}:{port}"
    )
    return Listener(sock, task)
