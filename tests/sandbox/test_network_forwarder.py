"""The forwarder moves every byte both ways, with back-pressure and half-closes."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import socket
import threading

from sandbox.network.forwarder import Backends, Relay, listen
from sandbox.testing import until


def _echo_server() -> tuple[socket.socket, threading.Thread]:
    """Echoes everything back, then closes once the client has shut down its side."""
    server = socket.create_server(("127.0.0.1", 0))

    def run() -> None:
        conn, _ = server.accept()
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return server, thread


def test_a_large_upload_comes_back_whole_through_the_forwarder():
    payload = os.urandom(8 * 2**20)
    server, thread = _echo_server()
    relay = Relay()

    async def scenario() -> bytes:
        backends = Backends()
        backends.set([("127.0.0.1", server.getsockname()[1])])
        listener = await listen("127.0.0.1", 0, backends, relay)
        port = listener.sock.getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)

        async def send() -> None:
            writer.write(payload)
            await writer.drain()
            writer.write_eof()  # half-close: the answer must still arrive

        sender = asyncio.create_task(send())
        received = await reader.read(-1)
        await sender
        writer.close()
        # both ends closed: the relay lets go of the pair
        await until(lambda: relay.connections == 0, "the pair to be closed")
        listener.close()
        return received

    try:
        received = asyncio.run(scenario())
    finally:
        relay.stop()
        server.close()
    thread.join(timeout=5)
    assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()


def test_a_connection_with_no_backend_is_reset():
    relay = Relay()

    async def scenario() -> None:
        listener = await listen("127.0.0.1", 0, Backends(), relay)
        port = listener.sock.getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\n\r\n")
        # the RST arrives as an error or as an empty read, by timing
        with contextlib.suppress(ConnectionResetError):
            assert await reader.read(-1) == b""
        writer.close()
        listener.close()

    try:
        asyncio.run(scenario())
    finally:
        relay.stop()
