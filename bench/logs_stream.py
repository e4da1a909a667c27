"""Live pod logs: throughput to one websocket against `kubectl logs -f`, and 100 viewers of
one pod (upstream streams, delay to every viewer, web memory).

Starts privately: a Redis of its own, a fresh SQLite database, the sandbox, and `--web`
daphne processes (viewers are spread over them, so the one-upstream-stream rule is measured
across processes, as it must hold in production). Then, in one run:

- throughput: a pod writes lines as fast as the sandbox's kubelet can; one websocket client
  (subscribed with tail_lines 0) and `kubectl logs -f --tail=0` of the same container read at
  the same time for `--seconds`; lines per second of both. The browser-protection cap
  (LOGS_MAX_LINES_PER_SECOND) is off for this figure, since it measures the pipeline; with it
  on, the lines over the cap are counted in drop notes instead.
- 100 viewers (`--viewers`) of one pod writing `--rate` lines a second for `--seconds`: the
  follow requests the sandbox saw for that container, the p99 over lines of the delay from the
  line's kubelet timestamp to its arrival at the last of the viewers (same machine, one clock),
  whether every viewer got every line, and the RSS of the web processes.

    python -m bench.logs_stream [--web 2] [--viewers 100] [--rate 20] [--seconds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import aiohttp
import requests

from bench import line
from bench.stack import rss_mb, stack_env, stack_prepare
from devstack.redis import start_private_redis
from sandbox.testing import KUBECTL, SandboxProcess, free_port

NAME = "logs_stream"
ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
NAMESPACE = "bench"
USER = "bench"
LINE = 'level=info msg="request served" method=POST path=/v1/models/pets:predict status=200'


def stamp(ts: str) -> float:
    whole, _, frac = ts.rstrip("Z").partition(".")
    return datetime.fromisoformat(whole + "+00:00").timestamp() + float("0." + (frac or "0"))


class Stack:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.workdir = Path(tempfile.mkdtemp(prefix="bench-logs-"))
        self.procs: list[subprocess.Popen] = []
        self.ports: list[int] = []
        self.redis_proc = None
        self.sb: SandboxProcess | None = None

    def start(self) -> None:
        redis_url, self.redis_proc = start_private_redis(self.workdir)
        self.sb = SandboxProcess(
            self.workdir / "sandbox", nodes=2, gpu_nodes=0, timings="fast", state=False
        ).start()
        self.env = stack_env(
            workdir=self.workdir,
            redis_url=redis_url,
            kubeconfig=self.sb.kubeconfig,
            prefix="bench-logs",
            # The flood cap would measure itself, not the stream.
            LOGS_MAX_LINES_PER_SECOND="0",
        )
        self.password = stack_prepare(self.env, user=USER, role="viewer")
        for index in range(self.args.web):
            port = free_port()
            log = (self.workdir / f"web-{index}.log").open("ab")
            command = [
                str(BIN / "daphne"), "-v", "0", "-b", "127.0.0.1", "-p", str(port),
                "controlplane.asgi:application",
            ]  # fmt: skip
            self.procs.append(
                subprocess.Popen(
                    command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
                )
            )
            self.ports.append(port)
        for port in self.ports:
            deadline = time.monotonic() + 60
            while True:
                try:
                    url = f"http://127.0.0.1:{port}/accounts/login/"
                    if requests.get(url, timeout=10).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"daphne on {port} did not answer; see {self.workdir}")
                time.sleep(0.2)

    def session_cookie(self) -> str:
        base = f"http://127.0.0.1:{self.ports[0]}"
        session = requests.Session()
        session.get(base + "/accounts/login/", timeout=30)
        session.post(
            base + "/accounts/login/",
            data={
                "username": USER,
                "password": self.password,
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
            },
            timeout=30,
        )
        return session.cookies["sessionid"]

    def kubectl(self, *args: str, input: str | None = None) -> str:
        done = self.sb.kubectl(*args, input=input)
        if done.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {done.stderr}")
        return done.stdout

    def pod(self, name: str, **behaviour) -> None:
        self.sb.script("behaviors", {"match": {"namespace": NAMESPACE, "pod": name}, **behaviour})
        manifest = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"containers": [{"name": "app", "image": "example/app:1"}]},
        }
        self.kubectl("apply", "-f", "-", input=json.dumps(manifest))
        deadline = time.monotonic() + 60
        while self.sb.kubectl("logs", "-n", NAMESPACE, name, "--tail=1").stdout.strip() == "":
            if time.monotonic() > deadline:
                raise RuntimeError(f"pod {name} wrote nothing")
            time.sleep(0.2)

    def follows(self, pod: str) -> int:
        items = self.sb.script("log-follows", method="GET")["items"]
        return sum(i["opened"] for i in items if i["pod"] == pod and i["namespace"] == NAMESPACE)

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
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


class Viewer:
    """One websocket viewer of one container: counts lines and records arrival times."""

    def __init__(self, session: aiohttp.ClientSession, port: int, cookie: str, pod: str):
        self.session, self.port, self.cookie, self.pod = session, port, cookie, pod
        self.arrivals: dict[int, float] = {}  # cursor -> arrival (epoch seconds)
        self.stamps: dict[int, float] = {}  # cursor -> the kubelet's timestamp
        self.lines = 0
        self.ready = asyncio.Event()

    async def run(self, stop: asyncio.Event, *, record: bool) -> None:
        origin = f"http://127.0.0.1:{self.port}"
        async with self.session.ws_connect(
            f"ws://127.0.0.1:{self.port}/ws/live/",
            headers={"Origin": origin, "Cookie": f"sessionid={self.cookie}"},
            max_msg_size=0,
        ) as ws:
            await ws.send_json(
                {
                    "subscribe": {
                        "cluster": "sandbox", "kind": "logs", "namespace": NAMESPACE,
                        "pod": self.pod, "container": "app", "tail_lines": 0,
                    }
                }
            )  # fmt: skip
            while not stop.is_set():
                try:
                    msg = await ws.receive(timeout=0.5)
                except TimeoutError:
                    continue
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                now = time.time()
                data = json.loads(msg.data)
                kind = data.get("type")
                if kind == "logs.backlog":
                    self.ready.set()
                elif kind == "logs.lines":
                    self.lines += len(data["lines"])
                    if record:
                        for cursor, ts, _text in data["lines"]:
                            self.arrivals[cursor] = now
                            self.stamps[cursor] = stamp(ts)
                elif kind == "error":
                    raise RuntimeError(data["error"])


async def kubectl_follow(stack: Stack, pod: str, counts: list[int], stop: asyncio.Event):
    proc = await asyncio.create_subprocess_exec(
        str(KUBECTL), "--kubeconfig", str(stack.sb.kubeconfig), "logs", "-f", "--tail=0",
        "-n", NAMESPACE, pod, "-c", "app",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        while not stop.is_set():
            try:
                chunk = await asyncio.wait_for(proc.stdout.read(1 << 16), timeout=0.5)
            except TimeoutError:
                continue
            if not chunk:
                break
            counts[0] += chunk.count(b"\n")
    finally:
        proc.kill()
        await proc.wait()


async def throughput(stack: Stack, cookie: str, seconds: float) -> tuple[float, float]:
    pod = "firehose"
    # logLinesPerSecond far above what one event loop can do: the kubelet writes flat out.
    stack.pod(pod, logLines=[LINE], logLinesPerSecond=1_000_000)
    stop = asyncio.Event()
    counts = [0]
    async with aiohttp.ClientSession() as session:
        viewer = Viewer(session, stack.ports[0], cookie, pod)
        tasks = [
            asyncio.create_task(viewer.run(stop, record=False)),
            asyncio.create_task(kubectl_follow(stack, pod, counts, stop)),
        ]
        await asyncio.wait_for(viewer.ready.wait(), 30)
        await asyncio.sleep(1.0)  # both streams are flowing
        ours0, theirs0, t0 = viewer.lines, counts[0], time.monotonic()
        await asyncio.sleep(seconds)
        ours1, theirs1, t1 = viewer.lines, counts[0], time.monotonic()
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    stack.kubectl("delete", "pod", "-n", NAMESPACE, pod, "--grace-period=0", "--wait=false")
    return (ours1 - ours0) / (t1 - t0), (theirs1 - theirs0) / (t1 - t0)


async def many_viewers(stack: Stack, cookie: str, args) -> dict:
    pod = "busy"
    stack.pod(pod, logLines=[LINE], logLinesPerSecond=args.rate)
    stop = asyncio.Event()
    before = sum(rss_mb(p.pid) for p in stack.procs)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        viewers = [
            Viewer(session, stack.ports[i % len(stack.ports)], cookie, pod)
            for i in range(args.viewers)
        ]
        tasks = [asyncio.create_task(v.run(stop, record=True)) for v in viewers]
        await asyncio.wait_for(asyncio.gather(*(v.ready.wait() for v in viewers)), 60)
        start = time.time() + 0.5
        await asyncio.sleep(args.seconds)
        end = time.time()
        during = sum(rss_mb(p.pid) for p in stack.procs)
        await asyncio.sleep(2.0)  # what was written by `end` has time to arrive
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    # Every line the kubelet wrote inside the window, as any viewer numbered it.
    stamps = {c: st for v in viewers for c, st in v.stamps.items()}
    wanted = {c for c, st in stamps.items() if start <= st <= end}
    delays = []
    missing = 0
    for cursor in wanted:
        arrivals = [v.arrivals.get(cursor) for v in viewers]
        if any(a is None for a in arrivals):
            missing += 1
            continue
        delays.append(max(arrivals) - stamps[cursor])
    delays.sort()
    p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))] if delays else float("nan")
    return {
        "follows": stack.follows(pod),
        "p99": p99,
        "median": delays[len(delays) // 2] if delays else float("nan"),
        "lines": len(wanted),
        "missing": missing,
        "rss_before": before,
        "rss_during": during,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--web", type=int, default=2, help="daphne processes")
    parser.add_argument("--viewers", type=int, default=100)
    parser.add_argument("--rate", type=float, default=20, help="lines/s of the viewed pod")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    stack = Stack(args)
    try:
        stack.start()
        stack.kubectl("create", "namespace", NAMESPACE)
        cookie = stack.session_cookie()
        ours, kubectl = asyncio.run(throughput(stack, cookie, args.seconds))
        print(
            line(
                NAME, "one_websocket_lines_per_second", ours, "lines/s",
                ("kubectl-logs-f", kubectl), higher_is_better=True,
            ),
            flush=True,
        )  # fmt: skip
        result = asyncio.run(many_viewers(stack, cookie, args))
        n = args.viewers
        print(line(NAME, f"upstream_follows_for_{n}_viewers", result["follows"], "streams"))
        print(line(NAME, f"p99_delay_line_written_to_all_{n}_viewers", result["p99"], "s"))
        print(line(NAME, f"median_delay_line_written_to_all_{n}_viewers", result["median"], "s"))
        print(
            line(NAME, f"lines_missed_by_any_of_{n}_viewers", result["missing"], "lines")
            + f"  (of {result['lines']})"
        )
        print(
            line(NAME, f"web_rss_with_{n}_viewers", result["rss_during"], "MB")
            + f"  ({args.web} processes; {result['rss_before']:.0f} MB before)"
        )
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
