"""python -m sandbox.gke [--port N] [--state FILE] [--operation-seconds X] [--make-key FILE]
[--autoscaler-seconds S] [--scale-down-seconds S]"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import tempfile
from pathlib import Path

from aiohttp import web

from sandbox.cluster import load_config

from .auth import TokenService
from .engine import Engine
from .server import make_app, token_uri


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m sandbox.gke",
        description="A local Kubernetes Engine (container v1) endpoint backed by sandboxes.",
    )
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    p.add_argument("--host", default="127.0.0.1", help=argparse.SUPPRESS)
    p.add_argument("--state", type=Path, help="keep keys, clusters and operations in this file")
    p.add_argument(
        "--operation-seconds",
        type=float,
        default=6.0,
        help="how long each operation takes from PENDING to DONE",
    )
    p.add_argument(
        "--token-seconds", type=float, default=3600.0, help="lifetime of issued access tokens"
    )
    p.add_argument(
        "--autoscaler-seconds",
        type=float,
        default=10.0,
        help="how often the cluster autoscaler looks at Pending pods",
    )
    p.add_argument(
        "--scale-down-seconds",
        type=float,
        default=600.0,
        help="how long an autoscaled pool stands idle before it shrinks to its minimum",
    )
    p.add_argument(
        "--make-key",
        type=Path,
        metavar="FILE",
        help="once serving, write a new service-account JSON key here (token_uri: this endpoint)",
    )
    p.add_argument("--project", default="sandbox-project", help="the --make-key key's project")
    p.add_argument(
        "--timings",
        choices=("realistic", "fast"),
        default="realistic",
        help="controller timings of the clusters it creates",
    )
    p.add_argument("--log-level", default="INFO")
    args = p.parse_args(argv)
    if not 0 <= args.port <= 65535:
        p.error("--port must be between 0 and 65535")
    if args.operation_seconds < 0 or args.scale_down_seconds < 0:
        p.error("--operation-seconds and --scale-down-seconds must not be negative")
    if args.token_seconds <= 0 or args.autoscaler_seconds <= 0:
        p.error("--token-seconds and --autoscaler-seconds must be positive")
    return args


def write_private(path: Path, data: dict) -> None:
    """Atomically and readable by the owner only: a waiting reader never sees half a key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".key-", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


async def run(args: argparse.Namespace) -> int:
    tokens = TokenService(token_seconds=args.token_seconds)
    engine = Engine(
        tokens=tokens,
        backing_config=load_config(args.timings),
        operation_seconds=args.operation_seconds,
        state=args.state,
    )
    app = make_app(engine, tokens)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port, reuse_address=True)
    await site.start()
    sockets = site._server.sockets if site._server else []
    port = sockets[0].getsockname()[1]
    engine.base_url = f"http://{args.host}:{port}"
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await engine.restore()
        engine.start_autoscaler(
            interval=args.autoscaler_seconds, scale_down_seconds=args.scale_down_seconds
        )
        print(f"sandbox.gke: serving {engine.base_url}", flush=True)
        if args.make_key:
            key = tokens.make_key(
                project_id=args.project, account="controlplane", token_uri=token_uri(app)
            )
            engine.save()
            write_private(args.make_key, key)
            print(f"sandbox.gke: service-account key {args.make_key}", flush=True)
        await stop.wait()
        print("sandbox.gke: stopping", flush=True)
    finally:
        await engine.stop()
        await runner.cleanup()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
