"""Metrics sampling at scale, and the chart that draws it.

1. A sandbox with 30,000 pods on 300 nodes (populated as bench.sandbox_scale does), sampled
   by the real cycle (deployments.metrics.sampling.metrics_sample) into a private Redis:
   cycle time against the sampling interval, split into the two metrics.k8s.io list calls
   (mostly the sandbox's own time) and the control plane's share (parse, match pods to
   deployments, one Redis pipeline, prune).
2. Storage for 24 h at steady state: every series' keys of a full day (raw for two hours,
   1-minute means for seven, 5-minute means for the rest), written at their real sizes into
   that Redis, measured as Redis' used_memory growth; and the hourly compaction's time.
3. The chart (static/js/charts.js) in headless Chromium: 100 pods x 24 h of 15 s samples
   (576,000 points) drawn, against drawing every point with its own lineTo; and 100 live
   points appended.

    python -m bench.metrics_sampling [--pods 30000] [--nodes 300] [--cycles 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from array import array
from pathlib import Path

from bench import line
from bench.sandbox_scale import Api, populate
from sandbox.testing import SandboxProcess, free_port, read_kubeconfig

NAME = "metrics_sampling"
ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"


def start_redis(workdir: Path) -> tuple[subprocess.Popen, str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    import redis

    client = redis.Redis.from_url(url)
    for _ in range(100):
        try:
            client.ping()
            return proc, url
        except redis.RedisError:
            time.sleep(0.05)
    raise SystemExit("the private redis-server did not start")


def django_setup(redis_url: str) -> None:
    os.environ["REDIS_URL"] = redis_url
    os.environ["REDIS_PREFIX"] = "bench-metrics"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings")
    import django

    django.setup()


def bench_cluster(sb: SandboxProcess):
    """An unsaved Cluster row for the sandbox: the cycle needs its name and connection only."""
    import base64

    from controlplane.clusters.crypto import encrypt_json
    from controlplane.clusters.models import Cluster

    server, token, ca = read_kubeconfig(sb.kubeconfig)
    creds = {"server": server, "token": token, "ca_data": base64.b64encode(ca.encode()).decode()}
    return Cluster(
        name="bench", server=server, source="kubeconfig", credentials_encrypted=encrypt_json(creds)
    )


def sampling(cluster, cycles: int) -> dict:
    from django.conf import settings

    from deployments.metrics.sampling import metrics_sample

    interval = settings.METRICS_INTERVAL
    results = []
    for i in range(cycles):
        result = metrics_sample(cluster=cluster)
        if result.status != "ok":
            raise SystemExit(f"cycle {i} failed: {result.status} {result.message}")
        results.append(result)
        print(
            f"  cycle {i}: {result.seconds:.2f} s ({result.fetch_seconds:.2f} s listing "
            f"{result.pods} pod and {result.nodes} node metrics)",
            flush=True,
        )
    return {
        "interval": interval,
        "cycle": statistics.median(r.seconds for r in results),
        "fetch": statistics.median(r.fetch_seconds for r in results),
        "ours": statistics.median(r.seconds - r.fetch_seconds for r in results),
        "pods": results[-1].pods,
        "nodes": results[-1].nodes,
        "deployments": results[-1].deployments,
    }


def cycle_series(cluster) -> list[str]:
    """The series the last cycle wrote (one per pod, node and deployment)."""
    from deployments.metrics.sampling import store_for
    from deployments.metrics.store import HOUR

    source = store_for(cluster.name)
    hour = int(time.time() // HOUR)
    return sorted(s.decode() for s in source.client.smembers(f"{source.base}:s:{hour}"))


def synthetic_series(pods: int, nodes: int, per_deployment: int) -> list[str]:
    deployments = max(1, pods // per_deployment)
    return (
        [f"p/scale-{d % 10}/model-{d:04d}-6f7657b957-{i:05d}" for d in range(deployments)
         for i in range(per_deployment)]
        + [f"n/node-{i:03d}" for i in range(nodes)]
        + [f"d/scale-{d % 10}/model-{d:04d}" for d in range(deployments)]
    )  # fmt: skip


def steady_day(client, series: list[str], interval: int, *, raw_only: bool = False) -> dict:
    """A whole day of every series at steady state, at real sizes and under real key names,
    measured as the growth of Redis' used_memory; `raw_only`: every hour kept at the sampling
    interval (the baseline: no rollups)."""
    from deployments.metrics.store import (
        FIVE_MINUTE_STEP,
        HOUR,
        MINUTE_HOURS,
        MINUTE_STEP,
        RAW_HOURS,
        SeriesStore,
        width_of,
    )

    day = SeriesStore(client, prefix="bench-metrics-day", cluster="bench")
    client.flushdb()  # only the steady-state day is measured
    client.memory_purge()
    before = client.info("memory")["used_memory"]
    slots = HOUR // interval
    hour = int(time.time() // HOUR)
    blobs = {width: array("f", [float(i % 97) for i in range(slots * width)]) for width in (2, 8)}
    for h in range(24):
        pipe = client.pipeline(transaction=False)
        for name in series:
            width = width_of(name)
            values = blobs[width]
            if raw_only or h < RAW_HOURS:
                pipe.set(day.key(interval, hour - h, name), values.tobytes())
            if raw_only:
                continue
            if h < MINUTE_HOURS:
                pipe.set(day.key(MINUTE_STEP, hour - h, name), values[: 60 * width].tobytes())
            pipe.set(day.key(FIVE_MINUTE_STEP, hour - h, name), values[: 12 * width].tobytes())
        pipe.sadd(f"{day.base}:s:{hour - h}", *series)
        for name in series:
            if name.startswith("d/"):
                pipe.sadd(day.members_key(hour - h, name[2:]), *[f"pod-{i}" for i in range(100)])
        pipe.execute()
    used = client.info("memory")["used_memory"] - before
    compact_seconds = compacted = 0
    if not raw_only:
        # Compaction of one finished hour of every series (raw -> 1 and 5 minutes).
        t = time.monotonic()
        compacted = day.compact(hour=hour - 1, interval=interval, retention=24 * HOUR)
        compact_seconds = time.monotonic() - t
    client.flushdb()
    return {"bytes": used, "series": len(series), "compact": compact_seconds,
            "compacted": compacted}  # fmt: skip


def storage_lines(client, series: list[str], interval: int) -> None:
    day = steady_day(client, series, interval)
    raw = steady_day(client, series, interval, raw_only=True)
    print(
        line(NAME, f"storage_24h_{day['series']}_series", day["bytes"] / 2**20, "MiB",
             ("raw_every_sample_24h", raw["bytes"] / 2**20))
        + f"  ({day['bytes'] / day['series']:.0f} bytes per series and day)",
        flush=True,
    )  # fmt: skip
    print(
        line(NAME, "hourly_compaction", day["compact"], "s", ("hour", 3600.0))
        + f"  ({day['compacted']} series)",
        flush=True,
    )


CHART_PAGE = """<!doctype html><html><body><div id="c" style="width:1200px"></div></body></html>"""

CHART_SCRIPT = """
(() => {
  const pods = %(pods)d, points = %(points)d, step = 15, end = 1.7e9;
  const chart = new MetricsCharts.Chart(
    document.getElementById("c"), {unit: "cores", span: points * step});
  chart.step = step;
  for (let p = 0; p < pods; p++) {
    const series = new Array(points);
    for (let i = 0; i < points; i++) {
      const noise = 0.01 * ((i * 7919 + p) %% 13);
      series[i] = [end - (points - i) * step, 0.1 + 0.05 * Math.sin(i / 40 + p) + noise];
    }
    chart.add("pod-" + p, series);
  }
  const draws = [];
  // getImageData makes the canvas rasterize what was drawn, so the time is the whole draw.
  const flush = (canvas) => canvas.getContext("2d").getImageData(0, 0, 1, 1);
  for (let k = 0; k < 5; k++) {
    const t = performance.now(); chart.draw(); flush(chart.plot); draws.push(performance.now() - t);
  }
  // The baseline: the same chart, axes and legend, with every point its own lineTo (what a
  // chart without per-pixel decimation draws).
  const path = chart.path;
  chart.path = function (ctx, s) {
    ctx.strokeStyle = s.color; ctx.lineWidth = 1; ctx.beginPath();
    for (let i = 0; i < s.n; i++) {
      const x = this.x(s.times[i]), y = this.y(s.values[i]);
      if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y);
    }
    ctx.stroke();
  };
  const naive = [];
  for (let k = 0; k < 5; k++) {
    const t = performance.now(); chart.draw(); flush(chart.plot); naive.push(performance.now() - t);
  }
  chart.path = path;
  chart.draw(); flush(chart.plot);
  const before = chart.stats.fullDraws;
  const t = performance.now();
  for (let p = 0; p < pods; p++) chart.append("pod-" + p, end + step, 0.12);
  flush(chart.plot);
  const append = performance.now() - t;
  draws.sort((a, b) => a - b); naive.sort((a, b) => a - b);
  return {draw: draws[2], naive: naive[2], append: append, redraws: chart.stats.fullDraws - before};
})()
"""


def chart_draw(pods: int, points: int) -> dict:
    from playwright.sync_api import sync_playwright

    script = (ROOT / "static/js/charts.js").read_text()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 800})
            page.set_content(CHART_PAGE)
            page.add_script_tag(content=script)
            return page.evaluate(CHART_SCRIPT % {"pods": pods, "points": points})
        finally:
            browser.close()


def run(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="bench-metrics-"))
    redis_proc, redis_url = start_redis(workdir)
    django_setup(redis_url)
    config = {
        "image_pull_seconds": 0.2,
        "container_start_seconds": 0.2,
        "log_interval_seconds": 0,
        "resync_seconds": 300,
        "node_heartbeat_seconds": 60,
    }
    sb = SandboxProcess(
        workdir / "sandbox", nodes=args.nodes, gpu_nodes=0, timings="realistic", state=False,
        config=config,
    )  # fmt: skip
    sb.start()
    try:

        async def fill() -> float:
            api = Api(sb)
            try:
                return await populate(api, args.pods, args.per_deployment, args.namespaces)
            finally:
                await api.close()

        ready = asyncio.run(fill())
        print(f"  {args.pods} pods ready in {ready:.0f} s", flush=True)
        cluster = bench_cluster(sb)
        cycle = sampling(cluster, args.cycles)
        pods = cycle["pods"]
        print(
            line(NAME, f"cycle_{pods}_pods", cycle["cycle"], "s", ("interval", cycle["interval"])),
            flush=True,
        )
        print(
            line(NAME, "cycle_control_plane_share", cycle["ours"], "s")
            + f"  (metrics.k8s.io lists: {cycle['fetch']:.2f} s; {cycle['nodes']} nodes, "
            f"{cycle['deployments']} deployments)",
            flush=True,
        )
        from deployments.metrics.sampling import metrics_redis

        storage_lines(metrics_redis(), cycle_series(cluster), cycle["interval"])
    finally:
        sb.stop()
        redis_proc.kill()
        redis_proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)
    chart_lines()
    return 0


def chart_lines() -> None:
    chart = chart_draw(100, 24 * 3600 // 15)
    print(
        line(NAME, "chart_draw_100_pods_24h_15s", chart["draw"], "ms",
             ("every_point_lineTo", chart["naive"])),
        flush=True,
    )  # fmt: skip
    print(
        line(NAME, "chart_live_append_100_points", chart["append"], "ms",
             ("full_draw", chart["draw"]))
        + f"  ({chart['redraws']} full redraws)",
        flush=True,
    )  # fmt: skip


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m bench.metrics_sampling")
    p.add_argument("--pods", type=int, default=30_000)
    p.add_argument("--nodes", type=int, default=300)
    p.add_argument("--per-deployment", type=int, default=100)
    p.add_argument("--namespaces", type=int, default=10)
    p.add_argument("--cycles", type=int, default=5)
    p.add_argument("--chart-only", action="store_true", help="only the chart figures")
    p.add_argument(
        "--storage-only",
        action="store_true",
        help="only the storage figures, for series named as the sandbox's would be",
    )
    args = p.parse_args()
    if args.storage_only:
        workdir = Path(tempfile.mkdtemp(prefix="bench-metrics-"))
        proc, url = start_redis(workdir)
        try:
            django_setup(url)
            from deployments.metrics.sampling import metrics_redis

            series = synthetic_series(args.pods, args.nodes, args.per_deployment)
            storage_lines(metrics_redis(), series, 15)
        finally:
            proc.kill()
            proc.wait(10)
            shutil.rmtree(workdir, ignore_errors=True)
        return 0
    if args.chart_only:
        chart_lines()
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
