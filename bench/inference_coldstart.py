"""Cold start (process start to ready) and peak memory of the inference server.

Baselines, measured in the same run on the same 128x128 reference U-Net:
- raw_forward_pass: a bare process that imports TensorFlow, loads the SavedModel and runs one
  forward pass (time to its first prediction), then a batch of 32 (its peak memory);
- naive_server: the per-request model.predict server of bench.inference_throughput (time to
  its first answered prediction; peak memory after the same load burst).

The server's time to ready includes warming up every batch bucket, which the baselines skip:
that is the price of first requests that are as fast as the rest.

Run: `python -m bench.inference_coldstart [--rounds N]`.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.inference_throughput import (
    MODEL_NAME,
    Tally,
    export_models,
    measure_server,
    quiet_env,
    request_body,
    start_inference_server,
    start_naive_server,
    summary,
)

NAME = "inference_coldstart"
MIB = 1024 * 1024


def raw_process_main(model_dir: str) -> None:
    import numpy as np
    import tensorflow as tf

    function = tf.saved_model.load(model_dir).signatures["serving_default"]
    function(images=tf.zeros((1, 128, 128, 3)))["probabilities"].numpy()
    print("first prediction", flush=True)
    function(images=tf.constant(np.zeros((32, 128, 128, 3), np.float32)))["probabilities"].numpy()
    status = Path("/proc/self/status").read_text()
    peak_kb = re.search(r"VmHWM:\s+(\d+) kB", status)[1]
    print(f"peak rss kB {peak_kb}", flush=True)


def raw_cold_start(model_dir: Path) -> tuple[float, int]:
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.inference_coldstart", "raw-process", str(model_dir)],
        env=quiet_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    first = None
    peak = 0
    for line in proc.stdout:
        if line.startswith("first prediction"):
            first = time.monotonic() - started
        elif line.startswith("peak rss kB"):
            peak = int(line.split()[-1]) * 1024
    if proc.wait(120) != 0 or first is None:
        raise RuntimeError("the raw forward-pass process failed")
    return first, peak


def first_prediction_seconds(process) -> float:
    """Poll the naive server with a real prediction until one is answered."""
    body = request_body()
    while True:
        if process.proc.poll() is not None:
            raise RuntimeError("naive server exited:\n" + "\n".join(process.lines[-20:]))
        try:
            request = urllib.request.Request(
                process.url, data=body, headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=60) as response:
                if response.status == 200:
                    return time.monotonic() - process.started
        except OSError:
            time.sleep(0.05)


def burst(url: str) -> None:
    """Enough concurrent load that every process reaches its working-set peak."""
    measure_server(url, 32, 2.0, Tally(), warm=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.inference_coldstart")
    parser.add_argument("mode", nargs="?", default="bench", choices=("bench", "raw-process"))
    parser.add_argument("model", nargs="?", help="(raw-process) the SavedModel directory")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved cold starts of each")
    args = parser.parse_args(argv)
    if args.mode == "raw-process":
        raw_process_main(args.model)
        return 0

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    starts: dict[str, list[float]] = {"ours": [], "raw_forward_pass": [], "naive_server": []}
    peaks: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="bench-inference-") as tmp:
        models = export_models(Path(tmp))
        for round_ in range(args.rounds):
            last = round_ == args.rounds - 1

            raw_seconds, raw_peak = raw_cold_start(models["saved_model"])
            starts["raw_forward_pass"].append(raw_seconds)
            peaks["raw_forward_pass"] = raw_peak

            server = start_inference_server(models["saved_model"], MAX_BATCH_SIZE="32")
            try:
                starts["ours"].append(server.wait_ready("/readyz"))
                if last:
                    burst(f"{server.url}/v1/models/{MODEL_NAME}:predict")
                    peaks["ours"] = server.peak_rss_bytes()
            finally:
                code = server.stop()
            if code != 0:
                raise RuntimeError(f"the server exited {code} on SIGTERM")

            naive = start_naive_server(models["keras"])
            try:
                starts["naive_server"].append(first_prediction_seconds(naive))
                if last:
                    burst(naive.url)
                    peaks["naive_server"] = naive.peak_rss_bytes()
            finally:
                naive.stop()
            print(
                f"round {round_ + 1}: "
                + ", ".join(f"{name} {values[-1]:.2f} s" for name, values in starts.items()),
                flush=True,
            )

    ours_start = statistics.median(starts["ours"])
    for base in ("raw_forward_pass", "naive_server"):
        base_start = statistics.median(starts[base])
        print(summary(NAME, "cold_start_to_ready", ours_start, "s", (base, base_start, "lower")))
    for base in ("raw_forward_pass", "naive_server"):
        print(
            summary(
                NAME, "peak_rss", peaks["ours"] / MIB, "MiB", (base, peaks[base] / MIB, "lower")
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
