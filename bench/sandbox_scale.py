"""Sandbox at scale: 30,000 pods on 300 nodes.

Starts a sandbox (`python -m sandbox`, realistic controller timings with quick image pulls),
creates Deployments through the API whose controllers create the pods, then measures:
memory (RSS) at full size, `kubectl get pods -A` (server-side Table), the official client's
list of every pod, and 100 concurrent watchers receiving every event of a burst of changes.

    python -m bench.sandbox_scale [--pods 30000] [--nodes 300] [--watchers 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bench import line
from sandbox.testing import KUBECTL, SandboxProcess

NAME = "sandbox_scale"


def rss_mb(pid: int) -> float:
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        if row.startswith("VmRSS:"):
            return int(row.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc status")


def deployment(name: str, replicas: int) -> dict:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name, "bench": "scale"}},
                "spec": {"containers": [{
                    "name": "server", "image": "registry.example/model:v1",
                    "ports": [{"containerPort": 8080}],
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                }]},
            },
        },
    }  # fmt: skip


class Api:
    def __init__(self, sb: SandboxProcess) -> None:
        self.sb = sb
        self.ssl = ssl.create_default_context(cafile=str(sb.ca_file))
        self.headers = {"Authorization": f"Bearer {sb.admin_token}", "Accept": "application/json"}
        self.session = aiohttp.ClientSession(
            headers=self.headers,
            connector=aiohttp.TCPConnector(ssl=self.ssl, limit=200),
            timeout=aiohttp.ClientTimeout(total=None),
        )

    async def call(self, method: str, path: str, body=None, ctype="application/json") -> dict:
        data = json.dumps(body).encode() if body is not None else None
        async with self.session.request(
            method, self.sb.url + path, data=data, headers={"Content-Type": ctype}
        ) as resp:
            payload = await resp.read()
            if resp.status >= 400:
                raise RuntimeError(f"{method} {path}: {resp.status} {payload[:300]!r}")
            return json.loads(payload)

    async def close(self) -> None:
        await self.session.close()


async def populate(api: Api, pods: int, per_deployment: int, namespaces: int) -> float:
    count = max(1, pods // per_deployment)
    for i in range(namespaces):
        await api.call("POST", "/api/v1/namespaces", {"metadata": {"name": f"scale-{i}"}})
    start = time.monotonic()
    sem = asyncio.Semaphore(32)

    async def create(i: int) -> None:
        async with sem:
            await api.call(
                "POST",
                f"/apis/apps/v1/namespaces/scale-{i % namespaces}/deployments",
                deployment(f"model-{i:04d}", per_deployment),
            )

    await asyncio.gather(*(create(i) for i in range(count)))
    target = count * per_deployment
    last_report = 0.0
    while True:
        listing = await api.call("GET", "/apis/apps/v1/deployments")
        ready = sum((d.get("status") or {}).get("readyReplicas", 0) for d in listing["items"])
        elapsed = time.monotonic() - start
        if ready >= target:
            return elapsed
        if elapsed - last_report > 15:
            print(f"  ... {ready}/{target} pods ready after {elapsed:.0f}s", flush=True)
            last_report = elapsed
        if elapsed > 1800:
            raise RuntimeError(f"only {ready}/{target} pods ready after {elapsed:.0f}s")
        await asyncio.sleep(2)


def timed(cmd: list[str], repeat: int = 3) -> tuple[float, str]:
    times, out = [], ""
    for _ in range(repeat):
        t = time.monotonic()
        done = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=600)
        times.append(time.monotonic() - t)
        out = done.stdout
    return statistics.median(times), out


async def client_list_seconds(sb: SandboxProcess) -> tuple[float, int]:
    """The official client listing every pod (one request, JSON decoded, no model objects)."""
    from kubernetes import client

    def run() -> tuple[float, int]:
        api = sb.api()
        try:
            core = client.CoreV1Api(api)
            times, n = [], 0
            for _ in range(3):
                t = time.monotonic()
                resp = core.list_pod_for_all_namespaces(_preload_content=False)
                n = len(json.loads(resp.data)["items"])
                times.append(time.monotonic() - t)
            return statistics.median(times), n
        finally:
            api.close()

    return await asyncio.to_thread(run)


async def watch_fanout(api: Api, watchers: int, changes: int) -> tuple[int, int, float]:
    """`watchers` watches on all pods; `changes` labelled pods; events each watcher received."""
    listing = await api.call("GET", f"/api/v1/pods?limit={changes}")
    targets = [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in listing["items"]]
    rv = listing["metadata"]["resourceVersion"]
    received = [0] * watchers
    done = asyncio.Event()
    expected = len(targets)
    finished = 0

    async def watch(i: int) -> None:
        nonlocal finished
        url = (
            f"{api.sb.url}/api/v1/pods?watch=true&resourceVersion={rv}"
            f"&labelSelector=bench%3Dscale&timeoutSeconds=600"
        )
        async with api.session.get(url) as resp:
            async for raw in resp.content:
                event = json.loads(raw)
                labels = event["object"]["metadata"].get("labels") or {}
                if event["type"] == "MODIFIED" and labels.get("burst") == "yes":
                    received[i] += 1
                    if received[i] == expected:
                        finished += 1
                        if finished == watchers:
                            done.set()
                        return

    tasks = [asyncio.create_task(watch(i)) for i in range(watchers)]
    await asyncio.sleep(1.0)  # let every watch connect before the burst
    start = time.monotonic()
    sem = asyncio.Semaphore(32)

    async def label(ns: str, name: str) -> None:
        async with sem:
            await api.call(
                "PATCH",
                f"/api/v1/namespaces/{ns}/pods/{name}",
                {"metadata": {"labels": {"burst": "yes"}}},
                "application/merge-patch+json",
            )

    await asyncio.gather(*(label(ns, n) for ns, n in targets))
    try:
        await asyncio.wait_for(done.wait(), timeout=300)
    except TimeoutError:
        print("  watchers did not receive every event within 300 s", flush=True)
    elapsed = time.monotonic() - start
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return sum(received), expected * watchers, elapsed


async def run(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="bench-sandbox-"))
    config = {
        "image_pull_seconds": 0.2,
        "container_start_seconds": 0.2,
        "log_interval_seconds": 0,
        "resync_seconds": 300,
        "node_heartbeat_seconds": 60,
    }
    sb = SandboxProcess(
        workdir, nodes=args.nodes, gpu_nodes=0, timings="realistic", state=False, config=config
    )
    sb.start()
    api = Api(sb)
    try:
        pid = sb.proc.pid
        idle = rss_mb(pid)
        setup = await populate(api, args.pods, args.per_deployment, args.namespaces)
        pods = args.pods
        print(line(NAME, f"time_to_{pods}_pods_ready", setup, "s"), flush=True)
        print(line(NAME, "rss_idle_with_nodes", idle, "MB"), flush=True)
        print(line(NAME, f"rss_at_{pods}_pods", rss_mb(pid), "MB"), flush=True)
        kc = ["--kubeconfig", str(sb.kubeconfig)]
        # kubectl pages lists 500 at a time and throttles itself to 5 requests/s (client-go's
        # default, as against any cluster), so the default run is bound by kubectl; the
        # unchunked run (--chunk-size=0) shows what the server itself takes.
        t_table, out = timed([str(KUBECTL), *kc, "get", "pods", "-A"])
        rows = len(out.splitlines()) - 1
        t_json, _ = timed([str(KUBECTL), *kc, "get", "pods", "-A", "-o", "json"], repeat=1)
        print(
            line(
                NAME, "kubectl_get_pods_all", t_table, "s", ("kubectl_get_pods_all_o_json", t_json)
            )
            + f"  ({rows} rows)",
            flush=True,
        )
        t_table1, _ = timed([str(KUBECTL), *kc, "get", "pods", "-A", "--chunk-size=0"])
        t_json1, _ = timed(
            [str(KUBECTL), *kc, "get", "pods", "-A", "--chunk-size=0", "-o", "json"], repeat=1
        )
        print(
            line(
                NAME,
                "kubectl_get_pods_all_unchunked",
                t_table1,
                "s",
                ("kubectl_get_pods_all_o_json_unchunked", t_json1),
            ),
            flush=True,
        )
        t_client, n = await client_list_seconds(sb)
        print(
            line(
                NAME, "client_list_all_pods", t_client, "s", ("kubectl_get_pods_all_o_json", t_json)
            )
            + f"  ({n} pods)",
            flush=True,
        )
        got, expected, elapsed = await watch_fanout(api, args.watchers, args.changes)
        print(
            line(
                NAME,
                f"watch_events_received_{args.watchers}_watchers",
                got,
                "events",
                ("events_expected", expected),
                higher_is_better=True,
            ),
            flush=True,
        )
        print(
            line(NAME, "watch_fanout_rate", got / elapsed if elapsed else 0.0, "events/s"),
            flush=True,
        )
        print(line(NAME, "rss_after_watch_burst", rss_mb(pid), "MB"), flush=True)
        return 0 if got == expected else 1
    finally:
        await api.close()
        sb.stop()


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m bench.sandbox_scale")
    p.add_argument("--pods", type=int, default=30_000)
    p.add_argument("--nodes", type=int, default=300)
    p.add_argument("--per-deployment", type=int, default=100)
    p.add_argument("--namespaces", type=int, default=10)
    p.add_argument("--watchers", type=int, default=100)
    p.add_argument("--changes", type=int, default=1000, help="pods changed in the watch burst")
    return asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
