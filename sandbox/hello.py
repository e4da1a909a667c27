"""`python -m sandbox.hello`: what the process runtime runs for GKE's sample image `hello-app`
(us-docker.pkg.dev/google-samples/containers/gke/hello-app), so the classic walk-through
(create the Deployment, expose it as a LoadBalancer, curl its external IP) answers as on GKE:

    Hello, world!
    Version: 1.0.0
    Hostname: hello-server-5bd6b6875f-z8wlm

Like the sample it listens on $PORT (default 8080), here on $HOST (the pod IP), logs each
request and exits on SIGTERM. Standard library only, so it starts in a few milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys


def version_of(tag: str) -> str:
    """hello-app:1.0 says 1.0.0, hello-app:2.0 says 2.0.0."""
    parts = [p for p in tag.split(".") if p.isdigit()]
    if not parts:
        return "1.0.0"
    return ".".join([*parts, "0", "0"][:3])


async def serve(host: str, port: int, version: str) -> None:
    hostname = os.environ.get("HOSTNAME", "")
    body = f"Hello, world!\nVersion: {version}\nHostname: {hostname}\n".encode()
    header = (
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
                parts = line.split()
                path = parts[1].decode(errors="replace") if len(parts) > 1 else "/"
                print(f"Serving request: {path}", flush=True)
                writer.write(header + body)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, host, port)
    print(f"Server listening on port {port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sandbox.hello")
    p.add_argument("--version", default="1.0", help="the image tag the version comes from")
    args = p.parse_args(argv)
    port = int(os.environ.get("PORT") or 8080)
    asyncio.run(serve(os.environ.get("HOST", "0.0.0.0"), port, version_of(args.version)))  # noqa: S104
    return 0


if __name__ == "__main__":
    sys.exit(main())
