"""Throughput and latency of `:predict` on 128x128 images at concurrency 1, 8 and 32.

Measured in one run against two baselines:
- raw_forward_pass: the same SavedModel's serving function called in this process with a
  batch of c images (c = the concurrency): the physical limit of this machine;
- naive_server: a threaded HTTP server that calls Keras `model.predict` once per request and
  uses the standard json module (what a quick Flask app does), on the same weights.

Run: `python -m bench.inference_throughput [--seconds S]`. Also used by inference_coldstart.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

IMAGE_SIZE = 128
CONCURRENCY = (1, 8, 32)
MODEL_NAME = "pet-unet"
NAME = "inference_throughput"


# -- model and processes --------------------------------------------------------------------


def export_models(root: Path) -> dict[str, Path]:
    """The reference U-Net (random weights, fixed seed) as a SavedModel and a .keras file."""
    from inference.export import export_keras, export_savedmodel
    from inference.reference import build_unet

    model = build_unet(image_size=IMAGE_SIZE, seed=0)
    return {
        "saved_model": export_savedmodel(model=model, output_dir=root / "pet-unet" / "1"),
        "keras": export_keras(model=model, output_path=root / "pet-unet.keras"),
    }


def quiet_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **extra}


class Process:
    """A server subprocess whose log names the port it bound."""

    def __init__(self, args: list[str], env: dict[str, str], port_pattern: str) -> None:
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.port: int | None = None
        self.lines: list[str] = []
        self._pattern = re.compile(port_pattern)
        self._seen_port = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self._seen_port.wait(120) or self.port is None:
            self.stop()
            raise RuntimeError("server did not start:\n" + "\n".join(self.lines[-20:]))
        self.url = f"http://127.0.0.1:{self.port}"

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())
            match = self._pattern.search(line)
            if match and self.port is None:
                self.port = int(match[1])
                self._seen_port.set()
        self._seen_port.set()

    def wait_ready(self, path: str, timeout: float = 180) -> float:
        """Poll `path` until it answers 200; return seconds since the process started."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited:\n" + "\n".join(self.lines[-20:]))
            try:
                with urllib.request.urlopen(self.url + path, timeout=2) as response:
                    if response.status == 200:
                        return time.monotonic() - self.started
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"{path} never answered 200")

    def peak_rss_bytes(self) -> int:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status)[1]) * 1024

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode


def start_inference_server(model_dir: Path, **env: str) -> Process:
    settings = {
        "MODEL_URI": str(model_dir),
        "MODEL_NAME": MODEL_NAME,
        "MODEL_VERSION": "1",
        "HOST": "127.0.0.1",
        "PORT": "0",
        "DRAIN_GRACE_SECONDS": "0",
        **env,
    }
    return Process(
        [sys.executable, "-m", "inference"], quiet_env(**settings), r"on http://127\.0\.0\.1:(\d+)"
    )


def start_naive_server(keras_file: Path) -> Process:
    return Process(
        [sys.executable, "-m", "bench.inference_throughput", "naive-server", str(keras_file)],
        quiet_env(),
        r"naive server on port (\d+)",
    )


def naive_server_main(keras_file: str) -> None:
    """The baseline: http.server threads, json, and model.predict once per request."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import keras

    model = keras.saving.load_model(keras_file, compile=False)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            images = np.asarray(body["instances"], dtype=np.float32)
            predictions = model.predict(images, verbose=0)
            payload = json.dumps({"predictions": predictions.tolist()}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    class Server(ThreadingHTTPServer):
        request_queue_size = 128  # the default backlog of 5 resets connections at c=32

    server = Server(("127.0.0.1", 0), Handler)
    print(f"naive server on port {server.server_address[1]}", flush=True)
    server.serve_forever()


# -- measuring ------------------------------------------------------------------------------


def request_body(seed: int = 0) -> bytes:
    """One 128x128 RGB image as a TF Serving row-format request (integer pixel values)."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (1, IMAGE_SIZE, IMAGE_SIZE, 3))
    return json.dumps({"instances": pixels.tolist()}).encode()


def percentile_ms(latencies: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(latencies) * 1000, q))


class Tally:
    """Completed work and latencies pooled over the interleaved rounds of one measurement."""

    def __init__(self) -> None:
        self.items = 0
        self.seconds = 0.0
        self.latencies: list[float] = []

    def add(self, items: int, seconds: float, latencies: list[float]) -> None:
        self.items += items
        self.seconds += seconds
        self.latencies.extend(latencies)

    def result(self) -> dict:
        return {
            "throughput": self.items / self.seconds,
            "p50": percentile_ms(self.latencies, 50),
            "p99": percentile_ms(self.latencies, 99),
            "samples": len(self.latencies),
        }


class RawForwardPass:
    """The SavedModel's serving function called directly in this process."""

    def __init__(self, saved_model: Path) -> None:
        import tensorflow as tf

        self._tf = tf
        self._function = tf.saved_model.load(str(saved_model)).signatures["serving_default"]
        self._warm: set[int] = set()

    def measure(self, batch: int, seconds: float, tally: Tally) -> None:
        pixels = np.random.default_rng(0).integers(0, 256, (batch, IMAGE_SIZE, IMAGE_SIZE, 3))
        images = self._tf.constant(pixels, self._tf.float32)
        if batch not in self._warm:  # the same warm-up the server does for this shape
            for _ in range(2):
                self._function(images=images)["probabilities"].numpy()
            self._warm.add(batch)
        latencies = []
        started = time.perf_counter()
        while time.perf_counter() - started < seconds or len(latencies) < 2:
            t0 = time.perf_counter()
            self._function(images=images)["probabilities"].numpy()
            latencies.append(time.perf_counter() - t0)
        tally.add(batch * len(latencies), time.perf_counter() - started, latencies)


async def _load(url: str, body: bytes, concurrency: int, seconds: float, warm: bool) -> dict:
    import aiohttp

    latencies: list[float] = []
    failures: list[str] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=300)
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one() -> None:
            t0 = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                payload = await response.read()
                if response.status != 200 or not payload.startswith(b'{"predictions":'):
                    failures.append(f"{response.status}: {payload[:200]!r}")
            latencies.append(time.perf_counter() - t0)

        if warm:  # open the connections and run the server's paths once before timing
            await asyncio.gather(*(one() for _ in range(concurrency)))
            latencies.clear()
        deadline = time.perf_counter() + seconds
        started = time.perf_counter()

        async def worker() -> None:
            while time.perf_counter() < deadline:
                await one()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, first: {failures[0]}")
    return {"requests": len(latencies), "seconds": elapsed, "latencies": latencies}


def measure_server(url: str, concurrency: int, seconds: float, tally: Tally, warm: bool) -> None:
    run = asyncio.run(_load(url, request_body(), concurrency, seconds, warm))
    tally.add(run["requests"], run["seconds"], run["latencies"])


def metric_value(url: str, name: str) -> float:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        text = response.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


# -- reporting ------------------------------------------------------------------------------


def summary(name: str, metric: str, value: float, unit: str, baseline=None) -> str:
    line = f"bench: {name}: {metric} {value:.2f} {unit}"
    if baseline is not None:
        base_name, base_value, better = baseline
        ratio = value / base_value if better == "higher" else base_value / value
        line += f" | baseline {base_name} {base_value:.2f} {unit} | ratio {ratio:.2f}"
    return line


def _brief(result: dict) -> str:
    return (
        f"{result['throughput']:.1f} img/s p50 {result['p50']:.0f} ms p99 {result['p99']:.0f} ms "
        f"(n={result['samples']})"
    )


def report(results: dict) -> list[str]:
    lines = []
    for c in CONCURRENCY:
        ours = results["ours"][c]
        for base in ("raw_forward_pass", "naive_server"):
            theirs = results[base][c]
            lines.append(
                summary(
                    NAME,
                    f"predict_throughput_c{c}",
                    ours["throughput"],
                    "img/s",
                    (base, theirs["throughput"], "higher"),
                )
            )
            for q in ("p50", "p99"):
                lines.append(
                    summary(
                        NAME, f"predict_{q}_latency_c{c}", ours[q], "ms", (base, theirs[q], "lower")
                    )
                )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.inference_throughput")
    parser.add_argument("mode", nargs="?", default="bench", choices=("bench", "naive-server"))
    parser.add_argument("model", nargs="?", help="(naive-server) the .keras file to serve")
    parser.add_argument("--seconds", type=float, default=2.0, help="time per system per round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per level")
    args = parser.parse_args(argv)
    if args.mode == "naive-server":
        naive_server_main(args.model)
        return 0

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    results: dict = {"ours": {}, "raw_forward_pass": {}, "naive_server": {}}
    with tempfile.TemporaryDirectory(prefix="bench-inference-") as tmp:
        models = export_models(Path(tmp))
        raw = RawForwardPass(models["saved_model"])
        server = start_inference_server(models["saved_model"], MAX_BATCH_SIZE="32")
        naive = start_naive_server(models["keras"])
        try:
            server.wait_ready("/readyz")
            naive.wait_ready("/")
            ours_url = f"{server.url}/v1/models/{MODEL_NAME}:predict"
            for c in CONCURRENCY:
                tallies = {name: Tally() for name in results}
                batches_before = metric_value(server.url, "inference_batch_size_count")
                instances_before = metric_value(server.url, "inference_batch_size_sum")
                # Interleaved rounds: the three systems share whatever else the machine does.
                for round_ in range(args.rounds):
                    raw.measure(c, args.seconds, tallies["raw_forward_pass"])
                    measure_server(ours_url, c, args.seconds, tallies["ours"], round_ == 0)
                    measure_server(naive.url, c, args.seconds, tallies["naive_server"], round_ == 0)
                for name, tally in tallies.items():
                    results[name][c] = tally.result()
                batches = metric_value(server.url, "inference_batch_size_count") - batches_before
                instances = metric_value(server.url, "inference_batch_size_sum") - instances_before
                print(
                    f"concurrency {c}: "
                    + "; ".join(f"{name} {_brief(results[name][c])}" for name in results)
                    + f"; mean server batch {instances / max(batches, 1):.1f}",
                    flush=True,
                )
        finally:
            server.stop()
            naive.stop()

    print("\n".join(report(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
