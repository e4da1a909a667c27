"""python -m sandbox --kubeconfig PATH [--port N] [--nodes N] [--gpu-nodes N] [--state FILE]"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path

from sandbox.cluster import Cluster, ClusterOptions, load_config
from sandbox.kubelet.runtimemap import RuntimeMap


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m sandbox", description="A local Kubernetes-compatible cluster."
    )
    p.add_argument(
        "--kubeconfig",
        type=Path,
        required=True,
        help="where to write the admin kubeconfig once the server is ready",
    )
    p.add_argument(
        "--readonly-kubeconfig",
        type=Path,
        help="also write a kubeconfig with the read-only token here",
    )
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    p.add_argument("--host", default="127.0.0.1", help=argparse.SUPPRESS)
    p.add_argument("--nodes", type=int, default=3, help="CPU nodes to create")
    p.add_argument("--gpu-nodes", type=int, default=0, help="GPU nodes to create")
    p.add_argument("--state", type=Path, help="persist every object in this file")
    p.add_argument(
        "--timings",
        choices=("realistic", "fast"),
        default="realistic",
        help="controller timings: realistic (demos) or fast (tests)",
    )
    p.add_argument("--config", type=Path, help="JSON file overriding single timings")
    p.add_argument("--admin-token", help="use this admin token instead of a random one")
    p.add_argument("--readonly-token", help="use this read-only token instead of a random one")
    p.add_argument(
        "--no-controllers",
        action="store_true",
        help="serve the API only: no controllers, kubelet or metrics",
    )
    p.add_argument(
        "--event-ttl",
        type=float,
        default=3600.0,
        help="seconds an Event is kept (kube-apiserver --event-ttl)",
    )
    p.add_argument(
        "--process-runtime",
        action="store_true",
        help="run the project's own images (*/inference, */trainer) as local processes",
    )
    p.add_argument(
        "--runtime-map",
        type=Path,
        help="JSON or YAML rules mapping images to local programs (implies --process-runtime)",
    )
    p.add_argument("--log-level", default="INFO")
    args = p.parse_args(argv)
    if args.port < 0 or args.port > 65535:
        p.error("--port must be between 0 and 65535")
    if args.event_ttl <= 0:
        p.error("--event-ttl must be positive")
    if args.nodes < 0 or args.gpu_nodes < 0:
        p.error("--nodes and --gpu-nodes must not be negative")
    args.runtime_map_rules = None
    if args.runtime_map is not None:
        try:
            args.runtime_map_rules = RuntimeMap.load(args.runtime_map)
        except (OSError, ValueError) as exc:
            p.error(f"--runtime-map: {exc}")
    elif args.process_runtime:
        args.runtime_map_rules = RuntimeMap()
    return args


async def run(args: argparse.Namespace) -> int:
    overrides = json.loads(args.config.read_text()) if args.config else None
    config = load_config(args.timings, overrides)
    options = ClusterOptions(
        nodes=args.nodes,
        gpu_nodes=args.gpu_nodes,
        state=args.state,
        host=args.host,
        port=args.port,
        kubeconfig=args.kubeconfig,
        readonly_kubeconfig=args.readonly_kubeconfig,
        admin_token=args.admin_token,
        readonly_token=args.readonly_token,
        controllers=not args.no_controllers,
        event_ttl=args.event_ttl,
        runtime_map=args.runtime_map_rules,
    )
    cluster = Cluster(options, config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        url = await cluster.start()
        print(f"sandbox: serving {url}", flush=True)
        print(f"sandbox: kubeconfig {args.kubeconfig}", flush=True)
        print(f"sandbox: read-only token {cluster.readonly_token}", flush=True)
        if args.readonly_kubeconfig:
            print(f"sandbox: read-only kubeconfig {args.readonly_kubeconfig}", flush=True)
        await stop.wait()
        print("sandbox: stopping", flush=True)
    finally:
        await cluster.stop()
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
