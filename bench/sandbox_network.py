"""Real routing in the sandbox: forwarder throughput, a rolling update under load, a split.

Starts a sandbox with the process runtime and a small stand-in HTTP program
(tests/sandbox/programs/standin.py, asyncio, a few bytes per answer: cheap, so the
forwarder's own cost shows; after SIGTERM it keeps serving for 2 s with `Connection: close`,
as the inference server drains), then measures:

- closed-loop throughput at concurrency 32 (aiohttp, keep-alive) through a LoadBalancer
  Service's external IP against the same pod's IP directly, in interleaved rounds;
- a rolling update (`kubectl rollout restart`, maxUnavailable 0) under steady load through
  the Service: failed requests of the total (the baseline is zero failures);
- an HTTPRoute 80/20 split over 2,000 requests through the Gateway: v1's share.

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
from sandbox.testing import KUBECTL, SandboxProcess, wait_for

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
DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  strategy: {{rollingUpdate: {{maxUnavailable: 0, maxSurge: 1}}}}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      terminationGracePeriodSeconds: 10
      containers:
      - name: web
        image: registry.example/bench/standin:1
        args: [--term-delay, "2"]
        ports: [{{containerPort: 8080}}]
        readinessProbe: {{tcpSocket: {{port: 8080}}, periodSeconds: 1}}
---
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec:
  type: {service_type}
  selector: {{app: {name}}}
  ports: [{{port: 80, targetPort: 8080}}]
"""
MANIFEST = (
    DEPLOYMENT.format(name="hello", replicas=1, service_type="LoadBalancer")
    + "---"
    + DEPLOYMENT.format(name="roll", replicas=2, service_type="LoadBalancer")
    + "---"
    + DEPLOYMENT.format(name="v1", replicas=1, service_type="ClusterIP")
    + "---"
    + DEPLOYMENT.format(name="v2", replicas=1, service_type="ClusterIP")
    + """---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: external}
spec:
  gatewayClassName: gke-l7-global-external-managed
  listeners: [{name: http, protocol: HTTP, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: split}
spec:
  parentRefs: [{name: external}]
  rules:
  - backendRefs: [{name: v1, port: 80, weight: 80}, {name: v2, port: 80, weight: 20}]
"""
)


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


async def under_load(url: str, stop: asyncio.Event, concurrency: int = 8) -> tuple[int, int]:
    """(failed, total) requests of a closed loop that runs until `stop` is set."""
    failed = total = 0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:

        async def worker() -> None:
            nonlocal failed, total
            while not stop.is_set():
                total += 1
                try:
                    async with session.get(url) as resp:
                        await resp.read()
                        failed += resp.status != 200
                except (aiohttp.ClientError, TimeoutError):
                    failed += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return failed, total


async def rolling_update(sbx: SandboxProcess, url: str) -> tuple[int, int]:
    stop = asyncio.Event()
    load = asyncio.create_task(under_load(url, stop))
    await asyncio.sleep(1.0)
    for args in (
        ("rollout", "restart", "deployment/roll"),
        ("rollout", "status", "deployment/roll", "--timeout=120s"),
    ):
        proc = await asyncio.create_subprocess_exec(
            str(KUBECTL), "--kubeconfig", str(sbx.kubeconfig), *args,
            stdout=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        if await proc.wait() != 0:
            raise RuntimeError(f"kubectl {' '.join(args)} failed")
    await asyncio.sleep(3.0)  # the old pods' drain ends after the rollout reports done
    stop.set()
    return await load


async def split(url: str, requests: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    async with aiohttp.ClientSession() as session:
        for _ in range(requests):
            async with session.get(url) as resp:
                text = (await resp.text()).strip()
                counts[text] = counts.get(text, 0) + 1
    return counts


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
        config={"process_pod_limit": 8},  # 5 pods, 6 during the rolling update
        extra_args=("--runtime-map", str(runtime_map)),
    ) as sbx:  # fmt: skip
        sbx.kubectl("apply", "-f", "-", input=MANIFEST, check=True)
        for name in ("hello", "roll", "v1", "v2"):
            sbx.kubectl("rollout", "status", f"deployment/{name}", "--timeout=60s", check=True)
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
        roll_ip = wait_for(
            lambda: (
                sbx.kubectl(
                    "get", "svc", "roll", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}"
                ).stdout
            ),
            "the rolled Service's IP",
        )
        failed, total = asyncio.run(rolling_update(sbx, f"http://{roll_ip}/"))
        gateway_ip = wait_for(
            lambda: (
                sbx.kubectl(
                    "get", "gateway", "external", "-o", "jsonpath={.status.addresses[0].value}"
                ).stdout
            ),
            "the Gateway's address",
        )
        counts = asyncio.run(split(f"http://{gateway_ip}/", 2000))
    ours, base = statistics.median(service), statistics.median(direct)
    v1 = sum(n for text, n in counts.items() if text.startswith("pod=v1-"))
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
    print(f"rolling update under load: {failed} failed of {total} requests")
    print(line(NAME, "rolling_update_failed_requests", failed, f"of_{total}_requests"))
    print(f"HTTPRoute 80/20 over 2000 requests: {counts}")
    print(line(NAME, "httproute_v1_share", round(100 * v1 / 2000, 2), "%", ("declared_weight", 80)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
