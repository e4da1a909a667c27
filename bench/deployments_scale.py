"""The control plane at scale: the deployments list, the overview, memory and action latency.

Starts what `make run` starts, privately: a Redis of its own, a fresh SQLite database, the
sandbox (realistic controller timings with quick image pulls), daphne serving the ASGI app, a
Celery worker and the watcher. Creates the deployments in one namespace through the sandbox's
API (the controllers make the pods), waits until the watcher's cache holds every pod, then
measures in one run:

- the deployments page and the deployments API (first page and the whole list) against
  `kubectl get deployments -A` on the same sandbox;
- the size of a one-row live refresh against the whole table;
- the cluster overview;
- RSS of the web process and the watcher, Redis memory, and the watcher's bytes per pod;
- action latency: from the API's scale call to the new replica count visible through the
  API server, over `--actions` scale actions.

    python -m bench.deployments_scale [--deployments 2000] [--replicas 15] [--nodes 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import redis
import requests

from bench import line
from bench.stack import manage, rss_mb, stack_env, stack_prepare
from devstack.redis import start_private_redis
from sandbox.testing import KUBECTL, SandboxProcess, free_port

NAME = "deployments_scale"
ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
NAMESPACE = "bench"
PROBE = "latency-probe"
USER = "bench"


def deployment(name: str, replicas: int, index: int) -> dict:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {
            "name": name,
            "labels": {
                "app": name,
                "model.mlcp.io/name": f"model-{index % 20}",
                "model.mlcp.io/version": f"v{index % 3 + 1}",
            },
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name, "bench": "deployments"}},
                "spec": {"containers": [{
                    "name": "server", "image": f"registry.example/model-{index % 20}:v1",
                    "ports": [{"containerPort": 8080}],
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                }]},
            },
        },
    }  # fmt: skip


class Sandbox:
    """Plain HTTPS calls to the sandbox's API, many at once."""

    def __init__(self, sb: SandboxProcess) -> None:
        self.sb = sb
        self.session = aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {sb.admin_token}", "Accept": "application/json"},
            connector=aiohttp.TCPConnector(
                ssl=ssl.create_default_context(cafile=str(sb.ca_file)), limit=64
            ),
            timeout=aiohttp.ClientTimeout(total=None),
        )

    async def call(self, method: str, path: str, body=None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        async with self.session.request(
            method, self.sb.url + path, data=data, headers={"Content-Type": "application/json"}
        ) as resp:
            payload = await resp.read()
            if resp.status >= 400:
                raise RuntimeError(f"{method} {path}: {resp.status} {payload[:300]!r}")
            return json.loads(payload)

    async def close(self) -> None:
        await self.session.close()


async def populate(api: Sandbox, deployments: int, replicas: int) -> float:
    await api.call("POST", "/api/v1/namespaces", {"metadata": {"name": NAMESPACE}})
    start = time.monotonic()
    sem = asyncio.Semaphore(16)

    async def create(body: dict) -> None:
        async with sem:
            await api.call("POST", f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments", body)

    bodies = [deployment(f"model-{i:04d}", replicas, i) for i in range(deployments)]
    bodies.append(deployment(PROBE, 1, 0))
    await asyncio.gather(*(create(b) for b in bodies))
    target = deployments * replicas + 1
    last_report = 0.0
    while True:
        listing = await api.call("GET", f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments")
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


class Stack:
    """Redis, database, sandbox, web, worker and watcher, as `make run` runs them."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.workdir = Path(tempfile.mkdtemp(prefix="bench-deployments-"))
        self.procs: dict[str, subprocess.Popen] = {}
        self.redis_proc: subprocess.Popen | None = None
        self.sb: SandboxProcess | None = None
        self.env: dict[str, str] = {}
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        redis_url, self.redis_proc = start_private_redis(self.workdir)
        config = {
            "image_pull_seconds": 0.2,
            "container_start_seconds": 0.2,
            "log_interval_seconds": 0,
            "resync_seconds": 300,
            "node_heartbeat_seconds": 60,
        }
        self.sb = SandboxProcess(
            self.workdir / "sandbox",
            nodes=self.args.nodes,
            gpu_nodes=0,
            timings="realistic",
            state=False,
            config=config,
        ).start()
        self.env = stack_env(
            workdir=self.workdir,
            redis_url=redis_url,
            kubeconfig=self.sb.kubeconfig,
            prefix="bench-deployments",
        )
        self.password = stack_prepare(self.env, user=USER, role="admin")
        self.token = (
            manage(self.env, "drf_create_token", USER).split("Generated token ", 1)[1].split()[0]
        )
        logs = self.workdir / "logs"
        logs.mkdir()
        self.commands = {
            "web": [
                str(BIN / "daphne"), "-v", "0", "-b", "127.0.0.1", "-p", str(self.port),
                "controlplane.asgi:application",
            ],
            "worker": [
                str(BIN / "celery"), "-A", "controlplane", "worker", "--loglevel", "WARNING",
                "--concurrency", "2",
            ],
            "watcher": [sys.executable, str(ROOT / "manage.py"), "watch"],
        }  # fmt: skip
        for name in self.commands:
            self.launch(name)
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(self.base + "/accounts/login/", timeout=10).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the web process did not answer; see {logs}")
            time.sleep(0.2)

    def launch(self, name: str) -> None:
        with (self.workdir / "logs" / f"{name}.log").open("ab") as log:
            self.procs[name] = subprocess.Popen(
                self.commands[name], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def restart(self, name: str) -> None:
        proc = self.procs[name]
        proc.terminate()
        proc.wait(30)
        self.launch(name)

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.env["REDIS_URL"], decode_responses=True)

    def browser(self) -> requests.Session:
        """A signed-in session, as a person's browser has it."""
        session = requests.Session()
        session.get(self.base + "/accounts/login/", timeout=30)
        answer = session.post(
            self.base + "/accounts/login/",
            data={
                "username": USER,
                "password": self.password,
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
            },
            timeout=30,
        )
        if "sessionid" not in session.cookies:
            raise RuntimeError(f"could not sign in: {answer.status_code}")
        return session

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        if self.sb is not None:
            self.sb.stop()
        if self.redis_proc is not None:
            self.redis_proc.terminate()
            self.redis_proc.wait(10)
        if not self.args.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)


WATCHED = (
    "namespaces", "nodes", "pods", "services", "events", "deployments", "replicasets",
    "horizontalpodautoscalers", "jobs", "ingresses",
)  # fmt: skip


def wait_cached(
    stack: Stack, pods: int, deployments: int, *, since: float = 0.0, timeout: float = 900
) -> float:
    """Until the watcher's cache holds every pod and deployment, every kind synced (by a list
    made after `since`, epoch seconds, when given)."""
    client = stack.redis()
    prefix = stack.env["REDIS_PREFIX"]
    start = time.monotonic()
    while True:
        metas = {kind: client.hgetall(f"{prefix}:live:meta:sandbox:{kind}") for kind in WATCHED}
        counts = {kind: int(meta.get("count") or 0) for kind, meta in metas.items()}
        synced = all(
            meta.get("synced") == "1" and float(meta.get("synced_at") or 0) >= since
            for meta in metas.values()
        )
        if synced and counts["pods"] >= pods and counts["deployments"] >= deployments:
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise RuntimeError(f"the watcher's cache holds only {counts} after {timeout:.0f}s")
        time.sleep(1)


def timed_get(session: requests.Session, url: str, repeat: int, **kwargs) -> tuple[float, int]:
    """(median seconds over `repeat` requests, bytes); timed_get.first holds the first's time
    (the web process' first look at the list, before it kept anything of it)."""
    times, size = [], 0
    for _ in range(repeat):
        t = time.monotonic()
        resp = session.get(url, timeout=120, **kwargs)
        times.append(time.monotonic() - t)
        if resp.status_code != 200:
            raise RuntimeError(f"GET {url}: {resp.status_code} {resp.text[:300]}")
        size = len(resp.content)
    timed_get.first = times[0]
    return statistics.median(times), size


def timed_kubectl(stack: Stack, *args: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.monotonic()
        subprocess.run(
            [str(KUBECTL), "--kubeconfig", str(stack.sb.kubeconfig), *args],
            capture_output=True, check=True, timeout=300,
        )  # fmt: skip
        times.append(time.monotonic() - t)
    return statistics.median(times)


async def action_latency(stack: Stack, actions: int) -> tuple[list[float], list[str]]:
    """Seconds from each scale call to the API to its replica count visible in the API server,
    and each action's URL (its audit record says when a worker took it and finished it)."""
    api = Sandbox(stack.sb)
    seen: dict[int, float] = {}
    changed = asyncio.Event()
    listing = await api.call(
        "GET", f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments?labelSelector=app%3D{PROBE}"
    )
    rv = listing["metadata"]["resourceVersion"]

    async def watch() -> None:
        url = (
            f"{stack.sb.url}/apis/apps/v1/namespaces/{NAMESPACE}/deployments?watch=true"
            f"&resourceVersion={rv}&labelSelector=app%3D{PROBE}&timeoutSeconds=3600"
        )
        async with api.session.get(url) as resp:
            async for raw in resp.content:
                event = json.loads(raw)
                replicas = ((event.get("object") or {}).get("spec") or {}).get("replicas")
                if replicas is not None:
                    seen[replicas] = time.monotonic()
                    changed.set()

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.5)
    url = f"{stack.base}/api/v1/clusters/sandbox/namespaces/{NAMESPACE}/deployments/{PROBE}/scale/"
    headers = {"Authorization": f"Token {stack.token}", "Content-Type": "application/json"}
    latencies, urls = [], []
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as web:
            for i in range(actions):
                # Alternating counts 2, 1, 2, ... so each action changes the deployment.
                target = 2 - i % 2
                seen.pop(target, None)
                start = time.monotonic()
                async with web.post(url, json={"replicas": target}, headers=headers) as resp:
                    if resp.status != 202:
                        raise RuntimeError(f"scale answered {resp.status}: {await resp.text()}")
                    urls.append((await resp.json())["url"])
                deadline = start + 30
                while target not in seen or seen[target] < start:
                    changed.clear()
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise RuntimeError(f"scale to {target} not seen within 30 s")
                    try:
                        await asyncio.wait_for(changed.wait(), left)
                    except TimeoutError:
                        continue
                latencies.append(seen[target] - start)
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        await api.close()
    return latencies, urls


def action_phases(stack: Stack, urls: list[str]) -> dict[str, list[float]]:
    """From each action's audit record: accepted to taken by a worker, taken to finished."""
    from datetime import datetime

    phases: dict[str, list[float]] = {"queued": [], "running": []}
    headers = {"Authorization": f"Token {stack.token}"}
    for url in urls:
        action = requests.get(stack.base + url, headers=headers, timeout=30).json()
        created, started, finished = (
            datetime.fromisoformat(action[k]) if action.get(k) else None
            for k in ("created", "started", "finished")
        )
        if created and started:
            phases["queued"].append((started - created).total_seconds())
        if started and finished:
            phases["running"].append((finished - started).total_seconds())
    return phases


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def redis_bytes(stack: Stack) -> dict[str, int]:
    """Bytes per kind of the watcher's cache (MEMORY USAGE of its keys)."""
    client = stack.redis()
    prefix = stack.env["REDIS_PREFIX"]
    result: dict[str, int] = {}
    for key in client.scan_iter(f"{prefix}:live:*", count=1000):
        parts = key.split(":")
        kind = parts[-1] if len(parts) >= 5 else "other"
        result[kind] = result.get(kind, 0) + (client.memory_usage(key, samples=0) or 0)
    return result


def measure_lists(stack: Stack, session: requests.Session, kubectl_s: float) -> None:
    repeat = stack.args.repeat
    page_url = f"{stack.base}/c/sandbox/ns/{NAMESPACE}/deployments/"
    api_url = f"{stack.base}/api/v1/clusters/sandbox/namespaces/{NAMESPACE}/deployments/"
    token = {"Authorization": f"Token {stack.token}"}
    n = stack.args.deployments
    base = ("kubectl_get_deployments_all", kubectl_s)
    t, size = timed_get(session, page_url, repeat)
    cold = timed_get.first
    print(line(NAME, f"page_deployments_{n}", t, "s", base) + f"  ({size / 1e6:.2f} MB)")
    print(line(NAME, f"page_deployments_{n}_first_request", cold, "s", base))
    t, size = timed_get(session, page_url + "?q=model-01", repeat)
    print(line(NAME, f"page_deployments_{n}_filtered", t, "s", base) + f"  ({size / 1e6:.2f} MB)")
    t, size = timed_get(session, api_url + "?limit=50", repeat, headers=token)
    print(line(NAME, f"api_deployments_{n}_first_page", t, "s", base) + f"  ({size / 1e6:.2f} MB)")
    t, size = timed_get(session, api_url, repeat, headers=token)
    print(line(NAME, f"api_deployments_{n}_full", t, "s", base) + f"  ({size / 1e6:.2f} MB)")
    # What a live update of one deployment costs the browser: the row, or the whole table.
    row = f"{page_url}_row/model-0001/"
    probe = session.get(row, timeout=60)
    table = session.get(f"{page_url}_table/", timeout=60)
    if probe.status_code == 200 and table.status_code == 200:
        print(
            line(
                NAME,
                "live_update_one_deployment",
                len(probe.content) / 1e3,
                "kB",
                ("table_refresh", len(table.content) / 1e3),
            )
        )
    else:
        print(f"  (no row refresh: {probe.status_code}; table {table.status_code})")


def run(args: argparse.Namespace) -> int:
    stack = Stack(args)
    try:
        stack.start()
        idle = {name: rss_mb(stack.procs[name].pid) for name in ("web", "watcher")}
        setup = asyncio.run(_populate(stack.sb, args))
        pods = args.deployments * args.replicas + 1
        print(line(NAME, f"time_to_{pods}_pods_ready", setup, "s"), flush=True)
        cached = wait_cached(stack, pods, args.deployments + 1)
        print(line(NAME, "watcher_cache_complete_after_ready", cached, "s"), flush=True)
        followed = rss_mb(stack.procs["watcher"].pid)
        # A watcher that starts (or relists after a 410) with every pod there lists them all:
        # the case that sets its memory.
        restarted = time.time()
        stack.restart("watcher")
        relisted = wait_cached(stack, pods, args.deployments + 1, since=restarted)
        print(line(NAME, "watcher_relist_all_kinds", relisted, "s"), flush=True)
        kubectl_s = timed_kubectl(stack, "get", "deployments", "-A", repeat=args.repeat)
        session = stack.browser()
        measure_lists(stack, session, kubectl_s)
        overview, _size = timed_get(session, f"{stack.base}/c/sandbox/", args.repeat)
        print(line(NAME, f"overview_{pods}_pods", overview, "s", ("goal", 1.0)))
        for name, goal in (("web", 300), ("watcher", 400)):
            pid = stack.procs[name].pid
            print(
                line(NAME, f"rss_{name}_{pods}_pods", rss_mb(pid), "MB", ("goal", goal))
                + f"  (idle {idle[name]:.0f} MB, peak {rss_mb(pid, 'VmHWM'):.0f} MB)"
            )
        print(line(NAME, f"rss_watcher_{pods}_pods_followed", followed, "MB", ("goal", 400)))
        watcher_rss = rss_mb(stack.procs["watcher"].pid) - idle["watcher"]
        print(line(NAME, "watcher_bytes_per_pod", watcher_rss * 1024 * 1024 / pods, "B"))
        used = int(stack.redis().info("memory")["used_memory"])
        kinds = redis_bytes(stack)
        print(line(NAME, f"redis_{pods}_pods", used / 1024 / 1024, "MB"))
        print(
            "  cache MB by kind: "
            + ", ".join(
                f"{kind} {size / 1e6:.1f}"
                for kind, size in sorted(kinds.items(), key=lambda x: -x[1])
            )
        )
        print(line(NAME, "redis_bytes_per_pod", kinds.get("pods", 0) / pods, "B"))
        latencies, urls = asyncio.run(action_latency(stack, args.actions))
        print(line(NAME, "scale_action_latency_p50", percentile(latencies, 50), "s"))
        print(line(NAME, "scale_action_latency_p99", percentile(latencies, 99), "s", ("goal", 1.0)))
        for phase, values in action_phases(stack, urls).items():
            if values:
                print(
                    f"  action {phase}: p50 {percentile(values, 50):.3f} s, "
                    f"p99 {percentile(values, 99):.3f} s, max {max(values):.3f} s"
                )
        return 0
    finally:
        stack.stop()


async def _populate(sb: SandboxProcess, args: argparse.Namespace) -> float:
    api = Sandbox(sb)
    try:
        return await populate(api, args.deployments, args.replicas)
    finally:
        await api.close()


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m bench.deployments_scale")
    p.add_argument("--deployments", type=int, default=2000)
    p.add_argument("--replicas", type=int, default=15)
    p.add_argument("--nodes", type=int, default=300)
    p.add_argument("--actions", type=int, default=100, help="scale actions timed")
    p.add_argument("--repeat", type=int, default=5, help="requests per timed figure (median)")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = p.parse_args()
    if args.deployments < 1 or args.replicas < 1 or args.actions < 1:
        p.error("--deployments, --replicas and --actions must be at least 1")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
