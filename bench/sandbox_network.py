"""Service forwarding against the pod directly: is the sandbox's forwarder the bottleneck?

Starts a sandbox with the process runtime, deploys one replica of a small stand-in HTTP
program (tests/sandbox/programs/standin.py, asyncio, a few bytes per answer: cheap, so the
forwarder's own cost shows) behind a LoadBalancer Service, and measures closed-loop throughput
at concurrency 32 (aiohttp, keep-alive) through the Service's external IP and straight to the
pod IP, in interleaved rounds so both share whatever else the machine is doing.

    python -m bench.sandbox_network [--seconds 4] [--rounds 3] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bench import line
from sandbox.testing import SandboxProcess, wait_for

NAME = "sandbox_network"
RUNTIME_MAP = {
    "rules": [
        {
            "image": "*/standin",
            "command": ["python", "tests/sandbox/programs/standin.py", "--quiet"],
            "hostEnv": "HOST",
            "portEnv": "PORT",
        }
    ]
}
MANIFEST = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: hello}
spec:
  replicas: 1
  selector: {matchLabels: {app: hello}}
  template:
    metadata: {labels: {app: hello}}
    spec:
      containers:
      - name: hello
        image: registry.example/bench/standin:1
        ports: [{containerPort: 8080}]
        readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: hello}
spec:
  type: LoadBalancer
  selector: {app: hello}
  ports: [{port: 80, targetPort: 8080}]
"""


async def throughput(url: str, seconds: float, concurrency: int) -> float:
    """Requests per second with `concurrency` keep-alive clients in a closed loop."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        for _ in range(concurrency):  # warm the connections
            async with session.get(url) as resp:
                await resp.read()
        done = 0
        errors = 0
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal done, errors
            while time.perf_counter() < deadline:
                async with session.get(url) as resp:
                    await resp.read()
                    if resp.status == 200:
                        done += 1
                    else:
                        errors += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"{errors} failed requests to {url}")
    return done / elapsed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.sandbox_network")
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--concurrency", type=int, default=32)
    args = p.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="bench-network-"))
    runtime_map = workdir / "runtime-map.json"
    runtime_map.write_text(json.dumps(RUNTIME_MAP))
    with SandboxProcess(
        workdir / "sandbox", nodes=1, gpu_nodes=0, timings="fast", state=False,
        extra_args=("--runtime-map", str(runtime_map)),
    ) as sbx:  # fmt: skip
        sbx.kubectl("apply", "-f", "-", input=MANIFEST, check=True)
        sbx.kubectl("rollout", "status", "deployment/hello", "--timeout=60s", check=True)
        external = wait_for(
            lambda: (
                sbx.kubectl(
                    "get", "svc", "hello", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}"
                ).stdout
            ),
            "the external IP",
        )
        pod_ip = wait_for(
            lambda: (
                sbx.kubectl(
                    "get", "endpoints", "hello", "-o", "jsonpath={.subsets[0].addresses[0].ip}"
                ).stdout
            ),
            "a ready endpoint",
        )
        service_url, pod_url = f"http://{external}:80/", f"http://{pod_ip}:8080/"
        service, direct = [], []
        for _ in range(args.rounds):
            direct.append(asyncio.run(throughput(pod_url, args.seconds, args.concurrency)))
            service.append(asyncio.run(throughput(service_url, args.seconds, args.concurrency)))
    ours, base = statistics.median(service), statistics.median(direct)
    print(f"rounds: service {[round(x) for x in service]} pod {[round(x) for x in direct]} req/s")
    print(
        line(
            NAME,
            f"service_throughput_c{args.concurrency}",
            round(ours, 1),
            "req/s",
            ("pod_ip_direct", round(base, 1)),
            higher_is_better=True,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
